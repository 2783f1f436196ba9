import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/db.ts';
import { claimPageCopy, insertIncident, markPageCopied } from '../src/store/incidents.ts';
import { toSqliteSql } from '../src/store/sqlite.ts';
import { listMigrations, migrate, migrationsApplied, splitStatements } from '../src/store/migrate.ts';
import { createTestDatabase } from './support/databases.ts';
import { openTestStore, testStoreKind, type TestStore } from './support/stores.ts';

describe(`store on ${testStoreKind()}`, () => {
  const kind = testStoreKind();
  let testStore: TestStore | undefined;
  afterEach(async () => {
    await testStore?.close();
    testStore = undefined;
  });

  it('applies every migration once and reports readiness', async () => {
    testStore = await openTestStore(kind, { migrate: false });
    const { store } = testStore;
    const first = await migrate(store);
    expect(first.applied.map((m) => m.version)).toEqual(listMigrations(kind).map((m) => m.version));
    expect(await migrationsApplied(store)).toBe(true);
    const second = await migrate(store);
    expect(second.applied).toEqual([]);
    const { rows } = await store.query<{ n: number }>('SELECT count(*) AS n FROM schema_migrations');
    expect(rows[0]!.n).toBe(listMigrations(kind).length);
  });

  it('returns the same value shapes: numbers for bigint counts, Dates, booleans, parsed JSON', async () => {
    testStore = await openTestStore(kind);
    const { store } = testStore;
    const at = new Date('2026-11-22T15:34:00.123Z');
    await store.query(
      `INSERT INTO incidents (declaration_key, title, severity, declared_by, declared_at, setup_done) VALUES ('k', 't', 'P2', 'U1', $1, $2)`,
      [at, true],
    );
    const { rows } = await store.query<{ n: number; declared_at: Date; setup_done: boolean; newest_at: Date }>(
      `SELECT (SELECT count(*) FROM incidents) AS n, declared_at, setup_done, (SELECT max(declared_at) FROM incidents) AS newest_at
       FROM incidents`,
    );
    expect(typeof rows[0]!.n).toBe('number');
    expect(rows[0]!.declared_at).toBeInstanceOf(Date);
    expect(rows[0]!.declared_at.toISOString()).toBe('2026-11-22T15:34:00.123Z');
    expect(rows[0]!.newest_at).toEqual(at);
    expect(rows[0]!.setup_done).toBe(true);
    const id = (await store.query<{ id: number }>('SELECT id FROM incidents')).rows[0]!.id;
    await store.query(`INSERT INTO incident_events (incident_id, at, kind, text, data) VALUES ($1, $2, 'note', 'x', $3)`, [
      id,
      at,
      JSON.stringify({ a: [1, 2] }),
    ]);
    const events = await store.query<{ data: unknown }>('SELECT data FROM incident_events');
    expect(events.rows[0]!.data).toEqual({ a: [1, 2] });
  });

  it('rolls a failed transaction back entirely', async () => {
    testStore = await openTestStore(kind);
    const { store } = testStore;
    await store.query('CREATE TABLE t (id int PRIMARY KEY)');
    await expect(
      store.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (1)');
        await tx.query('INSERT INTO t VALUES (1)');
      }),
    ).rejects.toThrow(/duplicate key|UNIQUE constraint failed/);
    const { rows } = await store.query<{ n: number }>('SELECT count(*) AS n FROM t');
    expect(rows[0]!.n).toBe(0);
  });

  it('lets one piece of work claim the copy of a page: the other waits, a retry resumes, a claim whose work died is taken over', async () => {
    testStore = await openTestStore(kind);
    const { store } = testStore;
    const now = new Date('2026-11-22T15:34:00Z');
    const { incident } = await insertIncident(store, {
      declarationKey: 'copy-claims',
      title: 'Audit API down',
      severity: 'P2',
      service: null,
      summary: '',
      source: 'test',
      declaredBy: 'U0ALICE',
      declaredAt: now,
      ackDueAt: null,
      steps: [{ level: 1, label: 'Engineering lead', notify: ['U0LEAD'], dueAt: now }],
    });
    const later = (ms: number) => new Date(now.getTime() + ms);
    // The two pieces of work that copy pages, each running under a lease.
    const running = async (key: string, leaseUntil: Date) =>
      store.query(
        `INSERT INTO work (kind, key, priority, run_at, state, owner, lease_until, created_at)
         VALUES ($1, $2, 0, $3, 'running', 'replica-a', $4, $3)
         ON CONFLICT (key) DO UPDATE SET lease_until = $4`,
        [key.split(':')[0], key, now, leaseUntil],
      );
    await running('setup:1', later(30_000));
    await running('escalation:1:2', later(30_000));
    const page = { incidentId: incident.id, level: 1 };
    expect(await claimPageCopy(store, page, 'setup:1', now)).toEqual({ kind: 'mine', resumed: false });
    expect(await claimPageCopy(store, page, 'escalation:1:2', later(1_000))).toEqual({ kind: 'busy' });
    // The same work again (its post's outcome was unknown): it resumes, and looks in the channel first.
    expect(await claimPageCopy(store, page, 'setup:1', later(2_000))).toEqual({ kind: 'mine', resumed: true });
    // The setup's replica died: once its lease has run out, the other finishes the copy.
    expect(await claimPageCopy(store, page, 'escalation:1:2', later(31_000))).toEqual({ kind: 'mine', resumed: true });
    // Now the setup (retried elsewhere) finds the copy in the hands of live work.
    await running('escalation:1:2', later(90_000));
    expect(await claimPageCopy(store, page, 'setup:1', later(32_000))).toEqual({ kind: 'busy' });
    await markPageCopied(store, page, later(33_000));
    expect(await claimPageCopy(store, page, 'setup:1', later(34_000))).toEqual({ kind: 'done' });
  });

  it('refuses to start when an applied migration was edited', async () => {
    testStore = await openTestStore(kind);
    const edited = listMigrations(kind).map((m, i) => (i === 0 ? { ...m, checksum: 'edited' } : m));
    await expect(migrate(testStore.store, edited)).rejects.toThrow(/was changed after it was applied/);
  });
});

