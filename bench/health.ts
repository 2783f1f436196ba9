// bench:health — 20 services x 5 checks (HTTP, PostgreSQL, Redis, Kubernetes, Prometheus) against real local servers,
// one dependency that never answers; the total wall time against the per-check timeout, measured in the same run.
// Goal: total <= 1.1x the timeout (the hang costs its own timeout and nothing more).
import { parseArgs } from 'node:util';
import { clientsFor } from '../src/clients/kubernetes.ts';
import { systemClock } from '../src/clock.ts';
import { parseConfig } from '../src/config/load.ts';
import { healthTargets, runHealthChecks, type HealthReport } from '../src/tasks/health/run.ts';
import { startFakeKubernetes } from '../test/fakes/kubernetes/index.ts';
import { prometheusAlerts, rlhfRoutes, startBlackHole, startFakeService } from '../test/fakes/fake-services.ts';
import { startThrowawayRedis } from '../test/support/throwaway-redis.ts';
import { scratchDatabase } from './scratch-database.ts';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '20' },
    timeout: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
  },
});
const SERVICES = Number(args.services);
const TIMEOUT_MS = Number(args.timeout);
const ROUNDS = Number(args.rounds);
const HANGING = 'service-07';

async function main(): Promise<void> {
  const database = await scratchDatabase('rb_bench_health');
  const redisServer = process.env.REDIS_URL ? undefined : await startThrowawayRedis();
  const redisUrl = process.env.REDIS_URL ?? redisServer!.url;
  const http = await startFakeService({ ...rlhfRoutes(), '/api/v1/alerts': prometheusAlerts([]) });
  const hole = await startBlackHole();
  const kube = await startFakeKubernetes();

  const env: Record<string, string> = {};
  const services: Record<string, unknown> = {};
  for (let i = 1; i <= SERVICES; i += 1) {
    const name = `service-${String(i).padStart(2, '0')}`;
    const namespace = `ns-${i}`;
    kube.seedDeployment({ namespace, name, image: `example/${name}:1`, replicas: 1 });
    kube.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${name}-abc-1`, namespace, labels: { app: name } },
      spec: { containers: [{ name, image: `example/${name}:1` }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [] },
    });
    const dbEnv = `BENCH_${i}_DATABASE_URL`;
    const redisEnv = `BENCH_${i}_REDIS_URL`;
    // The one dependency that never answers: this service's PostgreSQL accepts the connection and says nothing.
    env[dbEnv] = name === HANGING ? hole.url('postgres') : database.url;
    env[redisEnv] = redisUrl;
    services[name] = {
      kubernetes: { namespace, deployments: [name] },
      health: {
        timeout: TIMEOUT_MS,
        http: [{ name: 'api', url: `${http.url}/api/v1/audit/integrity/verify`, assert: ['integrity_score >= 0.95'] }],
        postgres: { urlEnv: dbEnv },
        redis: { urlEnv: redisEnv },
        kubernetes: {},
        prometheus: { url: http.url },
      },
    };
  }
  const config = parseConfig({}, { services }, 'bench.yml', 'cli');
  const kubeConfig = kube.kubeConfig();
  const options = {
    clock: systemClock,
    env,
    kubernetes: () => clientsFor(kubeConfig),
  };
  const { services: targets } = healthTargets(config, 'all');
  const withoutHang = targets.filter((target) => target.name !== HANGING);

  console.log(
    `bench:health: ${SERVICES} services x 5 checks, per-check timeout ${TIMEOUT_MS} ms, ${HANGING}'s PostgreSQL never answers; ${ROUNDS} rounds`,
  );
  // Warm-up: connections, JIT.
  await runHealthChecks(withoutHang, options);

  let worstRatio = 0;
  for (let round = 1; round <= ROUNDS; round += 1) {
    const healthyStarted = performance.now();
    const healthy = await runHealthChecks(withoutHang, options);
    const healthyMs = performance.now() - healthyStarted;

    const started = performance.now();
    const report = await runHealthChecks(targets, options);
    const totalMs = performance.now() - started;
    const ratio = totalMs / TIMEOUT_MS;
    worstRatio = Math.max(worstRatio, ratio);
    const timedOut = report.services.flatMap((s) => s.checks.filter((c) => c.timedOut).map((c) => `${s.service} ${c.kind}`));
    const slowestOther = Math.max(
      ...report.services.flatMap((s) => s.checks.filter((c) => !c.timedOut).map((c) => c.durationMs)),
    );
    console.log(
      `round ${round}: ${countChecks(report)} checks in ${totalMs.toFixed(0)} ms = ${ratio.toFixed(3)}x the timeout; ` +
        `timed out: ${timedOut.join(', ') || 'none'}; slowest other check ${slowestOther.toFixed(0)} ms; ` +
        `the same ${countChecks(healthy)} checks without the hanging service: ${healthyMs.toFixed(0)} ms (${statusLine(healthy)})`,
    );
    if (timedOut.length !== 1 || report.services.some((s) => s.service !== HANGING && s.status !== 'ok'))
      throw new Error(`unexpected results: ${JSON.stringify(report.services.filter((s) => s.status !== 'ok'))}`);
  }
  console.log(
    `worst total / timeout: ${worstRatio.toFixed(3)}x (goal <= 1.1x) -> ${worstRatio <= 1.1 ? 'GOAL MET' : 'GOAL MISSED'}`,
  );

  await Promise.all([http.close(), hole.close(), kube.close()]);
  await redisServer?.stop();
  await database.drop();
}

function countChecks(report: HealthReport): number {
  return report.services.reduce((sum, service) => sum + service.checks.length, 0);
}

function statusLine(report: HealthReport): string {
  const statuses = report.services.flatMap((s) => s.checks.map((c) => c.status));
  return `${statuses.filter((s) => s === 'ok').length} ok`;
}

await main();
