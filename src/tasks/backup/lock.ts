// The per-service lock of backups and restore tests: a durable-work row held with a lease, renewed while the work runs, released whatever happens.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import { claimBackupLock, releaseBackupLock, renewBackupLock } from '../../store/backups.ts';
import type { Store } from '../../store/db.ts';

export interface HeldLock {
  /** Aborts when the lock was lost (its lease ran out and another replica took it). */
  readonly signal: AbortSignal;
  /** Stops renewing and frees the lock; never throws (a failed release is logged, and the lease runs out). */
  release(): Promise<void>;
}

export type LockAttempt = { held: HeldLock } | { held: undefined; holder: string; since: Date };

export interface LockOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  /** `backup:<service>`, `restore-test:<service>`. */
  name: string;
  /** What the lock guards, for the message when it is lost: "the backup lock of pqc-migration-audit". */
  what: string;
  leaseMs: number;
}

/** Takes the lock when it is free (or its lease ran out); while held it is renewed every third of the lease. */
export async function takeLock(options: LockOptions): Promise<LockAttempt> {
  const { store, clock, name, leaseMs } = options;
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const claim = await claimBackupLock(store, name, holder, clock.now(), leaseMs);
  if (!claim.acquired) return { held: undefined, holder: claim.holder, since: claim.since };
  const lost = new AbortController();
  const renewal = setInterval(() => {
    renewBackupLock(store, name, holder, clock.now(), leaseMs).then(
      (held) => {
        if (!held) lost.abort(new Error(`lost ${options.what} (its lease ran out and another replica took it)`));
      },
      (error: unknown) => options.log.warn({ event: 'backup.lock_renew_failed', lock: name, err: error }),
    );
  }, leaseMs / 3);
  let released: Promise<void> | undefined;
  return {
    held: {
      signal: lost.signal,
      release() {
        clearInterval(renewal);
        released ??= releaseBackupLock(store, name, holder).catch((error: unknown) =>
          options.log.warn({ event: 'backup.lock_release_failed', lock: name, err: error }),
        );
        return released;
      },
    },
  };
}