describe('migrations on PostgreSQL', () => {
  it('are applied exactly once when several replicas start at the same moment', async () => {
    const database = await createTestDatabase();
    const stores = await Promise.all([1, 2, 3, 4].map(() => openStore({ databaseUrl: database.url })));
    try {
      const reports = await Promise.all(stores.map((store) => migrate(store)));
      const applied = reports.map((report) => report.applied.length).sort();
      expect(applied).toEqual([0, 0, 0, listMigrations('postgres').length]);
      expect(await migrationsApplied(stores[0]!)).toBe(true);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await database.drop();
    }
  });

  it('says which database could not be reached, without its password', async () => {
    await expect(openStore({ databaseUrl: 'postgres://bot:hunter2@127.0.0.1:1/none' })).rejects.toThrow(
      /cannot connect to DATABASE_URL/,
    );
    await expect(openStore({ databaseUrl: 'postgres://bot:hunter2@127.0.0.1:1/none' })).rejects.not.toThrow(/hunter2/);
  });
});

describe('migration files', () => {
  it('split into statements, keeping $$ bodies whole', () => {
    expect(
      splitStatements(
        `-- comment\nCREATE TABLE a (x int);\nCREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  RAISE EXCEPTION 'no';\nEND;\n$$;\nCREATE INDEX i ON a (x);\n`,
      ),
    ).toEqual([
      'CREATE TABLE a (x int);',
      "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  RAISE EXCEPTION 'no';\nEND;\n$$;",
      'CREATE INDEX i ON a (x);',
    ]);
  });

  it('are read in order from a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-migrations-'));
    writeFileSync(join(dir, '002_second.sql'), 'SELECT 2;');
    writeFileSync(join(dir, '001_first.sql'), 'SELECT 1;');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    expect(listMigrations('postgres', dir).map((m) => `${m.version}_${m.name}`)).toEqual(['1_first', '2_second']);
  });
});

describe('the embedded SQLite store', () => {
  it('takes the PostgreSQL spelling of parameters, casts and row locks', () => {
    expect(
      toSqliteSql(
        `UPDATE w SET at = $2::timestamptz WHERE id IN (SELECT id FROM w WHERE k = ANY($1) ORDER BY id LIMIT $3 FOR UPDATE OF w SKIP LOCKED)`,
      ),
    ).toBe(`UPDATE w SET at = ?2 WHERE id IN (SELECT id FROM w WHERE k = ANY(?1) ORDER BY id LIMIT ?3 )`);
  });

  it('keeps other callers out while a transaction is open, and lets the transaction use the store directly', async () => {
    const testStore = await openTestStore('sqlite');
    const { store } = testStore;
    try {
      await store.query('CREATE TABLE t (id int PRIMARY KEY)');
      const order: string[] = [];
      const inside = store.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES (1)');
        await new Promise((resolve) => setTimeout(resolve, 50));
        // A module that is handed the store rather than tx still runs inside the transaction.
        await store.query('INSERT INTO t VALUES (2)');
        order.push('transaction');
      });
      const outside = store.query<{ n: number }>('SELECT count(*) AS n FROM t').then((result) => {
        order.push(`outside saw ${result.rows[0]!.n}`);
      });
      await Promise.all([inside, outside]);
      expect(order).toEqual(['transaction', 'outside saw 2']);
    } finally {
      await testStore.close();
    }
  });

  it('refuses a second process on the same data folder, naming the first and what to do', async () => {
    const testStore = await openTestStore('sqlite');
    try {
      const { spawnSync } = await import('node:child_process');
      const child = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { openStore } from ${JSON.stringify(new URL('../src/store/db.ts', import.meta.url).href)};
           try { await openStore({ dataDir: ${JSON.stringify(testStore.dataDir)} }); console.log('opened'); }
           catch (error) { console.log(error.message); }`,
        ],
        { encoding: 'utf8' },
      );
      expect(child.stdout).toContain(`is in use by another process (process ${process.pid})`);
      expect(child.stdout).toContain('DATABASE_URL');
    } finally {
      await testStore.close();
    }
  });
});
