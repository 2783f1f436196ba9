import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import { openStore } from '../src/store/db.ts';
import { AuditWriter, appendAudit, appendAuditBatch, verifyAuditLog } from '../src/store/audit.ts';
import { openTestStore, testStoreKind, type TestStore } from './support/stores.ts';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 22, 15, minute, 0, 123));

async function seed(testStore: TestStore, count: number) {
  for (let i = 1; i <= count; i += 1) {
    await appendAudit(
      testStore.store,
      {
        actor: 'U0ALICE',
        action: i % 2 ? 'command' : 'confirmation.confirmed',
        target: 'rlhf-audit-trail',
        channel: 'C0OPS',
        params: { text: `backup ${i}`, n: i },
        result: 'ok',
      },
      at(i),
    );
  }
}

/** What someone with database admin rights (or the file, for SQLite) could do: switch the guard off and change history. */
async function tamper(testStore: TestStore, sql: string) {
  const { store } = testStore;
  if (store.dialect === 'postgres') {
    await store.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete');
    await store.query(sql);
    await store.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_or_delete');
    return;
  }
  await store.exec('DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete');
  await store.query(sql);
}

describe(`audit log on ${testStoreKind()}`, () => {
  let testStore: TestStore;
  afterEach(async () => {
    await testStore.close();
  });

  it('refuses removing the recorded head or moving it back', async () => {
    testStore = await openTestStore();
    await seed(testStore, 3);
    await expect(testStore.store.query('DELETE FROM audit_head')).rejects.toThrow(/audit_head cannot be deleted/);
    await expect(testStore.store.query('UPDATE audit_head SET seq = 2')).rejects.toThrow(/audit_head only moves forward/);
    await expect(testStore.store.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    expect(await verifyAuditLog(testStore.store)).toEqual({ ok: true, rowsChecked: 3 });
  });

  it('verifies an untouched chain', async () => {
    testStore = await openTestStore();
    await seed(testStore, 5);
    expect(await verifyAuditLog(testStore.store)).toEqual({ ok: true, rowsChecked: 5 });
  });

  it('keeps a burst of appends in arrival order in one chain, in batches and past one statement per batch', async () => {
    testStore = await openTestStore();
    const writer = new AuditWriter(testStore.store);
    const burst = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        writer.append({ actor: 'U0ALICE', action: 'command', target: '/health', params: { i } }, at(i % 59)),
      ),
    );
    expect(burst.map((row) => row.params.i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    const batch = await appendAuditBatch(
      testStore.store,
      Array.from({ length: 1_200 }, (_, i) => ({ entry: { actor: 'U0BOB', action: 'button', params: { i } }, at: at(i % 59) })),
    );
    expect(batch.map((row) => row.seq)).toEqual(Array.from({ length: 1_200 }, (_, i) => 301 + i));
    expect(await verifyAuditLog(testStore.store)).toEqual({ ok: true, rowsChecked: 1_500 });
  });

  it('records rows nobody waits for in the same chain as appends, secrets redacted, and reports a batch it lost', async () => {
    testStore = await openTestStore();
    const writes: Array<Promise<unknown>> = [];
    const writer = new AuditWriter(testStore.store, { track: (write) => writes.push(write) });
    writer.record({ actor: 'U0ALICE', action: 'command', target: '/health', params: { text: 'all' }, result: 'ok' }, at(1));
    const appended = writer.append({ actor: 'U0BOB', action: 'button', params: { token: 'xoxb-123-abc' } }, at(2));
    writer.record({ actor: 'U0CAROL', action: 'form', result: 'user_error' }, at(3));
    expect((await appended).seq).toBe(2);
    await Promise.all(writes);
    // One batch, one write to wait for.
    expect(writes).toHaveLength(1);
    const { rows } = await testStore.store.query<{ seq: number; actor: string; params: Record<string, unknown> }>(
      'SELECT seq, actor, params FROM audit_log ORDER BY seq',
    );
    expect(rows.map((row) => [row.seq, row.actor])).toEqual([
      [1, 'U0ALICE'],
      [2, 'U0BOB'],
      [3, 'U0CAROL'],
    ]);
    expect(JSON.stringify(rows[1]!.params)).not.toContain('xoxb-123-abc');
    expect(await verifyAuditLog(testStore.store)).toEqual({ ok: true, rowsChecked: 3 });

    // The store refuses the next batch: the recorded rows are reported lost, the append's caller gets the error.
    const failing = { ...testStore.store, transaction: () => Promise.reject(new Error('disk full')) };
    const lost: Array<[string, number]> = [];
    const broken = new AuditWriter(failing, { onLost: (error, count) => lost.push([(error as Error).message, count]) });
    broken.record({ actor: 'U0ALICE', action: 'command' }, at(4));
    broken.record({ actor: 'U0ALICE', action: 'command' }, at(5));
    await expect(broken.append({ actor: 'U0BOB', action: 'button' }, at(6))).rejects.toThrow('disk full');
    expect(lost).toEqual([['disk full', 2]]);
  });

  it('refuses updates and deletes from ordinary sessions', async () => {
    testStore = await openTestStore();
    await seed(testStore, 2);
    await expect(testStore.store.query(`UPDATE audit_log SET result = 'failed' WHERE seq = 1`)).rejects.toThrow(/append-only/);
    await expect(testStore.store.query('DELETE FROM audit_log WHERE seq = 2')).rejects.toThrow(/append-only/);
  });

  it('names the first edited row', async () => {
    testStore = await openTestStore();
    await seed(testStore, 6);
    await tamper(testStore, `UPDATE audit_log SET params = '{"text":"backup 999","n":3}' WHERE seq = 3`);
    const result = await verifyAuditLog(testStore.store);
    expect(result.ok).toBe(false);
    expect(result.firstBroken).toEqual({ seq: 3, reason: 'its contents do not match its hash (the row was edited)' });
    expect(result.rowsChecked).toBe(2);
  });

  it('names a deleted row in the middle and rows deleted from the end', async () => {
    testStore = await openTestStore();
    await seed(testStore, 6);
    await tamper(testStore, 'DELETE FROM audit_log WHERE seq = 4');
    expect((await verifyAuditLog(testStore.store)).firstBroken?.seq).toBe(4);
    await tamper(testStore, 'DELETE FROM audit_log WHERE seq >= 4');
    const tail = await verifyAuditLog(testStore.store);
    expect(tail.firstBroken?.seq).toBe(4);
    expect(tail.firstBroken?.reason).toMatch(/rows 4 to 6 are missing/);
  });

  it('detects a row rewritten with a fresh hash (the next row no longer links to it)', async () => {
    testStore = await openTestStore();
    await seed(testStore, 4);
    await tamper(testStore, `UPDATE audit_log SET hash = '${'a'.repeat(64)}' WHERE seq = 2`);
    const result = await verifyAuditLog(testStore.store);
    expect(result.firstBroken?.seq).toBe(2);
  });

  it('stores parameters with secrets removed', async () => {
    testStore = await openTestStore();
    const row = await appendAudit(
      testStore.store,
      { actor: 'U1', action: 'command', params: { url: 'postgres://bot:hunter2@db/app', token: 'xoxb-1-2', service: 'pqc' } },
      at(1),
    );
    expect(JSON.stringify(row.params)).not.toContain('hunter2');
    expect(JSON.stringify(row.params)).not.toContain('xoxb-1-2');
    expect(row.params.service).toBe('pqc');
    expect((await verifyAuditLog(testStore.store)).ok).toBe(true);
  });
});

describe('audit log on PostgreSQL under concurrency', () => {
  it('keeps one unbroken chain when several replicas append at once', async () => {
    const testStore = await openTestStore('postgres');
    const replicas = await Promise.all([1, 2, 3].map(() => openStore({ databaseUrl: testStore.url })));
    try {
      await Promise.all(
        replicas.flatMap((store, r) =>
          Array.from({ length: 20 }, (_, i) =>
            appendAudit(store, { actor: `U${r}`, action: 'command', params: { i } }, at(i % 59)),
          ),
        ),
      );
      expect(await verifyAuditLog(testStore.store)).toEqual({ ok: true, rowsChecked: 60 });
    } finally {
      await Promise.all(replicas.map((store) => store.close()));
      await testStore.close();
    }
  });

  it('is checked by `runbook-bot audit verify`, which names the broken row and exits 1', async () => {
    const testStore = await openTestStore('postgres');
    try {
      await seed(testStore, 3);
      const lines: string[] = [];
      const io = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
      const env = { DATABASE_URL: testStore.url };
      expect(await runCli(['audit', 'verify'], io, env)).toBe(0);
      expect(lines.pop()).toBe(
        'audit log intact: 3 rows, every hash matches (no audit.checkpoints configured: deletions from the end and rewrites cannot be ruled out)',
      );
      await tamper(testStore, `UPDATE audit_log SET actor = 'U0MALLORY' WHERE seq = 2`);
      expect(await runCli(['audit', 'verify'], io, env)).toBe(1);
      expect(lines.pop()).toMatch(/^audit log BROKEN at row 2: its contents do not match its hash/);
    } finally {
      await testStore.close();
    }
  });
});
