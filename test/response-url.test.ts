// Bolt's respond() posts through responseUrlFetch: a crowd's answers reuse a few connections, each post is answered
// with its status, and a post ends at its limit.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { responseUrlFetch } from '../src/clients/response-url.ts';
import { DeadlineError } from '../src/deadline.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A response URL endpoint that answers after delayMs, counting connections and the bodies it received. */
async function endpoint(status: number, delayMs: number) {
  const bodies: unknown[] = [];
  let connections = 0;
  let open = 0;
  let mostOpen = 0;
  server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      bodies.push({ contentType: req.headers['content-type'], body: JSON.parse(raw) as unknown });
      setTimeout(() => {
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: status === 200 }));
      }, delayMs);
    });
  });
  server.on('connection', (socket) => {
    connections += 1;
    open += 1;
    mostOpen = Math.max(mostOpen, open);
    socket.on('close', () => (open -= 1));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response/1`;
  return { url, bodies, connections: () => connections, mostOpen: () => mostOpen };
}

// As Bolt's createRespond calls it.
const post = (fetcher: typeof fetch, url: string, text: string) =>
  fetcher(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text }) });

describe('posts to response URLs', () => {
  it('sends 100 answers at once over at most 16 connections, each answered with its status', async () => {
    const hooks = await endpoint(200, 5);
    const fetcher = responseUrlFetch(5_000);
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => post(fetcher, hooks.url, `answer ${i}`)));
    expect(answers.map((answer) => answer.ok)).toEqual(answers.map(() => true));
    expect(hooks.bodies).toHaveLength(100);
    expect(hooks.bodies[0]).toEqual({ contentType: 'application/json', body: { text: expect.stringMatching(/^answer \d+$/) } });
    expect(hooks.mostOpen()).toBeLessThanOrEqual(16);
    expect(hooks.connections()).toBeLessThanOrEqual(16);
  });

  it("gives Slack's refusal as a status Bolt turns into its RespondError", async () => {
    const hooks = await endpoint(404, 0);
    const answer = await post(responseUrlFetch(5_000), hooks.url, 'late');
    expect({ ok: answer.ok, status: answer.status, body: await answer.json() }).toEqual({
      ok: false,
      status: 404,
      body: { ok: false },
    });
  });

  it('ends a post that gets no answer at its limit, naming Slack and timeouts.slack', async () => {
    const hooks = await endpoint(200, 60_000);
    const started = performance.now();
    const failure = await post(responseUrlFetch(300), hooks.url, 'never').catch((error: unknown) => error);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(failure).toBeInstanceOf(DeadlineError);
    expect((failure as Error).message).toBe(
      'Slack: posting to a response URL: no answer within 300ms (the limit is timeouts.slack in the config file)',
    );
  });
});
