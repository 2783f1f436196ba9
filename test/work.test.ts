// The one durable-work mechanism, on this run's store dialect: claims, leases, fences, versions and locks.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/db.ts';
import {
  acquireWork,
  claimDueWork,
  claimWorkByKey,
  completeWork,
  enqueueWork,
  getWork,
  renewWork,
  retryWork,
  scheduleWork,
  upsertWork,
} from '../src/store/work.ts';
import { openTestStore, testStoreKind, type TestStore } from './support/stores.ts';

const t0 = new Date('2026-11-22T15:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

describe(`durable work on ${testStoreKind()}`, () => {
  let testStore: TestStore;
  beforeEach(async () => {
    testStore = await openTestStore();
  });
  afterEach(async () => {
    await testStore.close();
  });

  it('claims due rows most urgent first, each once, and not before they are due', async () => {
    const { store } = testStore;
    await enqueueWork(store, { kind: 'slack_post', key: 'summary', priority: 3, runAt: at(0) }, at(0));
    await enqueueWork(store, { kind: 'escalation', key: 'page', priority: 0, runAt: at(1) }, at(0));
    await enqueueWork(store, { kind: 'escalation', key: 'later', priority: 0, runAt: at(60) }, at(0));
    const first = await claimDueWork(store, ['escalation', 'slack_post'], 'replica-a', at(2), at(32), 10);
    expect(first.map((claim) => claim.key)).toEqual(['page', 'summary']);
    expect(await claimDueWork(store, ['escalation', 'slack_post'], 'replica-b', at(3), at(33), 10)).toEqual([]);
  });

  it('hands a row whose lease ran out to another replica, and fences the first out of every write', async () => {
    const { store } = testStore;
    await enqueueWork(store, { kind: 'escalation', key: 'page', priority: 0, runAt: at(0) }, at(0));
    const [stalled] = await claimDueWork(store, ['escalation'], 'replica-a', at(0), at(30), 1);
    const [takeover] = await claimDueWork(store, ['escalation'], 'replica-b', at(31), at(61), 1);
    expect(takeover!.attempts).toBe(2);
    expect(takeover!.fence).toBeGreaterThan(stalled!.fence);
    // The stalled replica wakes up: it can neither renew, nor finish, nor give the row back.
    expect(await renewWork(store, stalled!, at(90))).toBe(false);
    expect(await completeWork(store, stalled!, at(32))).toBe(false);
    expect(await retryWork(store, stalled!, at(40), 'late', true)).toBe(false);
    expect(await completeWork(store, takeover!, at(33))).toBe('done');
    expect((await getWork(store, 'page'))!.owner).toBe('replica-b');
  });

  it('counts a failed attempt but not a deferral, so work resumed after waiting its turn does not look for a lost effect', async () => {
    const { store } = testStore;
    await enqueueWork(store, { kind: 'incident_setup', key: 'setup:1', priority: 1, runAt: at(0) }, at(0));
    const first = (await claimWorkByKey(store, 'setup:1', 'replica-a', at(0), at(30)))!;
    expect(await retryWork(store, first, at(2), 'a copy is being posted by other work', false, false)).toBe(true);
    const second = (await claimWorkByKey(store, 'setup:1', 'replica-a', at(2), at(32)))!;
    expect(second.attempts).toBe(1);
    expect(await retryWork(store, second, at(4), 'Slack answered 500', true)).toBe(true);
    const third = (await claimWorkByKey(store, 'setup:1', 'replica-a', at(4), at(34)))!;
    expect([third.attempts, third.uncertain]).toEqual([2, true]);
  });

  it('runs a row once more when its payload changed while it ran, with the newest payload', async () => {
    const { store } = testStore;
    await upsertWork(store, { kind: 'incident_card', key: 'card:1', priority: 2, runAt: at(0), payload: { n: 1 } }, at(0));
    const claim = (await claimWorkByKey(store, 'card:1', 'replica-a', at(0), at(30)))!;
    await upsertWork(store, { kind: 'incident_card', key: 'card:1', priority: 2, runAt: at(1), payload: { n: 2 } }, at(1));
    await upsertWork(store, { kind: 'incident_card', key: 'card:1', priority: 2, runAt: at(2), payload: { n: 3 } }, at(2));
    expect(await completeWork(store, claim, at(3))).toBe('again');
    const again = (await claimWorkByKey(store, 'card:1', 'replica-a', at(4), at(34)))!;
    expect(again.payload).toEqual({ n: 3 });
    expect(await completeWork(store, again, at(5))).toBe('done');
  });

  it('re-arms a cancelled or waiting timer at a new time, and leaves one that ran alone', async () => {
    const { store } = testStore;
    const level = { kind: 'escalation', key: 'escalation:1:1', priority: 0, runAt: at(900) };
    await scheduleWork(store, level, at(0));
    expect(await scheduleWork(store, { ...level, runAt: at(0) }, at(1))).toBe(true);
    expect((await getWork(store, level.key))!.run_at).toEqual(at(0));
    const claim = (await claimWorkByKey(store, level.key, 'replica-a', at(2), at(32)))!;
    await completeWork(store, claim, at(3));
    expect(await scheduleWork(store, { ...level, runAt: at(10) }, at(4))).toBe(false);
    expect((await getWork(store, level.key))!.state).toBe('done');
  });

  it('holds a lock for one holder until it is released or its lease runs out', async () => {
    const { store } = testStore;
    const lock = { kind: 'lock', key: 'lock:backup:pqc', priority: 9, runAt: at(0) };
    const first = await acquireWork(store, lock, 'replica-a', at(0), at(60));
    expect('claim' in first).toBe(true);
    expect(await acquireWork(store, lock, 'replica-b', at(10), at(70))).toEqual({ heldBy: 'replica-a', since: at(0) });
    expect('claim' in (await acquireWork(store, lock, 'replica-b', at(61), at(121)))).toBe(true);
  });
});

describe('durable work claimed by several PostgreSQL connections at once', () => {
  it('gives each row to exactly one of them (FOR UPDATE SKIP LOCKED)', async () => {
    const testStore = await openTestStore('postgres');
    const replicas = await Promise.all([1, 2, 3].map(() => openStore({ databaseUrl: testStore.url })));
    try {
      for (let i = 0; i < 300; i += 1)
        await enqueueWork(testStore.store, { kind: 'escalation', key: `page:${i}`, priority: 0, runAt: at(0) }, at(0));
      const claimed = (
        await Promise.all(
          replicas.flatMap((store, r) =>
            Array.from({ length: 10 }, () => claimDueWork(store, ['escalation'], `replica-${r}`, at(1), at(31), 15)),
          ),
        )
      ).flat();
      const keys = claimed.map((claim) => claim.key);
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys.length).toBe(300);
    } finally {
      await Promise.all(replicas.map((store) => store.close()));
      await testStore.close();
    }
  });
});
