// `runbook-bot health [service|all] [--json] [--details]` and `runbook-bot privacy-budget [service] [--json]`, printed for a terminal or as JSON.
import { systemClock } from '../clock.ts';
import { formatLatency } from '../config/duration.ts';
import { UserError } from '../errors.ts';
import type { CliCommand } from './command.ts';
import { openMigratedStore, storeOptions } from '../store/open.ts';
import { worstStatus, type HealthStatus } from '../tasks/health/check.ts';
import { objectTable } from '../tasks/health/object-table.ts';
import { healthRunOptions, healthTargets, runHealthChecks, type HealthReport } from '../tasks/health/run.ts';
import {
  describeProjection,
  formatDays,
  formatEpsilon,
  formatPercent,
  privacyBudgetTargets,
  readPrivacyBudgets,
  type BudgetFailure,
  type PrivacyBudgetReading,
} from '../tasks/privacy-budget.ts';

const HEALTH_USAGE = 'runbook-bot health [service|all] [--json] [--details]';
const BUDGET_USAGE = 'runbook-bot privacy-budget [service] [--json]';
/** For cron and scripts: the worst status is the exit code. */
export const EXIT_BY_STATUS: Record<HealthStatus, number> = { ok: 0, warn: 1, critical: 2 };

export const healthCommands: Record<string, CliCommand> = {
  health: {
    usage: HEALTH_USAGE,
    summary: 'run every health check of a service or all of them at once (exit 0 ok, 1 warn, 2 critical)',
    async run(args, config, io, env = process.env) {
      const { positional, json, details } = parseArgs(args, HEALTH_USAGE, ['--json', '--details']);
      const { services, unchecked } = healthTargets(config, positional ?? 'all');
      if (services.length === 0) throw new UserError('no service has health checks configured (services.<name>.health)');
      const report = await runHealthChecks(services, healthRunOptions(config, systemClock, env), unchecked);
      if (json) io.out(JSON.stringify(report, null, 2));
      else for (const line of healthReportLines(report, { details })) io.out(line);
      return EXIT_BY_STATUS[report.status];
    },
  },
  'privacy-budget': {
    usage: BUDGET_USAGE,
    summary:
      'read, grade and snapshot the privacy budget, with its projected exhaustion (exit 0 ok, 1 warn or unreadable, 2 critical)',
    async run(args, config, io, env = process.env) {
      const { positional, json } = parseArgs(args, BUDGET_USAGE, ['--json']);
      const targets = privacyBudgetTargets(config, positional);
      const { store } = await openMigratedStore(storeOptions(config));
      try {
        const { readings, failures } = await readPrivacyBudgets(targets, {
          store,
          clock: systemClock,
          env,
          httpTimeoutMs: config.file.timeouts.http,
        });
        if (json)
          io.out(JSON.stringify({ readings, failures: failures.map(({ service, message }) => ({ service, message })) }, null, 2));
        else for (const line of budgetLines(readings, failures)) io.out(line);
        const worst = EXIT_BY_STATUS[worstStatus(readings.map((reading) => reading.status))];
        return Math.max(worst, failures.length > 0 ? 1 : 0);
      } finally {
        await store.close();
      }
    },
  },
};

function parseArgs(
  args: string[],
  usage: string,
  known: string[],
): { positional: string | undefined; json: boolean; details: boolean } {
  const flags = args.filter((arg) => arg.startsWith('-'));
  const positionals = args.filter((arg) => !arg.startsWith('-'));
  const unknown = flags.filter((flag) => !known.includes(flag));
  if (unknown.length > 0 || positionals.length > 1)
    throw new UserError(`unexpected ${[...unknown, ...positionals.slice(1)].join(' ')}\nUsage: ${usage}`);
  return { positional: positionals[0], json: flags.includes('--json'), details: flags.includes('--details') };
}

export function healthReportLines(report: HealthReport, options: { details?: boolean } = {}): string[] {
  const lines: string[] = [];
  const checks = report.services.flatMap((service) => service.checks);
  for (const service of report.services) {
    lines.push(`${service.service}: ${service.status.toUpperCase()}`);
    if (service.note) lines.push(`  ${'warn'.padEnd(8)} ${service.note}`);
    const width = Math.max(0, ...service.checks.map((check) => label(check).length));
    for (const check of service.checks) {
      const status = check.notConfigured ? 'n/a' : check.status;
      lines.push(`  ${status.padEnd(8)} ${label(check).padEnd(width)}  ${check.reason} (${formatLatency(check.durationMs)})`);
      if (options.details && check.objects?.length)
        for (const row of objectTable(check.objects, report.startedAt)) lines.push(`      ${row}`);
    }
  }
  if (report.unchecked.length > 0) lines.push(`not checked (no health section): ${report.unchecked.join(', ')}`);
  lines.push(
    `overall: ${report.status} (${report.services.length} service${report.services.length === 1 ? '' : 's'}, ${checks.length} checks, ${formatLatency(report.durationMs)})`,
  );
  return lines;
}

function label(check: { kind: string; name: string }): string {
  return check.kind === check.name ? check.kind : `${check.kind} ${check.name}`;
}

function budgetLines(readings: PrivacyBudgetReading[], failures: BudgetFailure[]): string[] {
  const lines: string[] = [];
  for (const reading of readings) {
    lines.push(
      `${reading.service}: ${reading.status.toUpperCase()}, ${formatPercent(reading.usedPercent)} consumed (warn at ${reading.warnPercent}%, critical at ${reading.criticalPercent}%)`,
    );
    lines.push(`  ${reading.bar}`);
    lines.push(
      `  total ${formatEpsilon(reading.total)} ε, consumed ${formatEpsilon(reading.consumed)}, remaining ${formatEpsilon(reading.remaining)}, resets in ${formatDays(reading.daysUntilReset)} (${reading.resetsAt.toISOString().slice(0, 10)})`,
    );
    lines.push(`  ${describeProjection(reading.projection, reading.readAt)}`);
  }
  for (const failure of failures) lines.push(`${failure.service}: UNREADABLE: ${failure.message}`);
  return lines;
}
