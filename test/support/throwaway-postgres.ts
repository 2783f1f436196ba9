// A throwaway PostgreSQL server for tests: initdb into a temp dir, postgres on a free loopback port, all gone on stop().
// The process plumbing below it (scratch dirs, servers tied to this process, port retries) is shared with throwaway-redis.ts.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './ports.ts';

export interface ThrowawayServer {
  url: string;
  /** Stops the server at once (its data is thrown away) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const SETTINGS = ['max_connections=200', 'synchronous_commit=off', 'full_page_writes=off'];

export async function startThrowawayPostgres(): Promise<ThrowawayServer> {
  const bin = findPostgresBinDir();
  // initdb and postgres refuse to run as root ("cannot be run as root"); CI and these machines are root.
  const user = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  const dir = createScratchDir('pg', user);
  const dataDir = join(dir, 'data');
  // SIGQUIT is PostgreSQL's immediate shutdown: no checkpoint, backends killed; the data is thrown away anyway.
  const stopSignal = 'SIGQUIT';
  return serveFromScratchDir({ dir, removeAtExit: () => removeOnceStopped(dir, dataDir), stopSignal }, async () => {
    const initdb = spawnTiedToThisProcess(
      join(bin, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { dir, logName: 'initdb.log', user, signalOnOurDeath: 'SIGTERM' },
    );
    await initdb.exited;
    if (initdb.child.exitCode !== 0) throw new Error(`initdb failed (${initdb.describeExit()}):\n${initdb.output()}`);

    const { port, server } = await startOnFreePort({
      name: 'postgres',
      dir,
      user,
      stopSignal,
      command: (port) => {
        // -h: TCP on loopback only; -k: the unix socket in our dir, not /var/run/postgresql; -F: fsync=off.
        const args = ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-F'];
        return [join(bin, 'postgres'), args.concat(SETTINGS.flatMap((setting) => ['-c', setting]))];
      },
      isReady: (port) => isPostgresWithDataDir(postgresUrl(port), dataDir),
    });
    return { url: postgresUrl(port), server };
  });
}

/**
 * At process exit nothing can be awaited, and the postmaster has only just been sent SIGQUIT: removing its directory
 * while it is still writing there would leave some behind. It deletes postmaster.pid as its last act, so wait for that.
 */
function removeOnceStopped(dir: string, dataDir: string): void {
  const pidFile = join(dataDir, 'postmaster.pid');
  const deadline = Date.now() + 2_000;
  while (existsSync(pidFile) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  rmSync(dir, { recursive: true, force: true });
}

function postgresUrl(port: number): string {
  // sslmode=disable: a PGSSLMODE=require in the environment must not make pg insist on TLS this server lacks.
  return `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`;
}

/** True once the server on the URL accepts queries and is the one using dataDir, not another run's server on the same port. */
async function isPostgresWithDataDir(url: string, dataDir: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>(`SELECT current_setting('data_directory') AS data_directory`);
    return rows[0]?.data_directory === dataDir;
  } catch {
    return false; // refused, or "the database system is starting up"
  } finally {
    await client.end().catch(() => undefined);
  }
}

function findPostgresBinDir(): string {
  const candidates: string[] = [];
  const pgConfig = findExecutable('pg_config');
  if (pgConfig) {
    try {
      candidates.push(execFileSync(pgConfig, ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    } catch {
      // fall through to Debian's layout
    }
  }
  // Debian's pg_config comes with libpq-dev and can name a version whose server is not installed: also try each
  // installed server, newest first.
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((version) => /^\d+(\.\d+)?$/.test(version))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((version) => join(debianRoot, version, 'bin')));
  }
  const found = candidates.find((dir) => ['initdb', 'postgres'].every((name) => isExecutableFile(join(dir, name))));
  if (found) return found;
  throw new Error(
    `PostgreSQL server binaries (initdb, postgres) not found${candidates.length ? ` in ${candidates.join(', ')}` : ''}. ` +
      'Install the Debian package `postgresql` (apt-get install postgresql, or scripts/install-system-deps.sh), ' +
      'or set DATABASE_URL to a server the tests may create databases on.',
  );
}

// ---- Process plumbing, shared with throwaway-redis.ts ----

/** The unprivileged system user a server runs as when we are root. */
export interface ServerUser {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
}

export function systemUser(name: string): ServerUser {
  const id = (flag: string) => execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return { name, uid: Number(id('-u')), gid: Number(id('-g')), groups: id('-G').split(/\s+/).map(Number) };
  } catch {
    throw new Error(
      `Running as root, so the server must run as the \`${name}\` system user, and there is none. ` +
        `Install the Debian package \`postgresql\` (it creates that user), run the tests as a non-root user, or set DATABASE_URL.`,
    );
  }
}

