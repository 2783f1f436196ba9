// The restore test: the newest verified database backup is downloaded, checksummed, decrypted and pg_restored into a scratch database, whose rows are counted before it is dropped.
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { s3ErrorMessage } from '../../clients/s3.ts';
import type { Clock } from '../../clock.ts';
import { stallGuard } from '../../deadline.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { ExternalError, errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { redactString } from '../../log.ts';
import type { Store } from '../../store/db.ts';
import { listStoredBackups } from './catalog.ts';
import { decryptStream, loadDecryptionKey } from './decrypt.ts';
import { takeLock } from './lock.ts';
import { failureReason } from './model.ts';
import { startPgTool } from './pg-tools.ts';

export interface RestoreTestDeps {
  store: Store;
  s3: S3Client;
  clock: Clock;
  log: Logger;
}

export interface RestoreTestRequest {
  service: string;
  config: ServiceConfig;
  env: Record<string, string | undefined>;
  signal?: AbortSignal | undefined;
  /** The pg_restore to run; default `pg_restore` on PATH. */
  pgRestorePath?: string;
  /** pg_restore taking no byte for this long has stalled: it is stopped and the test fails (timeouts.pgToolStall). */
  pgToolStallMs?: number;
}

export interface RestoreTestResult {
  ok: boolean;
  service: string;
  /** The backup that was restored (absent when none was found). */
  backup?: { bucket: string; key: string; sizeBytes: number; sha256: string; takenAt: Date; encrypted: boolean };
  /** The SHA-256 of what was downloaded, when all of it was. */
  downloadedSha256?: string;
  /** Rows per configured table in the restored database. */
  tables: Array<{ table: string; rows: number }>;
  scratchDatabase?: string;
  /** Why the test failed. */
  reason?: string;
  notes: string[];
  durationMs: number;
}

const SCRATCH_PREFIX = 'rb_restore_';
const DEFAULT_PG_TOOL_STALL_MS = 120_000;
// Long enough for a large restore; a lease that runs out lets a later test clean up after a replica that died.
const LOCK_LEASE_MS = 6 * 3_600_000;

export async function runRestoreTest(deps: RestoreTestDeps, request: RestoreTestRequest): Promise<RestoreTestResult> {
  const { clock, s3, store } = deps;
  const started = clock.now();
  const log = deps.log.child({ service: request.service, task: 'restore-test' });
  const result: RestoreTestResult = { ok: false, service: request.service, tables: [], notes: [], durationMs: 0 };
  const finish = (reason?: string) => {
    if (reason) result.reason = reason;
    result.ok = !result.reason;
    result.durationMs = clock.now().getTime() - started.getTime();
    log.info({ event: 'restore_test.finished', ok: result.ok, reason: result.reason, key: result.backup?.key });
    return result;
  };
  const settings = request.config.backup;
  if (!settings) return finish(`${request.service} has no backup section in the config`);
  const serverEnv = settings.restoreTest.databaseUrlEnv ?? settings.databaseUrlEnv;
  const serverUrl = request.env[serverEnv];
  if (!serverUrl) return finish(`the environment variable ${serverEnv} is not set: no server to restore into`);

  const lock = await takeLock({
    store,
    clock,
    log,
    name: `restore-test:${request.service}`,
    what: `the restore test lock of ${request.service}`,
    leaseMs: LOCK_LEASE_MS,
  });
  if (!lock.held) return finish(`a restore test of ${request.service} is already running (since ${lock.since.toISOString()})`);
  try {
    const backups = await listStoredBackups(s3, settings.bucket, settings.prefix, request.service, 'database', request.signal);
    const newest = backups.find((backup) => backup.verified);
    if (!newest) return finish(`no verified database backup of ${request.service} in s3://${settings.bucket}/${settings.prefix}`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: newest.key })).catch((error: unknown) => {
      throw new ExternalError('S3', `cannot read s3://${settings.bucket}/${newest.key}: ${s3ErrorMessage(error)}`);
    });
    const expectedSha256 = head.Metadata?.sha256;
    if (!expectedSha256) return finish(`s3://${settings.bucket}/${newest.key} has no sha256 metadata: it cannot be checked`);
    result.backup = {
      bucket: settings.bucket,
      key: newest.key,
      sizeBytes: head.ContentLength ?? newest.sizeBytes,
      sha256: expectedSha256,
      takenAt: newest.takenAt,
      encrypted: newest.encrypted,
    };
    // The key before anything is created: a missing or wrong key fails here, cheaply.
    const privateKey =
      newest.encrypted && settings.encryption ? await loadDecryptionKey(settings.encryption, request.env) : undefined;
    if (newest.encrypted && !settings.encryption)
      return finish(`${newest.key} is encrypted, and ${request.service} has no backup.encryption section naming a private key`);

    await dropLeftovers(serverUrl, request.service, log);
    const scratch = scratchName(request.service, started);
    await onServer(serverUrl, `CREATE DATABASE "${scratch}"`);
    result.scratchDatabase = scratch;
    try {
      const reason = await restoreInto(deps, request, {
        bucket: settings.bucket,
        key: newest.key,
        expectedSha256,
        privateKey,
        scratchUrl: withDatabase(serverUrl, scratch),
        result,
      });
      if (reason) return finish(reason);
      result.tables = await countRows(withDatabase(serverUrl, scratch), settings.restoreTest.tables);
      const missing = result.tables.filter((table) => table.rows < 0).map((table) => table.table);
      if (missing.length > 0) return finish(`the restored database has no table ${missing.join(', ')}`);
      return finish();
    } finally {
      await onServer(serverUrl, `DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE)`).catch((error: unknown) => {
        result.notes.push(`could not drop the scratch database ${scratch}: ${redactString(errorMessage(error))}`);
      });
    }
  } catch (error) {
    return finish(failureReason(error));
  } finally {
    await lock.held.release();
  }
}

