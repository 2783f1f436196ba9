// Opens the store both ways the bot does: on a throwaway PostgreSQL database and on an embedded SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Dialect, type Store } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import { createTestDatabase } from './databases.ts';

export type StoreKind = Dialect;

/**
 * The store this test run exercises: vitest.config.ts runs the suite once per dialect (projects "postgres" and
 * "sqlite"), setting RUNBOOK_BOT_TEST_STORE; a test that needs one dialect in particular names it.
 */
export function testStoreKind(): StoreKind {
  const kind = process.env.RUNBOOK_BOT_TEST_STORE ?? 'postgres';
  if (kind !== 'postgres' && kind !== 'sqlite') throw new Error(`RUNBOOK_BOT_TEST_STORE=${kind}: use postgres or sqlite`);
  return kind;
}

export interface TestStore {
  store: Store;
  /** The PostgreSQL URL (postgres kind only), for opening more connections or processes. */
  url: string | undefined;
  dataDir: string | undefined;
  close(): Promise<void>;
}

/** A fresh, migrated store (of this run's kind unless named); close() drops it. */
export async function openTestStore(kind: StoreKind = testStoreKind(), options: { migrate?: boolean } = {}): Promise<TestStore> {
  if (kind === 'postgres') {
    const database = await createTestDatabase();
    const store = await openStore({ databaseUrl: database.url });
    if (options.migrate ?? true) await migrate(store);
    return {
      store,
      url: database.url,
      dataDir: undefined,
      async close() {
        await store.close();
        await database.drop();
      },
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'rb-sqlite-'));
  const store = await openStore({ dataDir });
  if (options.migrate ?? true) await migrate(store);
  return {
    store,
    url: undefined,
    dataDir,
    async close() {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
