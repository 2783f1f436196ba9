// The Slack budget shared through Redis: two replicas draw from one bucket, the reserve keeps a page's token from
// being taken by another replica's setup posts, and a bucket a 429 closed reopens with one call for all of them.
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

  it('reopens a bucket a 429 closed with one call, not a burst, whichever replica asks', async () => {
    const prefix = `test-budget-${process.pid}-${Date.now()}:`;
    const hit = redisBudget(a, prefix);
    const other = redisBudget(b, prefix);
    const channel = bucketsFor('chat.postMessage', 'C0INCIDENT');
    await hit.block('post:C0INCIDENT', 200);
    expect(await other.take(channel)).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await other.take(channel)).toBe(0);
    // Slack has given the channel one call back, not the three of a full burst: the next waits its second.
    expect(await hit.take(channel)).toBeGreaterThan(0);
  });
});
