// A database for one benchmark run: on DATABASE_URL's server when given, else on a throwaway PostgreSQL.
import pg from 'pg';
import { startThrowawayPostgres } from '../test/support/throwaway-postgres.ts';

export interface ScratchDatabase {
  url: string;
  /** Drops the database and stops the throwaway server, if one was started. */
  drop(): Promise<void>;
}

export async function scratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const server = process.env.DATABASE_URL ? undefined : await startThrowawayPostgres();
  const serverUrl = process.env.DATABASE_URL ?? server!.url;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const name = `${prefix}_${Date.now()}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
      await server?.stop();
    },
  };
}
