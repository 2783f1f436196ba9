// The Redis connection used for coordination across replicas (only when REDIS_URL is set): every command bounded, none waiting for a Redis that does not answer.
import { Redis } from 'ioredis';
import { DeadlineError, withDeadline } from '../deadline.ts';
import { ExternalError } from '../errors.ts';
import type { Logger } from '../log.ts';

export const REDIS_LIMIT_SETTING = 'timeouts.redis';

/**
 * `limitMs` (timeouts.redis) bounds every command. While the connection is not ready (Redis down, or connected and
 * not answering its ready check) commands fail at once instead of queueing, and a connection that stops answering
 * after a command is dropped and made again: a Redis that accepts connections and never answers holds no request,
 * Slack call or timer for longer than one limit. Everything Redis does for the bot has a fallback.
 */
export function createRedisClient(url: string, logger: Logger, limitMs: number): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: limitMs,
    commandTimeout: limitMs,
    socketTimeout: limitMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
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

/** PING within the limit, for /readyz; says so at once when the connection is not ready. */
export async function pingRedis(redis: Redis, limitMs: number): Promise<string> {
  if (redis.status !== 'ready')
    throw new ExternalError('Redis', `not ready (${describeStatus(redis.status)}); the bot keeps reconnecting`);
  const deadline = { dependency: 'Redis', doing: 'PING (REDIS_URL)', limitMs, setting: REDIS_LIMIT_SETTING };
  try {
    return await withDeadline(deadline, () => redis.ping());
  } catch (error) {
    // ioredis's own command limit is the same one: report it the same way.
    if (error instanceof Error && error.message === 'Command timed out')
      throw new DeadlineError(deadline.dependency, deadline.doing, limitMs, REDIS_LIMIT_SETTING);
    throw error;
  }
}

function describeStatus(status: string): string {
  switch (status) {
    case 'connect':
      return 'connected, but it does not answer';
    case 'connecting':
    case 'reconnecting':
    case 'wait':
      return 'not connected';
    default:
      return status;
  }
}
