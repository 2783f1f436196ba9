// /backup <service> [database|config|full] (confirmed, with live progress) and /backup verify <service> (the restore test).
import { z } from 'zod';
import type { ServiceConfig } from '../config/schema.ts';
import { ConfigError, ExternalError, UserError } from '../errors.ts';
import { escapeText } from '../slack/escape.ts';
import {
  backupDetails,
  backupOutcomeBlocks,
  backupOutcomeText,
  backupProgressText,
  restoreTestBlocks,
  restoreTestText,
} from '../slack/backup-blocks.ts';
import { BACKUP_KINDS, type BackupRequestKind } from '../tasks/backup/model.ts';
import { backup, previewBackup, restoreTest, type BackupRuntime } from '../tasks/backup/use-cases.ts';
import { splitWords } from './command-text.ts';
import type { ConfirmableAction } from './confirm.ts';
import { requireService, type CommandHandler, type HandlerDeps } from './listener.ts';

export const BACKUP_USAGE =
  'Usage: `/backup <service> [database|config|full]` to take a backup, `/backup verify <service>` to test-restore the newest one.';
export const BACKUP_ACTION = 'backup';

/** The longest a backup may run from its confirmation; a larger database needs a larger value. */
const BACKUP_TIME_LIMIT_MS = 6 * 3_600_000;

const backupParamsSchema = z.object({
  kind: z.enum(BACKUP_KINDS),
  /** The keys shown in the confirmation, written exactly. */
  keys: z.object({ database: z.string().optional(), config: z.string().optional() }),
});
export type BackupParams = z.infer<typeof backupParamsSchema>;

export const handleBackupCommand: CommandHandler = async ({ command, ack, respond }, context, deps) => {
  const words = splitWords(command.text);
  if (words[0] === 'help') throw new UserError(BACKUP_USAGE, 'usage');
  const verify = words[0] === 'verify';
  const [serviceName, kind = 'database', ...extra] = verify ? words.slice(1) : words;
  if (extra.length > 0 || (verify && words.length > 2)) throw new UserError(BACKUP_USAGE, 'usage');
  if (!verify && !BACKUP_KINDS.includes(kind as BackupRequestKind)) {
    throw new UserError(`\`${escapeText(kind)}\` is not a backup kind: use database, config or full.\n${BACKUP_USAGE}`, 'usage');
  }
  const [name, service] = requireService(deps.config, serviceName, BACKUP_USAGE);
  await context.authorize(verify ? 'restore' : 'backup', name);
  const settings = requireBackupSettings(name, service, verify ? 'database' : (kind as BackupRequestKind));

  if (verify) {
    await ack({
      response_type: 'ephemeral',
      text: `:hourglass_flowing_sand: Restore test of *${name}* started: the newest verified backup in \`s3://${settings.bucket}/${settings.prefix}\` goes into a scratch database. The result will be posted here.`,
    });
    const result = await restoreTest(runtimeOf(deps), name, service);
    await respond({ response_type: 'in_channel', text: restoreTestText(result), blocks: restoreTestBlocks(result) });
    return;
  }

  await ack({ response_type: 'ephemeral', text: `:mag: Looking at what a ${kind} backup of *${name}* would take…` });
  let preview;
  try {
    preview = await previewBackup(runtimeOf(deps), name, settings, kind as BackupRequestKind);
  } catch (error) {
    // A database that cannot be read or a key that cannot be used is the user's to know, in plain words.
    if (!(error instanceof ExternalError || error instanceof ConfigError || error instanceof UserError)) throw error;
    context.log.warn({ event: 'backup.not_ready', err: error });
    const why = error instanceof ConfigError ? error.issues.join('; ') : error.message;
    await respond({
      response_type: 'ephemeral',
      replace_original: true,
      // The reason may quote the database or the key: text, never mentions or links.
      text: `:no_entry_sign: Cannot back up *${name}*: ${escapeText(why)}`,
    });
    return;
  }
  const { plan } = preview;
  const details = backupDetails(plan, {
    database: preview.database,
    namespace: service.kubernetes?.namespace,
    recipient: preview.recipient,
  });
  const params: BackupParams = {
    kind: kind as BackupRequestKind,
    keys: Object.fromEntries(plan.steps.map((step) => [step.kind, step.key])),
  };
  const question = await deps.confirmations.request({
    action: BACKUP_ACTION,
    service: name,
    params,
    details,
    requestedBy: command.user_id,
    channelId: command.channel_id,
    responseUrl: command.response_url,
  });
  await respond({ response_type: 'ephemeral', replace_original: true, text: question.text, blocks: question.blocks });
};

/** The confirmed backup: runs it, with progress in the channel's status line, and reports the verified objects or the exact failure. */
export function backupAction(deps: HandlerDeps): ConfirmableAction<BackupParams> {
  return {
    name: BACKUP_ACTION,
    permission: 'backup',
    timeLimitMs: BACKUP_TIME_LIMIT_MS,
    params: backupParamsSchema,
    title: (params, service) => `${params.kind === 'full' ? 'Full backup' : `Backup (${params.kind})`} of ${service}`,
    async run(params, run) {
      const name = run.confirmation.service ?? '';
      const service = deps.config.file.services[name];
      if (!service) return { ok: false, text: `the service ${name} is no longer in the config` };
      const result = await backup(runtimeOf(deps), name, service, {
        kind: params.kind,
        trigger: 'slack',
        requestedBy: run.actor,
        keys: params.keys,
        signal: run.signal,
        log: run.log,
        onProgress: (progress) => {
          void run.progress(backupProgressText(progress));
        },
      });
      return { ok: result.ok, text: backupOutcomeText(result), blocks: backupOutcomeBlocks(result) };
    },
  };
}

function runtimeOf(deps: HandlerDeps): BackupRuntime {
  return { config: deps.config, store: deps.store, clock: deps.clock, logger: deps.logger, inflight: deps.inflight };
}

function requireBackupSettings(name: string, service: ServiceConfig, kind: BackupRequestKind) {
  if (!service.backup)
    throw new UserError(
      `*${name}* has no backups configured: add \`services.${name}.backup\` (bucket, databaseUrlEnv) to the bot's config.`,
      'not_configured',
    );
  if (kind !== 'database' && !service.kubernetes)
    throw new UserError(
      `*${name}* has no Kubernetes namespace configured, so there is no config to back up: add \`services.${name}.kubernetes\`.`,
      'not_configured',
    );
  return service.backup;
}
