import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../src/cli.ts';
import { fakePgDump, processAlive, seedServiceDatabase } from './support/backup-fixtures.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { startTestS3, type TestS3 } from './support/s3.ts';

const SHORT_LIMITS = { s3: { connect: '1s', request: '1s', stall: '1s' }, pgToolStall: '1s' };

// `runbook-bot backup` against dependencies that stop answering: each ends by its limit with a message naming the
// dependency and the setting, kills what it started, aborts the upload and frees the service's lock.
describe('backup deadlines (CLI)', () => {
  let s3: TestS3;
  let silent: Server;
  const held: Socket[] = [];
  let source: TestDatabase;
  let store: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    s3 = await startTestS3({ buckets: ['pqc-backups'], setAwsEnvironment: true });
    // Accepts every connection and never writes a byte.
    silent = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    [source, store] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    await seedServiceDatabase(source.url, 2_000);
    dir = mkdtempSync(join(tmpdir(), 'rb-deadlines-'));
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    await Promise.all([source.drop(), store.drop()]);
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function configFile(name: string, endpoint: string, timeouts: object = SHORT_LIMITS): string {
    const path = join(dir, `${name}.yml`);
    writeFileSync(
      path,
      stringify({
        s3: { endpoint, forcePathStyle: true },
        timeouts,
        services: {
          'pqc-migration-audit': {
            backup: { databaseUrlEnv: 'PQC_DATABASE_URL', bucket: 'pqc-backups', prefix: 'backup/' },
          },
        },
      }),
    );
    return path;
  }

  async function backup(env: NodeJS.ProcessEnv) {
    const out: string[] = [];
    const err: string[] = [];
    const started = performance.now();
    const code = await runCli(
      ['backup', 'pqc-migration-audit'],
      { out: (line) => out.push(line), err: (line) => err.push(line) },
      { DATABASE_URL: store.url, PQC_DATABASE_URL: source.url, LOG_LEVEL: 'silent', ...env },
    );
    return { code, out, err, seconds: (performance.now() - started) / 1000 };
  }

  it('ends at timeouts.s3.request against an S3 that accepts and never answers, and frees the lock', async () => {
    const { port } = silent.address() as AddressInfo;
    // pg_dump gets a generous limit: on a busy machine it may take over a second to connect and read the catalog,
    // and this test is about S3's.
    const limits = { ...SHORT_LIMITS, pgToolStall: '30s' };
    const env = { RUNBOOK_BOT_CONFIG: configFile('silent-s3', `http://127.0.0.1:${port}`, limits) };
    const first = await backup(env);
    expect(first.code).toBe(1);
    expect(first.err).toEqual([
      expect.stringMatching(
        /^FAILED database: S3: CreateMultipartUpload s3:\/\/pqc-backups\/backup\/pqc-migration-audit-database-\S+\.dump: no answer within 1s \(the limit is timeouts\.s3\.request in the config file\)$/,
      ),
    ]);
    // The limit, not the SDK's retries or a socket that never closes, decides when the command ends.
    expect(first.seconds).toBeLessThan(8);
    // The lock was released: the next backup meets the same silent S3, not "already running".
    const second = await backup(env);
    expect(second.err[0]).toMatch(/no answer within 1s \(the limit is timeouts\.s3\.request/);
    expect(second.err[0]).not.toMatch(/already running/);
  });

  it('kills a pg_dump that stops writing (timeouts.pgToolStall), aborts the upload and frees the lock', async () => {
    const bin = mkdtempSync(join(dir, 'bin-'));
    const stalled = fakePgDump(bin, 'pg_dump', '[ "$1" = --version ] && exec "$REAL" "$@"\nprintf PGDMP\nexec sleep 60');
    const env = { RUNBOOK_BOT_CONFIG: configFile('real-s3', s3.endpoint), PATH: `${bin}:${process.env.PATH}` };
    const first = await backup(env);
    expect(first.code).toBe(1);
    expect(first.err).toEqual([
      'FAILED database: pg_dump: dumping ' +
        new URL(source.url).pathname.slice(1) +
        ' stalled: no answer within 1s (the limit is timeouts.pgToolStall in the config file)',
    ]);
    expect(first.seconds).toBeLessThan(8);
    expect(processAlive(stalled.pid()!)).toBe(false);
    expect(s3.pendingUploads('pqc-backups')).toEqual([]);
    expect(await s3.keys('pqc-backups')).toEqual([]);

    // Lock free, and with the real pg_dump back the same command succeeds.
    // (The default limits: a real pg_dump on a busy machine may well take a second to connect and read the catalog.)
    const second = await backup({ RUNBOOK_BOT_CONFIG: configFile('real-s3-default-limits', s3.endpoint, {}) });
    expect(second.err).toEqual([]);
    expect(second.code).toBe(0);
  });
});
