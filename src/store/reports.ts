// The aggregate reads behind the operations report: incidents, escalations, schedule runs, backups, privacy budgets in a period.
import type { Severity } from '../config/schema.ts';
import type { Queryable } from './db.ts';

export interface Range {
  from: Date;
  to: Date;
}

export interface ReportIncidentRow {
  id: number;
  severity: Severity;
  service: string | null;
  status: string;
  declared_at: Date;
  acknowledged_at: Date | null;
  resolved_at: Date | null;
}

export async function incidentsDeclaredIn(db: Queryable, range: Range): Promise<ReportIncidentRow[]> {
  const { rows } = await db.query<ReportIncidentRow>(
    `SELECT id, severity, service, status, declared_at, acknowledged_at, resolved_at
     FROM incidents WHERE declared_at >= $1 AND declared_at < $2 ORDER BY declared_at`,
    [range.from, range.to],
  );
  return rows;
}

/** Per escalation level reached by incidents declared in the period: how many, and how many posts were late. */
export async function escalationsReachedIn(
  db: Queryable,
  range: Range,
): Promise<Array<{ level: number; label: string; incidents: number; late: number }>> {
  const { rows } = await db.query<{ level: number; label: string; incidents: number; late: number }>(
    `SELECT s.level, min(s.label) AS label, count(*) AS incidents, count(*) FILTER (WHERE s.late) AS late
     FROM escalation_steps s JOIN incidents i ON i.id = s.incident_id
     WHERE s.state = 'posted' AND i.declared_at >= $1 AND i.declared_at < $2
     GROUP BY s.level ORDER BY s.level`,
    [range.from, range.to],
  );
  return rows;
}

/** Per scheduled job: firings, failures and late firings in the period, with the newest firing's outcome. */
export async function scheduleRunsIn(
  db: Queryable,
  range: Range,
): Promise<
  Array<{ job: string; runs: number; failed: number; late: number; last_outcome: string | null; last_summary: string | null }>
> {
  // The newest firing's columns by a correlated subquery: portable where array_agg(… ORDER BY …)[1] is not.
  const { rows } = await db.query<{
    job: string;
    runs: number;
    failed: number;
    late: number;
    last_outcome: string | null;
    last_summary: string | null;
  }>(
    `SELECT r.job, count(*) AS runs, count(*) FILTER (WHERE r.outcome = 'failed') AS failed,
            count(*) FILTER (WHERE r.late) AS late,
            (SELECT n.outcome FROM schedule_runs n WHERE n.job = r.job AND n.scheduled_at >= $1 AND n.scheduled_at < $2
             ORDER BY n.scheduled_at DESC LIMIT 1) AS last_outcome,
            (SELECT n.summary FROM schedule_runs n WHERE n.job = r.job AND n.scheduled_at >= $1 AND n.scheduled_at < $2
             ORDER BY n.scheduled_at DESC LIMIT 1) AS last_summary
     FROM schedule_runs r WHERE r.scheduled_at >= $1 AND r.scheduled_at < $2 GROUP BY r.job ORDER BY r.job`,
    [range.from, range.to],
  );
  return rows;
}

/** Backup outcomes per service in the period, from the audit log (Slack confirmations, the CLI and the schedule alike). */
export async function backupOutcomesIn(
  db: Queryable,
  range: Range,
): Promise<Array<{ service: string; runs: number; failed: number }>> {
  const { rows } = await db.query<{ service: string; runs: number; failed: number }>(
    `SELECT target AS service, count(*) AS runs, count(*) FILTER (WHERE result NOT LIKE 'ok%') AS failed
     FROM audit_log
     WHERE action = 'task.outcome' AND (params->>'action' = 'backup' OR params->>'command' = 'backup')
       AND at >= $1 AND at < $2 AND target IS NOT NULL
     GROUP BY target`,
    [range.from, range.to],
  );
  return rows;
}

/** The newest verified, not yet deleted backup per service, before `before`. */
export async function newestVerifiedBackups(db: Queryable, before: Date): Promise<Array<{ service: string; verified_at: Date }>> {
  const { rows } = await db.query<{ service: string; verified_at: Date }>(
    `SELECT service, max(verified_at) AS verified_at FROM backups WHERE deleted_at IS NULL AND verified_at < $1 GROUP BY service`,
    [before],
  );
  return rows;
}

/** Per service with budget readings in the period: how many, the consumed share at the first and last, what remains. */
export async function budgetTrendsIn(
  db: Queryable,
  range: Range,
): Promise<
  Array<{ service: string; readings: number; first_ratio: number | null; last_ratio: number | null; remaining: number }>
> {
  const within = 'n.service = s.service AND n.taken_at >= $1 AND n.taken_at < $2';
  const { rows } = await db.query<{
    service: string;
    readings: number;
    first_ratio: number | null;
    last_ratio: number | null;
    remaining: number;
  }>(
    `SELECT s.service, count(*) AS readings,
            (SELECT n.consumed_epsilon / NULLIF(n.total_epsilon, 0) FROM privacy_budget_snapshots n WHERE ${within}
             ORDER BY n.taken_at, n.id LIMIT 1) AS first_ratio,
            (SELECT n.consumed_epsilon / NULLIF(n.total_epsilon, 0) FROM privacy_budget_snapshots n WHERE ${within}
             ORDER BY n.taken_at DESC, n.id DESC LIMIT 1) AS last_ratio,
            (SELECT n.remaining_epsilon FROM privacy_budget_snapshots n WHERE ${within}
             ORDER BY n.taken_at DESC, n.id DESC LIMIT 1) AS remaining
     FROM privacy_budget_snapshots s WHERE s.taken_at >= $1 AND s.taken_at < $2 GROUP BY s.service ORDER BY s.service`,
    [range.from, range.to],
  );
  return rows;
}
