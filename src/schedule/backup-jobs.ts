// The scheduled backup work: the daily backup of every service with backups configured, and the monthly restore test.
import type { KnownBlock } from '@slack/types';
import { backup, restoreTest, type BackupRuntime } from '../tasks/backup/use-cases.ts';
import { backupOutcomeBlocks, backupOutcomeText, restoreTestBlocks, restoreTestOutcomeText } from '../slack/backup-blocks.ts';
import type { AuditWriter } from '../store/audit.ts';
import type { JobWork } from './jobs.ts';

export interface BackupJobDeps extends BackupRuntime {
  audit: Pick<AuditWriter, 'append'>;
}

/** Work for dailyBackup and monthlyRestoreTest, when at least one service has backups configured. */
export function backupJobWork(deps: BackupJobDeps): JobWork {
  const services = Object.entries(deps.config.file.services).filter(([, service]) => service.backup);
  if (services.length === 0) return {};
  return {
    async dailyBackup(context) {
      const lines: string[] = [];
      const blocks: KnownBlock[] = [];
      let failed = 0;
      // One service after another: backups are heavy, and a schedule has no one waiting on it.
      for (const [name, service] of services) {
        await deps.audit.append(
          {
            actor: 'schedule',
            action: 'command',
            target: name,
            params: { command: 'backup', kind: 'database', firing: context.scheduledAt.toISOString() },
            result: 'running',
          },
          deps.clock.now(),
        );
        const result = await backup(deps, name, service, { kind: 'database', trigger: 'schedule', log: context.log });
        const text = backupOutcomeText(result);
        await deps.audit.append(
          {
            actor: 'schedule',
            action: 'task.outcome',
            target: name,
            params: { command: 'backup', kind: 'database' },
            result: `${result.ok ? 'ok' : 'failed'}: ${text}`,
          },
          deps.clock.now(),
        );
        if (!result.ok) failed += 1;
        lines.push(text);
        blocks.push(...backupOutcomeBlocks(result));
      }
      const head =
        failed === 0
          ? `:white_check_mark: Daily backup: ${services.length} of ${services.length} services backed up`
          : `:x: Daily backup: ${failed} of ${services.length} services failed`;
      return {
        outcome: failed === 0 ? 'ok' : 'failed',
        summary: lines.join('; ').slice(0, 1_000),
        post: { text: head, blocks: [headBlock(head), ...blocks].slice(0, 50) },
      };
    },
    async monthlyRestoreTest(context) {
      const lines: string[] = [];
      const blocks: KnownBlock[] = [];
      let failed = 0;
      for (const [name, service] of services) {
        const result = await restoreTest(deps, name, service);
        context.log.info({ event: 'restore_test.finished', service: name, ok: result.ok });
        if (!result.ok) failed += 1;
        // Plain text: the weekly report escapes it where it shows it.
        lines.push(restoreTestOutcomeText(result));
        blocks.push(...restoreTestBlocks(result));
      }
      const head =
        failed === 0
          ? `:white_check_mark: Monthly restore test: the newest backup of each of ${services.length} services restored`
          : `:x: Monthly restore test: ${failed} of ${services.length} services failed`;
      return {
        outcome: failed === 0 ? 'ok' : 'failed',
        summary: lines.join('; ').slice(0, 1_000),
        post: { text: head, blocks: [headBlock(head), ...blocks].slice(0, 50) },
      };
    },
  };
}

function headBlock(text: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}
