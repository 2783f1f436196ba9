// The load generator of the ack benchmarks, as a process of its own: it sends the signed slash commands it is given and
// times each answer, so its clock is not held up by the fakes (Slack, the watched services) or by the benchmark's
// reading of the bots' logs, which all run in the parent. Started by ack-rounds.ts with fork(); one job per message.
import { Agent, request } from 'node:http';
import { signSlackRequest, slashCommandBody, type SlashCommand } from '../test/support/slack-requests.ts';

export interface LoadJob {
  baseUrl: string;
  secret: string;
  concurrency: number;
  commands: SlashCommand[];
  /** New connections for this job, closed at its end, rather than the ones kept open from earlier jobs. */
  freshConnections?: boolean;
}

export interface LoadResult {
  /** Milliseconds from sending a command to the last byte of its answer, in the order they ended. */
  latencies: number[];
  /** How many acks said the work waits in line, and how many said the line was full. */
  queued: number;
  refused: number;
  /** The first answer that was not 200, if any. */
  failure?: string;
}

/** One POST as Slack sends it; resolves with the status and body once the whole answer is in. */
function post(agent: Agent, url: URL, body: string, secret: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': Buffer.byteLength(body),
          ...signSlackRequest(secret, body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Keep-alive, one socket per sender, kept from one round to the next: as a pool of connections kept open (or the one
// socket of Socket Mode, the bot's default), the same for every app measured. With freshConnections, each round opens its
// own: its first commands then open `concurrency` connections at once, and that burst, more than the ack, sets the p99.
const agents = new Map<string, Agent>();
function agentFor(job: LoadJob): Agent {
  let agent = job.freshConnections ? undefined : agents.get(job.baseUrl);
  if (!agent) {
    agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
    if (!job.freshConnections) agents.set(job.baseUrl, agent);
  }
  return agent;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const agent = agentFor(job);
  const url = new URL('/slack/events', job.baseUrl);
  const result: LoadResult = { latencies: [], queued: 0, refused: 0 };
  let next = 0;
  const sender = async () => {
    while (next < job.commands.length) {
      const body = slashCommandBody(job.commands[next++]!);
      const started = performance.now();
      const { status, text } = await post(agent, url, body, job.secret);
      result.latencies.push(performance.now() - started);
      if (status !== 200) result.failure ??= `answered ${status}: ${text.slice(0, 200)}`;
      if (/Queued: position/.test(text)) result.queued += 1;
      if (/did not take this one/.test(text)) result.refused += 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: job.concurrency }, sender));
  } finally {
    if (job.freshConnections) agent.destroy();
  }
  return result;
}

process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send!(result),
    (error: unknown) => process.send!({ latencies: [], queued: 0, refused: 0, failure: String(error) } satisfies LoadResult),
  );
});
