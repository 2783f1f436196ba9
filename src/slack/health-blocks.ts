// Block Kit for health reports: a compact summary, worst service and worst check first, with durations.
import type { KnownBlock } from '@slack/types';
import { formatLatency } from '../config/duration.ts';
import { ageNote } from '../shared-reads.ts';
import { statusRank, type HealthStatus } from '../tasks/health/check.ts';
import { objectTable } from '../tasks/health/object-table.ts';
import type { CheckResult, HealthReport, ServiceHealth } from '../tasks/health/run.ts';
import { escapeText } from './escape.ts';

const ICON: Record<HealthStatus, string> = {
  ok: ':large_green_circle:',
  warn: ':large_yellow_circle:',
  critical: ':red_circle:',
};
const NOT_CONFIGURED_ICON = ':white_circle:';
// Slack allows 50 blocks a message and 3,000 characters a section.
const MAX_SERVICE_SECTIONS = 45;
const MAX_REASON = 240;
const MAX_SECTION = 2_900;
const MAX_DETAIL_MESSAGE = 80;

export interface HealthMessage {
  /** Escaped for Slack. */
  text: string;
  blocks: KnownBlock[];
  /** The same line as the user's and the services' own words, for timelines and job summaries (escaped where shown). */
  summary: string;
}

export interface HealthBlockOptions {
  /** A table of the objects behind each check's problems (`/health <service> --details`). */
  details?: boolean;
}

export function healthMessage(report: HealthReport, title = 'Health check', options: HealthBlockOptions = {}): HealthMessage {
  const summary = healthSummaryText(report, title);
  return { text: escapeText(summary), blocks: healthBlocks(report, title, options), summary };
}

/** For an incident channel, whose timeline prefixes "Health check of <service>:" itself. */
export function incidentHealthMessage(report: HealthReport, service: string): HealthMessage {
  const summary = healthSummaryText(report);
  return { text: escapeText(summary), blocks: healthBlocks(report, `Health check of ${service}`), summary };
}

/**
 * One line: overall status, counts and the worst problem, for notifications and timelines. Without a title it is just
 * the findings ("critical, 1 critical, 4 ok — worst: …"), for places that say what was checked already.
 */
export function healthSummaryText(report: HealthReport, title?: string): string {
  const checks = report.services.flatMap((service) => service.checks);
  const worst = sortChecks(checks.filter((check) => check.status !== 'ok'))[0];
  const owner = worst ? report.services.find((service) => service.checks.includes(worst)) : undefined;
  const where = owner && report.services.length > 1 ? `${owner.service} ` : '';
  const unconfigured = report.services.find((service) => service.note);
  const problem = worst
    ? ` — worst: ${where}${label(worst)}: ${worst.reason}`
    : unconfigured
      ? ` — ${report.services.length > 1 ? `${unconfigured.service}: ` : ''}${unconfigured.note}`
      : '';
  const findings = `${report.status}, ${counts(checks)}${problem}`;
  return title === undefined ? findings : `${ICON[report.status]} ${title}: ${findings}`;
}

