// One store interface over two dialects: PostgreSQL (pg) for replicas, embedded SQLite (node:sqlite) for one small process.
//
// Store modules write one SQL text per statement in PostgreSQL's spelling with $1-style parameters; the SQLite
// dialect takes the same text with three mechanical rewrites (parameters, casts, row locks; see sqlite.ts). What
// the two engines do differently on purpose (advisory locks, arrays, array_agg) is spelled per dialect in the
// store module that needs it. Values come back alike: numbers for counts, Dates for times, parsed JSON.
import { resolve } from 'node:path';
import type { OpenStoreOptions, Store } from './types.ts';

export type { Dialect, OpenStoreOptions, QueryResult, Queryable, Row, Store, Transaction } from './types.ts';

/**
 * Lets the event loop read what arrived (Slack's requests above all) between the parts of a large write. On the
 * embedded store a statement runs synchronously, so a transaction of 500 audit rows held the loop for 35 ms in one go
 * and every ack waiting behind it; on PostgreSQL the statements' round trips yield anyway.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
