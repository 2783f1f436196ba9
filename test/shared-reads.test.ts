// Identical reads share one run: a crowd typing /health all or /privacy-budget hits each dependency once, and a
// result served again says how old it is.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ageNote, SharedReads } from '../src/shared-reads.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startFakeKubernetes } from './fakes/kubernetes/index.ts';
import { pqcRoutes, rlhfRoutes, startConnectionCounter, startFakeService, type FakeService } from './fakes/fake-services.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock } from './support/clock.ts';
import { createTestDatabase, redisUrlForTest, type TestDatabase } from './support/databases.ts';
import { sendSlashCommand } from './support/slack-requests.ts';

describe('SharedReads', () => {
  it('runs once for callers that ask while it runs, and serves the result again while it is fresh', async () => {
    const clock = new ManualClock('2026-11-22T10:00:00Z');
    const reads = new SharedReads({ clock, freshForMs: 10_000 });
    let runs = 0;
    let finish!: (value: string) => void;
    const read = () => {
      runs += 1;
      return new Promise<string>((resolve) => (finish = resolve));
    };
    const first = reads.read('health:a', read);
    const second = reads.read('health:a', read);
    finish('ok');
    expect(await first).toMatchObject({ value: 'ok', source: 'ran', ageMs: 0 });
    expect(await second).toMatchObject({ value: 'ok', source: 'joined', ageMs: 0 });

    clock.advance(4_000);
    const again = await reads.read('health:a', read);
    expect(again).toMatchObject({ value: 'ok', source: 'reused', ageMs: 4_000 });
    expect(ageNote(again.ageMs)).toBe('checked 4s ago');
    expect(runs).toBe(1);

    clock.advance(6_000);
    const later = reads.read('health:a', read);
    finish('warn');
    expect(await later).toMatchObject({ value: 'warn', source: 'ran' });
    expect(runs).toBe(2);
  });

  it('keeps no failure: those who joined get the error, the next caller runs again', async () => {
    const reads = new SharedReads({ clock: new ManualClock('2026-11-22T10:00:00Z'), freshForMs: 10_000 });
    let runs = 0;
    const failing = () => {
      runs += 1;
      return Promise.reject(new Error('API down'));
    };
    const results = await Promise.allSettled([reads.read('budget', failing), reads.read('budget', failing)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(runs).toBe(1);
    await expect(reads.read('budget', async () => 'back')).resolves.toMatchObject({ value: 'back', source: 'ran' });
  });

  it('forgets a key after a change, and a caller that gives up does not stop the run for the others', async () => {
    const reads = new SharedReads({ clock: new ManualClock('2026-11-22T10:00:00Z'), freshForMs: 10_000 });
    await reads.read('budget', async () => 'before reset');
    reads.forget('budget');
    expect((await reads.read('budget', async () => 'after reset')).value).toBe('after reset');

    let finish!: (value: string) => void;
    const slow = () => new Promise<string>((resolve) => (finish = resolve));
    const leaving = new AbortController();
    const impatient = reads.read('slow', slow, { signal: leaving.signal });
    const patient = reads.read('slow', slow);
    leaving.abort(new Error('gave up'));
    await expect(impatient).rejects.toThrow('gave up');
    finish('done');
    expect((await patient).value).toBe('done');
  });
});

describe('SharedReads.announce', () => {
  it('covers a key announced for a moment, so others join the run that follows; the first read runs it', async () => {
    const clock = new ManualClock('2026-11-22T10:00:00Z');
    const reads = new SharedReads({ clock, freshForMs: 10_000 });
    expect(reads.covers('health:a')).toBe(false);
    reads.announce('health:a', 2_000);
    expect(reads.covers('health:a')).toBe(true);
    let runs = 0;
    const read = async () => {
      runs += 1;
      return 'ok';
    };
    // Whoever reads first (here not the announcer) runs it; the announcer then gets the fresh result.
    expect(await reads.read('health:a', read)).toMatchObject({ source: 'ran' });
    expect(await reads.read('health:a', read)).toMatchObject({ source: 'reused' });
    expect(runs).toBe(1);
  });

  it('lets an announcement nobody follows expire', () => {
    const clock = new ManualClock('2026-11-22T10:00:00Z');
    const reads = new SharedReads({ clock, freshForMs: 10_000 });
    reads.announce('health:b', 2_000);
    clock.advance(2_000);
    expect(reads.covers('health:b')).toBe(false);
  });
});

describe('through the bot', () => {
  let slack: FakeSlack;
  let t: TestBot;
  let rlhf: FakeService;
  let pqc: FakeService;
  let database: TestDatabase;
  let rlhfPostgres: Awaited<ReturnType<typeof startConnectionCounter>>;
  let pqcPostgres: Awaited<ReturnType<typeof startConnectionCounter>>;
  let redis: Awaited<ReturnType<typeof startConnectionCounter>>;
  const clock = new ManualClock('2026-11-22T10:00:00Z');

  beforeAll(async () => {
    rlhf = await startFakeService(rlhfRoutes());
    pqc = await startFakeService(pqcRoutes({ '/health': { body: { status: 'ok' }, delayMs: 300 } }));
    database = await createTestDatabase();
    rlhfPostgres = await startConnectionCounter(database.url);
    pqcPostgres = await startConnectionCounter(database.url);
    redis = await startConnectionCounter(redisUrlForTest().url);
    vi.stubEnv('SR_RLHF_DATABASE_URL', rlhfPostgres.url);
    vi.stubEnv('SR_PQC_DATABASE_URL', pqcPostgres.url);
    vi.stubEnv('SR_RLHF_REDIS_URL', redis.url);
    slack = await startFakeSlack();
    t = await startTestBot({
      slack,
      clock,
      file: {
        // Generous limits and latency thresholds: this proves sharing, not speed, on a machine that may be busy.
        timeouts: { redis: '10s', postgres: { connect: '10s' } },
        services: {
          'rlhf-audit-trail': {
            health: {
              http: [
                { name: 'api', url: `${rlhf.url}/health`, latencyWarn: '30s' },
                {
                  name: 'integrity',
                  url: `${rlhf.url}/api/v1/audit/integrity/verify`,
                  assert: ['integrity_score >= 0.95'],
                  latencyWarn: '30s',
                },
              ],
              postgres: { urlEnv: 'SR_RLHF_DATABASE_URL' },
              redis: { urlEnv: 'SR_RLHF_REDIS_URL' },
            },
            privacyBudget: { url: `${rlhf.url}/api/v1/privacy/budget` },
          },
          'pqc-migration-audit': {
            health: {
              http: [{ name: 'service', url: `${pqc.url}/health`, latencyWarn: '30s' }],
              postgres: { urlEnv: 'SR_PQC_DATABASE_URL' },
            },
          },
        },
      },
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
  });
  afterAll(async () => {
    await t.stop();
    await slack.close();
    await Promise.all([rlhf.close(), pqc.close(), rlhfPostgres.close(), pqcPostgres.close(), redis.close()]);
    await database.drop();
    vi.unstubAllEnvs();
  });

  const hits = (service: FakeService, path: string) => service.requests.filter((request) => request.path === path).length;

  /** Sends the command for `people` at once; what each was answered in the channel (text, and blocks as JSON). */
  async function crowd(command: string, text: string, people: number) {
    const urls = Array.from({ length: people }, () => slack.newResponseUrl());
    const acks = await Promise.all(
      urls.map((responseUrl) => sendSlashCommand(t.baseUrl, t.secret, { command, text, responseUrl })),
    );
    await t.bot.idle();
    return urls.map((url, index) => {
      // The answer comes after the ack through the response URL, or in the ack itself (a result kept from a moment ago).
      const ack = acks[index]!;
      const inAck = (ack.body as { response_type?: string } | undefined)?.response_type === 'in_channel';
      const posted = inAck ? (ack.body as Record<string, unknown>) : slack.responses(url)[0]?.body;
      return { ack: ack.text, inAck, text: String(posted?.text), blocks: JSON.stringify(posted?.blocks ?? []) };
    });
  }

  it('20 people asking /health all at once hit each dependency once, and each gets the result', async () => {
    const answers = await crowd('/health', 'all', 20);
    // The first announces its run before its work starts, so the other 19 join it rather than wait in line (8 at once).
    expect(answers.filter((posted) => /Queued/.test(posted.ack))).toEqual([]);
    expect(answers.map((posted) => posted.text)).toEqual(
      Array.from({ length: 20 }, () => ':large_green_circle: Health of all services: ok, 6 ok'),
    );
    expect([
      hits(rlhf, '/health'),
      hits(rlhf, '/api/v1/audit/integrity/verify'),
      hits(pqc, '/health'),
      rlhfPostgres.connections,
      pqcPostgres.connections,
      redis.connections,
    ]).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('serves a result younger than the freshness window again, saying how old it is; an older one runs again', async () => {
    clock.advance(4_000);
    const [again] = await crowd('/health', 'rlhf-audit-trail', 1);
    expect(again!.blocks).toContain('across 1 service, checked 4s ago');
    // Nothing to check or wait for: the answer is the ack itself, in the channel.
    expect(again!.inAck).toBe(true);
    expect(hits(rlhf, '/health')).toBe(1);

    // The same answer a moment later is not the earlier message again: its age moves on.
    clock.advance(2_000);
    const [later] = await crowd('/health', 'rlhf-audit-trail', 1);
    expect(later!.blocks).toContain('across 1 service, checked 6s ago');
    expect(later!.inAck).toBe(true);

    clock.advance(5_000);
    const [fresh] = await crowd('/health', 'rlhf-audit-trail', 1);
    expect(fresh!.blocks).not.toContain('checked');
    expect(fresh!.inAck).toBe(false);
    expect(hits(rlhf, '/health')).toBe(2);
  });

  it('one privacy budget reading (and one snapshot) for everyone asking at once', async () => {
    const answers = await crowd('/privacy-budget', 'rlhf-audit-trail', 20);
    expect(answers.every((posted) => posted.text.startsWith('Privacy budget: rlhf-audit-trail 40% consumed'))).toBe(true);
    expect(hits(rlhf, '/api/v1/privacy/budget')).toBe(1);
    const { rows } = await t.bot.store.query<{ count: number }>('SELECT count(*) AS count FROM privacy_budget_snapshots');
    expect(Number(rows[0]!.count)).toBe(1);

    clock.advance(2_000);
    const [again] = await crowd('/privacy-budget', 'rlhf-audit-trail', 1);
    expect(again!.blocks).toContain('checked 2s ago');
    expect(hits(rlhf, '/api/v1/privacy/budget')).toBe(1);
  });
});

describe('rollout histories', () => {
  it('people asking /rollback for one deployment at once read its history once; a reused one says how old it is', async () => {
    const kube = await startFakeKubernetes();
    kube.seedDeployment({
      namespace: 'rlhf-production',
      name: 'rlhf-audit-trail',
      image: 'ghcr.io/example/rlhf-audit-trail',
      revisions: [{ tag: '2.4.0' }, { tag: '2.5.0' }],
    });
    const dir = mkdtempSync(join(tmpdir(), 'rb-shared-'));
    writeFileSync(join(dir, 'kubeconfig'), kube.kubeConfigYaml());
    const clock = new ManualClock('2026-11-22T10:00:00Z');
    const slack = await startFakeSlack();
    const t = await startTestBot({
      slack,
      clock,
      file: {
        kubernetes: { kubeconfig: join(dir, 'kubeconfig') },
        services: { 'rlhf-audit-trail': { kubernetes: { namespace: 'rlhf-production', deployments: ['rlhf-audit-trail'] } } },
      },
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
    const historyReads = () => kube.requests.filter((request) => request.path.endsWith('/replicasets')).length;
    const rollback = async (people: number) => {
      const urls = Array.from({ length: people }, () => slack.newResponseUrl());
      await Promise.all(
        urls.map((responseUrl) =>
          sendSlashCommand(t.baseUrl, t.secret, { command: '/rollback', text: 'rlhf-audit-trail', responseUrl }),
        ),
      );
      await t.bot.idle();
      return urls.map((url) => JSON.stringify(slack.responses(url).at(-1)?.body.blocks ?? []));
    };
    try {
      const answers = await rollback(5);
      expect(answers.every((blocks) => blocks.includes('Revision history of'))).toBe(true);
      expect(historyReads()).toBe(1);
      clock.advance(3_000);
      const [again] = await rollback(1);
      expect(again).toContain('History checked 3s ago.');
      expect(historyReads()).toBe(1);
    } finally {
      await t.stop();
      await slack.close();
      await kube.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
