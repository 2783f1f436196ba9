// Applies migrations/NNN_name.sql in order, once, under an advisory lock so replicas can start together.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Store } from './db.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
// Any fixed 64-bit key; it only has to be the same for every replica.
const MIGRATION_LOCK_KEY = 7_246_117_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(`${dir}/${file}`, 'utf8');
      return {
        version: Number(file.slice(0, 3)),
        name: file.slice(4, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

export interface MigrationReport {
  applied: Migration[];
  latest: number;
}

export async function migrate(store: Store, migrations = listMigrations()): Promise<MigrationReport> {
  return store.transaction(async (tx) => {
    // Transaction-scoped: released by COMMIT/ROLLBACK, even if this replica dies mid-way.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    const known = new Map(rows.map((row) => [row.version, row]));
    const applied: Migration[] = [];
    for (const migration of migrations) {
      const done = known.get(migration.version);
      if (done) {
        if (done.checksum !== migration.checksum) {
          throw new Error(
            `migration ${migration.version} (${migration.name}) was changed after it was applied; add a new migration instead`,
          );
        }
        continue;
      }
      // Statement by statement: the transaction stays one, and pg and PGlite both accept single statements.
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      applied.push(migration);
    }
    return { applied, latest: migrations.at(-1)?.version ?? 0 };
  });
}

/** True when the store answers and every migration this build knows is applied. */
export async function migrationsApplied(store: Store, migrations = listMigrations()): Promise<boolean> {
  const latest = migrations.at(-1)?.version ?? 0;
  const { rows } = await store.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
  return (rows[0]?.version ?? 0) >= latest;
}

/** Splits on semicolons at line ends outside $$-quoted bodies; migrations are written to keep to that. */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    if (/^\s*--/.test(line) && current.trim() === '') continue;
    current += `${line}\n`;
    const dollars = line.match(/\$\$/g)?.length ?? 0;
    if (dollars % 2 === 1) inDollar = !inDollar;
    if (!inDollar && /;\s*(--.*)?$/.test(line)) {
      statements.push(current.trim());
      current = '';
    }
  }
  if (current.trim()) statements.push(current.trim());
  return statements;
}
