import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import { seedServiceDatabase } from './support/backup-fixtures.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { startTestS3, type TestS3 } from './support/s3.ts';

describe('runbook-bot backup (CLI)', () => {
  let s3: TestS3;
  let source: TestDatabase;
  let store: TestDatabase;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    s3 = await startTestS3({ buckets: ['pqc-backups'], setAwsEnvironment: true });
    [source, store] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    await seedServiceDatabase(source.url, 3_000);
    dir = mkdtempSync(join(tmpdir(), 'rb-cli-'));
    const config = join(dir, 'runbook-bot.yml');
    writeFileSync(
      config,
      stringify({
        s3: { endpoint: s3.endpoint, forcePathStyle: true },
        services: {
          'pqc-migration-audit': {
            backup: {
              databaseUrlEnv: 'PQC_DATABASE_URL',
              bucket: 'pqc-backups',
              prefix: 'backup/',
              restoreTest: { tables: ['audit_records'] },
            },
          },
        },
      }),
    );
    env = { RUNBOOK_BOT_CONFIG: config, DATABASE_URL: store.url, PQC_DATABASE_URL: source.url, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await Promise.all([source.drop(), store.drop()]);
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) }, env);
    return { code, out, err };
  }

  it('backs up, then verifies by restoring, with exit codes a cron job can use', async () => {
    const backedUp = await cli('backup', 'pqc-migration-audit');
    expect(backedUp.err).toEqual([]);
    expect(backedUp.code).toBe(0);
    expect(backedUp.out[0]).toMatch(
      /^verified s3:\/\/pqc-backups\/backup\/pqc-migration-audit-database-.*\.dump: .*, sha256 [0-9a-f]{64}$/,
    );

    const verified = await cli('backup', 'verify', 'pqc-migration-audit');
    expect(verified.err).toEqual([]);
    expect(verified.code).toBe(0);
    expect(verified.out).toContain('audit_records: 3000 rows');
    expect(verified.out.at(-1)).toMatch(
      /^restore test passed in \d+s \(scratch database rb_restore_pqc_migration_audit_\d+ dropped\)$/,
    );
  });

  it('exits 1 with the reason when the backup fails, and 64 on bad usage', async () => {
    const saved = env.PQC_DATABASE_URL;
    env.PQC_DATABASE_URL = 'postgres://nobody@127.0.0.1:9/none';
    try {
      const failed = await cli('backup', 'pqc-migration-audit');
      expect(failed.code).toBe(1);
      expect(failed.err[0]).toMatch(/^FAILED database: PostgreSQL: cannot read the database at 127\.0\.0\.1:9/);
    } finally {
      env.PQC_DATABASE_URL = saved;
    }
    expect((await cli('backup', 'pqc-migration-audit', 'everything')).code).toBe(64);
    expect((await cli('backup', 'verify')).code).toBe(64);
  });
});
