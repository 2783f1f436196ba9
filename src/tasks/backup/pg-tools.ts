// pg_dump and pg_restore as child processes (password in the environment, never on the command line), and what a database is (version, size).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import pg from 'pg';
import { ExternalError, errorMessage } from '../../errors.ts';
import { redactString } from '../../log.ts';

export interface PgToolProcess {
  child: ChildProcess;
  /** pg_dump's output (pg_dump), or null. */
  stdout: Readable | null;
  /** pg_restore's input (pg_restore), or null. */
  stdin: Writable | null;
  /**
   * Settles once the process has exited: resolves for exit code 0, rejects with the exact reason otherwise
   * (exit code or signal, and the last lines it wrote to stderr). Never rejects unobserved.
   */
  exited: Promise<void>;
  /** Ends the process (SIGTERM, then SIGKILL after a grace period); the exit is still reported through `exited`. */
  stop(): void;
}

export interface PgToolOptions {
  /** The tool's path; default its name, found on PATH. */
  command: string;
  args: string[];
  /** postgres:// URL; its password goes to PGPASSWORD, the rest to --dbname. */
  databaseUrl: string;
  /** Which end is a pipe: pg_dump writes to us, pg_restore reads from us. */
  pipe: 'stdout' | 'stdin';
  env?: Record<string, string | undefined>;
}

const STDERR_TAIL = 4_000;
const KILL_GRACE_MS = 5_000;

export function startPgTool(options: PgToolOptions): PgToolProcess {
  const { url, password } = splitPassword(options.databaseUrl);
  const name = options.command.split('/').pop() ?? options.command;
  const child = spawn(options.command, [...options.args, `--dbname=${url}`], {
    stdio: [options.pipe === 'stdin' ? 'pipe' : 'ignore', options.pipe === 'stdout' ? 'pipe' : 'ignore', 'pipe'],
    env: {
      ...process.env,
      ...options.env,
      ...(password === undefined ? {} : { PGPASSWORD: password }),
      // Never wait on a terminal for a password nobody will type.
      PGCONNECT_TIMEOUT: options.env?.PGCONNECT_TIMEOUT ?? '15',
    },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL);
  });
  let killTimer: NodeJS.Timeout | undefined;
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new ExternalError(
          name,
          error.code === 'ENOENT'
            ? `cannot run ${options.command}: not found (install the PostgreSQL client, e.g. the Debian package postgresql-client)`
            : `cannot run ${options.command}: ${error.message}`,
          { code: 'pg_tool_failed', cause: error },
        ),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      if (code === 0) return resolve();
      const said = lastLines(redactString(stderr));
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(new ExternalError(name, `${how}${said ? `: ${said}` : ''}`, { code: 'pg_tool_failed' }));
    });
  });
  exited.catch(() => undefined);
  return {
    child,
    stdout: child.stdout,
    stdin: child.stdin,
    exited,
    stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
      // Unread output would keep 'close' from firing.
      child.stdout?.destroy();
      child.stdin?.destroy();
    },
  };
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

function lastLines(text: string): string {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.trim())
    .slice(-3)
    .join(' / ');
}
