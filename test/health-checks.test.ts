// Health checks against real PostgreSQL and Redis and real local HTTP servers: what each finds, and that one hang delays nothing.
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/clock.ts';
import { parseConfig } from '../src/config/load.ts';
import { healthTargets, runHealthChecks, type HealthReport } from '../src/tasks/health/run.ts';
import { healthBlocks, healthSummaryText } from '../src/slack/health-blocks.ts';
import {
  pqcRoutes,
  prometheusAlerts,
  regulensRoutes,
  rlhfRoutes,
  startBlackHole,
  startFakeService,
  type FakeService,
} from './fakes/fake-services.ts';
import { createTestDatabase, redisUrlForTest, type TestDatabase } from './support/databases.ts';
import { freePort } from './support/ports.ts';
import { startThrowawayRedis } from './support/throwaway-redis.ts';

type Env = Record<string, string | undefined>;

/** Runs the checks of one service whose `health` section is given, as the bot would. */
async function check(health: Record<string, unknown>, env: Env = {}, extra: Record<string, unknown> = {}): Promise<HealthReport> {
  const config = parseConfig({}, { services: { svc: { health, ...extra } } }, 'test.yml', 'cli');
  const { services } = healthTargets(config, 'svc');
  return runHealthChecks(services, { clock: systemClock, env });
}

function only(report: HealthReport) {
  const [result, ...rest] = report.services[0]!.checks;
  expect(rest).toEqual([]);
  return result!;
}

describe('HTTP checks against the three systems', () => {
  let rlhf: FakeService;
  let pqc: FakeService;
  let regulens: FakeService;
  beforeAll(async () => {
    rlhf = await startFakeService(rlhfRoutes());
    pqc = await startFakeService(pqcRoutes());
    regulens = await startFakeService(regulensRoutes());
  });
  afterAll(async () => {
    await Promise.all([rlhf.close(), pqc.close(), regulens.close()]);
  });

  it('passes a healthy API and an integrity score at or above 0.95', async () => {
    const report = await check({
      http: [
        { name: 'api', url: `${rlhf.url}/health` },
        {
          name: 'integrity',
          url: `${rlhf.url}/api/v1/audit/integrity/verify?sample_size=1000`,
          assert: ['integrity_score >= 0.95'],
        },
        { name: 'detailed', url: `${pqc.url}/health/detailed`, assert: ['status == ok', 'liboqs == "ok"'] },
        { name: 'regulensai', url: `${regulens.url}/health` },
      ],
    });
    expect(report.status).toBe('ok');
    const byName = Object.fromEntries(report.services[0]!.checks.map((c) => [c.name, c]));
    expect(byName.api!.reason).toMatch(/^HTTP 200, answered in \d+ms$/);
    expect(byName.integrity!.reason).toMatch(/^HTTP 200, integrity_score = 0.998, answered in/);
    expect(byName.detailed!.status).toBe('ok');
    expect(rlhf.requests.some((r) => r.path === '/api/v1/audit/integrity/verify')).toBe(true);
  });

  it('is critical when the integrity score is too low, and names the value and the threshold', async () => {
    rlhf.set('/api/v1/audit/integrity/verify', {
      body: { status: 'verified', records_verified: 1000, integrity_score: 0.91, anomalies_detected: 12 },
    });
    const result = only(
      await check({
        http: [{ name: 'integrity', url: `${rlhf.url}/api/v1/audit/integrity/verify`, assert: ['integrity_score >= 0.95'] }],
      }),
    );
    expect(result).toMatchObject({ status: 'critical', reason: 'integrity_score = 0.91 (expected >= 0.95)' });
  });

  it('is critical for a failing endpoint, malformed JSON, or a missing field', async () => {
    pqc.set('/health', { status: 503, body: { status: 'unhealthy' } });
    pqc.set('/health/detailed', { body: '<html>Bad Gateway</html>' });
    regulens.set('/health', { body: { status: 'healthy' } });
    const report = await check({
      http: [
        { name: 'service', url: `${pqc.url}/health` },
        { name: 'detailed', url: `${pqc.url}/health/detailed`, assert: ['status == ok'] },
        { name: 'regulens', url: `${regulens.url}/health`, assert: ['checks.database == ok'] },
      ],
    });
    const [service, detailed, regulensResult] = report.services[0]!.checks;
    expect(service).toMatchObject({ status: 'critical', reason: 'HTTP 503 (expected 200)' });
    expect(detailed!.status).toBe('critical');
    expect(detailed!.reason).toContain('the answer is not JSON ("<html>Bad Gateway</html>")');
    expect(regulensResult).toMatchObject({ status: 'critical', reason: 'checks.database is missing from the answer' });
  });

  it('warns when the answer is slower than the latency threshold', async () => {
    regulens.set('/slow', { delayMs: 300, body: { status: 'healthy' } });
    const result = only(await check({ http: [{ name: 'api', url: `${regulens.url}/slow`, latencyWarn: '100ms' }] }));
    expect(result.status).toBe('warn');
    expect(result.reason).toMatch(/^slow: \d{3}ms \(over 100ms\)$/);
  });

  it('sends header secrets from the environment, and reports "not configured" when the variable is unset', async () => {
    const spec = { http: [{ name: 'api', url: `${rlhf.url}/health`, headersFromEnv: { authorization: 'RLHF_TEST_TOKEN' } }] };
    expect(only(await check(spec))).toMatchObject({
      status: 'warn',
      notConfigured: true,
      reason: 'not configured: RLHF_TEST_TOKEN is not set (header authorization)',
    });
    await check(spec, { RLHF_TEST_TOKEN: 'Bearer t0k3n' });
    expect(rlhf.requests.at(-1)!.headers.authorization).toBe('Bearer t0k3n');
  });

  it('is critical, with the network reason, when nothing listens', async () => {
    const port = await freePort();
    const result = only(await check({ http: [{ name: 'api', url: `http://127.0.0.1:${port}/health` }] }));
    expect(result).toMatchObject({ status: 'critical', reason: `cannot reach 127.0.0.1:${port}: ECONNREFUSED` });
  });
});

