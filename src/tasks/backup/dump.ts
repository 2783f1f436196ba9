// The database part of a backup: pg_dump -Fc, piped into gpg when encrypted (as the runbooks do), streamed into one S3 object, then verified and recorded.
// pg_dump's output goes to gpg directly, never through this process; only the ciphertext is read here, a part at a time.
import type { Readable } from 'node:stream';
import { stallGuard, type DeadlineOptions } from '../../deadline.ts';
import type { Logger } from '../../log.ts';
import { loadRecipientKey, startEncryption } from './encrypt.ts';
import type { BackupDeps, BackupObject, BackupRequest, BackupSettings } from './model.ts';
import { finalizeObject, uploadObject } from './object.ts';
import { describeDatabase, pgToolVersion, startPgTool } from './pg-tools.ts';

const DEFAULT_PG_TOOL_STALL_MS = 120_000;

export async function backUpDatabase(
  deps: BackupDeps,
  request: BackupRequest,
  settings: BackupSettings,
  key: string,
  signal: AbortSignal,
  log: Logger,
): Promise<BackupObject> {
  const url = request.env[settings.databaseUrlEnv];
  if (!url) throw new Error(`the environment variable ${settings.databaseUrlEnv} (backup.databaseUrlEnv) is not set`);
  const started = deps.clock.now();
  const pgDump = request.pgDumpPath ?? 'pg_dump';
  if (signal.aborted) throw signal.reason;
  // The key first (gpg checks it in milliseconds): a key that cannot encrypt starts nothing.
  const recipient = settings.encryption ? await loadRecipientKey(settings.encryption, request.env) : undefined;
  // What the manifest records about the database is read while pg_dump connects and reads the catalog.
  const describing = Promise.all([describeDatabase(url), pgToolVersion(pgDump)]);
  describing.catch(() => undefined);
  const dump = startPgTool({
    command: pgDump,
    args: ['--format=custom', '--no-password'],
    databaseUrl: url,
    pipe: 'stdout',
    env: request.env,
  });
  const encryption = recipient ? startEncryption(recipient, dump.stdout!, request.env) : undefined;
  // gpg holds the pipe now. Our own end is closed, so that pg_dump sees a broken pipe, not a wait, if gpg dies.
  if (encryption) dump.stdout!.destroy();
  log.info({ event: 'backup.pg_dump_started', pid: dump.child.pid, gpg: encryption?.child.pid, key });
  const stop = () => {
    dump.stop();
    encryption?.stop();
  };
  // The object is committed only once both exited 0. gpg's failure comes first: pg_dump then only saw a broken pipe.
  // A database that cannot be read fails pg_dump too; the description's error says it more plainly.
  const succeeded = Promise.allSettled([encryption?.exited, dump.exited, describing]).then(([gpg, dumped, described]) => {
    if (gpg.status === 'rejected') throw gpg.reason;
    if (dumped.status === 'rejected') throw described.status === 'rejected' ? described.reason : dumped.reason;
  });
  succeeded.catch(() => undefined);
  const database = new URL(url).pathname.slice(1) || 'the database';
  const source = untilStalled(encryption?.stdout ?? dump.stdout!, {
    dependency: 'pg_dump',
    doing: `dumping ${database}`,
    limitMs: request.pgToolStallMs ?? DEFAULT_PG_TOOL_STALL_MS,
    setting: 'timeouts.pgToolStall',
  });
  try {
    const uploaded = await uploadObject(deps, request, settings, { kind: 'database', key, recipient, started, signal }, source, {
      succeeded,
      stop,
    });
    log.debug({ event: 'backup.uploaded', key, bytes: uploaded.sizeBytes, parts: uploaded.parts });
    const [described, pgDumpVersion] = await describing;
    return await finalizeObject(deps, request, settings, uploaded, signal, {
      kind: 'database',
      started,
      recipient,
      extraMetadata: {
        database: described.name,
        'pg-version': described.serverVersion,
        'pg-dump-version': pgDumpVersion ?? 'unknown',
        format: 'pg_dump-custom',
      },
      database: described,
      pgDumpVersion: pgDumpVersion ?? null,
    });
  } finally {
    // Whatever happened, neither pg_dump nor gpg outlives its backup.
    stop();
    await Promise.all([dump.exited.catch(() => undefined), encryption?.exited.catch(() => undefined)]);
  }
}

/**
 * The producer's bytes; the stream fails with a DeadlineError when none arrive for the limit while we wait for them.
 * Time spent uploading (S3 holding us up) does not count: that is S3's stall limit, not pg_dump's.
 */
async function* untilStalled(source: Readable, options: DeadlineOptions): AsyncGenerator<Uint8Array> {
  const guard = stallGuard(options);
  const onStall = () => source.destroy(guard.signal.reason as Error);
  guard.signal.addEventListener('abort', onStall, { once: true });
  const iterator: AsyncIterator<Uint8Array> = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      guard.touch();
      const next = await iterator.next();
      guard.dispose();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    guard.dispose();
    guard.signal.removeEventListener('abort', onStall);
  }
}
