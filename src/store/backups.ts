// The backup manifest in the store (one row per verified object) and the per-service lock (a durable-work row) that keeps backups from overlapping across replicas.
import type { Queryable } from './db.ts';
import { acquireWork, releaseHeld, renewHeld } from './work.ts';

export interface BackupRecord {
  service: string;
  kind: 'database' | 'config';
  bucket: string;
  key: string;
  sizeBytes: number;
  sha256: string;
  encrypted: boolean;
  serverSideEncryption: string | null;
  pgVersion: string | null;
  startedAt: Date;
  durationMs: number;
  verifiedAt: Date;
  requestedBy: string | null;
  trigger: string;
}

export async function recordBackup(db: Queryable, record: BackupRecord): Promise<void> {
  await db.query(
    `INSERT INTO backups (service, kind, bucket, key, size_bytes, sha256, encrypted, server_side_encryption, pg_version,
                          started_at, duration_ms, verified_at, requested_by, trigger)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (bucket, key) DO UPDATE SET size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256,
       verified_at = EXCLUDED.verified_at, deleted_at = NULL`,
    [
      record.service,
      record.kind,
      record.bucket,
      record.key,
      record.sizeBytes,
      record.sha256,
      record.encrypted,
      record.serverSideEncryption,
      record.pgVersion,
      record.startedAt,
      Math.round(record.durationMs),
      record.verifiedAt,
      record.requestedBy,
      record.trigger,
    ],
  );
}

export async function markBackupsDeleted(db: Queryable, bucket: string, keys: string[], at: Date): Promise<void> {
  if (keys.length === 0) return;
  // One placeholder per key: both dialects take an IN list, where only PostgreSQL has array parameters.
  const list = keys.map((_, i) => `$${i + 3}`).join(', ');
  await db.query(`UPDATE backups SET deleted_at = $2 WHERE bucket = $1 AND key IN (${list}) AND deleted_at IS NULL`, [
    bucket,
    at,
    ...keys,
  ]);
}

interface BackupRow {
  service: string;
  kind: 'database' | 'config';
  bucket: string;
  key: string;
  size_bytes: number;
  sha256: string;
  encrypted: boolean;
  server_side_encryption: string | null;
  pg_version: string | null;
  started_at: Date;
  duration_ms: number;
  verified_at: Date;
  requested_by: string | null;
  trigger: string;
}

export async function listBackups(db: Queryable, service: string, limit = 50): Promise<BackupRecord[]> {
  const { rows } = await db.query<BackupRow>(
    'SELECT * FROM backups WHERE service = $1 AND deleted_at IS NULL ORDER BY started_at DESC, id DESC LIMIT $2',
    [service, limit],
  );
  return rows.map((row) => ({
    service: row.service,
    kind: row.kind,
    bucket: row.bucket,
    key: row.key,
    sizeBytes: Number(row.size_bytes),
    sha256: row.sha256,
    encrypted: row.encrypted,
    serverSideEncryption: row.server_side_encryption,
    pgVersion: row.pg_version,
    startedAt: new Date(row.started_at),
    durationMs: row.duration_ms,
    verifiedAt: new Date(row.verified_at),
    requestedBy: row.requested_by,
    trigger: row.trigger,
  }));
}

export type LockClaim = { acquired: true } | { acquired: false; holder: string; since: Date };

const lockKey = (name: string) => `lock:${name}`;

/** Takes the named lock when it is free or its lease ran out: a lock is a durable-work row held with a lease. */
export async function claimBackupLock(
  db: Queryable,
  name: string,
  holder: string,
  now: Date,
  leaseMs: number,
): Promise<LockClaim> {
  const taken = await acquireWork(
    db,
    { kind: 'lock', key: lockKey(name), priority: 9, runAt: now },
    holder,
    now,
    new Date(now.getTime() + leaseMs),
  );
  return 'claim' in taken ? { acquired: true } : { acquired: false, holder: taken.heldBy, since: taken.since };
}

/** Extends the lease; false when the lock is no longer ours (it ran out and another replica took it). */
export async function renewBackupLock(db: Queryable, name: string, holder: string, now: Date, leaseMs: number): Promise<boolean> {
  return renewHeld(db, lockKey(name), holder, new Date(now.getTime() + leaseMs));
}

export async function releaseBackupLock(db: Queryable, name: string, holder: string): Promise<void> {
  await releaseHeld(db, lockKey(name), holder, new Date());
}
