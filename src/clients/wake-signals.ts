// Cross-replica wake-ups over Redis pub/sub: a replica that changes timers tells the others to look now, not at their next poll.
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';

const CHANNEL = 'runbook-bot:timers-changed';

export interface WakeSignals {
  /** Tells every replica (this one included) that timers changed. */
  publish(): void;
  close(): Promise<void>;
}

/**
 * Subscribes on a second connection (a subscribed connection can do nothing else) and calls onWake for each signal.
 * The subscription is tried at once (bounded by the connection's command limit) and again whenever the connection
 * becomes ready until it takes; ioredis renews it after reconnects from then on.
 */
export async function createWakeSignals(redis: Redis, onWake: () => void, logger: Logger): Promise<WakeSignals> {
  const subscriber = redis.duplicate();
  subscriber.on('error', () => undefined);
  subscriber.on('message', (channel: string) => {
    if (channel === CHANNEL) onWake();
  });
  let state: 'none' | 'pending' | 'subscribed' = 'none';
  const subscribe = async () => {
    if (state !== 'none') return;
    state = 'pending';
    try {
      await subscriber.subscribe(CHANNEL);
      state = 'subscribed';
    } catch (error) {
      state = 'none';
      logger.warn({ event: 'redis.subscribe_failed', err: error });
    }
  };
  subscriber.on('ready', () => void subscribe());
  await subscribe();
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
