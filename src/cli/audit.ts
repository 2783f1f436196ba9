// The audit log from the CLI: changes made here get actor `cli:<login>` in the same hash chain as the bot's, and
// `audit verify` / `audit checkpoint` check the chain against, and add to, the signed checkpoints.
import { userInfo } from 'node:os';
import type { Config } from '../config/schema.ts';
import { systemClock } from '../clock.ts';
import { appendAudit, verifyAuditLog, type AuditEntry } from '../store/audit.ts';
import { openMigratedStore, storeOptions } from '../store/open.ts';
import { createCheckpoint, integrityReportText, openCheckpointing, verifyAuditIntegrity } from '../tasks/audit-checkpoint.ts';
import type { CliCommand } from './command.ts';

export async function openCliAudit(
  config: Config,
): Promise<{ append(entry: Omit<AuditEntry, 'actor'>): Promise<unknown>; close(): Promise<void> }> {
  const { store } = await openMigratedStore(storeOptions(config));
  const actor = `cli:${userInfo().username}`;
  return {
    append: (entry) => appendAudit(store, { ...entry, actor }, new Date()),
    close: () => store.close(),
  };
}

export const auditCommands: Record<string, CliCommand> = {
  'audit verify': {
    usage: 'runbook-bot audit verify',
    summary:
      'walk the hash-chained audit log and check it against the signed checkpoints; name each broken row or checkpoint (exit 1 when broken)',
    async run(_args, config, io) {
      const { store } = await openMigratedStore(storeOptions(config));
      try {
        if (!config.file.audit.checkpoints) {
          const result = await verifyAuditLog(store);
          if (result.ok) {
            io.out(
              `audit log intact: ${result.rowsChecked} rows, every hash matches (no audit.checkpoints configured: deletions from the end and rewrites cannot be ruled out)`,
            );
            return 0;
          }
          io.out(
            `audit log BROKEN at row ${result.firstBroken!.seq}: ${result.firstBroken!.reason} (${result.rowsChecked} rows before it are intact)`,
          );
          return 1;
        }
        const { keys, archive } = await openCheckpointing(config, systemClock, { needPrivate: false });
        const report = await verifyAuditIntegrity(store, keys.publicKey, await archive.list());
        for (const line of integrityReportText(report)) io.out(line);
        return report.ok ? 0 : 1;
      } finally {
        await store.close();
      }
    },
  },
  'audit checkpoint': {
    usage: 'runbook-bot audit checkpoint',
    summary: 'sign the audit log head now and publish the checkpoint (the bot also does this on schedules.auditCheckpoint)',
    async run(_args, config, io) {
      const { store } = await openMigratedStore(storeOptions(config));
      try {
        const { keys, archive } = await openCheckpointing(config, systemClock, { needPrivate: true });
        const { published, notes } = await createCheckpoint({ store, clock: systemClock, keys, archive });
        await appendAudit(
          store,
          {
            actor: `cli:${userInfo().username}`,
            action: 'audit.checkpoint',
            target: published.key,
            params: { seq: published.checkpoint.seq },
            result: 'ok',
          },
          systemClock.now(),
        );
        io.out(
          `checkpoint ${published.key}: row ${published.checkpoint.seq}, head ${published.checkpoint.headHash}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`,
        );
        return 0;
      } finally {
        await store.close();
      }
    },
  },
};
