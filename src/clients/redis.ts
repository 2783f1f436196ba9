// The Redis connection used for coordination across replicas (only when REDIS_URL is set), every command under a deadline.
import { Redis } from 'ioredis';
import { withDeadline } from '../deadline.ts';
import type { Logger } from '../log.ts';

export const REDIS_LIMIT_SETTING = 'timeouts.redis';

/**
 * `limitMs` (timeouts.redis) bounds every command, queued ones included: a Redis that accepts connections and never
 * answers fails each command at the limit instead of holding whoever sent it, and a connection that stops answering
 * after a command is dropped and made again.
 */
export function createRedisClient(url: string, logger: Logger, limitMs: number): Redis {
  // ioredis's own limits, a little past ours: where we wait (connecting, /readyz) ours report the hang, naming the
  // setting; commands nobody waits for (wake-up signals) are dropped by these.
  const backstopMs = limitMs + 1_000;
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: backstopMs,
    commandTimeout: backstopMs,
    socketTimeout: backstopMs,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  });
  let lastError = '';
  redis.on('error', (error: Error) => {
    // ioredis reconnects by itself; log each distinct failure once instead of every retry.
    if (error.message !== lastError) logger.warn({ event: 'redis.error', err: error });
    lastError = error.message;
  });
  redis.on('ready', () => {
    lastError = '';
  });
  return redis;
}

/** Connects at start-up within the limit; an unreachable Redis is logged and retried in the background, never waited for. */
export async function connectRedis(redis: Redis, logger: Logger, limitMs: number): Promise<void> {
  await withDeadline({ dependency: 'Redis', doing: 'connecting (REDIS_URL)', limitMs, setting: REDIS_LIMIT_SETTING }, () =>
    redis.connect(),
  ).catch((error: unknown) => logger.warn({ event: 'redis.unreachable_at_start', err: error }));
}

/** PING within the limit, for /readyz. */
export function pingRedis(redis: Redis, limitMs: number): Promise<string> {
  return withDeadline({ dependency: 'Redis', doing: 'PING (REDIS_URL)', limitMs, setting: REDIS_LIMIT_SETTING }, () =>
    redis.ping(),
  );
}
