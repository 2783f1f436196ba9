// The embedded store's writes and the disk: a write resolves once the WAL is on disk, except the Slack delivery claims
// and ack marks, which are written while Slack waits for its answer and only need to outlive the process.
import { mkdtempSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openMigratedStore } from '../src/store/open.ts';
import { claimDelivery, markDeliveryAcked } from '../src/store/slack-deliveries.ts';

const STILL_WAITING = 'still waiting';
const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, sleep(ms).then(() => STILL_WAITING)]);

describe('the embedded store on a disk that stalls', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('holds a write until the WAL is on disk, and claims a Slack delivery without waiting for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-durability-'));
    const { store } = await openMigratedStore({ dataDir: dir });
    // From here every fsync waits until the disk is released.
    const probe = await open(join(dir, 'probe'), 'w');
    const fileHandle = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const sync = fileHandle.sync;
    vi.spyOn(fileHandle, 'sync').mockImplementation(async function (this: FileHandle) {
      await stalled;
      return sync.call(this);
    });
    try {
      const now = new Date();
      const noted = store.query('INSERT INTO slack_deliveries (key, received_at, acked_at) VALUES ($1, $2, $2)', [
        'trigger:noted',
        now,
      ]);
      expect(await within(noted, 300)).toBe(STILL_WAITING);
      // The claim and the ack mark are in the store at once, and a copy of the delivery finds them.
      expect(await within(claimDelivery(store, 'envelope:E1', now, new Date(now.getTime() - 30_000)), 2_000)).toBe('new');
      expect(await within(markDeliveryAcked(store, 'envelope:E1', now), 2_000)).toBeUndefined();
      expect(await within(claimDelivery(store, 'envelope:E1', now, new Date(now.getTime() - 30_000)), 2_000)).toBe('done');
      release();
      await noted;
    } finally {
      release();
      await store.close();
    }
  });
});
