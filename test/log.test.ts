import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), text: () => lines.join('') };
}

describe('logging', () => {
  it("names an error's type, also once redacted", () => {
    const { logger, text } = capture();
    class LeaseLostError extends Error {
      override name = 'LeaseLostError';
    }
    logger.warn({ event: 'work.lease_lost', err: new LeaseLostError('lost the lease on escalation:1:1') });
    expect(JSON.parse(text().trim())).toMatchObject({
      err: { type: 'LeaseLostError', message: 'lost the lease on escalation:1:1' },
    });
  });

  it('writes JSON events with the child logger ids', () => {
    const { logger, text } = capture();
    logger.child({ reqId: 'r1', user: 'U123', incidentId: 42 }).info({ event: 'incident.declared' }, 'declared');
    const line = JSON.parse(text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'info',
      reqId: 'r1',
      user: 'U123',
      incidentId: 42,
      event: 'incident.declared',
      msg: 'declared',
    });
  });

  it('redacts tokens, passwords and connection strings wherever they appear', () => {
    const { logger, text } = capture();
    logger.info({
      event: 'config.loaded',
      env: { SLACK_BOT_TOKEN: 'xoxb-111-222-secretbot', DATABASE_URL: 'postgres://bot:hunter2@db:5432/app', PORT: 3000 },
      headers: { authorization: 'Bearer abc.def.ghi' },
      password: 'hunter2',
      note: 'connecting to redis://:redispass@cache:6379/0 with xapp-1-A1-secretapp',
      nested: [{ token: 'xoxp-999' }],
      upper: 'HTTPS://svc:upperpw@example.com, then Basic dXNlcjpwYXNz',
      plain: 'billing: no secret here',
    });
    logger.error({ err: new Error('connect ECONNREFUSED postgres://admin:s3cret@10.0.0.1/db') }, 'failed with Bearer tok123');
    const out = text();
    for (const secret of [
      'secretbot',
      'hunter2',
      'abc.def.ghi',
      'redispass',
      'secretapp',
      'xoxp-999',
      's3cret',
      'tok123',
      'upperpw',
      'dXNlcjpwYXNz',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('"PORT":3000');
    expect(out).toContain('"plain":"billing: no secret here"');
    expect(out).toContain('redis://:[REDACTED]@cache:6379/0');
    expect(out).toContain('postgres://admin:[REDACTED]@10.0.0.1/db');
  });
});
