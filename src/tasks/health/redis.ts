// Redis health through ioredis: PING, and used memory against maxmemory.
import { formatLatency } from '../../config/duration.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { DeadlineError, withDeadline } from '../../deadline.ts';
import { ExternalError, errorMessage } from '../../errors.ts';
import {
  notConfigured,
  outcomeFromFindings,
  type CheckContext,
  type CheckFactory,
  type CheckOutcome,
  type Finding,
} from './check.ts';
import { formatBytes } from '../../config/units.ts';

export type RedisCheckConfig = NonNullable<NonNullable<ServiceConfig['health']>['redis']>;

export const redisChecks: CheckFactory = (service) => {
  const spec = service.config.health?.redis;
  if (!spec) return [];
  return [{ kind: 'redis', name: 'redis', run: (context) => runRedisCheck(spec, context) }];
};

export async function runRedisCheck(spec: RedisCheckConfig, context: CheckContext): Promise<CheckOutcome> {
  const url = context.env[spec.urlEnv];
  if (!url) return notConfigured(`${spec.urlEnv} is not set`);
  const limitMs = context.timeouts.redis;
  // Loaded only when there is a Redis to check: ioredis alone is about 10 MB of memory.
  const { Redis } = await import('ioredis');
  // One attempt, no reconnects and no offline queue: a health check reports what it finds instead of waiting it out.
  const redis = new Redis(url, {
    lazyConnect: true,
    // ioredis's own limits, a little past ours, so ours are what report a hang (naming the setting).
    connectTimeout: limitMs + 1_000,
    commandTimeout: limitMs + 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'runbook-bot-health',
  });
  let lastError: unknown;
  redis.on('error', (error: unknown) => {
    lastError = error;
  });
  const where = serverOf(url);
  // Each step under the Redis command limit; a Redis that accepts and never answers is cut off at it.
  const step = <T>(doing: string, work: () => Promise<T>) =>
    withDeadline(
      { dependency: 'Redis', doing: `${doing} (${where})`, limitMs, setting: 'timeouts.redis', signal: context.signal },
      (signal) => {
        const cut = () => redis.disconnect();
        signal.addEventListener('abort', cut, { once: true });
        return work().finally(() => signal.removeEventListener('abort', cut));
      },
    );
  try {
    const started = performance.now();
    try {
      await step('connecting', () => redis.connect());
      const pong = await step('PING', () => redis.ping());
      if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)}`);
    } catch (error) {
      if (context.signal.aborted || error instanceof DeadlineError) throw error;
      throw new ExternalError('Redis', `cannot connect: ${redisFailure(lastError ?? error)}`, { cause: error });
    }
    const pingMs = performance.now() - started;
    const memory = parseInfo(await step('INFO memory', () => redis.info('memory')));
    return gradeRedis(spec, pingMs, Number(memory.used_memory ?? 0), Number(memory.maxmemory ?? 0));
  } finally {
    redis.disconnect();
  }
}

/** "cache.internal:6379": where the check went, without the password. */
function serverOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'the configured server';
  }
}

function gradeRedis(spec: RedisCheckConfig, pingMs: number, used: number, max: number): CheckOutcome {
  const findings: Finding[] = [{ status: 'ok', text: `PONG in ${formatLatency(pingMs)}` }];
  if (!max) {
    findings.push({ status: 'ok', text: `memory ${formatBytes(used)} (no maxmemory set)` });
  } else {
    const percent = Math.round((used / max) * 100);
    findings.push({
      status: percent >= spec.memoryCriticalPercent ? 'critical' : percent >= spec.memoryWarnPercent ? 'warn' : 'ok',
      text: `memory ${formatBytes(used)} of ${formatBytes(max)} (${percent}%)`,
    });
  }
  return outcomeFromFindings(findings, findings.map((finding) => finding.text).join(', '));
}

/** INFO's "key:value" lines. */
function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

function redisFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = errorMessage(error);
  return typeof code === 'string' && !message.includes(code) ? `${code} (${message})` : message;
}
