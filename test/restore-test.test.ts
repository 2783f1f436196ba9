import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { ServiceConfig } from '../src/config/schema.ts';
import { runBackup } from '../src/tasks/backup/run-backup.ts';
import { runRestoreTest } from '../src/tasks/backup/restore-test.ts';
import {
  backupTaskDeps,
  download,
  generateKeyPair,
  rowCounts,
  seedServiceDatabase,
  withClient,
  type TestKeyPair,
} from './support/backup-fixtures.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { startTestS3, type TestS3 } from './support/s3.ts';
import { openTestStore, type TestStore } from './support/stores.ts';

const BUCKET = 'pqc-backups';

describe('restore test', () => {
  let s3: TestS3;
  let source: TestDatabase;
  let keys: TestKeyPair;
  let otherKeys: TestKeyPair;
  let testStore: TestStore;
  const passphrase = 'correct horse battery staple';

  beforeAll(async () => {
    s3 = await startTestS3({ buckets: [BUCKET], setAwsEnvironment: true });
    source = await createTestDatabase();
    await seedServiceDatabase(source.url, 20_000);
    [keys, otherKeys] = await Promise.all([generateKeyPair(passphrase), generateKeyPair()]);
  });
  afterAll(async () => {
    await source.drop();
    await s3.close();
  });
  beforeEach(async () => {
    testStore = await openTestStore('postgres');
  });
  afterEach(async () => {
    await testStore.close();
    for (const key of await s3.keys(BUCKET)) await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
  });

  const config = (tables = ['audit_records', 'privacy_records']): ServiceConfig => ({
    responders: [],
    backup: {
      databaseUrlEnv: 'PQC_DATABASE_URL',
      bucket: BUCKET,
      prefix: 'backups/',
      retentionDays: 30,
      includeSecrets: false,
      encryption: { publicKeyEnv: 'BACKUP_PUBLIC_KEY', privateKeyEnv: 'BACKUP_PRIVATE_KEY', passphraseEnv: 'BACKUP_PASSPHRASE' },
      restoreTest: { tables },
    },
  });
  const env = (privateKey = keys.privateKey) => ({
    PQC_DATABASE_URL: source.url,
    BACKUP_PUBLIC_KEY: keys.publicKey,
    BACKUP_PRIVATE_KEY: privateKey,
    BACKUP_PASSPHRASE: passphrase,
  });

  const deps = () => backupTaskDeps(testStore.store, s3);

  async function backUp() {
    const result = await runBackup(deps(), {
      service: 'pqc-migration-audit',
      config: config(),
      kind: 'database',
      env: env(),
      trigger: 'schedule',
      partSizeBytes: 128 * 1024,
    });
    expect(result.failures).toEqual([]);
    return result.objects[0]!;
  }

  async function scratchDatabases(): Promise<string[]> {
    return withClient(inject('databaseUrl'), async (client) => {
      const { rows } = await client.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE 'rb_restore_%'`,
      );
      return rows.map((row) => row.datname);
    });
  }

  it('restores the newest verified backup into a scratch database, counts its rows and drops it', async () => {
    await backUp();
    const newest = await backUp();
    const result = await runRestoreTest(deps(), { service: 'pqc-migration-audit', config: config(), env: env() });

    expect(result.reason).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.backup).toMatchObject({ key: newest.key, sha256: newest.sha256, encrypted: true });
    expect(result.downloadedSha256).toBe(newest.sha256);
    const counts = await rowCounts(source.url);
    expect(result.tables).toEqual([
      { table: 'audit_records', rows: counts.audit_records },
      { table: 'privacy_records', rows: counts.privacy_records },
    ]);
    expect(result.scratchDatabase).toMatch(/^rb_restore_pqc_migration_audit_\d+$/);
    expect(await scratchDatabases()).toEqual([]);
  });

  it('fails on a checksum mismatch when the object was changed after it was verified', async () => {
    const object = await backUp();
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: object.key }));
    const bytes = await download(s3.client, BUCKET, object.key);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    await s3.client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: object.key,
        Body: bytes,
        Metadata: head.Metadata,
        ContentType: head.ContentType,
      }),
    );
    const result = await runRestoreTest(deps(), { service: 'pqc-migration-audit', config: config(), env: env() });
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(
      new RegExp(`^checksum mismatch: .* hashes to [0-9a-f]{64}, its metadata says ${object.sha256}$`),
    );
    expect(await scratchDatabases()).toEqual([]);
  });

  it('says the key is wrong, and creates nothing', async () => {
    await backUp();
    const result = await runRestoreTest(deps(), {
      service: 'pqc-migration-audit',
      config: config(),
      env: env(otherKeys.privateKey),
    });
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(
      /^cannot decrypt backups\/pqc-migration-audit-database-.*\.dump\.gpg with the key in backup\.encryption\.privateKeyEnv: it is encrypted to key ID [0-9A-F]{16}, not to this private key \([0-9A-F]{40}\)$/,
    );
    expect(await scratchDatabases()).toEqual([]);
  });

  it('says the passphrase is wrong', async () => {
    await backUp();
    const result = await runRestoreTest(deps(), {
      service: 'pqc-migration-audit',
      config: config(),
      env: { ...env(), BACKUP_PASSPHRASE: 'wrong' },
    });
    expect(result.reason).toMatch(/^backup\.encryption\.passphraseEnv \(BACKUP_PASSPHRASE\): cannot unlock the private key/);
  });

  it('names a configured table the backup does not have', async () => {
    await backUp();
    const result = await runRestoreTest(deps(), {
      service: 'pqc-migration-audit',
      config: config(['audit_records', 'public.migration_findings']),
      env: env(),
    });
    expect(result.ok).toBe(false);
    expect(result.reason).toBe('the restored database has no table public.migration_findings');
    expect(await scratchDatabases()).toEqual([]);
  });

  it('says when there is nothing to restore', async () => {
    const result = await runRestoreTest(deps(), { service: 'pqc-migration-audit', config: config(), env: env() });
    expect(result.reason).toBe('no verified database backup of pqc-migration-audit in s3://pqc-backups/backups/');
  });
});
