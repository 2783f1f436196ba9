// The PostgreSQL dialect: a pg pool with deadlines, int8 as numbers, and advisory locks for transactions.
import pg from 'pg';
import { ExternalError } from '../errors.ts';
import { redactString } from '../log.ts';
import type { OpenStoreOptions, Queryable, Store, Transaction } from './types.ts';

// Same value shapes on both dialects: int8 counts as JS numbers.
const INT8_OID = 20;
const typeParsers = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export async function openPostgresStore(url: string, options: OpenStoreOptions): Promise<Store> {
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    application_name: options.applicationName ?? 'runbook-bot',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    // The server cancels a statement past its limit; the client gives up a little later if even that answer is lost.
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 5_000,
    // A transaction left open by a stalled replica must not hold its row locks forever.
    idle_in_transaction_session_timeout: statementTimeoutMs * 2,
    types: typeParsers,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const wrap = (client: pg.Pool | pg.PoolClient): Queryable => ({
    dialect: 'postgres',
    async query<R extends object>(sql: string, params?: readonly unknown[]) {
      const result = await client.query(sql, params as unknown[] | undefined);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
  });
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new ExternalError('PostgreSQL', `cannot connect to DATABASE_URL: ${redactString((error as Error).message)}`, {
      code: 'store_unreachable',
      cause: error,
    });
  }
  return {
    ...wrap(pool),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Transaction = {
          ...wrap(client),
          async lock(id) {
            // Transaction-scoped: released by COMMIT/ROLLBACK, even if this replica dies mid-way.
            await client.query('SELECT pg_advisory_xact_lock($1)', [id]);
          },
        };
        const value = await fn(tx);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    async close() {
      await pool.end();
    },
  };
}
