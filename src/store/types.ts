// The store's interface, which both dialects implement and every store module writes against (db.ts opens one; see
// there for how the two dialects differ).
import type { LockId } from './locks.ts';

export type Row = Record<string, unknown>;
export type Dialect = 'postgres' | 'sqlite';

export interface QueryResult<R extends object = Row> {
  rows: R[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * false: on SQLite, a write outside a transaction resolves once it has run and is in the WAL (where it survives
   * the process ending), without waiting for the WAL to reach the disk (where it survives the machine ending). For
   * rows whose loss in a power cut costs nothing, written where someone waits for them. PostgreSQL commits as it is
   * configured either way.
   */
  durable?: boolean;
}

export interface Queryable {
  readonly dialect: Dialect;
  /** One statement, $1-style parameters. Pass objects meant for json columns through JSON.stringify. */
  query<R extends object = Row>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
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
