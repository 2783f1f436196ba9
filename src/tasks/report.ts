// The incidents-and-operations report over a period: numbers only, for Slack, the CLI and the weekly schedule.
import type { Severity } from '../config/schema.ts';
import type { Queryable } from '../store/db.ts';
import {
  backupOutcomesIn,
  budgetTrendsIn,
  escalationsReachedIn,
  incidentsDeclaredIn,
  newestVerifiedBackups,
  scheduleRunsIn,
} from '../store/reports.ts';
import { followUpCountsAt } from '../store/follow-ups.ts';

export interface DurationStats {
  count: number;
  medianMs: number | undefined;
  worstMs: number | undefined;
}

export interface OperationsReport {
  from: Date;
  to: Date;
  incidents: {
    total: number;
    open: number;
    bySeverity: Record<Severity, number>;
    byService: Array<{ service: string; count: number }>;
    /** Incidents declared per day, by severity (for the chart). */
    perDay: Array<{ day: string; counts: Record<Severity, number> }>;
    timeToAcknowledge: DurationStats;
    timeToResolve: DurationStats;
    /** How many incidents reached each escalation level (by label), and how many of those posts were late. */
    escalations: Array<{ level: number; label: string; incidents: number; late: number }>;
  };
  /** Follow-ups of all incidents open at the end of the period, and how many of those were past due. */
  followUps: { open: number; overdue: number };
  /** Backups per service: runs and failures in the period (from the audit log), and the newest verified one. */
  backups: Array<{ service: string; runs: number; failed: number; newestVerifiedAt: Date | null }>;
  /** Privacy budget per service: consumed share at the first and last reading of the period. */
  privacyBudgets: Array<{ service: string; readings: number; fromPercent: number; toPercent: number; remainingEpsilon: number }>;
  /** Scheduled jobs over the period: firings, failures, last outcome. */
  jobs: Array<{
    job: string;
    runs: number;
    failed: number;
    late: number;
    lastOutcome: string | null;
    lastSummary: string | null;
  }>;
}

function stats(values: number[]): DurationStats {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0, medianMs: undefined, worstMs: undefined };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { count: sorted.length, medianMs: median, worstMs: sorted.at(-1) };
}

const emptyBySeverity = (): Record<Severity, number> => ({ P0: 0, P1: 0, P2: 0, P3: 0 });

export async function buildOperationsReport(
  db: Queryable,
  range: { from: Date; to: Date },
  timezone: string,
): Promise<OperationsReport> {
  const incidents = await incidentsDeclaredIn(db, range);
  const bySeverity = emptyBySeverity();
  const byService = new Map<string, number>();
  const perDay = new Map<string, Record<Severity, number>>();
  const dayOf = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' });
  for (let day = range.from.getTime(); day < range.to.getTime(); day += 86_400_000)
    perDay.set(dayOf.format(new Date(day)), emptyBySeverity());
  for (const incident of incidents) {
    bySeverity[incident.severity] += 1;
    const service = incident.service ?? '(no service)';
    byService.set(service, (byService.get(service) ?? 0) + 1);
    const day = dayOf.format(incident.declared_at);
    const counts = perDay.get(day) ?? emptyBySeverity();
    counts[incident.severity] += 1;
    perDay.set(day, counts);
  }
  const tta = incidents.filter((i) => i.acknowledged_at).map((i) => i.acknowledged_at!.getTime() - i.declared_at.getTime());
  const ttr = incidents.filter((i) => i.resolved_at).map((i) => i.resolved_at!.getTime() - i.declared_at.getTime());

  const escalations = await escalationsReachedIn(db, range);
  const jobs = await scheduleRunsIn(db, range);
  const backupRuns = await backupOutcomesIn(db, range);
  const newest = await newestVerifiedBackups(db, range.to);
  const backupServices = [...new Set([...backupRuns.map((row) => row.service), ...newest.map((row) => row.service)])].sort();
  const budgets = await budgetTrendsIn(db, range);
  const followUps = await followUpCountsAt(db, range.to);
  return {
    from: range.from,
    to: range.to,
    incidents: {
      total: incidents.length,
      open: incidents.filter((i) => i.status !== 'resolved').length,
      bySeverity,
      byService: [...byService.entries()].map(([service, count]) => ({ service, count })).sort((a, b) => b.count - a.count),
      perDay: [...perDay.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, counts]) => ({ day, counts })),
      timeToAcknowledge: stats(tta),
      timeToResolve: stats(ttr),
      escalations,
    },
    followUps,
    backups: backupServices.map((service) => {
      const runs = backupRuns.find((row) => row.service === service);
      return {
        service,
        runs: runs?.runs ?? 0,
        failed: runs?.failed ?? 0,
        newestVerifiedAt: newest.find((row) => row.service === service)?.verified_at ?? null,
      };
    }),
    privacyBudgets: budgets.map((row) => ({
      service: row.service,
      readings: row.readings,
      fromPercent: Math.round((row.first_ratio ?? 0) * 1000) / 10,
      toPercent: Math.round((row.last_ratio ?? 0) * 1000) / 10,
      remainingEpsilon: row.remaining,
    })),
    jobs: jobs.map((job) => ({
      job: job.job,
      runs: job.runs,
      failed: job.failed,
      late: job.late,
      lastOutcome: job.last_outcome,
      lastSummary: job.last_summary,
    })),
  };
}
