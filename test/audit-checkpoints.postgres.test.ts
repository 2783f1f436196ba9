// Signed audit checkpoints in S3 (s3rver) against real PostgreSQL: each tampering an owner of the database can do is
// found by `audit verify`, naming the row or checkpoint; TRUNCATE and head rewinds are refused outright.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import { appendAudit, GENESIS_HASH, hashAuditRow, type AuditRow } from '../src/store/audit.ts';
import { openStore, type Store } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { listRuns } from '../src/store/schedule-runs.ts';
import { startBlackHole } from './fakes/fake-services.ts';
import { startFakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock } from './support/clock.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { startTestS3, type TestS3 } from './support/s3.ts';

const BUCKET = 'audit-checkpoints';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('audit checkpoints (PostgreSQL, S3)', () => {
  let s3: TestS3;
  let dir: string;
  let database: TestDatabase;
  let store: Store;
  let env: NodeJS.ProcessEnv;
  let prefix: string;

  beforeAll(async () => {
    s3 = await startTestS3({ buckets: [BUCKET], setAwsEnvironment: true });
    dir = mkdtempSync(join(tmpdir(), 'rb-audit-'));
  });
  afterAll(async () => {
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    database = await createTestDatabase();
    store = await openStore({ databaseUrl: database.url });
    await migrate(store);
    prefix = `run-${Math.random().toString(36).slice(2, 8)}/`;
    const config = join(dir, `${prefix.slice(0, -1)}.yml`);
    writeFileSync(
      config,
      stringify({
        s3: { endpoint: s3.endpoint, forcePathStyle: true },
        audit: { checkpoints: { s3: { bucket: BUCKET, prefix, retentionDays: 30 } } },
      }),
    );
    env = { RUNBOOK_BOT_CONFIG: config, DATABASE_URL: database.url, AUDIT_CHECKPOINT_KEY: PRIVATE_PEM, LOG_LEVEL: 'silent' };
  });
  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) }, env);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  async function seed(count: number, from = 1) {
    for (let i = from; i < from + count; i += 1)
      await appendAudit(
        store,
        { actor: 'U0ALICE', action: 'command', target: '/backup', params: { n: i }, result: 'ok' },
        new Date(),
      );
  }

  /** As the tables' owner: switch the guards off, run the statements, switch them on again. */
  async function asOwner(...statements: string[]) {
    await store.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
    await store.query('ALTER TABLE audit_head DISABLE TRIGGER USER');
    for (const sql of statements) await store.query(sql);
    await store.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
    await store.query('ALTER TABLE audit_head ENABLE TRIGGER USER');
  }

  it('publishes signed, chained checkpoints and verifies an untouched log against them', async () => {
    await seed(3);
    const first = await cli('audit', 'checkpoint');
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    // s3rver has no Object Lock: the checkpoint says what protects it instead.
    expect(first.out).toMatch(
      /^checkpoint run-\w+\/\d{4}-\d\d-\d\dT\d{9}Z-000000000003\.json: row 3, head [0-9a-f]{64} \(the bucket audit-checkpoints has no Object Lock enabled/,
    );
    await seed(2, 5);
    expect((await cli('audit', 'checkpoint')).code).toBe(0);
    const verified = await cli('audit', 'verify');
    expect(verified.out).toMatch(
      /^audit log intact: 7 rows, every hash matches; checked against 2 signed checkpoints, the newest .* at row 6$/,
    );
    expect(verified.code).toBe(0);

    // Verify needs only the public key.
    writeFileSync(join(dir, 'public.pem'), PUBLIC_PEM);
    const config = String(env.RUNBOOK_BOT_CONFIG);
    const { parse } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const file = parse(readFileSync(config, 'utf8')) as { audit: { checkpoints: Record<string, unknown> } };
    file.audit.checkpoints.publicKey = join(dir, 'public.pem');
    writeFileSync(config, stringify(file));
    delete env.AUDIT_CHECKPOINT_KEY;
    expect((await cli('audit', 'verify')).code).toBe(0);
    expect((await cli('audit', 'checkpoint')).err).toMatch(/no signing key: set AUDIT_CHECKPOINT_KEY/);
  });

  it('ends a checkpoint by timeouts.s3.request when S3 accepts the connection and never answers', async () => {
    await seed(2);
    const hole = await startBlackHole();
    try {
      const config = String(env.RUNBOOK_BOT_CONFIG);
      writeFileSync(
        config,
        stringify({
          s3: { endpoint: hole.url('http'), forcePathStyle: true },
          timeouts: { s3: { connect: '1s', request: '1s', stall: '1s' } },
          audit: { checkpoints: { s3: { bucket: BUCKET, prefix } } },
        }),
      );
      const started = Date.now();
      const result = await cli('audit', 'checkpoint');
      expect(result.code).not.toBe(0);
      expect(result.err).toMatch(/S3.*no answer within 1s.*timeouts\.s3\.request/);
      // Bounded by the configured second (and its retries inside it), not the 60 s default.
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(hole.accepted).toBeGreaterThan(0);
    } finally {
      await hole.close();
    }
  });

  it('makes a checkpoint once across two replicas on the schedule, with a copy in the Slack channel', async () => {
    await seed(2);
    const slack = await startFakeSlack();
    slack.addChannel({ name: 'audit' });
    const clock = new ManualClock('2026-11-22T10:59:30Z');
    const file = {
      s3: { endpoint: s3.endpoint, forcePathStyle: true },
      audit: { checkpoints: { s3: { bucket: BUCKET, prefix }, slackChannel: '#audit' } },
    };
    const replicas: TestBot[] = [];
    try {
      for (let i = 0; i < 2; i += 1)
        replicas.push(
          await startTestBot({
            file,
            clock,
            slack,
            databaseUrl: database.url,
            env: { AUDIT_CHECKPOINT_KEY: PRIVATE_PEM },
            extra: { schedules: { autoStart: false }, escalation: { autoStart: false } },
          }),
        );
      await Promise.all(replicas.map((replica) => replica.bot.scheduler.tick()));
      clock.advance(60_000);
      await Promise.all(replicas.map((replica) => replica.bot.scheduler.tick()));
      await Promise.all(replicas.map((replica) => replica.bot.scheduler.tick()));
      await Promise.all(replicas.map((replica) => replica.bot.idle()));
      const keys = await s3.keys(BUCKET, prefix);
      expect(keys).toEqual([`${prefix}2026-11-22T110030000Z-000000000002.json`]);
      const [run] = await listRuns(store, 'auditCheckpoint');
      expect(run).toMatchObject({ outcome: 'ok', summary: `checkpoint ${keys[0]} at row 2` });
      const posts = slack.messages().filter((message) => message.text.startsWith(':lock: Audit checkpoint: row 2'));
      expect(posts).toHaveLength(1);
      expect(posts[0]!.text).toContain(keys[0]);
    } finally {
      for (const replica of replicas.reverse()) await replica.stop();
      await slack.close();
    }
    const verified = await cli('audit', 'verify');
    expect(verified.out).toMatch(/^audit log intact: 3 rows, every hash matches; checked against 1 signed checkpoint/);
  });

  it('refuses TRUNCATE of either audit table, and deleting or rewinding the head', async () => {
    await seed(2);
    await expect(store.query('TRUNCATE audit_log, audit_head')).rejects.toThrow(/append-only \(TRUNCATE refused\)/);
    await expect(store.query('TRUNCATE audit_head')).rejects.toThrow(/audit_head is append-only \(TRUNCATE refused\)/);
    await expect(store.query('DELETE FROM audit_head')).rejects.toThrow(/audit_head cannot be deleted/);
    await expect(store.query('UPDATE audit_head SET seq = 1')).rejects.toThrow(/audit_head only moves forward/);
    await expect(store.query('DELETE FROM audit_log WHERE seq = 2')).rejects.toThrow(/append-only/);
  });

  it("leaves the README's runtime role unable to update, delete or truncate the audit tables, yet able to append", async () => {
    const role = `rb_runtime_${Math.random().toString(36).slice(2, 8)}`;
    const dbName = new URL(database.url).pathname.slice(1);
    await store.query(`CREATE ROLE ${role} LOGIN PASSWORD 'runtime'`);
    try {
      for (const sql of [
        `GRANT CONNECT ON DATABASE "${dbName}" TO ${role}`,
        `GRANT USAGE ON SCHEMA public TO ${role}`,
        `REVOKE ALL ON audit_log, audit_head FROM ${role}`,
        `GRANT SELECT, INSERT ON audit_log TO ${role}`,
        `GRANT SELECT, INSERT, UPDATE ON audit_head TO ${role}`,
      ])
        await store.query(sql);
      const url = new URL(database.url);
      url.username = role;
      url.password = 'runtime';
      const runtime = await openStore({ databaseUrl: url.toString() });
      try {
        await appendAudit(runtime, { actor: 'U0ALICE', action: 'command', result: 'ok' }, new Date());
        await appendAudit(runtime, { actor: 'U0ALICE', action: 'command', result: 'ok' }, new Date());
        for (const sql of [
          "UPDATE audit_log SET actor = 'U0MALLORY'",
          'DELETE FROM audit_log',
          'TRUNCATE audit_log',
          'TRUNCATE audit_head',
          'DELETE FROM audit_head',
          'ALTER TABLE audit_log DISABLE TRIGGER USER',
        ])
          await expect(runtime.query(sql), sql).rejects.toThrow(/permission denied|must be owner/);
        await expect(runtime.query('UPDATE audit_head SET seq = 1')).rejects.toThrow(/only moves forward/);
      } finally {
        await runtime.close();
      }
    } finally {
      await store.query(`DROP OWNED BY ${role}`);
      await store.query(`DROP ROLE ${role}`);
    }
  });

  it('names the checkpoint when the owner truncates both tables', async () => {
    await seed(4);
    expect((await cli('audit', 'checkpoint')).code).toBe(0);
    await asOwner('TRUNCATE audit_log, audit_head');
    const verified = await cli('audit', 'verify');
    expect(verified.code).toBe(1);
    expect(verified.out).toMatch(
      /the log is empty but checkpoint run-\w+\/\S+-000000000004\.json recorded row 4 \(hash [0-9a-f]{12}…\): the audit tables were truncated/,
    );
  });

  it('names the missing rows and the checkpoint when the owner deletes the tail and rewinds the head', async () => {
    await seed(6);
    expect((await cli('audit', 'checkpoint')).code).toBe(0);
    const { rows } = await store.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = 4');
    await asOwner('DELETE FROM audit_log WHERE seq > 4', `UPDATE audit_head SET seq = 4, hash = '${rows[0]!.hash}'`);
    const verified = await cli('audit', 'verify');
    expect(verified.code).toBe(1);
    expect(verified.out).toMatch(
      /rows 5 to 6 are missing: checkpoint run-\w+\/\S+-000000000006\.json recorded row 6, the log ends at row 4 and its head says row 4/,
    );
  });

  it('names the row and the checkpoint when the owner rewrites the whole log consistently', async () => {
    await seed(5);
    expect((await cli('audit', 'checkpoint')).code).toBe(0);
    // A recomputed chain: every row changed, every hash and the head consistent, so the chain alone looks intact.
    const { rows } = await store.query<AuditRow>('SELECT * FROM audit_log ORDER BY seq');
    let prev = GENESIS_HASH;
    const rewritten = rows.map((row) => {
      const body = { ...row, seq: Number(row.seq), at: new Date(row.at), actor: 'U0MALLORY', prev_hash: prev };
      const hash = hashAuditRow(body);
      prev = hash;
      return { ...body, hash };
    });
    await asOwner(
      'DELETE FROM audit_log',
      ...rewritten.map(
        (row) =>
          `INSERT INTO audit_log (seq, at, actor, action, target, channel, params, result, prev_hash, hash) VALUES (${row.seq}, '${row.at.toISOString()}', '${row.actor}', '${row.action}', '${row.target}', NULL, '${JSON.stringify(row.params)}', '${row.result}', '${row.prev_hash}', '${row.hash}')`,
      ),
      `UPDATE audit_head SET seq = ${rewritten.length}, hash = '${prev}'`,
    );
    const verified = await cli('audit', 'verify');
    expect(verified.code).toBe(1);
    expect(verified.out).toMatch(
      /row 5 differs from checkpoint run-\w+\/\S+-000000000005\.json \(signed hash [0-9a-f]{12}…, now [0-9a-f]{12}…\): the log up to row 5 was rewritten/,
    );
    // Without checkpoints the same database passes: the chain is consistent.
    expect(verified.out).not.toMatch(/^ {2}- row \d+:/m);
  });

  it('names a checkpoint that was removed or whose signature does not verify', async () => {
    await seed(1);
    for (let i = 0; i < 3; i += 1) expect((await cli('audit', 'checkpoint')).code).toBe(0);
    const mine = await s3.keys(BUCKET, prefix);
    expect(mine).toHaveLength(3);
    const { DeleteObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
    await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: mine[1]! }));
    await s3.client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: mine[0]!.replace('.json', '-forged.json'),
        Body: JSON.stringify({
          version: 1,
          seq: 1,
          headHash: 'f'.repeat(64),
          at: new Date().toISOString(),
          previous: null,
          keyId: 'x',
          signature: 'AAAA',
        }),
      }),
    );
    const verified = await cli('audit', 'verify');
    expect(verified.code).toBe(1);
    expect(verified.out).toContain(`checkpoint ${mine[0]!.replace('.json', '-forged.json')}: the signature does not verify`);
    expect(verified.out).toContain(
      `checkpoint ${mine[2]} does not follow checkpoint ${mine[0]}: a checkpoint between them was removed or replaced`,
    );
  });
});
