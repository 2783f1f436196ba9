import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../src/config/schema.ts';
import { systemClock } from '../src/clock.ts';
import { listBackups } from '../src/store/backups.ts';
import type { BackupManifest } from '../src/tasks/backup/catalog.ts';
import type { BackupProgress, BackupRequest } from '../src/tasks/backup/model.ts';
import { runBackup } from '../src/tasks/backup/run-backup.ts';
import {
  backupTaskDeps,
  download,
  fakePgDump,
  generateKeyPair,
  gpgDecrypt,
  pgRestore,
  processAlive,
  rowCounts,
  seedServiceDatabase,
  type TestKeyPair,
} from './support/backup-fixtures.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { startTestS3, type TestS3 } from './support/s3.ts';
import { openTestStore, type TestStore } from './support/stores.ts';

const BUCKET = 'rlhf-backups';
const PREFIX = 'database/daily/';

describe('database backups to S3', () => {
  let s3: TestS3;
  let source: TestDatabase;
  let keys: TestKeyPair;
  let testStore: TestStore;
  let scratch: string;
  const extraDatabases: TestDatabase[] = [];

  beforeAll(async () => {
    s3 = await startTestS3({ buckets: [BUCKET], setAwsEnvironment: true });
    source = await createTestDatabase();
    await seedServiceDatabase(source.url, 60_000);
    keys = await generateKeyPair();
  });
  afterAll(async () => {
    await source.drop();
    await s3.close();
  });
  beforeEach(async () => {
    s3.requests.length = 0;
    testStore = await openTestStore('postgres');
    scratch = mkdtempSync(join(tmpdir(), 'rb-backup-test-'));
  });
  afterEach(async () => {
    s3.clearFaults();
    await testStore.close();
    for (const database of extraDatabases.splice(0)) await database.drop();
    rmSync(scratch, { recursive: true, force: true });
    // Every test starts from an empty bucket.
    for (const key of await s3.keys(BUCKET)) await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
  });

  const deps = () => backupTaskDeps(testStore.store, s3);

  function service(backup: Partial<NonNullable<ServiceConfig['backup']>> = {}): ServiceConfig {
    return {
      responders: [],
      backup: {
        databaseUrlEnv: 'RLHF_DATABASE_URL',
        bucket: BUCKET,
        prefix: PREFIX,
        retentionDays: 30,
        includeSecrets: false,
        restoreTest: { tables: ['audit_records', 'privacy_records'] },
        ...backup,
      },
    };
  }

  function request(overrides: Partial<BackupRequest> = {}): BackupRequest {
    return {
      service: 'rlhf-audit-trail',
      config: service({ encryption: { publicKeyEnv: 'BACKUP_PUBLIC_KEY' } }),
      kind: 'database',
      env: { RLHF_DATABASE_URL: source.url, BACKUP_PUBLIC_KEY: keys.publicKey },
      trigger: 'cli',
      partSizeBytes: 256 * 1024,
      ...overrides,
    };
  }

  /** What must hold after any failure: nothing in the bucket, no multipart upload left open. */
  async function expectNothingLeft() {
    expect(await s3.keys(BUCKET)).toEqual([]);
    expect(s3.pendingUploads(BUCKET)).toEqual([]);
    expect(await listBackups(testStore.store, 'rlhf-audit-trail')).toEqual([]);
  }

  it('streams an encrypted pg_dump that gpg --decrypt and pg_restore turn back into the same rows', async () => {
    const result = await runBackup(deps(), request());

    expect(result.failures).toEqual([]);
    expect(result.ok).toBe(true);
    const [object] = result.objects;
    expect(object!.key).toMatch(/^database\/daily\/rlhf-audit-trail-database-\d{8}T\d{6}\.\d{3}Z\.dump\.gpg$/);
    expect(object!.recipient).toBe(keys.fingerprint);
    // Really multipart: the dump is several parts of 256 KiB.
    expect(s3.requests.filter((r) => r.operation === 'UploadPart' && r.key === object!.key).length).toBeGreaterThan(3);

    // The stored bytes are what was hashed, and HeadObject carries that hash.
    const stored = await download(s3.client, BUCKET, object!.key);
    expect(stored.length).toBe(object!.sizeBytes);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(object!.sha256);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: object!.key }));
    expect(head.Metadata).toMatchObject({
      sha256: object!.sha256,
      service: 'rlhf-audit-trail',
      'pg-version': expect.stringMatching(/^15\./),
    });

    // The manifest, in the bucket and in the store.
    const manifest = JSON.parse((await download(s3.client, BUCKET, `${object!.key}.manifest.json`)).toString()) as BackupManifest;
    expect(manifest).toMatchObject({ key: object!.key, sizeBytes: object!.sizeBytes, sha256: object!.sha256, encrypted: true });
    expect(manifest.pgVersion).toMatch(/^15\./);
    const [record] = await listBackups(testStore.store, 'rlhf-audit-trail');
    expect(record).toMatchObject({
      key: object!.key,
      sizeBytes: object!.sizeBytes,
      sha256: object!.sha256,
      pgVersion: manifest.pgVersion,
    });

    // An operator's restore: gpg --decrypt, then pg_restore into a new database.
    const dump = gpgDecrypt(keys.privateKey, stored);
    expect(dump.subarray(0, 5).toString()).toBe('PGDMP');
    const target = await createTestDatabase();
    extraDatabases.push(target);
    pgRestore(target.url, dump);
    expect(await rowCounts(target.url)).toEqual(await rowCounts(source.url));
    expect(s3.pendingUploads(BUCKET)).toEqual([]);
  });

  it('stores a plain dump when no encryption is configured, with server-side encryption asked for', async () => {
    const result = await runBackup(deps(), request({ config: service({ serverSideEncryption: 'AES256' }) }));
    expect(result.ok).toBe(true);
    const object = result.objects[0]!;
    expect(object.key).toMatch(/\.dump$/);
    expect(object.recipient).toBeNull();
    const target = await createTestDatabase();
    extraDatabases.push(target);
    pgRestore(target.url, await download(s3.client, BUCKET, object.key));
    expect(await rowCounts(target.url)).toEqual(await rowCounts(source.url));
  });

  it('aborts and leaves nothing when pg_dump is killed mid-stream', async () => {
    const killable = fakePgDump(scratch, 'pg_dump_killed', 'exec "$REAL" "$@"');
    let killed: number | undefined;
    const result = await runBackup(
      deps(),
      request({
        pgDumpPath: killable.path,
        progressIntervalMs: 0,
        onProgress: () => {
          if (killed !== undefined) return;
          killed = killable.pid();
          process.kill(killed!, 'SIGKILL');
        },
      }),
    );
    expect(killed).toBeGreaterThan(0);
    expect(result.ok).toBe(false);
    expect(result.failures).toEqual([{ kind: 'database', reason: 'pg_dump_killed: was killed by SIGKILL' }]);
    await expectNothingLeft();
  });

  it('never commits the object when pg_dump exits non-zero after writing a complete dump', async () => {
    const liar = fakePgDump(
      scratch,
      'pg_dump',
      '"$REAL" "$@"\necho "pg_dump: error: simulated failure after the last byte" >&2\nexit 3',
    );
    const result = await runBackup(deps(), request({ pgDumpPath: liar.path }));
    expect(result.ok).toBe(false);
    expect(result.failures).toEqual([
      { kind: 'database', reason: 'pg_dump: exited with code 3: pg_dump: error: simulated failure after the last byte' },
    ]);
    // Every part went up, and still nothing was committed.
    expect(s3.requests.some((r) => r.operation === 'UploadPart')).toBe(true);
    expect(s3.requests.some((r) => r.operation === 'CompleteMultipartUpload')).toBe(false);
    await expectNothingLeft();
  });

  it('aborts when pg_dump stops half way with an error', async () => {
    const partial = fakePgDump(
      scratch,
      'pg_dump',
      '"$REAL" "$@" | head -c 300000\necho "pg_dump: error: connection lost" >&2\nexit 1',
    );
    const result = await runBackup(deps(), request({ pgDumpPath: partial.path }));
    expect(result.failures).toEqual([
      { kind: 'database', reason: 'pg_dump: exited with code 1: pg_dump: error: connection lost' },
    ]);
    await expectNothingLeft();
  });

  it('aborts, stops pg_dump and says which part S3 refused', async () => {
    s3.fail({ operation: 'UploadPart', partNumber: 2, status: 500, code: 'InternalError', message: 'disk on fire' });
    const watched = fakePgDump(scratch, 'pg_dump', 'exec "$REAL" "$@"');
    const result = await runBackup(deps(), request({ pgDumpPath: watched.path }));
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]!.reason).toMatch(
      /^S3: refused part 2 of s3:\/\/rlhf-backups\/database\/daily\/rlhf-audit-trail-database-.*\.dump\.gpg: InternalError: disk on fire \(HTTP 500\)$/,
    );
    // The SDK retried the part before giving up.
    expect(s3.requests.filter((r) => r.operation === 'UploadPart' && r.partNumber === 2).length).toBe(3);
    expect(processAlive(watched.pid()!)).toBe(false);
    await expectNothingLeft();
  });

  it('reports the original failure when aborting the upload fails too', async () => {
    s3.fail({ operation: 'UploadPart', partNumber: 1, status: 403, code: 'AccessDenied', message: 'Access Denied' });
    s3.fail({ operation: 'AbortMultipartUpload', status: 403, code: 'AccessDenied', message: 'no abort for you' });
    const result = await runBackup(deps(), request());
    expect(result.failures[0]!.reason).toMatch(
      /^S3: refused part 1 of .*: AccessDenied: Access Denied \(HTTP 403\); aborting multipart upload [0-9a-f]+ also failed: AccessDenied: no abort for you \(HTTP 403\)$/,
    );
    expect(await s3.keys(BUCKET)).toEqual([]);
    // The one thing left is the upload S3 would not abort; clean it up for the next test.
    expect(s3.pendingUploads(BUCKET)).toHaveLength(1);
    s3.discardPendingUploads(BUCKET);
  });

  it('stops cleanly when the bot shuts down mid-backup', async () => {
    const stop = new AbortController();
    const watched = fakePgDump(scratch, 'pg_dump', 'exec "$REAL" "$@"');
    const result = await runBackup(
      deps(),
      request({
        pgDumpPath: watched.path,
        signal: stop.signal,
        progressIntervalMs: 0,
        onProgress: () => stop.abort(new Error('the bot is shutting down')),
      }),
    );
    expect(result.failures).toEqual([{ kind: 'database', reason: 'the bot is shutting down' }]);
    expect(processAlive(watched.pid()!)).toBe(false);
    await expectNothingLeft();
  });

  it('refuses a public key it cannot encrypt to, before anything is uploaded', async () => {
    const result = await runBackup(
      deps(),
      request({ env: { RLHF_DATABASE_URL: source.url, BACKUP_PUBLIC_KEY: keys.privateKey } }),
    );
    expect(result.failures).toEqual([
      {
        kind: 'database',
        reason: "backup.encryption.publicKeyEnv (BACKUP_PUBLIC_KEY): holds a private key; give the recipient's public key only",
      },
    ]);
    const garbage = await runBackup(deps(), request({ env: { RLHF_DATABASE_URL: source.url, BACKUP_PUBLIC_KEY: 'not a key' } }));
    expect(garbage.failures[0]!.reason).toMatch(
      /^backup\.encryption\.publicKeyEnv \(BACKUP_PUBLIC_KEY\): not an armored OpenPGP public key/,
    );
    await expectNothingLeft();
    expect(s3.requests.some((r) => r.operation === 'CreateMultipartUpload')).toBe(false);
  });

  it('says when the database cannot be reached', async () => {
    const result = await runBackup(
      deps(),
      request({ env: { RLHF_DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none', BACKUP_PUBLIC_KEY: keys.publicKey } }),
    );
    expect(result.failures[0]!.reason).toMatch(/^PostgreSQL: cannot read the database at 127\.0\.0\.1:9: /);
    await expectNothingLeft();
  });

  it('runs one backup of a service at a time', async () => {
    const progress: BackupProgress[] = [];
    const [first, second] = await Promise.all([
      runBackup(deps(), request({ progressIntervalMs: 0, onProgress: (p) => progress.push(p) })),
      // Starts once the first one is streaming, so it finds the lock taken.
      new Promise<void>((resolve) => {
        const wait = () => (progress.length > 0 ? resolve() : setTimeout(wait, 5));
        wait();
      }).then(() => runBackup(deps(), request())),
    ]);
    expect(first.ok).toBe(true);
    expect(second.ok).toBe(false);
    expect(second.failures[0]!.reason).toMatch(/^another backup of rlhf-audit-trail is already running \(since .*\)$/);
    // The lock is released afterwards.
    expect((await runBackup(deps(), request())).ok).toBe(true);
  });

  it('reports progress at most once per interval', async () => {
    const progress: BackupProgress[] = [];
    const result = await runBackup(deps(), request({ progressIntervalMs: 50, onProgress: (p) => progress.push(p) }));
    expect(result.ok).toBe(true);
    for (let i = 1; i < progress.length; i += 1) {
      expect(progress[i]!.elapsedMs - progress[i - 1]!.elapsedMs).toBeGreaterThanOrEqual(50);
      expect(progress[i]!.bytes).toBeGreaterThanOrEqual(progress[i - 1]!.bytes);
    }
    expect(progress.every((p) => p.kind === 'database' && p.bytesPerSecond > 0)).toBe(true);
  });

  it('deletes backups older than the retention, but never the newest verified one', async () => {
    const first = await runBackup(deps(), request());
    const second = await runBackup(deps(), request());
    expect(first.ok && second.ok).toBe(true);
    // 40 days later every object is past the 30-day retention, the newest one included.
    const later = { now: () => new Date(Date.now() + 40 * 86_400_000), sleep: systemClock.sleep };
    const third = await runBackup(
      { ...deps(), clock: later },
      request({ keys: { database: `${PREFIX}rlhf-audit-trail-database-29991231T000000.000Z.dump.gpg` } }),
    );
    expect(third.ok).toBe(true);
    expect(third.retention[0]!.deleted.sort()).toEqual([first.objects[0]!.key, second.objects[0]!.key].sort());
    expect(await s3.keys(BUCKET)).toEqual([third.objects[0]!.key, `${third.objects[0]!.key}.manifest.json`]);
    const remaining = await listBackups(testStore.store, 'rlhf-audit-trail');
    expect(remaining.map((backup) => backup.key)).toEqual([third.objects[0]!.key]);
  });
});
