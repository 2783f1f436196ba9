// Dependencies that accept a connection and never answer (raw TCP servers on loopback): every call ends at its limit,
// with a message naming the dependency and the setting, and the other checks are not held up.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../src/cli.ts';
import { systemClock } from '../src/clock.ts';
import { parseConfig } from '../src/config/load.ts';
import { healthRunOptions, healthTargets, runHealthChecks } from '../src/tasks/health/run.ts';
import { startBlackHole } from './fakes/fake-services.ts';
import { startFakeSlack } from './fakes/fake-slack.ts';
import { startTestBot } from './support/bot.ts';
import { createTestDatabase } from './support/databases.ts';
import { sendSlashCommand } from './support/slack-requests.ts';

let hole: Awaited<ReturnType<typeof startBlackHole>>;
beforeAll(async () => {
  hole = await startBlackHole();
});
afterAll(async () => {
  await hole.close();
});

describe('health checks against a peer that never answers', () => {
  /** The one check of service `svc`, with the given health section and timeouts, timed. */
  async function checkOnce(health: Record<string, unknown>, timeouts: Record<string, unknown>, env: Record<string, string> = {}) {
    const config = parseConfig({}, { timeouts, services: { svc: { health } } }, 'test.yml', 'cli');
    const started = performance.now();
    const report = await runHealthChecks(healthTargets(config, 'svc').services, healthRunOptions(config, systemClock, env));
    const [check] = report.services[0]!.checks;
    const ms = performance.now() - started;
    // Giving up closes the connection too: no half-open socket is left behind.
    await expect.poll(() => hole.openConnections, { timeout: 2_000 }).toBe(0);
    return { check: check!, ms };
  }

  it('PostgreSQL: connecting ends at timeouts.postgres.connect, which it names', async () => {
    const { check, ms } = await checkOnce(
      { timeout: '5s', postgres: { urlEnv: 'DL_DATABASE_URL' } },
      { postgres: { connect: '300ms' } },
      { DL_DATABASE_URL: hole.url('postgres') },
    );
    expect(check).toMatchObject({ status: 'critical', timedOut: true });
    expect(check.reason).toBe(
      `connecting (127.0.0.1:${hole.port}/db): no answer within 300ms (the limit is timeouts.postgres.connect in the config file)`,
    );
    expect(ms).toBeLessThan(2_000);
  });

  it('Redis: connecting ends at timeouts.redis, which it names', async () => {
    const { check, ms } = await checkOnce(
      { timeout: '5s', redis: { urlEnv: 'DL_REDIS_URL' } },
      { redis: '300ms' },
      { DL_REDIS_URL: hole.url('redis') },
    );
    expect(check).toMatchObject({ status: 'critical', timedOut: true });
    expect(check.reason).toBe(
      `connecting (127.0.0.1:${hole.port}): no answer within 300ms (the limit is timeouts.redis in the config file)`,
    );
    expect(ms).toBeLessThan(2_000);
  });

  it("HTTP: the check ends at its service's health.timeout, which it names", async () => {
    const { check, ms } = await checkOnce({ timeout: '300ms', http: [{ name: 'api', url: hole.url('http') }] }, {});
    expect(check).toMatchObject({
      kind: 'http',
      status: 'critical',
      reason: 'no answer within 300ms (the limit is services.svc.health.timeout in the config file)',
    });
    expect(ms).toBeLessThan(2_000);
  });

  it('Prometheus: the alerts request ends at timeouts.http, which it names', async () => {
    const { check, ms } = await checkOnce(
      { timeout: '5s', prometheus: { url: `http://127.0.0.1:${hole.port}/` } },
      { http: '300ms' },
    );
    expect(check).toMatchObject({ kind: 'prometheus', status: 'critical', timedOut: true });
    expect(check.reason).toBe(
      `GET 127.0.0.1:${hole.port}: no answer within 300ms (the limit is timeouts.http in the config file)`,
    );
    expect(ms).toBeLessThan(2_000);
  });
});

