// The Redis connection used for coordination across replicas (only when REDIS_URL is set).
import { Redis } from 'ioredis';
import type { Logger } from '../log.ts';

export function createRedisClient(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
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
