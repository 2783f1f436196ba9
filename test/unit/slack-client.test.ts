// The Slack client's retry rule (a call that never left this host is sent again, whatever the method) and its queue for
// a spent budget.
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SlackBudget } from '../../src/clients/slack-limits.ts';
import { createSlackClient, SlackBusyError, UncertainOutcomeError, withSlackPriority } from '../../src/clients/slack.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { freePort } from '../support/ports.ts';

describe('a Slack API that is not listening yet', () => {
  const closers: Array<() => void> = [];
  afterEach(() => closers.splice(0).forEach((close) => close()));

  it('retries chat.postMessage after a refused connection instead of calling its outcome uncertain', async () => {
    const port = await freePort();
    const slack = createSlackClient({
      token: 'xoxb-test',
      apiUrl: `http://127.0.0.1:${port}/api/`,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    const posts: string[] = [];
    // Slack comes up after the first attempt was refused.
    setTimeout(() => {
      const server = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          posts.push(body);
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify({ ok: true, channel: 'C1', ts: '1.000001' }));
        });
      }).listen(port, '127.0.0.1');
      closers.push(() => server.close());
    }, 100);
    const result = await slack.chat.postMessage({ channel: 'C1', text: 'Level 1: paging the primary' });
    expect(result.ts).toBe('1.000001');
    expect(posts).toHaveLength(1);
  });
});

describe('a Slack API that drops the connection', () => {
  const closers: Array<() => void> = [];
  afterEach(() => closers.splice(0).forEach((close) => close()));

  it('logs each failed call as an event naming the method, the channel and what happens next', async () => {
    const server = createServer((request) => request.socket.destroy()).listen(0, '127.0.0.1');
    closers.push(() => server.close());
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        callback();
      },
    });
    const slack = createSlackClient({
      token: 'xoxb-test',
      apiUrl: `http://127.0.0.1:${port}/api/`,
      logger: createLogger({ level: 'info', destination }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    const post = withSlackPriority('page', () => slack.chat.postMessage({ channel: 'C1', text: 'Level 1: paging the primary' }));
    await expect(post).rejects.toBeInstanceOf(UncertainOutcomeError);
    const warnings = lines.filter((line) => line.level === 'warn');
    expect(warnings.map((line) => line.event)).toEqual(['slack.call_failed']);
    expect(warnings[0]).toMatchObject({
      method: 'chat.postMessage',
      channel: 'C1',
      priority: 'page',
      attempt: 1,
      next: 'uncertain',
    });
  });
});

describe('a budget that is spent', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tells a page that may wait only briefly at once, while an update waits for the same budget', async () => {
    vi.useFakeTimers();
    // Every call would have to wait a minute for its budget (the invite budget, Tier 3, spent by earlier pages).
    const spent: SlackBudget = { take: () => Promise.resolve(60_000), block: () => Promise.resolve() };
    const slack = createSlackClient({
      token: 'xoxb-test',
      apiUrl: 'http://127.0.0.1:9/api/',
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      budget: spent,
    });
    // An invite that followed an earlier page waits its turn...
    void withSlackPriority('update', () => slack.conversations.invite({ channel: 'C1', users: 'U1' })).catch(() => undefined);
    await vi.advanceTimersByTimeAsync(10);
    // ...and a page's invite, which may wait 100 ms, hears that the budget is busy without waiting out the update's pause.
    const page = withSlackPriority('page', () => slack.conversations.invite({ channel: 'C2', users: 'U2' }), 100).then(
      () => 'invited',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(50);
    expect(await Promise.race([page, Promise.resolve('still waiting')])).toBeInstanceOf(SlackBusyError);
  });
});

describe('a call Slack refused with a 429', () => {
  const closers: Array<() => void> = [];
  afterEach(() => closers.splice(0).forEach((close) => close()));

  it('goes back to its place in line, ahead of calls of its priority that queued while it was out', async () => {
    const port = await freePort();
    const names: string[] = [];
    let refused = false;
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const name = new URLSearchParams(body).get('name') ?? '?';
        response.setHeader('content-type', 'application/json');
        if (!refused) {
          // Slack's own count was spent before ours: the first create is refused, after a moment on the wire.
          refused = true;
          setTimeout(() => {
            response.statusCode = 429;
            response.setHeader('retry-after', '0');
            response.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
          }, 300);
          return;
        }
        names.push(name);
        response.end(JSON.stringify({ ok: true, channel: { id: `C${names.length}`, name } }));
      });
    }).listen(port, '127.0.0.1');
    closers.push(() => server.close());
    // Our budget lets the first create go, then holds the rest until Slack's 429 has closed and reopened it.
    let sent = 0;
    let blocked = false;
    const budget: SlackBudget = {
      take: () => Promise.resolve(sent++ === 0 || blocked ? 0 : 50),
      block: () => {
        blocked = true;
        return Promise.resolve();
      },
    };
    const slack = createSlackClient({
      token: 'xoxb-test',
      apiUrl: `http://127.0.0.1:${port}/api/`,
      logger: createLogger({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
      budget,
    });
    const create = (name: string) => withSlackPriority('setup', () => slack.conversations.create({ name }));
    const first = create('incident-a');
    await vi.waitFor(() => expect(refused).toBe(true));
    // Two more setups queue while the first is on the wire.
    const later = [create('incident-b'), create('incident-c')];
    await Promise.all([first, ...later]);
    expect(names).toEqual(['incident-a', 'incident-b', 'incident-c']);
  });
});
