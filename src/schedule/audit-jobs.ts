// The scheduled audit checkpoint: the chain's head signed and published (S3, and a copy in Slack when configured), once
// across replicas like every schedule.
import type { SlackOutbox } from '../clients/slack-outbox.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { AuditWriter } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import { checkpointPostText, createCheckpoint, openCheckpointing } from '../tasks/audit-checkpoint.ts';
import type { JobWork } from './jobs.ts';

export interface AuditJobDeps {
  config: Config;
  store: Store;
  clock: Clock;
  outbox: Pick<SlackOutbox, 'publishAt'>;
  audit: Pick<AuditWriter, 'append'>;
}

/** Work for auditCheckpoint, when audit.checkpoints is configured. */
export function auditJobWork(deps: AuditJobDeps): JobWork {
  const settings = deps.config.file.audit.checkpoints;
  if (!settings) return {};
  return {
    async auditCheckpoint() {
      const { keys, archive } = await openCheckpointing(deps.config, deps.clock, { needPrivate: true });
      const channel = settings.slackChannel;
      const { published, notes } = await createCheckpoint({
        store: deps.store,
        clock: deps.clock,
        keys,
        archive,
        mirror: channel
          ? async (checkpoint) => {
              await deps.outbox.publishAt(
                channel,
                { text: checkpointPostText(checkpoint) },
                { key: `audit-checkpoint:${checkpoint.key}`, priority: 'summary' },
              );
            }
          : undefined,
      });
      await deps.audit.append(
        {
          actor: 'schedule',
          action: 'audit.checkpoint',
          target: published.key,
          params: { seq: published.checkpoint.seq },
          result: 'ok',
        },
        deps.clock.now(),
      );
      const summary = `checkpoint ${published.key} at row ${published.checkpoint.seq}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
      return { outcome: 'ok', summary };
    },
  };
}
