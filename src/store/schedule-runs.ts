// Scheduled firings: claimed once per (job, wall-clock key) across replicas, then finished with an outcome.
import type { Queryable, Store } from './db.ts';
import { claimNewWork, releaseHeld } from './work.ts';

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

/** The work row that claims a firing: one per (job, wall-clock key), whichever replica inserts it first. */
const firingKey = (job: string, key: string) => `schedule:${job}:${key}`;
/** A firing's claim is held this long at most; nothing retries a firing whose replica died (it is reported, not rerun). */
const FIRING_LEASE_MS = 24 * 3_600_000;

/** True when this replica won the firing: the claim (a work row inserted once) and the run's record, in one transaction. */
export async function claimFiring(
  store: Store,
  run: { job: string; key: string; scheduledAt: Date; replica: string; startedAt: Date; late: boolean },
): Promise<boolean> {
  return store.transaction(async (tx) => {
    const claim = await claimNewWork(
      tx,
      { kind: 'schedule', key: firingKey(run.job, run.key), priority: 3, runAt: run.scheduledAt },
      run.replica,
      run.startedAt,
      new Date(run.startedAt.getTime() + FIRING_LEASE_MS),
    );
    if (!claim) return false;
    const { rowCount } = await tx.query(
      `INSERT INTO schedule_runs (job, fire_key, scheduled_at, replica, started_at, late) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (job, fire_key) DO NOTHING`,
      [run.job, run.key, run.scheduledAt, run.replica, run.startedAt, run.late],
    );
    // A record without a claim row is a firing claimed before claims were work rows: it ran.
    return rowCount > 0;
  });
}

export async function finishFiring(
  store: Store,
  run: { job: string; key: string; replica: string },
  outcome: string,
  summary: string,
  finishedAt: Date,
  durationMs: number,
): Promise<void> {
  await store.transaction(async (tx) => {
    await tx.query(
      'UPDATE schedule_runs SET outcome = $3, summary = $4, finished_at = $5, duration_ms = $6 WHERE job = $1 AND fire_key = $2',
      [run.job, run.key, outcome, summary.slice(0, 2_000), finishedAt, Math.round(durationMs)],
    );
    await releaseHeld(tx, firingKey(run.job, run.key), run.replica, finishedAt);
  });
}

export async function listRuns(db: Queryable, job?: string, limit = 50): Promise<ScheduleRun[]> {
  const { rows } = job
    ? await db.query<ScheduleRun>('SELECT * FROM schedule_runs WHERE job = $1 ORDER BY scheduled_at DESC LIMIT $2', [job, limit])
    : await db.query<ScheduleRun>('SELECT * FROM schedule_runs ORDER BY scheduled_at DESC LIMIT $1', [limit]);
  return rows;
}
