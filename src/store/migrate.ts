// Applies migrations/<dialect>/NNN_name.sql in order, once, under a lock so replicas can start together.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Dialect, Store } from './db.ts';
import { LOCK_IDS } from './locks.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/**
 * The migrations of one dialect. PostgreSQL keeps its history from 001; SQLite begins at 009 with the schema
 * PostgreSQL had reached by then, and from there on both dialects number each change alike.
 */
export function listMigrations(dialect: Dialect, dir = `${MIGRATIONS_DIR}${dialect}`): Migration[] {
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

export async function migrate(store: Store, migrations = listMigrations(store.dialect)): Promise<MigrationReport> {
  return store.transaction(async (tx) => {
    await tx.lock(LOCK_IDS.migrations);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL
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
      if (store.dialect === 'sqlite') {
        // SQLite runs a whole file (trigger bodies included) in one call, inside this transaction.
        await store.exec(migration.sql);
      } else {
        // Statement by statement: the transaction stays one.
        for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      }
      await tx.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)', [
        migration.version,
        migration.name,
        migration.checksum,
        new Date(),
      ]);
      applied.push(migration);
    }
    return { applied, latest: migrations.at(-1)?.version ?? 0 };
  });
}

/** True when the store answers and every migration this build knows is applied. */
export async function migrationsApplied(store: Store, migrations = listMigrations(store.dialect)): Promise<boolean> {
  const latest = migrations.at(-1)?.version ?? 0;
  const { rows } = await store.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
  return (rows[0]?.version ?? 0) >= latest;
}

/** Splits on semicolons at line ends outside $$-quoted bodies; PostgreSQL migrations are written to keep to that. */
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
