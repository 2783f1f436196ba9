// pg_dump and pg_restore as child processes (password in the environment, never on the command line), and what a database is (version, size).
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import pg from 'pg';
import { ExternalError, errorMessage } from '../../errors.ts';
import { redactString } from '../../log.ts';
import { startTool, type ToolProcess } from './child-tool.ts';

export type PgToolProcess = ToolProcess;

export interface PgToolOptions {
  /** The tool's path; default its name, found on PATH. */
  command: string;
  args: string[];
  /** postgres:// URL; its password goes to PGPASSWORD, the rest to --dbname. */
  databaseUrl: string;
  /** Which end is a pipe: pg_dump writes to us, pg_restore reads from us. */
  pipe: 'stdout' | 'stdin';
  /** With pipe 'stdout': the socket the tool writes to, instead of a pipe to this process. */
  stdout?: Socket;
  env?: Readonly<Record<string, string | undefined>>;
}

export function startPgTool(options: PgToolOptions): PgToolProcess {
  const { url, password } = splitPassword(options.databaseUrl);
  return startTool({
    command: options.command,
    args: [...options.args, `--dbname=${url}`],
    stdin: options.pipe === 'stdin' ? 'pipe' : 'ignore',
    stdout: options.pipe === 'stdout' ? (options.stdout ?? 'pipe') : 'ignore',
    env: {
      ...process.env,
      ...options.env,
      ...(password === undefined ? {} : { PGPASSWORD: password }),
      // Never wait on a terminal for a password nobody will type.
      PGCONNECT_TIMEOUT: options.env?.PGCONNECT_TIMEOUT ?? '15',
    },
    code: 'pg_tool_failed',
    install: 'install the PostgreSQL client, e.g. the Debian package postgresql-client',
  });
}

/** "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)" → "15.20"; undefined when it cannot be run. */
export async function pgToolVersion(command: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(command, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => (out += text));
    child.once('error', () => resolve(undefined));
    child.once('close', () => resolve(/\(PostgreSQL\)\s+(\S+)/.exec(out)?.[1] ?? (out.trim() || undefined)));
  });
}

export interface DatabaseInfo {
  name: string;
  /** host:port, for people. */
  host: string;
  serverVersion: string;
  sizeBytes: number;
}

/** Name, server version and current size of the database at the URL. */
export async function describeDatabase(databaseUrl: string, timeoutMs = 10_000): Promise<DatabaseInfo> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => undefined);
  const url = new URL(databaseUrl);
  const host = `${url.hostname || 'localhost'}:${url.port || '5432'}`;
  try {
    await client.connect();
    const { rows } = await client.query<{ name: string; version: string; size: string }>(
      `SELECT current_database() AS name, current_setting('server_version') AS version, pg_database_size(current_database())::text AS size`,
    );
    const row = rows[0]!;
    // "15.20 (Debian 15.20-0+deb12u1)" → "15.20".
    return { name: row.name, host, serverVersion: row.version.split(' ')[0]!, sizeBytes: Number(row.size) };
  } catch (error) {
    throw new ExternalError('PostgreSQL', `cannot read the database at ${host}: ${redactString(errorMessage(error))}`, {
      code: 'database_unreachable',
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL without its password, and the password (percent-decoded), so the password can travel in PGPASSWORD. */
export function splitPassword(databaseUrl: string): { url: string; password: string | undefined } {
  const url = new URL(databaseUrl);
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.password = '';
  return { url: url.toString(), password };
}