describe('PostgreSQL checks', () => {
  let database: TestDatabase;
  const clients: pg.Client[] = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)));
  });
  afterAll(async () => {
    await database.drop();
  });

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    clients.push(client);
    return client;
  }

  it('reports a healthy server: SELECT 1, connections against max_connections, no waits, size', async () => {
    const result = only(await check({ postgres: { urlEnv: 'SVC_DATABASE_URL' } }, { SVC_DATABASE_URL: database.url }));
    expect(result.status).toBe('ok');
    expect(result.reason).toMatch(
      /^SELECT 1 in \d+ms, \d+\/\d+ connections \(\d+%\), no lock waits, no queries over 5m, size \d+\.\d MB$/,
    );
  });

  it('warns about an ungranted lock and a query stuck behind it', async () => {
    const holder = await connect();
    const waiter = await connect();
    await holder.query('CREATE TABLE IF NOT EXISTS audit_records (id int)');
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE audit_records IN ACCESS EXCLUSIVE MODE');
    const waiting = waiter.query('SELECT count(*) FROM audit_records').catch(() => undefined);
    // Wait until the second session is really waiting on the lock, and longer than the long-query threshold.
    const started = Date.now();
    for (;;) {
      const { rows } = await holder.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
      );
      if (rows[0]!.n > 0 && Date.now() - started > 1_200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const result = only(
      await check({ postgres: { urlEnv: 'SVC_DATABASE_URL', longQuery: '1s' } }, { SVC_DATABASE_URL: database.url }),
    );
    expect(result.status).toBe('warn');
    expect(result.reason).toMatch(/^1 ungranted lock \(longest wait \d+s\); 1 query running longer than 1s \(longest \d+s\)$/);
    await holder.query('COMMIT');
    await waiting;
  });

  it('grades connections used against the configured thresholds', async () => {
    const result = only(
      await check(
        { postgres: { urlEnv: 'SVC_DATABASE_URL', connectionsWarnPercent: 1, connectionsCriticalPercent: 100 } },
        { SVC_DATABASE_URL: database.url },
      ),
    );
    expect(result.status).toBe('warn');
    expect(result.reason).toMatch(/^\d+\/\d+ connections \(\d+%\)$/);
  });

  it('is critical for a stopped server, and "not configured" without its URL', async () => {
    const port = await freePort();
    const stopped = only(
      await check({ postgres: { urlEnv: 'SVC_DATABASE_URL' } }, { SVC_DATABASE_URL: `postgres://rb:pw@127.0.0.1:${port}/rb` }),
    );
    expect(stopped).toMatchObject({ status: 'critical', reason: `cannot connect: connect ECONNREFUSED 127.0.0.1:${port}` });
    expect(stopped.reason).not.toContain('pw');
    expect(only(await check({ postgres: { urlEnv: 'SVC_DATABASE_URL' } }))).toMatchObject({
      status: 'warn',
      notConfigured: true,
      reason: 'not configured: SVC_DATABASE_URL is not set',
    });
  });
});

