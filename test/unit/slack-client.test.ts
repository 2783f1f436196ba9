// The Slack client's retry rule: a call that never left this host is sent again, whatever the method.
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createSlackClient } from '../../src/clients/slack.ts';
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
