// Block Kit for rollbacks: the revision history shown before confirming, the confirmation's lines, and the outcome.
import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../config/duration.ts';
import type { RevisionHistory } from '../tasks/rollback/history.ts';
import type { RollbackPlan } from '../tasks/rollback/rollback.ts';
import type { RolloutOutcome, RolloutStatus } from '../tasks/rollback/status.ts';
import { formatImages } from '../tasks/rollback/template.ts';
import { escapeText } from './escape.ts';

/** Slack's limit for one section's text is 3000 characters; ten revisions fit with room to spare. */
const MAX_REVISIONS_SHOWN = 10;

export function revisionHistoryBlocks(history: RevisionHistory, now: Date): KnownBlock[] {
  const name = history.deployment.metadata.name;
  const shown = history.revisions.slice(0, MAX_REVISIONS_SHOWN);
  const lines = shown.map((revision) => {
    const parts = [
      `*${revision.revision}*${revision.current ? ' (current)' : ''}`,
      `\`${escapeText(truncate(formatImages(revision.images), 120))}\``,
      revision.changeCause ? escapeText(truncate(revision.changeCause, 120)) : '_no change-cause_',
      revision.createdAt ? `${formatDuration(Math.max(0, now.getTime() - revision.createdAt.getTime()))} ago` : undefined,
    ].filter(Boolean);
    return `• ${parts.join(' · ')}`;
  });
  const more = history.revisions.length - shown.length;
  const state = history.deployment.spec.paused
    ? ':double_vertical_bar: paused'
    : history.rollout.failed
      ? `:x: ${escapeText(history.rollout.failed)}`
      : history.rollout.done
        ? `:white_check_mark: ${history.rollout.desired}/${history.rollout.desired} up to date and available`
        : `:hourglass_flowing_sand: ${escapeText(history.rollout.message)}`;
  return [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*Revision history of \`${escapeText(`${history.namespace}/${name}`)}\`* (newest first)\n${lines.join('\n') || '_no revisions recorded_'}${more > 0 ? `\n…and ${more} older` : ''}`,
      },
    },
    { type: 'context', elements: [{ type: 'mrkdwn', text: state }] },
  ];
}

/** The lines the confirmation shows: exactly what will change, where. */
export function rollbackDetails(plan: RollbackPlan, context: string | undefined, followForMs: number): string[] {
  const lines = [
    `Namespace \`${escapeText(plan.namespace)}\`, deployment \`${escapeText(plan.deployment)}\`${context ? ` (context \`${escapeText(context)}\`)` : ''}`,
    `Revision ${plan.from.revision ?? '?'} → ${plan.to.revision}: \`${escapeText(formatImages(plan.from.images))}\` → \`${escapeText(formatImages(plan.to.images))}\``,
  ];
  if (plan.to.changeCause)
    lines.push(`Change-cause of revision ${plan.to.revision}: ${escapeText(truncate(plan.to.changeCause, 200))}`);
  for (const reason of plan.forced) lines.push(`:warning: Forced: ${escapeText(reason)}`);
  lines.push(`Then follow the rollout until it completes or fails (for at most ${formatDuration(followForMs)})`);
  return lines;
}

export function rolloutProgressText(status: RolloutStatus): string {
  return `${status.updated}/${status.desired} updated, ${status.available} available: ${status.message.replace(/\.\.\.$/, '…')}`;
}

export function rolloutOutcomeBlocks(outcome: RolloutOutcome): KnownBlock[] {
  const status = outcome.status;
  const counts = status ? `${status.updated}/${status.desired} updated, ${status.available} available` : 'no status seen';
  const reconnects = outcome.reconnects > 0 ? ` · watch re-established ${outcome.reconnects}×` : '';
  return [{ type: 'context', elements: [{ type: 'mrkdwn', text: `${counts}${reconnects}` }] }];
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