interface RestoreTarget {
  bucket: string;
  key: string;
  expectedSha256: string;
  privateKey: Awaited<ReturnType<typeof loadDecryptionKey>> | undefined;
  scratchUrl: string;
  result: RestoreTestResult;
}

/** Streams the object through a hash, the decryption and into pg_restore; returns why it failed, or undefined. */
async function restoreInto(
  deps: RestoreTestDeps,
  request: RestoreTestRequest,
  target: RestoreTarget,
): Promise<string | undefined> {
  const { bucket, key } = target;
  const answer = await deps.s3
    .send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: request.signal })
    .catch((error: unknown) => {
      throw new ExternalError('S3', `cannot download s3://${bucket}/${key}: ${s3ErrorMessage(error)}`);
    });
  const body = answer.Body as Readable;
  const hash = createHash('sha256');
  let hashed = 0;
  let complete = false;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      hashed += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      complete = true;
      callback();
    },
  });
  body.pipe(hashing);
  body.on('error', (error) => hashing.destroy(error));
  let plain: Readable;
  try {
    plain = target.privateKey ? await decryptStream(hashing, target.privateKey) : hashing;
  } catch (error) {
    body.destroy();
    return `cannot decrypt ${key} with the key in backup.encryption.privateKeyEnv: ${errorMessage(error)}`;
  }
  const restore = startPgTool({
    command: request.pgRestorePath ?? 'pg_restore',
    args: ['--no-owner', '--no-privileges', '--exit-on-error', '--no-password'],
    databaseUrl: target.scratchUrl,
    pipe: 'stdin',
    env: request.env,
  });
  // pg_restore taking no byte for the limit has stalled (a lock it waits on, a hung server): it is stopped.
  const stall = stallGuard({
    dependency: 'pg_restore',
    doing: `restoring ${key}`,
    limitMs: request.pgToolStallMs ?? DEFAULT_PG_TOOL_STALL_MS,
    setting: 'timeouts.pgToolStall',
    signal: request.signal,
  });
  const flowing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      stall.touch();
      callback(null, chunk);
    },
  });
  const streamed = pipeline(plain, flowing, restore.stdin!, { signal: stall.signal }).then(
    () => undefined,
    (error: unknown) => error,
  );
  const [streamError, restoreError] = await Promise.all([
    streamed.then((error) => {
      if (error) restore.stop();
      return error;
    }),
    restore.exited.then(
      () => undefined,
      (error: unknown) => error,
    ),
  ]);
  stall.dispose();
  body.destroy();
  if (complete) {
    target.result.downloadedSha256 = hash.digest('hex');
    if (target.result.downloadedSha256 !== target.expectedSha256) {
      return `checksum mismatch: ${key} hashes to ${target.result.downloadedSha256}, its metadata says ${target.expectedSha256}`;
    }
  }
  if (request.signal?.aborted) return `stopped: ${errorMessage(request.signal.reason)}`;
  if (stall.signal.aborted) return errorMessage(stall.signal.reason);
  const brokenPipe = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
  // pg_restore dying first breaks the pipe: its own exit says why.
  if (streamError && !(brokenPipe(streamError) && restoreError)) {
    return target.privateKey
      ? `decrypting ${key} failed after ${hashed} bytes: ${errorMessage(streamError)}`
      : `downloading ${key} failed after ${hashed} bytes: ${errorMessage(streamError)}`;
  }
  if (restoreError) return errorMessage(restoreError);
  return undefined;
}

/** Rows per table; -1 for a table that is not there. Names may be schema-qualified. */
async function countRows(url: string, tables: string[]): Promise<Array<{ table: string; rows: number }>> {
  if (tables.length === 0) return [];
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const counts: Array<{ table: string; rows: number }> = [];
    for (const table of tables) {
      const { rows } = await client.query<{ exists: string | null }>('SELECT to_regclass($1)::text AS exists', [table]);
      if (!rows[0]?.exists) {
        counts.push({ table, rows: -1 });
        continue;
      }
      const quoted = table
        .split('.')
        .map((part) => `"${part.replace(/"/g, '""')}"`)
        .join('.');
      const counted = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoted}`);
      counts.push({ table, rows: Number(counted.rows[0]!.n) });
    }
    return counts;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `rb_restore_<service>_<epoch ms>`, within PostgreSQL's 63-byte limit. */
function scratchName(service: string, at: Date): string {
  return `${SCRATCH_PREFIX}${service.replace(/[^a-z0-9]/g, '_').slice(0, 36)}_${at.getTime()}`;
}

/** Scratch databases of this service left by a replica that died mid-test (the lock says none is in use). */
async function dropLeftovers(serverUrl: string, service: string, log: Logger): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const own = new RegExp(`^${scratchName(service, new Date(0)).replace(/0$/, '')}\\d+$`);
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [
      SCRATCH_PREFIX,
    ]);
    for (const { datname } of rows) {
      if (!own.test(datname)) continue;
      await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      log.warn({ event: 'restore_test.leftover_dropped', database: datname });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function onServer(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(sql);
  } catch (error) {
    throw new ExternalError('PostgreSQL', redactString(errorMessage(error)), { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
