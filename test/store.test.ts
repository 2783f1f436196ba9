import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/db.ts';
import { listMigrations, migrate, migrationsApplied, splitStatements } from '../src/store/migrate.ts';
import { createTestDatabase } from './support/databases.ts';
import { openTestStore, STORE_KINDS, type TestStore } from './support/stores.ts';

describe.each(STORE_KINDS)('store on %s', (kind) => {
  let testStore: TestStore | undefined;
  afterEach(async () => {
    await testStore?.close();
    testStore = undefined;
  });

  it('applies every migration once and reports readiness', async () => {
    testStore = await openTestStore(kind, { migrate: false });
    const { store } = testStore;
    const first = await migrate(store);
    expect(first.applied.map((m) => m.version)).toEqual(listMigrations().map((m) => m.version));
    expect(await migrationsApplied(store)).toBe(true);
    const second = await migrate(store);
    expect(second.applied).toEqual([]);
    const { rows } = await store.query<{ n: number }>('SELECT count(*) AS n FROM schema_migrations');
    expect(rows[0]!.n).toBe(listMigrations().length);
  });

  it('returns the same value shapes: numbers for bigint counts, Dates, parsed JSON', async () => {
    testStore = await openTestStore(kind);
    const { rows } = await testStore.store.query<{ n: number; at: Date; doc: unknown }>(
      `SELECT count(*) AS n, '2026-11-22T15:34:00Z'::timestamptz AS at, '{"a":[1,2]}'::jsonb AS doc FROM schema_migrations`,
    );
    expect(typeof rows[0]!.n).toBe('number');
    expect(rows[0]!.at).toBeInstanceOf(Date);
    expect(rows[0]!.at.toISOString()).toBe('2026-11-22T15:34:00.000Z');
    expect(rows[0]!.doc).toEqual({ a: [1, 2] });
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
    ).rejects.toThrow(/duplicate key/);
    const { rows } = await store.query<{ n: number }>('SELECT count(*) AS n FROM t');
    expect(rows[0]!.n).toBe(0);
  });

  it('refuses to start when an applied migration was edited', async () => {
    testStore = await openTestStore(kind);
    const edited = listMigrations().map((m, i) => (i === 0 ? { ...m, checksum: 'edited' } : m));
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
      expect(applied).toEqual([0, 0, 0, listMigrations().length]);
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
    expect(listMigrations(dir).map((m) => `${m.version}_${m.name}`)).toEqual(['1_first', '2_second']);
  });
});
