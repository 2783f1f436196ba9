// The embedded dialect: one SQLite file (node:sqlite, built into Node) for one small process.
//
// Why SQLite and node:sqlite: see the README ("Storage"). Statements run synchronously and take microseconds; what
// takes milliseconds, making a commit durable, does not hold the event loop: the WAL is written with synchronous=NORMAL
// and fsynced off the main thread, and a write resolves only once that fsync is done (one fsync for the writes of the
// same moment, like PostgreSQL's group commit), unless its caller asks only for the WAL (QueryOptions.durable). An
// async mutex keeps other callers out while a transaction is open (one connection), and AsyncLocalStorage lets code
// inside the transaction use the store directly. The same SQL text as PostgreSQL is accepted after three mechanical
// rewrites: $1 → ?1, `::type` casts dropped, `FOR UPDATE [OF t] SKIP LOCKED` dropped (a SQLite write transaction
// is exclusive, so a row lock has nothing to add). Times are stored as epoch milliseconds and come back as Dates,
// booleans as 0/1 and come back as booleans, JSON as text and comes back parsed: by each column's declared type
// (timestamptz, boolean, jsonb), or for computed columns by the name (…_at, …_until are times).
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ExternalError } from '../errors.ts';
import type { QueryOptions, QueryResult, Row, Store, Transaction } from './types.ts';

export const SQLITE_FILE = 'runbook-bot.sqlite';
const PID_FILE = 'runbook-bot.pid';
const STATEMENT_CACHE = 300;

type Convert = (value: unknown) => unknown;

interface Prepared {
  statement: StatementSync;
  returnsRows: boolean;
  /** Changes the database (so its promise waits for the WAL to reach the disk). */
  writes: boolean;
  converters: Array<[string, Convert]>;
}

const toDate: Convert = (value) => (value === null || value === undefined ? null : new Date(Number(value)));
const toBoolean: Convert = (value) => (value === null || value === undefined ? null : Number(value) !== 0);
const toJson: Convert = (value) => (typeof value === 'string' ? JSON.parse(value) : value);

function converterFor(name: string, declared: string | null): Convert | undefined {
  const type = declared?.toLowerCase();
  if (type === 'timestamptz') return toDate;
  if (type === 'boolean') return toBoolean;
  if (type === 'jsonb' || type === 'json') return toJson;
  if (type === undefined && /(_at|_until)$/.test(name)) return toDate;
  return undefined;
}

/** PostgreSQL's spelling → SQLite's, for the few differences that are only spelling. */
export function toSqliteSql(sql: string): string {
  return sql
    .replace(/\$(\d+)/g, '?$1')
    .replace(/::[a-z_0-9]+(\[\])?/gi, '')
    .replace(/\bFOR\s+UPDATE(\s+OF\s+\w+)?(\s+SKIP\s+LOCKED)?/gi, '');
}

function bind(value: unknown): string | number | bigint | null | Uint8Array {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'bigint') return value;
  if (value instanceof Uint8Array) return value;
  return JSON.stringify(value);
}

