// Redis health through ioredis: PING, and used memory against maxmemory.
import { Redis } from 'ioredis';
import { formatDuration } from '../../config/duration.ts';
import type { ServiceConfig } from '../../config/schema.ts';
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
  // One attempt, no reconnects and no offline queue: a health check reports what it finds instead of waiting it out.
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: context.timeoutMs + 1_000,
    commandTimeout: context.timeoutMs + 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'runbook-bot-health',
  });
  let lastError: unknown;
  redis.on('error', (error: unknown) => {
    lastError = error;
  });
  const cut = () => redis.disconnect();
  context.signal.addEventListener('abort', cut, { once: true });
  try {
    const started = performance.now();
    try {
      await redis.connect();
      const pong = await redis.ping();
      if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)}`);
    } catch (error) {
      if (context.signal.aborted) throw context.signal.reason;
      throw new ExternalError('Redis', `cannot connect: ${redisFailure(lastError ?? error)}`, { cause: error });
    }
    const pingMs = performance.now() - started;
    const memory = parseInfo(await redis.info('memory'));
    return gradeRedis(spec, pingMs, Number(memory.used_memory ?? 0), Number(memory.maxmemory ?? 0));
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    throw error;
  } finally {
    context.signal.removeEventListener('abort', cut);
    redis.disconnect();
  }
}

function gradeRedis(spec: RedisCheckConfig, pingMs: number, used: number, max: number): CheckOutcome {
  const findings: Finding[] = [{ status: 'ok', text: `PONG in ${formatDuration(pingMs)}` }];
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
