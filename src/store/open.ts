// Opening the store the way every entry point needs it: connected, older embedded data imported, migrations applied.
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { openStore, type OpenStoreOptions, type Store } from './db.ts';
import { listMigrations, migrate, type MigrationReport } from './migrate.ts';
import { hasPgliteData, importPgliteData, type PgliteImport } from './pglite-import.ts';

/** The last migration the PGlite store of earlier versions reached: SQLite's first, so imported rows fit as they are. */
const PGLITE_SCHEMA_VERSION = 9;

export interface MigratedStore {
  store: Store;
  migration: MigrationReport;
  /** Set when this start brought an older PGlite data folder over. */
  imported?: PgliteImport;
}

/** Where the store is and its deadlines, from the configuration. */
export function storeOptions(config: Config, logger?: Logger): OpenStoreOptions & { logger?: Logger } {
  return {
    databaseUrl: config.env.DATABASE_URL,
    dataDir: config.env.DATA_DIR,
    connectTimeoutMs: config.file.timeouts.postgres.connect,
    statementTimeoutMs: config.file.timeouts.postgres.statement,
    ...(logger ? { logger } : {}),
  };
}

export async function openMigratedStore(options: OpenStoreOptions & { logger?: Logger }): Promise<MigratedStore> {
  const store = await openStore(options);
  try {
    let imported: PgliteImport | undefined;
    if (store.dialect === 'sqlite' && options.dataDir && hasPgliteData(options.dataDir)) {
      const all = listMigrations('sqlite');
      await migrate(
        store,
        all.filter((m) => m.version <= PGLITE_SCHEMA_VERSION),
      );
      // Only into a store that has nothing yet (an import that failed half-way rolled back entirely).
      if (await isEmpty(store)) imported = await importPgliteData(options.dataDir, store, options.logger);
      else
        options.logger?.warn({
          event: 'store.pglite_left_alone',
          message: `${options.dataDir}/pglite holds data of an older version, but the SQLite store has data of its own: nothing was imported`,
        });
    }
    const migration = await migrate(store);
    return { store, migration, ...(imported ? { imported } : {}) };
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}

async function isEmpty(store: Store): Promise<boolean> {
  const { rows } = await store.query<{ n: number }>(
    'SELECT (SELECT count(*) FROM incidents) + (SELECT count(*) FROM audit_log) AS n',
  );
  return rows[0]!.n === 0;
}
