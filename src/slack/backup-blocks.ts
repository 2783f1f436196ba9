// Block Kit and text for backups: the confirmation's lines, live progress, the outcome, and restore test results.
import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../config/duration.ts';
import type { BackupProgress, BackupResult } from '../tasks/backup/model.ts';
import type { DatabaseInfo } from '../tasks/backup/pg-tools.ts';
import type { BackupPlan } from '../tasks/backup/plan.ts';
import type { RestoreTestResult } from '../tasks/backup/restore-test.ts';
import { formatBytes } from '../config/units.ts';
import { escapeText } from './escape.ts';

export interface BackupTarget {
  /** database and full: what pg_dump will read. */
  database?: DatabaseInfo | undefined;
  /** config and full: the namespace whose objects are saved. */
  namespace?: string | undefined;
  /** Encrypted to this OpenPGP key. */
  recipient?: { fingerprint: string; userIds: string[] } | undefined;
}

/** Exactly what the backup will do, one line each, for the confirmation. */
export function backupDetails(plan: BackupPlan, target: BackupTarget): string[] {
  const lines: string[] = [];
  for (const step of plan.steps) {
    const where = `\`s3://${plan.bucket}/${step.key}\``;
    if (step.kind === 'database' && target.database) {
      const db = target.database;
      lines.push(
        `Dump database \`${escapeText(db.name)}\` on \`${escapeText(db.host)}\` (PostgreSQL ${escapeText(db.serverVersion)}, currently *${formatBytes(db.sizeBytes)}*) with \`pg_dump -Fc\`, streamed to ${where}`,
      );
    } else {
      const kinds = `deployments, services, configmaps${plan.includesSecrets ? ' and secrets' : ''}`;
      lines.push(`Save the ${kinds} of namespace \`${target.namespace ?? '?'}\` as YAML to ${where}`);
    }
  }
  if (target.recipient) {
    const who = target.recipient.userIds[0] ? ` (${escapeText(target.recipient.userIds[0])})` : '';
    lines.push(`Encrypt with OpenPGP to key \`${target.recipient.fingerprint}\`${who}; restorable with \`gpg --decrypt\``);
  }
  if (plan.serverSideEncryption) lines.push(`Ask S3 for server-side encryption \`${plan.serverSideEncryption}\``);
  lines.push(
    `Verify size and SHA-256, write a manifest, then delete backups under \`s3://${plan.bucket}/${plan.prefix}\` older than ${plan.retentionDays} days (never the newest verified one)`,
  );
  return lines;
}

/** "database: 45.2 MB streamed at 12.3 MB/s, 34s elapsed". */
export function backupProgressText(progress: BackupProgress): string {
  return `${progress.kind}: ${formatBytes(progress.bytes)} streamed at ${formatBytes(progress.bytesPerSecond)}/s, ${formatDuration(progress.elapsedMs)} elapsed`;
}

/** One line for the status message and the audit log. */
export function backupOutcomeText(result: BackupResult): string {
  const done = result.objects.map((object) => `s3://${object.bucket}/${object.key} (${formatBytes(object.sizeBytes)})`);
  const failed = result.failures.map((failure) => `${failure.kind === 'lock' ? '' : `${failure.kind}: `}${failure.reason}`);
  if (result.ok) return `verified ${done.join(' and ')}`;
  if (done.length === 0) return failed.join('; ');
  return `${failed.join('; ')} (verified: ${done.join(', ')})`;
}

export function backupOutcomeBlocks(result: BackupResult): KnownBlock[] {
  const lines: string[] = [];
  for (const object of result.objects) {
    const what =
      object.kind === 'database' && object.database
        ? `database \`${object.database.name}\` (PostgreSQL ${object.database.serverVersion})`
        : `namespace objects${
            object.objectCounts
              ? ` (${Object.entries(object.objectCounts)
                  .map(([kind, count]) => `${count} ${kind}`)
                  .join(', ')})`
              : ''
          }`;
    lines.push(
      `• ${what} → \`s3://${object.bucket}/${object.key}\`, ${formatBytes(object.sizeBytes)} in ${formatDuration(object.durationMs)}, sha256 \`${object.sha256.slice(0, 16)}…\`${object.recipient ? ', OpenPGP-encrypted' : ''}`,
    );
  }
  for (const failure of result.failures) {
    lines.push(
      `• :x: ${failure.kind === 'lock' ? '' : `${failure.kind}: `}${escapeText(failure.reason)}${failure.kind === 'lock' ? '' : ' (nothing was left in the bucket)'}`,
    );
  }
  const deleted = result.retention.flatMap((retention) => retention.deleted);
  const context = [
    deleted.length > 0
      ? `Retention deleted ${deleted.length} old backup${deleted.length === 1 ? '' : 's'}.`
      : 'Retention: nothing old enough to delete.',
    ...result.notes.map((note) => `:warning: ${escapeText(note)}`),
  ];
  return [
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') || '_nothing was backed up_' } },
    ...(result.objects.length > 0
      ? [{ type: 'context' as const, elements: [{ type: 'mrkdwn' as const, text: context.join(' ') }] }]
      : []),
  ];
}

/** The restore test's outcome as plain text (schedule summaries, the audit log); escaped where Slack shows it. */
export function restoreTestOutcomeText(result: RestoreTestResult): string {
  if (!result.ok) return `restore test of ${result.service} failed: ${result.reason ?? ''}`;
  const counts = result.tables.map((table) => `${table.table}: ${table.rows.toLocaleString('en-US')} rows`).join(', ');
  return `restore test of ${result.service} passed: ${result.backup!.key} restored in ${formatDuration(result.durationMs)}${counts ? ` (${counts})` : ''}`;
}

export function restoreTestText(result: RestoreTestResult): string {
  if (!result.ok) return `:x: Restore test of *${escapeText(result.service)}* failed: ${escapeText(result.reason ?? '')}`;
  const counts = result.tables.map((table) => `${table.table}: ${table.rows.toLocaleString('en-US')} rows`).join(', ');
  return `:white_check_mark: Restore test of *${result.service}* passed: \`${result.backup!.key}\` restored in ${formatDuration(result.durationMs)}${counts ? ` (${counts})` : ''}`;
}

export function restoreTestBlocks(result: RestoreTestResult): KnownBlock[] {
  const lines = [restoreTestText(result)];
  if (result.backup) {
    lines.push(
      `Backup \`s3://${result.backup.bucket}/${result.backup.key}\` taken ${result.backup.takenAt.toISOString().replace('T', ' ').slice(0, 16)} UTC, ${formatBytes(result.backup.sizeBytes)}, ${result.downloadedSha256 === result.backup.sha256 ? 'checksum verified' : 'checksum not verified'}${result.backup.encrypted ? ', decrypted' : ''}`,
    );
  }
  if (result.scratchDatabase) lines.push(`Restored into the scratch database \`${result.scratchDatabase}\`, dropped afterwards`);
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } }];
  if (result.notes.length > 0)
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: result.notes.map((note) => `:warning: ${escapeText(note)}`).join(' ') }],
    });
  return blocks;
}
