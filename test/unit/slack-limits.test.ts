// Slack budgets: tiers, the per-channel posting limit, Retry-After closing only its bucket, and priority order.
import { describe, expect, it } from 'vitest';
import { bucketsFor, memoryBudget } from '../../src/clients/slack-limits.ts';

describe('Slack budgets', () => {
  it('rates methods by tier and posts by channel and workspace', () => {
    expect(bucketsFor('conversations.create', undefined)).toEqual([
      { key: 'method:conversations.create', rate: 20 / 60_000, capacity: 3 },
    ]);
    expect(bucketsFor('chat.update', 'C1')[0]!.rate).toBeCloseTo(50 / 60_000);
    expect(bucketsFor('chat.postMessage', 'C1').map((bucket) => bucket.key)).toEqual(['post:C1', 'post:workspace']);
    expect(bucketsFor('chat.postMessage', 'C1', 600)[1]!.rate).toBeCloseTo(600 / 60_000);
  });

  it('lets a burst through, then one post a second per channel, without one channel holding up another', async () => {
    let now = 0;
    const budget = memoryBudget(() => now);
    const c1 = bucketsFor('chat.postMessage', 'C1');
    const c2 = bucketsFor('chat.postMessage', 'C2');
    expect([await budget.take(c1), await budget.take(c1), await budget.take(c1)]).toEqual([0, 0, 0]);
    expect(await budget.take(c1)).toBe(1_000);
    expect(await budget.take(c2)).toBe(0);
    now += 1_000;
    expect(await budget.take(c1)).toBe(0);
  });

  it('closes only the bucket a 429 hit, for its Retry-After, and reopens it with one call, not a burst', async () => {
    let now = 0;
    const budget = memoryBudget(() => now);
    await budget.block('post:C1', 30_000);
    expect(await budget.take(bucketsFor('chat.postMessage', 'C1'))).toBe(30_000);
    expect(await budget.take(bucketsFor('chat.postMessage', 'C2'))).toBe(0);
    now += 30_000;
    expect(await budget.take(bucketsFor('chat.postMessage', 'C1'))).toBe(0);
    expect(await budget.take(bucketsFor('chat.postMessage', 'C1'))).toBe(1_000);
  });
});

describe('the reserve for urgent calls', () => {
  it('keeps the last tokens of a budget for pages: a setup waits while a page still goes', async () => {
    let now = 0;
    const budget = memoryBudget(() => now);
    const channel = bucketsFor('chat.postMessage', 'C1');
    // A burst of three: the setup's posts may take two; the third is kept for a page.
    expect([await budget.take(channel, true), await budget.take(channel, true)]).toEqual([0, 0]);
    expect(await budget.take(channel, true)).toBe(1_000);
    expect(await budget.take(channel)).toBe(0);
    // Under steady load the setup still gets the channel's full rate, one post a second.
    now += 2_000;
    expect(await budget.take(channel, true)).toBe(0);
    now += 1_000;
    expect(await budget.take(channel, true)).toBe(0);
    now += 1_000;
    expect(await budget.take(channel, true)).toBe(0);
  });
});
