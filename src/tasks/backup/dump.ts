// The database part of a backup: pg_dump -Fc streamed (optionally encrypted) into one S3 object, then verified and recorded.
import type { Logger } from '../../log.ts';
import { encryptStream, loadRecipientKey } from './encrypt.ts';
import type { BackupDeps, BackupObject, BackupRequest, BackupSettings } from './model.ts';
import { finalizeObject, uploadObject } from './object.ts';
import { describeDatabase, pgToolVersion, startPgTool } from './pg-tools.ts';

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
  // pg_dump starts at once (it takes a while to connect and read the catalog); the key, and what the manifest
  // records about the database, are read meanwhile.
  const describing = Promise.all([describeDatabase(url), pgToolVersion(pgDump)]);
  describing.catch(() => undefined);
  const dump = startPgTool({
    command: pgDump,
    args: ['--format=custom', '--no-password'],
    databaseUrl: url,
    pipe: 'stdout',
    env: request.env,
  });
  log.info({ event: 'backup.pg_dump_started', pid: dump.child.pid, key });
  // A database that cannot be read fails pg_dump too; the description's error says it more plainly.
  const dumped = dump.exited.then(
    async () => void (await describing),
    async (error: unknown) => {
      await describing;
      throw error;
    },
  );
  dumped.catch(() => undefined);
  try {
    const recipient = settings.encryption ? await loadRecipientKey(settings.encryption, request.env, started) : undefined;
    const source = recipient ? await encryptStream(dump.stdout!, recipient) : dump.stdout!;
    const uploaded = await uploadObject(deps, request, settings, { kind: 'database', key, recipient, started, signal }, source, {
      succeeded: dumped,
      stop: () => dump.stop(),
    });
    log.debug({ event: 'backup.uploaded', key, bytes: uploaded.sizeBytes, parts: uploaded.parts });
    const [database, pgDumpVersion] = await describing;
    return await finalizeObject(deps, request, settings, uploaded, signal, {
      kind: 'database',
      started,
      recipient,
      extraMetadata: {
        database: database.name,
        'pg-version': database.serverVersion,
        'pg-dump-version': pgDumpVersion ?? 'unknown',
        format: 'pg_dump-custom',
      },
      database,
      pgDumpVersion: pgDumpVersion ?? null,
    });
  } finally {
    // Whatever happened, no pg_dump outlives its backup.
    dump.stop();
    await dump.exited.catch(() => undefined);
  }
}
