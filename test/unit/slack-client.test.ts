// The Slack client's retry rule (a call that never left this host is sent again, whatever the method) and its queue for
// a spent budget.
import { createServer } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SlackBudget } from '../../src/clients/slack-limits.ts';
import { createSlackClient, SlackBusyError, withSlackPriority } from '../../src/clients/slack.ts';
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
