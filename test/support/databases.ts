// Per-test isolation on the shared test servers: a fresh PostgreSQL database, a Redis key prefix of your own.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  /** postgres:// URL of the new, empty database. */
  url: string;
  /** Ends whatever is still connected to it and drops it. Safe to call twice. */
  drop(): Promise<void>;
}

/** A new, empty database on the run's PostgreSQL (see global-setup.ts), so tests never see each other's rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = inject('databaseUrl');
  const name = `rb_test_${randomBytes(6).toString('hex')}`;
  await onServer(serverUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop() {
      // WITH (FORCE) (PostgreSQL 13+) terminates the database's connections in the same statement, so a pool
      // reconnecting in between cannot make the drop fail.
      dropping ??= onServer(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      return dropping;
    },
  };
}

async function onServer(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The run's Redis (see global-setup.ts), and a key prefix no other call returns: put every key you use under it. */
export function redisUrlForTest(): { url: string; keyPrefix: string } {
  return { url: inject('redisUrl'), keyPrefix: `rb_test_${randomBytes(6).toString('hex')}:` };
}
