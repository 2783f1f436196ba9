// /health through the real bot (signed commands, fake Slack), the incident channel's health check, and `runbook-bot health`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../src/cli.ts';
import { coreEvent, crashLoopingPod, pvc } from './fakes/kubernetes/fixtures.ts';
import { startFakeKubernetes, type FakeKubernetes } from './fakes/kubernetes/index.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { pqcRoutes, rlhfRoutes, startBlackHole, startFakeService, type FakeService } from './fakes/fake-services.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock } from './support/clock.ts';
import { createTestDatabase, redisUrlForTest, type TestDatabase } from './support/databases.ts';
import { commandAnswer, sendSlashCommand } from './support/slack-requests.ts';

let dir: string;
let rlhf: FakeService;
let pqc: FakeService;
let kube: FakeKubernetes;
let database: TestDatabase;
let hole: Awaited<ReturnType<typeof startBlackHole>>;

function file(extra: Record<string, unknown> = {}) {
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kube.kubeConfigYaml());
  return {
    kubernetes: { kubeconfig },
    permissions: { health: ['S0ONCALL'] },
    services: {
      'rlhf-audit-trail': {
        displayName: 'RLHF Audit Trail',
        kubernetes: { namespace: 'rlhf-production', deployments: ['rlhf-audit-trail'] },
        health: {
          // Its checks must come back ok even on a busy machine (real PostgreSQL, Redis, the fake cluster); the
          // limit under test is pqc-migration-audit's one second against a database that never answers.
          timeout: '5s',
          http: [
            { name: 'api', url: `${rlhf.url}/health` },
            {
              name: 'integrity',
              url: `${rlhf.url}/api/v1/audit/integrity/verify?sample_size=1000`,
              assert: ['integrity_score >= 0.95'],
            },
          ],
          postgres: { urlEnv: 'HC_RLHF_DATABASE_URL' },
          redis: { urlEnv: 'HC_RLHF_REDIS_URL' },
          kubernetes: {},
        },
      },
      'pqc-migration-audit': {
        health: {
          timeout: '1s',
          http: [{ name: 'service', url: `${pqc.url}/health` }],
          postgres: { urlEnv: 'HC_PQC_DATABASE_URL' },
        },
      },
      regulensai: {},
    },
    ...extra,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rb-health-'));
  rlhf = await startFakeService(rlhfRoutes());
  pqc = await startFakeService(pqcRoutes());
  kube = await startFakeKubernetes();
  kube.seedDeployment({ namespace: 'rlhf-production', name: 'rlhf-audit-trail', image: 'rlhf/api:1.4.2', replicas: 1 });
  kube.put({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'rlhf-audit-trail-abc-1', namespace: 'rlhf-production', labels: { app: 'rlhf-audit-trail' } },
    spec: { containers: [{ name: 'api', image: 'rlhf/api:1.4.2' }] },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'api', ready: true, restartCount: 0, image: '', imageID: '', state: { running: {} } }],
    },
  });
  database = await createTestDatabase();
  hole = await startBlackHole();
});
afterAll(async () => {
  await Promise.all([rlhf.close(), pqc.close(), kube.close(), database.drop(), hole.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('/health through the bot', () => {
  let slack: FakeSlack;
  let t: TestBot;
  beforeAll(async () => {
    slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0MALLORY']) slack.addUser({ id });
    slack.addUsergroup({ id: 'S0ONCALL', users: ['U0ALICE'] });
    slack.addChannel({ name: 'incidents' });
    vi.stubEnv('HC_RLHF_DATABASE_URL', database.url);
    vi.stubEnv('HC_RLHF_REDIS_URL', redisUrlForTest().url);
    vi.stubEnv('HC_PQC_DATABASE_URL', hole.url('postgres'));
    // Every test here wants a run of its own; sharing runs is proven below.
    t = await startTestBot({
      slack,
      file: file({ reads: { freshFor: '0s' } }),
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
  });
  afterAll(async () => {
    await t.stop();
    await slack.close();
    vi.unstubAllEnvs();
  });

  async function health(text: string, userId = 'U0ALICE') {
    const responseUrl = slack.newResponseUrl();
    const started = performance.now();
    const ack = await sendSlashCommand(t.baseUrl, t.secret, { command: '/health', text, userId, responseUrl });
    const ackMs = performance.now() - started;
    await t.bot.idle();
    const { answer, later } = commandAnswer(
      ack.body,
      slack.responses(responseUrl).map((r) => r.body),
    );
    return { ack: answer as { text: string; response_type: string }, ackMs, responses: later };
  }

  it('acks at once, then posts every check of the service with durations', async () => {
    const { ack, ackMs, responses } = await health('rlhf-audit-trail');
    expect(ack).toMatchObject({ response_type: 'ephemeral', text: ':hourglass_flowing_sand: Checking `rlhf-audit-trail`…' });
    // Within Slack's 3 s deadline, whatever the checks take (the first request of a cold process on a busy machine).
    expect(ackMs).toBeLessThan(3_000);
    const [posted] = responses;
    expect(posted).toMatchObject({ response_type: 'in_channel' });
    expect(posted!.text).toMatch(/^:large_green_circle: Health of rlhf-audit-trail: ok, 5 ok$/);
    const shown = JSON.stringify(posted!.blocks);
    expect(shown).toContain('*RLHF Audit Trail* (`rlhf-audit-trail`)');
    expect(shown).toMatch(/\*http integrity\* HTTP 200, integrity_score = 0.998, answered in \d+ms _\(\d+ms\)_/);
    expect(shown).toContain('*postgres* SELECT 1 in');
    expect(shown).toContain('*redis* PONG in');
    expect(shown).toContain('*kubernetes rlhf-production* Deployment rlhf-audit-trail 1/1 ready, 1 pod running and ready');
  });

  it("--details adds a kubectl-style table of the objects that are not ok, with the cluster's own words escaped", async () => {
    kube.put(
      crashLoopingPod('rlhf-audit-trail-abc-2', {
        namespace: 'rlhf-production',
        labels: { app: 'rlhf-audit-trail' },
        restarts: 4,
        lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt: new Date(Date.now() - 120_000) },
      }),
    );
    kube.put(
      coreEvent('rlhf-production', { kind: 'Pod', name: 'rlhf-audit-trail-abc-2' }, 'BackOff', {
        count: 9,
        last: new Date(Date.now() - 60_000),
        message: 'Back-off restarting failed container <!channel> api',
      }),
    );
    try {
      const { responses } = await health('rlhf-audit-trail --details');
      const shown = JSON.stringify(responses[0]!.blocks);
      expect(shown).toContain('*kubernetes rlhf-production* of rlhf-audit-trail: 2 objects not ok');
      expect(shown).toMatch(/STATUS +OBJECT +REASON +COUNT +LAST SEEN +MESSAGE/);
      expect(shown).toMatch(/critical +pod\/rlhf-audit-trail-abc-2 +CrashLoopBackOff +4 +2m/);
      expect(shown).toContain('Back-off restarting failed container &lt;!channel&gt; api');
      expect(shown).not.toContain('<!channel>');
      // Without the flag: one line per check, no table.
      const { responses: plain } = await health('rlhf-audit-trail');
      expect(JSON.stringify(plain[0]!.blocks)).not.toContain('LAST SEEN');
    } finally {
      kube.remove('v1', 'Pod', 'rlhf-production', 'rlhf-audit-trail-abc-2');
      for (const event of kube.list('v1', 'Event', 'rlhf-production'))
        kube.remove('v1', 'Event', 'rlhf-production', event.metadata.name);
    }
  });

  it('checks all services at once, worst first, and names the ones without checks', async () => {
    const started = performance.now();
    const { responses } = await health('all');
    // Bounded by the one-second limit of the silent database, not by waiting for it: well under rlhf's 5 s.
    expect(performance.now() - started).toBeLessThan(4_000);
    const [posted] = responses;
    expect(posted!.text).toMatch(
      /^:red_circle: Health of all services: critical, 1 critical, 6 ok — worst: pqc-migration-audit postgres: no answer within 1s \(the limit is services\.pqc-migration-audit\.health\.timeout in the config file\)$/,
    );
    const shown = JSON.stringify(posted!.blocks);
    expect(shown.indexOf('pqc-migration-audit')).toBeLessThan(shown.indexOf('rlhf-audit-trail'));
    expect(shown).toContain('No health checks configured for `regulensai`');
  });

  it('refuses people outside the health group before running anything', async () => {
    const before = rlhf.requests.length;
    const { ack, responses } = await health('rlhf-audit-trail', 'U0MALLORY');
    expect(ack.text).toContain('You are not allowed to run health checks');
    expect(responses).toEqual([]);
    expect(rlhf.requests.length).toBe(before);
  });

  it("posts the affected service's real health check into a new incident channel", async () => {
    rlhf.set('/api/v1/audit/integrity/verify', { body: { status: 'verified', integrity_score: 0.9 } });
    try {
      const { incident } = await t.bot.incidents.declare({
        key: 'health-hook',
        title: 'Audit integrity alarm',
        severity: 'P1',
        service: 'rlhf-audit-trail',
        declaredBy: 'U0ALICE',
      });
      await t.bot.idle();
      const posts = slack
        .messages(incident.channel_id!)
        .filter((m) => JSON.stringify(m.blocks ?? []).includes('Health check of'));
      expect(posts).toHaveLength(1);
      // Escaped for Slack; the timeline keeps the words as they were.
      expect(posts[0]!.text).toBe(
        'critical, 1 critical, 4 ok — worst: http integrity: integrity_score = 0.9 (expected &gt;= 0.95)',
      );
      expect(JSON.stringify(posts[0]!.blocks)).toContain(':red_circle: *Health check of rlhf-audit-trail: critical*');
      const { rows } = await t.bot.store.query<{ text: string }>(
        "SELECT text FROM incident_events WHERE incident_id = $1 AND kind = 'task_run'",
        [incident.id],
      );
      expect(rows.map((row) => row.text)).toEqual([
        'Health check of rlhf-audit-trail: critical, 1 critical, 4 ok — worst: http integrity: integrity_score = 0.9 (expected >= 0.95)',
      ]);
    } finally {
      rlhf.set('/api/v1/audit/integrity/verify', rlhfRoutes()['/api/v1/audit/integrity/verify']!);
    }
  });
});

describe('runbook-bot health', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  async function cli(args: string[], env: Record<string, string>) {
    const path = join(dir, `cli-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(path, stringify(file({ permissions: {} })));
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      ['health', ...args],
      { out: (line) => out.push(line), err: (line) => err.push(line) },
      { RUNBOOK_BOT_CONFIG: path, ...env },
    );
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  const envs = () => ({ HC_RLHF_DATABASE_URL: database.url, HC_RLHF_REDIS_URL: redisUrlForTest().url });

  it('exits 0 when every check is ok, and prints one line per check', async () => {
    const { code, out } = await cli(['rlhf-audit-trail'], envs());
    expect(code).toBe(0);
    expect(out).toContain('rlhf-audit-trail: OK');
    expect(out).toMatch(/\n {2}ok {7}http integrity\s+HTTP 200, integrity_score = 0.998/);
    expect(out).toMatch(/overall: ok \(1 service, 5 checks, \d+ms\)$/);
  });

  it('exits 1 for warnings ("not configured" included) and 2 for anything critical; --json gives the typed report', async () => {
    const warn = await cli(['rlhf-audit-trail'], { HC_RLHF_DATABASE_URL: database.url });
    expect(warn.code).toBe(1);
    expect(warn.out).toMatch(/n\/a {6}redis\s+not configured: HC_RLHF_REDIS_URL is not set/);

    const critical = await cli(['all', '--json'], { ...envs(), HC_PQC_DATABASE_URL: hole.url('postgres') });
    expect(critical.code).toBe(2);
    const report = JSON.parse(critical.out) as {
      status: string;
      services: Array<{ service: string; checks: Array<{ reason: string }> }>;
    };
    expect(report.status).toBe('critical');
    expect(report.services.find((s) => s.service === 'pqc-migration-audit')!.checks.map((c) => c.reason)).toContain(
      'no answer within 1s (the limit is services.pqc-migration-audit.health.timeout in the config file)',
    );
  });

  it('--details prints the table of objects that are not ok under their check', async () => {
    kube.put(pvc('data-rlhf-0', 'rlhf-production', { phase: 'Lost', volumeName: 'pvc-77' }));
    try {
      const { code, out } = await cli(['rlhf-audit-trail', '--details'], envs());
      expect(code).toBe(2);
      expect(out).toContain('PersistentVolumeClaim data-rlhf-0: Lost (volume pvc-77 no longer exists)');
      expect(out).toMatch(
        /\n {6}STATUS +OBJECT +REASON +COUNT +LAST SEEN +MESSAGE\n {6}critical +persistentvolumeclaim\/data-rlhf-0 +Lost +its volume pvc-77 no longer exists/,
      );
    } finally {
      kube.remove('v1', 'PersistentVolumeClaim', 'rlhf-production', 'data-rlhf-0');
    }
  });

  it('exits 64 for an unknown service or option', async () => {
    const unknown = await cli(['<billing>&co'], {});
    expect(unknown.code).toBe(64);
    // Written as typed, not as escaped for Slack.
    expect(unknown.err).toContain("I don't know a service called `<billing>&co`");
    const flag = await cli(['--verbose'], {});
    expect(flag.code).toBe(64);
    expect(flag.err).toContain('Usage: runbook-bot health [service|all] [--json]');
  });
});

describe('the scheduled health check, health watch and budget post', () => {
  it('posts the daily health check, records the watch per service, and posts the budget at 09:00', async () => {
    const slack = await startFakeSlack();
    slack.addChannel({ name: 'ops' });
    slack.addChannel({ name: 'incidents' });
    vi.stubEnv('HC_RLHF_DATABASE_URL', database.url);
    vi.stubEnv('HC_RLHF_REDIS_URL', redisUrlForTest().url);
    vi.stubEnv('HC_PQC_DATABASE_URL', hole.url('postgres'));
    const clock = new ManualClock('2026-11-22T05:59:30Z');
    const base = file({ permissions: {} }) as { services: Record<string, Record<string, unknown>> };
    base.services['rlhf-audit-trail']!.privacyBudget = { url: `${rlhf.url}/api/v1/privacy/budget` };
    const t = await startTestBot({
      slack,
      clock,
      file: base,
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
    try {
      clock.set('2026-11-22T06:00:10Z');
      await t.bot.scheduler.tick();
      const daily = slack.messages('ops').find((m) => JSON.stringify(m.blocks ?? []).includes('Daily health check'))!;
      expect(daily.text).toMatch(
        /^:red_circle: Daily health check: critical, 1 critical, 6 ok — worst: pqc-migration-audit postgres: no answer within 1s \(the limit is services\.pqc-migration-audit\.health\.timeout in the config file\)$/,
      );
      const { rows } = await t.bot.store.query<{ service: string; critical_count: number }>(
        'SELECT service, critical_count FROM service_health_streaks ORDER BY service',
      );
      expect(rows).toEqual([
        { service: 'pqc-migration-audit', critical_count: 1 },
        { service: 'rlhf-audit-trail', critical_count: 0 },
      ]);

      clock.set('2026-11-22T09:00:10Z');
      await t.bot.scheduler.tick();
      const budgetPost = slack.messages('ops').find((m) => m.text.startsWith('Daily privacy budget'))!;
      expect(budgetPost.text).toBe('Daily privacy budget: rlhf-audit-trail 40% consumed (4 of 10 ε), ok');
      const runs = await t.bot.store.query<{ job: string; outcome: string }>(
        "SELECT job, outcome FROM schedule_runs WHERE job IN ('dailyHealth', 'privacyBudget') ORDER BY job",
      );
      expect(runs.rows).toEqual([
        { job: 'dailyHealth', outcome: 'warn' },
        { job: 'privacyBudget', outcome: 'ok' },
      ]);
    } finally {
      await t.stop();
      await slack.close();
      vi.unstubAllEnvs();
    }
  });
});
