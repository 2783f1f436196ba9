// Cross-replica wake-ups over Redis pub/sub: a replica that changes timers tells the others to look now, not at their next poll.
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { connectRedis } from './redis.ts';

const CHANNEL = 'runbook-bot:timers-changed';

export interface WakeSignals {
  /** Tells every replica (this one included) that timers changed. */
  publish(): void;
  close(): Promise<void>;
}

/**
 * Subscribes on a second connection (a subscribed connection can do nothing else) and calls onWake for each signal.
 * It subscribes whenever that connection becomes ready, so a Redis that was down or silent at start-up is joined once
 * it answers; start-up waits for it at most `limitMs` (timeouts.redis).
 */
export async function createWakeSignals(redis: Redis, onWake: () => void, logger: Logger, limitMs: number): Promise<WakeSignals> {
  const subscriber = redis.duplicate();
  subscriber.on('error', () => undefined);
  subscriber.on('message', (channel: string) => {
    if (channel === CHANNEL) onWake();
  });
  let subscribing: Promise<void> | undefined;
  subscriber.on('ready', () => {
    subscribing = subscriber.subscribe(CHANNEL).then(
      () => logger.debug({ event: 'redis.subscribed', channel: CHANNEL }),
      (error: unknown) => logger.warn({ event: 'redis.subscribe_failed', err: error }),
    );
  });
  await connectRedis(subscriber, logger, limitMs);
  await subscribing;
  return {
    publish() {
      // Best effort: without Redis the other replicas still see the change at their next poll.
      redis.publish(CHANNEL, '1').catch(() => undefined);
    },
    async close() {
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
