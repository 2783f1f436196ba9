// /healthz (the process answers), /readyz (it can do its work), /metrics (Prometheus).
import type { Redis } from 'ioredis';
import { errorMessage } from './errors.ts';
import { sendJson, type Route } from './http-server.ts';
import type { Metrics } from './metrics.ts';
import type { Store } from './store/db.ts';
import { migrationsApplied } from './store/migrate.ts';

export interface OpsRouteDeps {
  store: Store;
  redis: Redis | undefined;
  metrics: Metrics;
  isDraining: () => boolean;
  readinessTimeoutMs?: number;
  /** Socket Mode: why Slack cannot reach the bot now (no connection open past the grace), or undefined. */
  slackNotReady?: () => string | undefined;
  /** timeouts.redis: the PING's deadline, named in the answer when it passes. */
  redisLimitMs: number;
}

export function opsRoutes(deps: OpsRouteDeps): Route[] {
  return [
    { method: 'GET', path: '/healthz', handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: async (_req, res) => {
        const checks = await readiness(deps);
        const ready = Object.values(checks).every((check) => check === 'ok');
        sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', checks });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handle: async (_req, res) => {
        const body = await deps.metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': deps.metrics.registry.contentType });
        res.end(body);
      },
    },
  ];
}

async function readiness(deps: OpsRouteDeps): Promise<Record<string, string>> {
  const timeoutMs = deps.readinessTimeoutMs ?? 2_000;
  const checks: Record<string, string> = {};
  if (deps.isDraining()) checks.process = 'shutting down';
  const [store, redis] = await Promise.all([
    withTimeout(migrationsApplied(deps.store), timeoutMs).then(
      (applied) => (applied ? 'ok' : 'migrations not applied'),
      (error: unknown) => `unreachable: ${errorMessage(error)}`,
    ),
    deps.redis
      ? pingRedis(deps.redis, deps.redisLimitMs).then(
          () => 'ok',
          (error: unknown) => `unreachable: ${errorMessage(error)}`,
        )
      : Promise.resolve(undefined),
  ]);
  checks.store = store;
  if (deps.slackNotReady) checks.slack = deps.slackNotReady() ?? 'ok';
  if (redis !== undefined) checks.redis = redis;
  return checks;
}

/** The Redis client module is loaded only when REDIS_URL is set, and then it is loaded already. */
async function pingRedis(redis: Redis, limitMs: number): Promise<string> {
  return (await import('./clients/redis.ts')).pingRedis(redis, limitMs);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
