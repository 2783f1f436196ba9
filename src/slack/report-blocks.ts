// Block Kit for the operations report, and the chart that goes with it.
import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../config/duration.ts';
import { SEVERITIES } from '../config/schema.ts';
import type { DurationStats, OperationsReport } from '../tasks/report.ts';
import { stackedBarChartPng, type BarSeries } from './chart.ts';
import { escapeClipped, escapeText } from './escape.ts';

const SEVERITY_COLORS: Record<(typeof SEVERITIES)[number], [number, number, number]> = {
  P0: [220, 38, 38],
  P1: [234, 88, 12],
  P2: [202, 138, 4],
  P3: [37, 99, 235],
};
const SEVERITY_SQUARES = {
  P0: ':red_circle:',
  P1: ':large_orange_circle:',
  P2: ':large_yellow_circle:',
  P3: ':large_blue_circle:',
};

const fmt = (ms: number | undefined) => (ms === undefined ? 'n/a' : formatDuration(ms));
const statsLine = (name: string, s: DurationStats) =>
  `${name}: median *${fmt(s.medianMs)}*, worst *${fmt(s.worstMs)}* (${s.count} incidents)`;

export function reportMessage(report: OperationsReport, title: string, timezone: string): { text: string; blocks: KnownBlock[] } {
  const day = new Intl.DateTimeFormat('en-GB', { timeZone: timezone, day: 'numeric', month: 'short' });
  const period = `${day.format(report.from)} to ${day.format(new Date(report.to.getTime() - 1))}`;
  const { incidents } = report;
  const severityLine = SEVERITIES.map(
    (severity) => `${SEVERITY_SQUARES[severity]} ${severity}: ${incidents.bySeverity[severity]}`,
  ).join('   ');
  const services =
    incidents.byService.length > 0 ? incidents.byService.map((s) => `${escapeText(s.service)}: ${s.count}`).join(', ') : 'none';
  const escalations =
    incidents.escalations.length > 0
      ? incidents.escalations.map((e) => `${escapeText(e.label)}: ${e.incidents}${e.late ? ` (${e.late} late)` : ''}`).join(', ')
      : 'no escalations';
  const jobs =
    report.jobs.length > 0
      ? report.jobs
          .map(
            (job) =>
              `• ${escapeText(job.job)}: ${job.runs} run${job.runs === 1 ? '' : 's'}, ${job.failed} failed${job.late ? `, ${job.late} late` : ''}; last: ${job.lastOutcome ?? 'running'}${job.lastSummary ? ` (${escapeClipped(job.lastSummary, 150)})` : ''}`,
          )
          .join('\n')
      : 'No scheduled jobs ran in this period.';
  const when = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  const backups =
    report.backups.length > 0
      ? report.backups
          .map(
            (b) =>
              `• ${escapeText(b.service)}: ${b.runs} run${b.runs === 1 ? '' : 's'}, ${b.failed} failed; newest verified: ${b.newestVerifiedAt ? when.format(b.newestVerifiedAt) : 'none'}${b.failed > 0 ? ' :warning:' : ''}`,
          )
          .join('\n')
      : 'No backups are recorded.';
  const budgets =
    report.privacyBudgets.length > 0
      ? report.privacyBudgets
          .map(
            (p) =>
              `• ${escapeText(p.service)}: ${p.fromPercent}% → ${p.toPercent}% consumed (${p.toPercent - p.fromPercent >= 0 ? '+' : ''}${Math.round((p.toPercent - p.fromPercent) * 10) / 10} points over ${p.readings} readings), ${Math.round(p.remainingEpsilon * 100) / 100} epsilon left`,
          )
          .join('\n')
      : 'No privacy budget readings in this period.';
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: escapeText(`${title}: ${period}`) } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: [
          `*Incidents*: ${incidents.total} (${incidents.open} still open)`,
          severityLine,
          `By service: ${services}`,
          statsLine('Time to acknowledge', incidents.timeToAcknowledge),
          statsLine('Time to resolve', incidents.timeToResolve),
          `Escalation levels reached: ${escalations}`,
          `Follow-ups: ${report.followUps.open} open, ${report.followUps.overdue} overdue`,
        ].join('\n'),
      },
    },
    { type: 'section', text: { type: 'mrkdwn', text: `*Backups*\n${backups}`.slice(0, 3000) } },
    { type: 'section', text: { type: 'mrkdwn', text: `*Privacy budget*\n${budgets}`.slice(0, 3000) } },
    { type: 'section', text: { type: 'mrkdwn', text: `*Scheduled jobs*\n${jobs}`.slice(0, 3000) } },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: 'Chart: incidents per day, stacked by severity.',
        },
      ],
    },
  ];
  return { text: `${title}: ${incidents.total} incidents ${period}`, blocks };
}

/** Incidents per day stacked by severity, P0 at the bottom, with the days on the x axis and a legend. */
export function reportChart(report: OperationsReport): Promise<Buffer> {
  // perDay's days are the report's time zone's dates already ("2026-11-16"); shown as "16 Nov".
  const label = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short' });
  const series: BarSeries[] = SEVERITIES.map((severity) => ({
    name: severity,
    color: SEVERITY_COLORS[severity],
    values: report.incidents.perDay.map((d) => d.counts[severity]),
  }));
  return stackedBarChartPng({
    title: 'Incidents per day',
    categories: report.incidents.perDay.map((d) => label.format(new Date(`${d.day}T00:00:00Z`))),
    series,
    valueTitle: 'Incidents',
    seriesTitle: 'Severity',
  });
}
