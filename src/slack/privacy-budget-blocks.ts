// Block Kit for privacy budgets: epsilon figures, the usage bar, the thresholds and the exhaustion projection.
import type { KnownBlock } from '@slack/types';
import { ageNote } from '../shared-reads.ts';
import {
  budgetSummaryLine,
  describeProjection,
  formatDays,
  formatEpsilon,
  formatPercent,
  type BudgetFailure,
  type PrivacyBudgetReading,
} from '../tasks/privacy-budget.ts';
import { escapeText } from './escape.ts';

const ICON = { ok: ':large_green_circle:', warn: ':large_yellow_circle:', critical: ':red_circle:' } as const;

export function privacyBudgetMessage(
  readings: PrivacyBudgetReading[],
  failures: BudgetFailure[] = [],
  title = 'Privacy budget',
): { text: string; blocks: KnownBlock[]; summary: string } {
  const blocks: KnownBlock[] = readings.map((reading) => ({
    type: 'section',
    text: { type: 'mrkdwn', text: readingText(reading) },
  }));
  for (const failure of failures) {
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `:red_circle: *${escapeText(failure.service)}*: could not read the budget: ${escapeText(failure.message)}`,
      },
    });
  }
  const lines = [
    ...readings.map((reading) => budgetSummaryLine(reading)),
    ...failures.map((failure) => `${failure.service}: could not read the budget: ${failure.message}`),
  ];
  const summary = `${title}: ${lines.join(' | ')}`;
  return {
    text: escapeText(summary),
    summary,
    blocks: [{ type: 'header', text: { type: 'plain_text', text: escapeText(title) } }, ...blocks],
  };
}

function readingText(reading: PrivacyBudgetReading): string {
  const name =
    reading.displayName === reading.service
      ? `*${escapeText(reading.service)}*`
      : `*${escapeText(reading.displayName)}* (\`${escapeText(reading.service)}\`)`;
  const threshold =
    reading.status === 'critical'
      ? ` — at or over the critical threshold of ${reading.criticalPercent}%`
      : reading.status === 'warn'
        ? ` — at or over the warning threshold of ${reading.warnPercent}%`
        : '';
  const { kind } = reading.projection;
  const projectionIcon = kind === 'exhausted' ? ':no_entry: ' : kind === 'exhausts' ? ':warning: ' : '';
  const age = ageNote(reading.ageMs);
  return [
    `${ICON[reading.status]} ${name}${threshold}${age ? ` _(${age})_` : ''}`,
    `\`${reading.bar}\` *${formatPercent(reading.usedPercent)}* consumed`,
    `Total ε ${formatEpsilon(reading.total)} · consumed ${formatEpsilon(reading.consumed)} · remaining ${formatEpsilon(reading.remaining)} · resets in ${formatDays(reading.daysUntilReset)} (${reading.resetsAt.toISOString().slice(0, 10)})`,
    `${projectionIcon}${describeProjection(reading.projection, reading.readAt)}`,
  ].join('\n');
}
