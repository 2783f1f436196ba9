// Opens the store both ways the bot does: on a throwaway PostgreSQL database and on embedded PGlite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import { createTestDatabase } from './databases.ts';

export const STORE_KINDS = ['postgres', 'pglite'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface TestStore {
  store: Store;
  /** The PostgreSQL URL (postgres kind only), for opening more connections or processes. */
  url: string | undefined;
  dataDir: string | undefined;
  close(): Promise<void>;
}

/** A fresh, migrated store of the given kind; close() drops it. */
export async function openTestStore(kind: StoreKind, options: { migrate?: boolean } = {}): Promise<TestStore> {
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
  const dataDir = mkdtempSync(join(tmpdir(), 'rb-pglite-'));
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
