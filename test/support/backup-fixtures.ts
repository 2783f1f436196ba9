// What backup tests need besides S3: a service database with rows, an OpenPGP key pair, gpg and pg_restore run the way an operator would, and pg_dump stand-ins that misbehave.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as openpgp from 'openpgp';
import pg from 'pg';
import { createS3Client } from '../../src/clients/s3.ts';
import { systemClock } from '../../src/clock.ts';
import { createLogger } from '../../src/log.ts';
import type { Store } from '../../src/store/db.ts';
import type { BackupDeps } from '../../src/tasks/backup/model.ts';
import type { TestS3 } from './s3.ts';

/** What runBackup and runRestoreTest need, on a test store and the test S3 (through its proxy, so faults apply). */
export function backupTaskDeps(store: Store, s3: TestS3, extra: Partial<BackupDeps> = {}): BackupDeps {
  return {
    store,
    s3: createS3Client({
      s3: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true },
      timeouts: { s3: { connect: 5_000, request: 60_000, stall: 60_000 } },
    }),
    clock: systemClock,
    log: createLogger({ level: 'silent' }),
    ...extra,
  };
}

export const SERVICE_TABLES = ['audit_records', 'privacy_records'];

/** Two tables like the RLHF audit trail's, `auditRows` and `auditRows / 4` rows of poorly compressible text. */
export async function seedServiceDatabase(url: string, auditRows: number): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(
      `CREATE TABLE audit_records (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), event_data text NOT NULL)`,
    );
    await client.query(`CREATE TABLE privacy_records (id bigserial PRIMARY KEY, epsilon numeric NOT NULL, note text)`);
    await client.query(
      `INSERT INTO audit_records (event_data) SELECT md5(i::text) || md5((i * 7)::text) || md5(random()::text) FROM generate_series(1, $1) AS i`,
      [auditRows],
    );
    await client.query(
      `INSERT INTO privacy_records (epsilon, note) SELECT i / 100.0, 'q' || i FROM generate_series(1, $1) AS i`,
      [Math.floor(auditRows / 4)],
    );
  });
}

export async function rowCounts(url: string, tables = SERVICE_TABLES): Promise<Record<string, number>> {
  return withClient(url, async (client) => {
    const counts: Record<string, number> = {};
    for (const table of tables) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
      counts[table] = Number(rows[0]!.n);
    }
    return counts;
  });
}

export async function databaseExists(serverUrl: string, name: string): Promise<boolean> {
  return withClient(serverUrl, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return (rowCount ?? 0) > 0;
  });
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestKeyPair {
  publicKey: string;
  privateKey: string;
  fingerprint: string;
}

export async function generateKeyPair(passphrase?: string): Promise<TestKeyPair> {
  const { publicKey, privateKey } = await openpgp.generateKey({
    userIDs: [{ name: 'Backups', email: 'backup@company.example' }],
    format: 'armored',
    ...(passphrase ? { passphrase } : {}),
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { publicKey, privateKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/** `gpg --decrypt`, as an operator restoring by hand would run it, in a throwaway keyring. */
export function gpgDecrypt(privateKey: string, encrypted: Buffer, passphrase?: string): Buffer {
  const home = mkdtempSync(join(tmpdir(), 'rb-gpg-'));
  chmodSync(home, 0o700);
  try {
    execFileSync('gpg', ['--homedir', home, '--batch', '--quiet', '--import'], {
      input: privateKey,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const input = join(home, 'backup.gpg');
    writeFileSync(input, encrypted);
    const output = join(home, 'backup.dump');
    const passphraseArgs = passphrase ? ['--pinentry-mode', 'loopback', '--passphrase', passphrase] : [];
    const run = spawnSync(
      'gpg',
      ['--homedir', home, '--batch', '--yes', ...passphraseArgs, '--output', output, '--decrypt', input],
      {
        encoding: 'utf8',
      },
    );
    if (run.status !== 0) throw new Error(`gpg --decrypt failed (${run.status}): ${run.stderr}`);
    return readFileSync(output);
  } finally {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
    rmSync(home, { recursive: true, force: true });
  }
}

/** `pg_restore -d <url>` of a custom-format dump given as bytes. */
export function pgRestore(url: string, dump: Buffer): void {
  const run = spawnSync('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', `--dbname=${url}`], {
    input: dump,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`pg_restore failed (${run.status}): ${run.stderr}`);
}

export async function download(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await answer.Body!.transformToByteArray());
}

/**
 * A pg_dump stand-in: a shell script that writes its pid to `<dir>/pid` and then runs `body`, in which "$REAL" is the
 * real pg_dump and "$@" its arguments.
 */
export function fakePgDump(dir: string, name: string, body: string): { path: string; pid: () => number | undefined } {
  const path = join(dir, name);
  const real = execFileSync('sh', ['-c', 'command -v pg_dump'], { encoding: 'utf8' }).trim();
  writeFileSync(path, `#!/bin/sh\n[ "$1" = --version ] || echo $$ > "${dir}/${name}.pid"\nREAL="${real}"\n${body}\n`);
  chmodSync(path, 0o755);
  return {
    path,
    pid: () => {
      try {
        return Number(readFileSync(`${dir}/${name}.pid`, 'utf8').trim());
      } catch {
        return undefined;
      }
    },
  };
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