export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

const SCRATCH_PREFIX = 'rb-test-';
// Leaves room for "/rb-test-pg-<pid>-XXXXXX/.s.PGSQL.<port>" within the 107-byte limit on unix socket paths.
const MAX_SCRATCH_BASE_LENGTH = 60;

/**
 * A new directory named after this process, owned by `user` when given. Directories left by runs that were
 * killed (their process is gone) are removed first.
 */
export function createScratchDir(kind: string, user?: ServerUser): string {
  const bases = [tmpdir(), '/tmp'];
  const base = bases.find((dir) => dir.length <= MAX_SCRATCH_BASE_LENGTH && (!user || isTraversableBy(dir, user)));
  if (!base) {
    throw new Error(
      `No temp dir to put a throwaway server in: tried ${bases.join(', ')} (each must be at most ${MAX_SCRATCH_BASE_LENGTH} ` +
        `characters${user ? ` and it and its parents searchable by the \`${user.name}\` user` : ''}). Set TMPDIR to one that is.`,
    );
  }
  removeAbandonedScratchDirs(base);
  const dir = mkdtempSync(join(base, `${SCRATCH_PREFIX}${kind}-${process.pid}-`));
  if (user) chownSync(dir, user.uid, user.gid);
  return dir;
}

function isTraversableBy(dir: string, user: ServerUser): boolean {
  try {
    let path = realpathSync(dir);
    for (;;) {
      const { mode, uid, gid } = statSync(path);
      const searchBit = uid === user.uid ? 0o100 : user.groups.includes(gid) ? 0o010 : 0o001;
      if ((mode & searchBit) === 0) return false;
      if (dirname(path) === path) return true;
      path = dirname(path);
    }
  } catch {
    return false;
  }
}

const sweptBases = new Set<string>();

function removeAbandonedScratchDirs(base: string): void {
  if (sweptBases.has(base)) return;
  sweptBases.add(base);
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  for (const entry of entries) {
    const owner = new RegExp(`^${SCRATCH_PREFIX}[a-z]+-(\\d+)-`).exec(entry)?.[1];
    if (owner === undefined || isProcessAlive(Number(owner))) continue;
    // A postmaster that outlived its run notices its lock file is gone within a minute and shuts down.
    try {
      rmSync(join(base, entry), { recursive: true, force: true });
    } catch {
      // someone else's: not ours to remove
    }
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const exitCleanups = new Set<() => void>();

/** Runs `cleanup` (synchronously) if this process exits before the returned function is called. */
export function cleanUpAtExit(cleanup: () => void): () => void {
  if (exitCleanups.size === 0) process.once('exit', runExitCleanups);
  exitCleanups.add(cleanup);
  return () => {
    exitCleanups.delete(cleanup);
    if (exitCleanups.size === 0) process.off('exit', runExitCleanups);
  };
}

function runExitCleanups(): void {
  // Last registered first: a server is stopped before its directory is removed.
  for (const cleanup of [...exitCleanups].reverse()) {
    try {
      cleanup();
    } catch {
      // best effort: the next run removes what is left
    }
  }
}

export interface ServerProcess {
  child: ChildProcess;
  /** Resolves once the process has exited (or failed to start). */
  exited: Promise<void>;
  hasExited(): boolean;
  describeExit(): string;
  /** The end of what it wrote to stdout and stderr. */
  output(): string;
}

/**
 * Spawns a server process that dies with this process, even on SIGKILL: setpriv (util-linux) sets its parent-death
 * signal and, when `user` is given, switches to that user, then execs, so signals reach the server itself
 * (runuser/su would stay in between and turn a SIGQUIT into a SIGTERM followed by a SIGKILL).
 * Output goes to a log file in `dir`, so no pipe can fill up and block the server.
 */
export function spawnTiedToThisProcess(
  command: string,
  args: string[],
  options: { dir: string; logName: string; user: ServerUser | undefined; signalOnOurDeath: NodeJS.Signals },
): ServerProcess {
  const setpriv = findExecutable('setpriv');
  if (options.user && !setpriv) {
    throw new Error(
      `Running as root, so ${command} must run as the \`${options.user.name}\` user, which needs \`setpriv\`: install the Debian package \`util-linux\`.`,
    );
  }
  const argv = setpriv
    ? [
        setpriv,
        ...(options.user ? [`--reuid=${options.user.uid}`, `--regid=${options.user.gid}`, '--init-groups'] : []),
        `--pdeathsig=${options.signalOnOurDeath}`,
        '--',
        command,
        ...args,
      ]
    : [command, ...args];
  const logPath = join(options.dir, options.logName);
  const log = openSync(logPath, 'w');
  let spawnError: Error | undefined;
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { cwd: options.dir, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
  });
  return {
    child,
    exited,
    hasExited: () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null,
    describeExit: () =>
      spawnError
        ? `could not start: ${spawnError.message}`
        : child.signalCode
          ? `killed by ${child.signalCode}`
          : `exit code ${child.exitCode}`,
    output() {
      try {
        return readFileSync(logPath, 'utf8').slice(-4_000);
      } catch {
        return '';
      }
    },
  };
}

