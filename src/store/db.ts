// One store interface over two dialects: PostgreSQL (pg) for replicas, embedded SQLite (node:sqlite) for one small process.
//
// Store modules write one SQL text per statement in PostgreSQL's spelling with $1-style parameters; the SQLite
// dialect takes the same text with three mechanical rewrites (parameters, casts, row locks; see sqlite.ts). What
// the two engines do differently on purpose (advisory locks, arrays, array_agg) is spelled per dialect in the
// store module that needs it. Values come back alike: numbers for counts, Dates for times, parsed JSON.
import { resolve } from 'node:path';
import type { LockId } from './locks.ts';

export type Row = Record<string, unknown>;
export type Dialect = 'postgres' | 'sqlite';

export interface QueryResult<R extends object = Row> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  readonly dialect: Dialect;
  /** One statement, $1-style parameters. Pass objects meant for json columns through JSON.stringify. */
  query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export interface Transaction extends Queryable {
  /**
   * Serialises this transaction against every other holder of the same lock, on every replica, until it ends
   * (pg_advisory_xact_lock). On SQLite a write transaction is already exclusive, so this is a no-op there.
   */
  lock(id: LockId): Promise<void>;
}

export interface Store extends Queryable {
  /** Runs fn in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  /** Pool size for PostgreSQL. */
  maxConnections?: number;
  applicationName?: string;
  /** PostgreSQL: give up connecting after this long. */
  connectTimeoutMs?: number;
  /** PostgreSQL: the server cancels a statement running longer than this (statement_timeout). */
  statementTimeoutMs?: number;
}

/** PostgreSQL when a URL is given; else the embedded SQLite file under dataDir, which one process at a time may open. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.databaseUrl) {
    const { openPostgresStore } = await import('./postgres.ts');
    return openPostgresStore(options.databaseUrl, options);
  }
  const { openSqliteStore } = await import('./sqlite.ts');
  return openSqliteStore(resolve(options.dataDir ?? './data'));
}
