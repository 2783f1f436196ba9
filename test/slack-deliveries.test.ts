// The claim that decides which receiver acts on a delivery from Slack: first sight acts, a copy after the ack is
// acked again, a copy during the work waits, and a claim nobody acked in time is taken over.
import { afterEach, describe, expect, it } from 'vitest';
import { claimDelivery, markDeliveryAcked, pruneDeliveries, releaseDelivery } from '../src/store/slack-deliveries.ts';
import { openTestStore, testStoreKind, type TestStore } from './support/stores.ts';

describe(`Slack delivery claims on ${testStoreKind()}`, () => {
  let testStore: TestStore | undefined;
  afterEach(async () => {
    await testStore?.close();
    testStore = undefined;
  });

  const at = (seconds: number) => new Date(Date.UTC(2026, 11, 3, 10, 0, seconds));

  it('lets the first receiver act, holds copies while it works, acks copies after, and takes over an abandoned claim', async () => {
    testStore = await openTestStore();
    const { store } = testStore;
    expect(await claimDelivery(store, 'trigger:1', at(0), at(-30))).toBe('new');
    expect(await claimDelivery(store, 'trigger:1', at(1), at(-29))).toBe('in_progress');
    await markDeliveryAcked(store, 'trigger:1', at(1));
    expect(await claimDelivery(store, 'trigger:1', at(2), at(-28))).toBe('done');
    // Acked long ago is still done: the action ran.
    expect(await claimDelivery(store, 'trigger:1', at(59), at(40))).toBe('done');

    // Claimed and never acked: after the takeover window the next copy acts.
    expect(await claimDelivery(store, 'trigger:2', at(0), at(-30))).toBe('new');
    expect(await claimDelivery(store, 'trigger:2', at(20), at(-10))).toBe('in_progress');
    expect(await claimDelivery(store, 'trigger:2', at(40), at(10))).toBe('new');
    expect(await claimDelivery(store, 'trigger:2', at(41), at(11))).toBe('in_progress');

    // A receiver that failed before its ack gives the delivery back.
    expect(await claimDelivery(store, 'trigger:3', at(0), at(-30))).toBe('new');
    await releaseDelivery(store, 'trigger:3');
    expect(await claimDelivery(store, 'trigger:3', at(1), at(-29))).toBe('new');

    expect(await pruneDeliveries(store, at(30))).toBe(2);
    expect(await claimDelivery(store, 'trigger:1', at(60), at(30))).toBe('new');
  });

  it('lets exactly one of many simultaneous copies act', async () => {
    testStore = await openTestStore();
    const { store } = testStore;
    const claims = await Promise.all(Array.from({ length: 8 }, () => claimDelivery(store, 'event:Ev1', at(0), at(-30))));
    expect(claims.filter((claim) => claim === 'new')).toHaveLength(1);
  });
});
