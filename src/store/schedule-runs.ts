// Scheduled firings: claimed once per (job, wall-clock key) across replicas, then finished with an outcome.
import type { Queryable } from './db.ts';

export interface ScheduleRun {
  job: string;
  fire_key: string;
  scheduled_at: Date;
  replica: string;
  started_at: Date;
  finished_at: Date | null;
  late: boolean;
  outcome: string | null;
  summary: string | null;
  duration_ms: number | null;
}

/** True when this replica won the firing (one INSERT: a second replica's conflicts and does nothing). */
export async function claimFiring(
  db: Queryable,
  run: { job: string; key: string; scheduledAt: Date; replica: string; startedAt: Date; late: boolean },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO schedule_runs (job, fire_key, scheduled_at, replica, started_at, late) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (job, fire_key) DO NOTHING`,
    [run.job, run.key, run.scheduledAt, run.replica, run.startedAt, run.late],
  );
  return rowCount > 0;
}

export async function finishFiring(
  db: Queryable,
  job: string,
  key: string,
  outcome: string,
  summary: string,
  finishedAt: Date,
  durationMs: number,
): Promise<void> {
  await db.query(
    'UPDATE schedule_runs SET outcome = $3, summary = $4, finished_at = $5, duration_ms = $6 WHERE job = $1 AND fire_key = $2',
    [job, key, outcome, summary.slice(0, 2_000), finishedAt, Math.round(durationMs)],
  );
}

export async function listRuns(db: Queryable, job?: string, limit = 50): Promise<ScheduleRun[]> {
  const { rows } = job
    ? await db.query<ScheduleRun>('SELECT * FROM schedule_runs WHERE job = $1 ORDER BY scheduled_at DESC LIMIT $2', [job, limit])
    : await db.query<ScheduleRun>('SELECT * FROM schedule_runs ORDER BY scheduled_at DESC LIMIT $1', [limit]);
  return rows;
}
