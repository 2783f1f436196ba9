// The database part of a backup: pg_dump -Fc, piped into gpg when encrypted (as the runbooks do), streamed into one S3 object, then verified and recorded.
// pg_dump's output goes to gpg directly, never through this process; only the ciphertext is read here, straight into the part being filled.
import { stallGuard, type DeadlineOptions, type StallGuard } from '../../deadline.ts';
import type { Logger } from '../../log.ts';
import type { ByteReader } from './byte-reader.ts';
import { openChildOutput } from './child-output.ts';
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
  // What we upload (the ciphertext, or the dump itself) comes on a socket read into one reused buffer: see child-output.ts.
  const output = await openChildOutput();
  let dump: ReturnType<typeof startPgTool>;
  let encryption: ReturnType<typeof startEncryption> | undefined;
  try {
    dump = startPgTool({
      command: pgDump,
      args: ['--format=custom', '--no-password'],
      databaseUrl: url,
      pipe: 'stdout',
      ...(recipient ? {} : { stdout: output.childEnd }),
      env: request.env,
    });
    encryption = recipient ? startEncryption(recipient, dump.stdout!, request.env, output.childEnd) : undefined;
  } catch (error) {
    output.close();
    throw error;
  }
  // The children hold their ends now. Ours are closed: pg_dump sees a broken pipe, not a wait, if gpg dies, and the
  // reader sees the end of the data once the child writing it exits.
  output.handedOver();
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
  const source = untilStalled(output.reader, {
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
    output.close();
    await Promise.all([dump.exited.catch(() => undefined), encryption?.exited.catch(() => undefined)]);
  }
}

/**
 * The producer's bytes; a read fails with a DeadlineError when none arrive for the limit while we wait for them.
 * Time spent uploading (S3 holding us up) does not count: that is S3's stall limit, not pg_dump's.
 */
function untilStalled(source: ByteReader, options: DeadlineOptions): ByteReader {
  let guard: StallGuard | undefined;
  return {
    async read(into) {
      if (guard) guard.touch();
      else {
        const created = stallGuard(options);
        created.signal.addEventListener('abort', () => source.cancel(created.signal.reason as Error), { once: true });
        guard = created;
      }
      try {
        return await source.read(into);
      } finally {
        guard.dispose();
      }
    },
    cancel: (reason) => source.cancel(reason),
  };
}
