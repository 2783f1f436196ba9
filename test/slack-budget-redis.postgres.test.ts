// The Slack budget shared through Redis: two replicas draw from one bucket, and the reserve keeps a page's token from
// being taken by another replica's setup posts.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bucketsFor, redisBudget } from '../src/clients/slack-limits.ts';

describe('a budget shared by replicas through Redis', () => {
  let a: Redis;
  let b: Redis;
  beforeAll(() => {
    a = new Redis(inject('redisUrl'));
    b = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    await Promise.all([a.quit(), b.quit()]);
  });

  it("lets one replica's setup posts take the burst except the reserve, which the other replica's page gets", async () => {
    const prefix = `test-budget-${process.pid}-${Date.now()}:`;
    const setups = redisBudget(a, prefix);
    const pages = redisBudget(b, prefix);
    const channel = bucketsFor('chat.postMessage', 'C0INCIDENT');
    expect(await setups.take(channel, true)).toBe(0);
    expect(await setups.take(channel, true)).toBe(0);
    const wait = await setups.take(channel, true);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1_000);
    expect(await pages.take(channel)).toBe(0);
    // Now the bucket is empty for everyone.
    expect(await pages.take(channel)).toBeGreaterThan(0);
  });
});