describe('the privacy budget API never answering', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rb-deadlines-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('`runbook-bot privacy-budget` ends at timeouts.http and says which API and which limit', async () => {
    const database = await createTestDatabase();
    const path = join(dir, 'runbook-bot.yml');
    writeFileSync(
      path,
      stringify({
        timeouts: { http: '300ms' },
        services: { 'rlhf-audit-trail': { privacyBudget: { url: `http://127.0.0.1:${hole.port}/api/v1/privacy/budget` } } },
      }),
    );
    const out: string[] = [];
    const started = performance.now();
    try {
      const code = await runCli(
        ['privacy-budget'],
        { out: (line) => out.push(line), err: (line) => out.push(line) },
        { RUNBOOK_BOT_CONFIG: path, DATABASE_URL: database.url },
      );
      expect(code).toBe(1);
      expect(out.join('\n')).toContain(
        `the privacy budget API of rlhf-audit-trail: GET 127.0.0.1:${hole.port}: no answer within 300ms (the limit is timeouts.http in the config file)`,
      );
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await database.drop();
    }
  });
});

describe('a coordination Redis (REDIS_URL) that accepts and never answers', () => {
  it('holds neither start-up, nor /readyz, nor a command that changes timers, nor the stop', async () => {
    const slack = await startFakeSlack();
    slack.addChannel({ name: 'incidents' });
    let started = performance.now();
    // Redis coordinates replicas, which share PostgreSQL.
    const t = await startTestBot({
      slack,
      store: 'postgres',
      env: { REDIS_URL: hole.url('redis') },
      file: { timeouts: { redis: '300ms' } },
      extra: { schedules: { autoStart: false } },
    });
    try {
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(t.logs()).toContain('"event":"redis.unreachable_at_start"');

      started = performance.now();
      const ready = await fetch(`${t.baseUrl}/readyz`);
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks.redis).toMatch(
        /^unreachable: Redis: not ready \((connected, but it does not answer|not connected)\); the bot keeps reconnecting$/,
      );

      // Declaring changes timers, which tells the other replicas through Redis: the declaration does not wait for it.
      const responseUrl = slack.newResponseUrl();
      started = performance.now();
      const ack = await sendSlashCommand(t.baseUrl, t.secret, {
        command: '/incident',
        text: 'declare P2 Queue backlog growing',
        responseUrl,
      });
      expect(ack.status).toBe(200);
      await t.bot.idle();
      expect(performance.now() - started).toBeLessThan(5_000);
      const { rows } = await t.bot.store.query<{ title: string }>('SELECT title FROM incidents');
      expect(rows).toEqual([{ title: 'Queue backlog growing' }]);
    } finally {
      started = performance.now();
      await t.stop();
      expect(performance.now() - started).toBeLessThan(5_000);
      await slack.close();
    }
  });
});

describe('a response URL that accepts and never answers', () => {
  it('ends the post at timeouts.slack, names it in the log, and frees the request and its place in line', async () => {
    const slack = await startFakeSlack();
    const t = await startTestBot({ slack, file: { timeouts: { slack: '400ms' } }, extra: { schedules: { autoStart: false } } });
    try {
      const started = performance.now();
      // `/incident list` acks first and posts the list to the response URL afterwards.
      const ack = await sendSlashCommand(t.baseUrl, t.secret, {
        command: '/incident',
        text: 'list',
        responseUrl: `${hole.url('http')}/response/1`,
      });
      expect(ack.status).toBe(200);
      await t.bot.idle();
      // The list, then the error reply through the same URL: each given up at 400 ms, not at fetch's own 300 s.
      expect(performance.now() - started).toBeLessThan(5_000);
      const failed = t
        .logs()
        .split('\n')
        .find((line) => line.includes('"event":"request.error_reply_failed"'));
      expect(failed).toMatch(
        /Slack: posting to a response URL: no answer within 400ms \(the limit is timeouts.slack in the config file\)/,
      );
      // fetch's pool closes the connections it opened beside the abandoned posts once they have idled (about 4 s).
      await expect.poll(() => hole.openConnections, { timeout: 8_000 }).toBe(0);

      // The request let go of everything: the next command is answered as usual.
      const next = slack.newResponseUrl();
      await sendSlashCommand(t.baseUrl, t.secret, { command: '/incident', text: 'list', responseUrl: next });
      await t.bot.idle();
      expect(slack.responses(next).map((response) => response.body.text)).toEqual([
        'There are no open incidents. Run `/incident` to declare one.',
      ]);
    } finally {
      await t.stop();
      await slack.close();
    }
  });
});
