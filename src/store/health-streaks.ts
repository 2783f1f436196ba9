// Consecutive critical health results per service, and the incident a streak opened.
import type { Queryable } from './db.ts';

export interface HealthStreak {
  service: string;
  critical_count: number;
  since: Date | null;
  last_reason: string | null;
  incident_id: number | null;
}

/** One statement per result: the count goes up on critical and back to zero otherwise, whichever replica records it. */
export async function recordHealthResult(
  db: Queryable,
  service: string,
  critical: boolean,
  reason: string,
  at: Date,
): Promise<HealthStreak> {
  const { rows } = await db.query<HealthStreak>(
    `INSERT INTO service_health_streaks (service, critical_count, since, last_reason, updated_at)
     VALUES ($1, CASE WHEN $2 THEN 1 ELSE 0 END, CASE WHEN $2 THEN $3::timestamptz END, $4, $3)
     ON CONFLICT (service) DO UPDATE SET
       critical_count = CASE WHEN $2 THEN service_health_streaks.critical_count + 1 ELSE 0 END,
       since = CASE WHEN $2 THEN COALESCE(service_health_streaks.since, $3::timestamptz) END,
       last_reason = $4, updated_at = $3
     RETURNING service, critical_count, since, last_reason, incident_id`,
    [service, critical, at, reason.slice(0, 500)],
  );
  return rows[0]!;
}

/** Links the streak to the incident it opened; false when another replica linked one first. */
export async function linkStreakIncident(db: Queryable, service: string, incidentId: number): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE service_health_streaks SET incident_id = $2 WHERE service = $1 AND incident_id IS NULL',
    [service, incidentId],
  );
  return rowCount > 0;
}

export async function unlinkStreakIncident(db: Queryable, service: string, incidentId: number): Promise<void> {
  await db.query('UPDATE service_health_streaks SET incident_id = NULL WHERE service = $1 AND incident_id = $2', [
    service,
    incidentId,
  ]);
}