describe('Redis checks', () => {
  it('answers PING on the run Redis and shows memory', async () => {
    const { url } = redisUrlForTest();
    const result = only(await check({ redis: { urlEnv: 'SVC_REDIS_URL' } }, { SVC_REDIS_URL: url }));
    expect(result.status).toBe('ok');
    expect(result.reason).toMatch(/^PONG in \d+ms, memory [\d.]+ [KM]B/);
  });

  it('is critical when Redis is unreachable', async () => {
    const port = await freePort();
    const result = only(await check({ redis: { urlEnv: 'SVC_REDIS_URL' } }, { SVC_REDIS_URL: `redis://127.0.0.1:${port}` }));
    expect(result.status).toBe('critical');
    expect(result.reason).toContain('cannot connect');
    expect(result.reason).toContain('ECONNREFUSED');
  });

  it('grades used memory against maxmemory (a Redis of its own, so the limit touches no other test)', async () => {
    const server = await startThrowawayRedis();
    const admin = new Redis(server.url);
    try {
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory', String(Math.round(used * 1.15)));
      const result = only(
        await check(
          { redis: { urlEnv: 'SVC_REDIS_URL', memoryWarnPercent: 50, memoryCriticalPercent: 99 } },
          { SVC_REDIS_URL: server.url },
        ),
      );
      expect(result.status).toBe('warn');
      expect(result.reason).toMatch(/^memory [\d.]+ [KM]B of [\d.]+ [KM]B \(\d+%\)$/);
    } finally {
      admin.disconnect();
      await server.stop();
    }
  });
});

describe('Prometheus checks', () => {
  let prometheus: FakeService;
  beforeAll(async () => {
    prometheus = await startFakeService({});
  });
  afterAll(async () => {
    await prometheus.close();
  });

  it('counts only firing alerts of the service, critical ones first', async () => {
    prometheus.set(
      '/api/v1/alerts',
      prometheusAlerts([
        { alertname: 'PrivacyBudgetLow', labels: { severity: 'warning', namespace: 'rlhf-production' } },
        { alertname: 'AuditIntegrityViolation', labels: { severity: 'critical', namespace: 'rlhf-production' } },
        { alertname: 'HighLatency', state: 'pending', labels: { namespace: 'rlhf-production' } },
        { alertname: 'HighAPIErrorRate', labels: { severity: 'critical', namespace: 'regulensai' } },
      ]),
    );
    const spec = { prometheus: { url: prometheus.url, matchLabels: { namespace: 'rlhf-production' } } };
    expect(only(await check(spec))).toMatchObject({
      status: 'critical',
      reason: '2 firing alerts: AuditIntegrityViolation (critical), PrivacyBudgetLow (warning) (1 pending)',
    });
    prometheus.set('/api/v1/alerts', prometheusAlerts([{ alertname: 'HighLatency', state: 'pending' }]));
    expect(only(await check(spec))).toMatchObject({ status: 'ok', reason: 'no firing alerts' });
  });

  it('is critical when the API answers something else than its documented shape', async () => {
    prometheus.set('/api/v1/alerts', { body: { status: 'success', data: { alerts: [{ labels: 'x' }] } } });
    const result = only(await check({ prometheus: { url: prometheus.url } }));
    expect(result.status).toBe('critical');
    expect(result.reason).toContain('answered JSON of an unexpected shape: data.alerts.0.labels');
  });
});

