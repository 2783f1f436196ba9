// Brings a data folder from before the SQLite store (embedded PGlite, DATA_DIR/pglite) into the SQLite file, once.
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.ts';
import type { Store } from './db.ts';

/** Where older versions kept the embedded database. */
export const PGLITE_DIR = 'pglite';

// Parents before children (foreign keys). Every table PGlite had reached at migration 009, the schema SQLite starts at.
const TABLES = [
  'incidents',
  'incident_events',
  'escalation_steps',
  'audit_log',
  'audit_head',
  'confirmations',
  'privacy_budget_snapshots',
  'backups',
  'alert_deliveries',
  'alert_group_incidents',
  'schedule_runs',
  'service_health_streaks',
] as const;

export interface PgliteImport {
  tables: number;
  rows: number;
  /** Where the old folder was moved, to be deleted by the operator once they are satisfied. */
  keptAt: string;
}

export function hasPgliteData(dataDir: string): boolean {
  return existsSync(join(dataDir, PGLITE_DIR, 'PG_VERSION'));
}

/**
 * Copies every row of the PGlite database into the SQLite store, whose schema must be at migration 009 and empty,
 * in one transaction; then moves the old folder aside. Backup locks are left behind: they belong to a stopped process.
 */
export async function importPgliteData(dataDir: string, store: Store, logger?: Logger): Promise<PgliteImport> {
  const source = join(dataDir, PGLITE_DIR);
  logger?.info({ event: 'store.pglite_import_started', from: source });
  // Loaded only here: PGlite is large, and only a data folder from an older version needs it.
  const { PGlite } = await import('@electric-sql/pglite');
  const pglite = await PGlite.create(source);
  let rows = 0;
  try {
    const known = await pglite.query<{ version: number }>('SELECT max(version) AS version FROM schema_migrations');
    const version = Number(known.rows[0]?.version ?? 0);
    if (version !== 9)
      throw new Error(
        `the PGlite data in ${source} is at schema version ${version}; this version of runbook-bot imports version 9 ` +
          '(start the previous release once to bring it there)',
      );
    await store.transaction(async (tx) => {
      for (const table of TABLES) {
        const columns = (
          await pglite.query<{ column_name: string }>(
            `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1
             ORDER BY ordinal_position`,
            [table],
          )
        ).rows.map((row) => row.column_name);
        const result = await pglite.query<Record<string, unknown>>(`SELECT * FROM ${table}`);
        const placeholders = columns.map((_, i) => `$${i + 1}`).join(', ');
        const insert = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${placeholders})`;
        for (const row of result.rows) {
          // jsonb arrives parsed; the SQLite dialect binds objects as JSON text, Dates as milliseconds.
          await tx.query(
            insert,
            columns.map((column) => row[column]),
          );
        }
        rows += result.rows.length;
      }
    });
  } finally {
    await pglite.close();
  }
  const keptAt = `${source}-imported-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(source, keptAt);
  logger?.info({ event: 'store.pglite_imported', tables: TABLES.length, rows, keptAt });
  return { tables: TABLES.length, rows, keptAt };
}