/**
 * Starts a server on a port that was free a moment ago. Another process (a parallel test run) can take the port
 * in between; the server then exits with "Address already in use" and we try another port.
 */
export async function startOnFreePort(options: {
  name: string;
  dir: string;
  user: ServerUser | undefined;
  stopSignal: NodeJS.Signals;
  command: (port: number) => [string, string[]];
  /** Must be true only for *this* server, not for whatever else answers on the port. */
  isReady: (port: number, server: ServerProcess) => Promise<boolean>;
  timeoutMs?: number;
}): Promise<{ port: number; server: ServerProcess }> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const [command, args] = options.command(port);
    const server = spawnTiedToThisProcess(command, args, {
      dir: options.dir,
      logName: `${options.name}.log`,
      user: options.user,
      signalOnOurDeath: options.stopSignal,
    });
    const forget = cleanUpAtExit(() => server.child.kill(options.stopSignal));
    void server.exited.then(forget);
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (server.hasExited()) {
          const output = server.output();
          if (/address already in use/i.test(output) && attempt < 5) break;
          throw new Error(`${options.name} exited (${server.describeExit()}) before accepting connections:\n${output}`);
        }
        if (await options.isReady(port, server)) {
          // A running server alone must not keep this process alive: if a test never stops it, it goes with us.
          server.child.unref();
          return { port, server };
        }
        if (Date.now() > deadline) {
          throw new Error(`${options.name} did not accept connections within ${timeoutMs / 1000} s:\n${server.output()}`);
        }
        await sleep(50);
      }
    } catch (error) {
      await stopServer(server, 'SIGKILL');
      throw error;
    }
  }
}

/**
 * Runs `start` to bring up a server living in `dir`. stop() (or a failed start) ends the server and removes `dir`;
 * so does this process's exit, as far as it can.
 */
export async function serveFromScratchDir(
  options: { dir: string; removeAtExit: () => void; stopSignal: NodeJS.Signals },
  start: () => Promise<{ url: string; server: ServerProcess }>,
): Promise<ThrowawayServer> {
  const forgetDir = cleanUpAtExit(options.removeAtExit);
  const removeDir = () => {
    forgetDir();
    rmSync(options.dir, { recursive: true, force: true });
  };
  let started: { url: string; server: ServerProcess };
  try {
    started = await start();
  } catch (error) {
    removeDir();
    throw error;
  }
  const { url, server } = started;
  let stopping: Promise<void> | undefined;
  return {
    url,
    stop() {
      stopping ??= stopServer(server, options.stopSignal).then(removeDir);
      return stopping;
    },
  };
}

/** Sends `signal`, and SIGKILL if the process is still there 10 s later; resolves once it has exited. */
export async function stopServer(server: ServerProcess, signal: NodeJS.Signals): Promise<void> {
  if (server.hasExited()) return;
  server.child.kill(signal);
  const killer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await server.exited;
  clearTimeout(killer);
}
