// How Bolt's respond() reaches a command's or a click's response URL: each post under the Slack limit, a few at a time
// over connections kept open.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { withDeadline } from '../deadline.ts';

/** Posts to response URLs at once; more wait for a free connection. */
const POSTS_AT_ONCE = 16;

/**
 * The fetch Bolt is given (App clientOptions.fetch; respond() is its one user): a POST with Bolt's JSON body, answered
 * with the status (Bolt looks at nothing else). Each post ends by limitMs with a DeadlineError naming Slack and the
 * setting, the wait for a connection included.
 *
 * Over node:http with keep-alive agents of POSTS_AT_ONCE connections rather than the global fetch: when the answers
 * of a crowd that joined one shared read go out together, fetch opened a connection for nearly every one of them (its
 * pool has no limit, and Bolt never reads the answer's body, so a connection stayed taken until a garbage collection),
 * and spent about 0.25 ms of CPU on each post against a few hundredths here (bench:ack, /health all round).
 */
export function responseUrlFetch(limitMs: number, atOnce = POSTS_AT_ONCE): typeof fetch {
  const plain = { agent: new HttpAgent({ keepAlive: true, maxSockets: atOnce }), request: httpRequest };
  // node:https (and TLS with it) loads with the first https post, not at start-up (bench:footprint counts idle RSS).
  let secure: Promise<typeof plain> | undefined;
  const transport = (protocol: 'http:' | 'https:') =>
    protocol === 'http:'
      ? plain
      : (secure ??= import('node:https').then(({ Agent, request }) => ({
          agent: new Agent({ keepAlive: true, maxSockets: atOnce }),
          request: request as typeof httpRequest,
        })));
  return (input, init) =>
    withDeadline(
      {
        dependency: 'Slack',
        doing: 'posting to a response URL',
        limitMs,
        setting: 'timeouts.slack',
        signal: init?.signal ?? undefined,
      },
      async (signal) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        const protocol = url.protocol;
        if (protocol !== 'http:' && protocol !== 'https:') throw new Error(`a response URL must be http(s), not ${protocol}`);
        const body = typeof init?.body === 'string' ? init.body : '';
        const headers: Record<string, string> = Object.fromEntries(new Headers(init?.headers));
        headers['content-length'] = String(Buffer.byteLength(body));
        const { agent, request } = await transport(protocol);
        const answer = await new Promise<IncomingMessage>((resolve, reject) => {
          const req = request(url, { method: init?.method ?? 'POST', headers, agent, signal }, resolve);
          req.on('error', reject);
          req.end(body);
        });
        // Read to the end, so the connection goes back to the pool at once.
        const chunks: Buffer[] = [];
        for await (const chunk of answer) chunks.push(chunk as Buffer);
        const status = answer.statusCode ?? 502;
        return new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), {
          status,
          statusText: answer.statusMessage ?? '',
        });
      },
    );
}