export function healthBlocks(report: HealthReport, title = 'Health check', options: HealthBlockOptions = {}): KnownBlock[] {
  const checks = report.services.flatMap((service) => service.checks);
  const services = [...report.services].sort(
    (a, b) => statusRank(b.status) - statusRank(a.status) || a.service.localeCompare(b.service),
  );
  const blocks: KnownBlock[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `${ICON[report.status]} *${escapeText(title)}: ${report.status}* — ${counts(checks)} across ${services.length} service${services.length === 1 ? '' : 's'}, ${whenChecked(report)}`,
      },
    },
  ];
  for (const service of services.slice(0, MAX_SERVICE_SECTIONS)) blocks.push(serviceSection(service, services.length > 1));
  if (options.details)
    for (const service of services)
      for (const check of sortChecks(service.checks))
        if (check.objects?.length && blocks.length < MAX_SERVICE_SECTIONS + 3)
          blocks.push(detailsSection(service, check, report.startedAt));
  const notes: string[] = [];
  if (services.length > MAX_SERVICE_SECTIONS) notes.push(`${services.length - MAX_SERVICE_SECTIONS} more services not shown`);
  if (report.unchecked.length > 0)
    notes.push(`No health checks configured for ${report.unchecked.map((name) => `\`${name}\``).join(', ')}`);
  if (notes.length > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: notes.join('. ') }] });
  return blocks;
}

/** How long the checks took, or, when results were served again from a recent run, how old the oldest is. */
function whenChecked(report: HealthReport): string {
  const oldest = Math.max(0, ...report.services.map((service) => service.ageMs ?? 0));
  return ageNote(oldest) ?? formatLatency(report.durationMs);
}

function serviceSection(service: ServiceHealth, several: boolean): KnownBlock {
  const name =
    service.displayName === service.service
      ? `*${escapeText(service.service)}*`
      : `*${escapeText(service.displayName)}* (\`${escapeText(service.service)}\`)`;
  // With several services, say which ones were served again; the header already says it for one.
  const age = several ? ageNote(service.ageMs) : undefined;
  const lines = [`${ICON[service.status]} ${name}${age ? ` _(${age})_` : ''}`];
  if (service.note) lines.push(`${NOT_CONFIGURED_ICON} ${escapeText(service.note)}`);
  for (const check of sortChecks(service.checks)) lines.push(checkLine(check));
  let text = lines.join('\n');
  if (text.length > MAX_SECTION) text = `${text.slice(0, MAX_SECTION).replace(/&[a-z]{0,3}$/, '')}…`;
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

/** The check's unhealthy objects as a kubectl-style table in a code block, cut to fit one section. */
function detailsSection(service: ServiceHealth, check: CheckResult, now: Date): KnownBlock {
  const objects = check.objects ?? [];
  const heading = `*${escapeText(label(check))}* of ${escapeText(service.service)}: ${objects.length} object${objects.length === 1 ? '' : 's'} not ok`;
  const lines = objectTable(objects, now, { maxMessage: MAX_DETAIL_MESSAGE }).map(escapeText);
  let shown = lines.length;
  const fits = (count: number) => heading.length + lines.slice(0, count).join('\n').length + 80 <= MAX_SECTION;
  while (shown > 1 && !fits(shown)) shown -= 1;
  const more = lines.length - shown;
  const tail = more > 0 ? `\n…and ${more} more (the CLI's \`runbook-bot health ${service.service} --details\` lists all)` : '';
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: `${heading}\n\`\`\`\n${lines.slice(0, shown).join('\n')}\n\`\`\`${tail}` },
  };
}

function checkLine(check: CheckResult): string {
  const icon = check.notConfigured ? NOT_CONFIGURED_ICON : ICON[check.status];
  const reason = check.reason.length > MAX_REASON ? `${check.reason.slice(0, MAX_REASON)}…` : check.reason;
  return `${icon} *${escapeText(label(check))}* ${escapeText(reason)} _(${formatLatency(check.durationMs)})_`;
}

function label(check: CheckResult): string {
  return check.kind === check.name ? check.kind : `${check.kind} ${check.name}`;
}

function sortChecks(checks: CheckResult[]): CheckResult[] {
  // Stable: checks of the same status keep the config's order.
  return [...checks].sort((a, b) => statusRank(b.status) - statusRank(a.status));
}

function counts(checks: CheckResult[]): string {
  const tally = { critical: 0, warn: 0, ok: 0 };
  for (const check of checks) tally[check.status] += 1;
  const parts = (['critical', 'warn', 'ok'] as const)
    .filter((status) => tally[status] > 0)
    .map((status) => `${tally[status]} ${status}`);
  return parts.length > 0 ? parts.join(', ') : 'no checks';
}