export async function openSqliteStore(dir: string): Promise<Store> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, SQLITE_FILE);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
    db.exec('PRAGMA busy_timeout = 0');
    // One process per data folder: the first write takes the file's lock and keeps it until the process ends
    // (the operating system releases it if the process dies), so a second process is refused here.
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('BEGIN IMMEDIATE; COMMIT');
  } catch (error) {
    throw inUseError(dir, error);
  }
  // NORMAL: a commit writes the WAL without waiting for the disk; durable() below does that off the main thread.
  db.exec('PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8000');
  writeFileSync(join(dir, PID_FILE), `${process.pid}\n`);

  const cache = new Map<string, Prepared>();
  const prepare = (sql: string): Prepared => {
    let prepared = cache.get(sql);
    if (prepared) {
      // Most recently used last, so the oldest is evicted first.
      cache.delete(sql);
      cache.set(sql, prepared);
      return prepared;
    }
    const statement = db.prepare(toSqliteSql(sql));
    const columns = statement.columns();
    prepared = {
      statement,
      returnsRows: columns.length > 0,
      writes: !/^\s*(SELECT|WITH)\b/i.test(sql) || /\b(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql),
      converters: columns.flatMap((column) => {
        const convert = converterFor(column.name, column.type);
        return convert ? [[column.name, convert] as [string, Convert]] : [];
      }),
    };
    cache.set(sql, prepared);
    if (cache.size > STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
    return prepared;
  };

  // Everything committed so far reaches the disk: an fsync of the WAL on libuv's thread pool. Callers that arrive
  // while one is in flight share the next one (their commits may have missed the one in flight).
  const walPath = `${path}-wal`;
  let wal: Promise<FileHandle | undefined> | undefined;
  let syncing: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const syncWal = async (): Promise<void> => {
    wal ??= open(walPath, 'r').catch((error: NodeJS.ErrnoException) => {
      wal = undefined;
      if (error.code === 'ENOENT') return undefined; // nothing written yet
      throw error;
    });
    await (await wal)?.sync();
  };
  const durable = (): Promise<void> => {
    if (!syncing) {
      syncing = syncWal().finally(() => (syncing = undefined));
      return syncing;
    }
    queued ??= syncing
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return durable();
      });
    return queued;
  };

  const run = <R extends object>(sql: string, params: readonly unknown[] = []): QueryResult<R> & { writes: boolean } => {
    const { statement, returnsRows, converters, writes } = prepare(sql);
    const values = params.map(bind);
    if (!returnsRows) return { rows: [], rowCount: Number(statement.run(...values).changes), writes };
    const rows = statement.all(...values) as Row[];
    for (const row of rows) for (const [name, convert] of converters) row[name] = convert(row[name]);
    return { rows: rows as R[], rowCount: rows.length, writes };
  };

  // One connection: while a transaction is open, everyone else waits their turn; inside it, calls run directly.
  const inTransaction = new AsyncLocalStorage<true>();
  let turn: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T> | T): Promise<T> => {
    const next = turn.then(work);
    turn = next.catch(() => undefined);
    return next;
  };
  const direct = <T>(work: () => T): Promise<T> => {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error as Error);
    }
  };
  const schedule = <T>(work: () => T): Promise<T> => (inTransaction.getStore() ? direct(work) : exclusive(work));

  let closed = false;
  const store: Store = {
    dialect: 'sqlite',
    async query<R extends object>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>> {
      const { rows, rowCount, writes } = await schedule(() => run<R>(sql, params));
      // Outside a transaction a write commits at once: it is done when it is on disk (unless the caller needs it only
      // in the WAL). Inside one, the commit waits.
      if (writes && !inTransaction.getStore() && options?.durable !== false) await durable();
      return { rows, rowCount };
    },
    transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
      const tx: Transaction = { dialect: 'sqlite', query: store.query, lock: async () => undefined };
      // A transaction begun inside another one joins it (one connection cannot nest BEGIN).
      if (inTransaction.getStore()) return fn(tx);
      const committed = exclusive(() =>
        inTransaction.run(true, async () => {
          db.exec('BEGIN IMMEDIATE');
          try {
            const value = await fn(tx);
            db.exec('COMMIT');
            return value;
          } catch (error) {
            if (db.isTransaction) db.exec('ROLLBACK');
            throw error;
          }
        }),
      );
      // The next transaction need not wait for this one's fsync: only its caller does.
      return committed.then(async (value) => {
        await durable();
        return value;
      });
    },
    async exec(sql) {
      await schedule(() => db.exec(sql));
      if (!inTransaction.getStore()) await durable();
    },
    async close() {
      if (closed) return;
      closed = true;
      await exclusive(async () => {
        await (queued ?? syncing)?.catch(() => undefined);
        await (await wal?.catch(() => undefined))?.close();
        cache.clear();
        db.close();
        rmSync(join(dir, PID_FILE), { force: true });
      });
    },
  };
  return store;
}

function inUseError(dir: string, error: unknown): ExternalError {
  const message = (error as Error).message ?? String(error);
  if (!/locked|busy/i.test(message))
    return new ExternalError('SQLite', `cannot open the embedded store in ${dir}: ${message}`, {
      code: 'store_unreachable',
      cause: error,
    });
  let holder = '';
  try {
    holder = ` (process ${readFileSync(join(dir, PID_FILE), 'utf8').trim()})`;
  } catch {
    // No pid file: the other process is starting or is not a runbook-bot.
  }
  return new ExternalError(
    'SQLite',
    `the embedded store in ${dir} is in use by another process${holder}. It serves one process: stop the other one, ` +
      'give this one its own DATA_DIR, or set DATABASE_URL (PostgreSQL) to run several processes or replicas.',
    { code: 'store_unreachable', cause: error },
  );
}
