// `runbook-bot backup <service> [kind]` and `runbook-bot backup verify <service>`: the bot's backup and restore test, printed for a terminal.
import { userInfo } from 'node:os';
import { systemClock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { requireService } from '../handlers/listener.ts';
import { InFlight } from '../inflight.ts';
import { createLogger } from '../log.ts';
import { formatBytes } from '../config/units.ts';
import { appendAudit } from '../store/audit.ts';
import { openMigratedStore, storeOptions } from '../store/open.ts';
import { backupProgressText } from '../slack/backup-blocks.ts';
import { BACKUP_KINDS, type BackupRequestKind } from '../tasks/backup/model.ts';
import { backup, restoreTest, type BackupRuntime } from '../tasks/backup/use-cases.ts';
import type { CliCommand } from './command.ts';

const BACKUP_USAGE = 'runbook-bot backup <service> [database|config|full]';
const VERIFY_USAGE = 'runbook-bot backup verify <service>';

export const backupCommands: Record<string, CliCommand> = {
  backup: {
    usage: BACKUP_USAGE,
    summary: 'pg_dump -Fc and/or the namespace streamed to S3, verified and recorded, then retention (exit 1 when it fails)',
    async run(args, config, io) {
      const [serviceName, kind = 'database', ...extra] = args;
      if (extra.length > 0 || !BACKUP_KINDS.includes(kind as BackupRequestKind))
        throw new UserError(`\`${kind}\` is not a backup kind\nUsage: ${BACKUP_USAGE}`);
      const [name, service] = requireService(config, serviceName, `Usage: ${BACKUP_USAGE}`);
      if (!service.backup) throw new UserError(`${name} has no backup section in the config`);
      return withRuntime(config, async (runtime, actor) => {
        const stop = interruptOnSignal();
        try {
          await appendAudit(
            runtime.store,
            { actor, action: 'command', target: name, params: { command: 'backup', kind }, result: 'running' },
            runtime.clock.now(),
          );
          const result = await backup(runtime, name, service, {
            kind: kind as BackupRequestKind,
            trigger: 'cli',
            requestedBy: actor,
            signal: stop.signal,
            onProgress: (progress) => io.out(backupProgressText(progress)),
          });
          for (const object of result.objects) {
            io.out(`verified s3://${object.bucket}/${object.key}: ${formatBytes(object.sizeBytes)}, sha256 ${object.sha256}`);
            io.out(`  manifest s3://${object.bucket}/${object.manifestKey}`);
          }
          for (const retention of result.retention)
            for (const key of retention.deleted) io.out(`retention deleted s3://${service.backup!.bucket}/${key}`);
          for (const note of result.notes) io.out(`note: ${note}`);
          for (const failure of result.failures) io.err(`FAILED ${failure.kind}: ${failure.reason}`);
          await appendAudit(
            runtime.store,
            {
              actor,
              action: 'task.outcome',
              target: name,
              params: { command: 'backup', kind, keys: result.objects.map((object) => object.key) },
              result: result.ok ? 'ok' : `failed: ${result.failures.map((failure) => failure.reason).join('; ')}`,
            },
            runtime.clock.now(),
          );
          return result.ok ? 0 : 1;
        } finally {
          stop.dispose();
        }
      });
    },
  },
  'backup verify': {
    usage: VERIFY_USAGE,
    summary: 'restore the newest verified backup into a scratch database, count rows, drop it (exit 1 when it fails)',
    async run(args, config, io) {
      if (args.length !== 1) throw new UserError(`Usage: ${VERIFY_USAGE}`);
      const [name, service] = requireService(config, args[0], `Usage: ${VERIFY_USAGE}`);
      return withRuntime(config, async (runtime) => {
        const result = await restoreTest(runtime, name, service);
        if (result.backup)
          io.out(`backup s3://${result.backup.bucket}/${result.backup.key} (${formatBytes(result.backup.sizeBytes)})`);
        if (result.downloadedSha256)
          io.out(
            `sha256 ${result.downloadedSha256} ${result.downloadedSha256 === result.backup?.sha256 ? 'matches' : 'DOES NOT MATCH'}`,
          );
        for (const table of result.tables) io.out(`${table.table}: ${table.rows} rows`);
        for (const note of result.notes) io.out(`note: ${note}`);
        if (!result.ok) {
          io.err(`FAILED: ${result.reason}`);
          return 1;
        }
        io.out(
          `restore test passed in ${Math.round(result.durationMs / 1000)}s (scratch database ${result.scratchDatabase} dropped)`,
        );
        return 0;
      });
    },
  },
};

async function withRuntime(config: Config, fn: (runtime: BackupRuntime, actor: string) => Promise<number>): Promise<number> {
  const { store } = await openMigratedStore(storeOptions(config));
  try {
    // Logs go to stderr, quieter than the bot's: the terminal's output is the lines this command prints.
    const logger = createLogger({
      level: config.env.LOG_LEVEL === 'info' ? 'warn' : config.env.LOG_LEVEL,
      destination: process.stderr,
    });
    const runtime: BackupRuntime = { config, store, clock: systemClock, logger, inflight: new InFlight() };
    return await fn(runtime, `cli:${userInfo().username}`);
  } finally {
    await store.close();
  }
}

/** Ctrl-C stops the backup cleanly (the upload is aborted) instead of killing the process mid-upload. */
function interruptOnSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: string) => controller.abort(new Error(`interrupted (${name})`));
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}