describe('running every check at once', () => {
  it('reports a hanging dependency as timed out after the timeout, without delaying the other checks', async () => {
    const hole = await startBlackHole();
    const healthy = await startFakeService(rlhfRoutes({ '/hang': { hang: true } }));
    const database = await createTestDatabase();
    try {
      const config = parseConfig(
        {},
        {
          services: {
            'rlhf-audit-trail': {
              health: {
                timeout: '700ms',
                http: [
                  { name: 'api', url: `${healthy.url}/health` },
                  { name: 'hanging', url: `${healthy.url}/hang` },
                ],
                postgres: { urlEnv: 'RLHF_DATABASE_URL' },
                redis: { urlEnv: 'RLHF_REDIS_URL' },
              },
            },
            'pqc-migration-audit': {
              health: { timeout: '700ms', postgres: { urlEnv: 'PQC_DATABASE_URL' }, redis: { urlEnv: 'PQC_REDIS_URL' } },
            },
            regulensai: {},
          },
        },
        'test.yml',
        'cli',
      );
      const { services, unchecked } = healthTargets(config, 'all');
      const started = performance.now();
      const report = await runHealthChecks(
        services,
        {
          clock: systemClock,
          env: {
            RLHF_DATABASE_URL: database.url,
            RLHF_REDIS_URL: redisUrlForTest().url,
            PQC_DATABASE_URL: hole.url('postgres'),
            PQC_REDIS_URL: hole.url('redis'),
          },
        },
        unchecked,
      );
      const wall = performance.now() - started;
      expect(wall).toBeLessThan(1_400);
      expect(report.unchecked).toEqual(['regulensai']);
      const rlhf = report.services.find((s) => s.service === 'rlhf-audit-trail')!;
      const pqc = report.services.find((s) => s.service === 'pqc-migration-audit')!;
      const byName = Object.fromEntries(rlhf.checks.map((c) => [c.name, c]));
      const limit = (service: string) =>
        `no answer within 700ms (the limit is services.${service}.health.timeout in the config file)`;
      expect(byName.hanging).toMatchObject({ status: 'critical', reason: limit('rlhf-audit-trail'), timedOut: true });
      for (const name of ['api', 'postgres', 'redis']) {
        expect(byName[name]!.status).toBe('ok');
        expect(byName[name]!.durationMs).toBeLessThan(500);
      }
      expect(pqc.checks.map((c) => [c.kind, c.reason])).toEqual([
        ['postgres', limit('pqc-migration-audit')],
        ['redis', limit('pqc-migration-audit')],
      ]);
      expect(report.status).toBe('critical');

      expect(healthSummaryText(report, 'Health check')).toMatch(
        /^:red_circle: Health check: critical, 3 critical, 3 ok — worst: /,
      );
      const shown = JSON.stringify(healthBlocks(report));
      expect(shown).toContain(`*http hanging* ${limit('rlhf-audit-trail')}`);
      expect(shown).toContain('No health checks configured for `regulensai`');
      // Worst service first.
      expect(shown.indexOf('pqc-migration-audit')).toBeLessThan(shown.indexOf('rlhf-audit-trail'));
    } finally {
      await Promise.all([hole.close(), healthy.close(), database.drop()]);
    }
  });
});
