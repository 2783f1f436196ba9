// Durable work: one table, one claim statement with a lease, for everything that must happen once on some replica.
//
// In the manner of graphile-worker's getJobs and pg-boss's fetchNextJob: due rows are claimed with one
// `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`, which hands each row to exactly one replica. A claim
// is a lease (owner, lease_until) and a fence: every claim increments `fence`, and every write a holder makes
// afterwards names the fence it holds, so a holder whose lease ran out (a stalled or paused replica) cannot act on
// stale state once another has taken the row over. `version` counts changes to the payload: completing a row that
// changed while it ran sends it round again (collapsing repeated updates of one message into the latest).
// Escalation steps, ack alarms, channel setups, alert deliveries, the outgoing Slack queue, scheduled firings and
// locks are all rows here; what each kind means is the business of the module that runs it.
import type { Queryable } from './db.ts';

export type WorkState = 'pending' | 'running' | 'done' | 'cancelled';

export interface WorkRow<P = Record<string, unknown>> {
  id: number;
  kind: string;
  key: string;
  incident_id: number | null;
  priority: number;
  run_at: Date;
  payload: P;
  state: WorkState;
  /** The replica holding it, or (once finished) the one that finished it. */
  owner: string | null;
  lease_until: Date | null;
  fence: number;
  version: number;
  attempts: number;
  /** A previous attempt may have reached the outside world: look for its result before acting again. */
  uncertain: boolean;
  last_error: string | null;
  created_at: Date;
  finished_at: Date | null;
  result: Record<string, unknown> | null;
}

/** What a holder proves it holds: the row, its fence and the version it saw. */
export type WorkClaim<P = Record<string, unknown>> = WorkRow<P>;

export interface NewWork {
  kind: string;
  key: string;
  incidentId?: number | null;
  priority: number;
  runAt: Date;
  payload?: Record<string, unknown>;
}

const columns = `(kind, key, incident_id, priority, run_at, payload, created_at)`;

/** Adds a row unless its key exists; returns the row when it was added. */
export async function enqueueWork(db: Queryable, work: NewWork, now: Date): Promise<WorkRow | undefined> {
  const { rows } = await db.query<WorkRow>(
    `INSERT INTO work ${columns} VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING RETURNING *`,
    [work.kind, work.key, work.incidentId ?? null, work.priority, work.runAt, JSON.stringify(work.payload ?? {}), now],
  );
  return rows[0];
}

/**
 * Adds the row, or arms it again at `runAt` when it exists but is waiting or was cancelled (a timer moved by a new
 * severity, "escalate now"); a row that runs or ran is left alone. Returns whether the row now waits for `runAt`.
 */
export async function scheduleWork(db: Queryable, work: NewWork, now: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO work ${columns} VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (key) DO UPDATE SET state = 'pending', run_at = EXCLUDED.run_at, priority = EXCLUDED.priority
     WHERE work.state IN ('pending', 'cancelled')`,
    [work.kind, work.key, work.incidentId ?? null, work.priority, work.runAt, JSON.stringify(work.payload ?? {}), now],
  );
  return rowCount > 0;
}

/**
 * Adds the row, or replaces the payload of the existing one and makes it due again: a finished row runs again, a
 * waiting one runs once with the newest payload, a running one runs again after it finishes (its version moved).
 */
export async function upsertWork(db: Queryable, work: NewWork, now: Date): Promise<WorkRow> {
  const { rows } = await db.query<WorkRow>(
    `INSERT INTO work ${columns} VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (key) DO UPDATE SET
       payload = EXCLUDED.payload,
       version = work.version + 1,
       priority = CASE WHEN EXCLUDED.priority < work.priority THEN EXCLUDED.priority ELSE work.priority END,
       run_at = CASE WHEN work.state = 'running' THEN work.run_at ELSE EXCLUDED.run_at END,
       state = CASE WHEN work.state = 'running' THEN 'running' ELSE 'pending' END,
       finished_at = NULL
     RETURNING *`,
    [work.kind, work.key, work.incidentId ?? null, work.priority, work.runAt, JSON.stringify(work.payload ?? {}), now],
  );
  return rows[0]!;
}

/** Adds a row already held by `owner` (a scheduled firing): returns the claim, or undefined when the key exists. */
export async function claimNewWork(
  db: Queryable,
  work: NewWork,
  owner: string,
  now: Date,
  leaseUntil: Date,
): Promise<WorkClaim | undefined> {
  const { rows } = await db.query<WorkClaim>(
    `INSERT INTO work (kind, key, incident_id, priority, run_at, payload, created_at, state, owner, lease_until, fence, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9, 1, 1)
     ON CONFLICT (key) DO NOTHING RETURNING *`,
    [
      work.kind,
      work.key,
      work.incidentId ?? null,
      work.priority,
      work.runAt,
      JSON.stringify(work.payload ?? {}),
      now,
      owner,
      leaseUntil,
    ],
  );
  return rows[0];
}

/** Claims due rows of the given kinds, most urgent first: pending ones, and running ones whose lease ran out. */
export async function claimDueWork(
  db: Queryable,
  kinds: readonly string[],
  owner: string,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<WorkClaim[]> {
  if (kinds.length === 0 || limit <= 0) return [];
  const kindList = kinds.map((_, i) => `$${i + 5}`).join(', ');
  const { rows } = await db.query<WorkClaim>(
    `UPDATE work SET state = 'running', owner = $1, lease_until = $3, fence = fence + 1, attempts = attempts + 1
     WHERE id IN (
       SELECT id FROM work
       WHERE kind IN (${kindList}) AND run_at <= $2
         AND (state = 'pending' OR (state = 'running' AND lease_until <= $2))
       ORDER BY priority, run_at
       LIMIT $4
       FOR UPDATE SKIP LOCKED
     )
     RETURNING *`,
    [owner, now, leaseUntil, limit, ...kinds],
  );
  return rows.sort((a, b) => a.priority - b.priority || a.run_at.getTime() - b.run_at.getTime());
}

/** Claims one row by key now, whatever its due time, if nobody holds it (the replica that created it runs it at once). */
export async function claimWorkByKey(
  db: Queryable,
  key: string,
  owner: string,
  now: Date,
  leaseUntil: Date,
): Promise<WorkClaim | undefined> {
  const { rows } = await db.query<WorkClaim>(
    `UPDATE work SET state = 'running', owner = $2, lease_until = $4, fence = fence + 1, attempts = attempts + 1
     WHERE key = $1 AND (state = 'pending' OR (state = 'running' AND lease_until <= $3))
     RETURNING *`,
    [key, owner, now, leaseUntil],
  );
  return rows[0];
}

/**
 * Takes a lock-like row: inserts it held by `owner`, or takes it over when it is free (done) or its lease ran out.
 * Returns the claim, or the current holder when someone else holds it.
 */
export async function acquireWork(
  db: Queryable,
  work: NewWork,
  owner: string,
  now: Date,
  leaseUntil: Date,
): Promise<{ claim: WorkClaim } | { heldBy: string; since: Date }> {
  const { rows } = await db.query<WorkClaim>(
    `INSERT INTO work (kind, key, incident_id, priority, run_at, payload, created_at, state, owner, lease_until, fence, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, $5, 'running', $7, $8, 1, 1)
     ON CONFLICT (key) DO UPDATE SET state = 'running', owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until,
       run_at = EXCLUDED.run_at, payload = EXCLUDED.payload, fence = work.fence + 1, attempts = work.attempts + 1,
       finished_at = NULL
     WHERE work.state <> 'running' OR work.lease_until <= $5
     RETURNING *`,
    [work.kind, work.key, work.incidentId ?? null, work.priority, now, JSON.stringify(work.payload ?? {}), owner, leaseUntil],
  );
  if (rows[0]) return { claim: rows[0] };
  const held = await getWork(db, work.key);
  // Released between the two statements: try once more.
  if (!held || held.state !== 'running') return acquireWork(db, work, owner, now, leaseUntil);
  return { heldBy: held.owner ?? 'unknown', since: held.run_at };
}

/** Extends the lease; false when the claim is no longer this holder's (cancelled, or taken over after its lease). */
export async function renewWork(db: Queryable, claim: WorkClaim, leaseUntil: Date): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE work SET lease_until = $3 WHERE id = $1 AND fence = $2 AND state = 'running'`, [
    claim.id,
    claim.fence,
    leaseUntil,
  ]);
  return rowCount > 0;
}

/**
 * Finishes a claimed row: 'done', or 'again' when its payload changed while it ran (it waits to run once more);
 * false when the claim was lost.
 */
export async function completeWork(
  db: Queryable,
  claim: WorkClaim,
  now: Date,
  result?: Record<string, unknown>,
): Promise<'done' | 'again' | false> {
  const { rows } = await db.query<{ state: WorkState }>(
    `UPDATE work SET state = CASE WHEN version = $3 THEN 'done' ELSE 'pending' END,
       finished_at = CASE WHEN version = $3 THEN $4::timestamptz END,
       lease_until = NULL, uncertain = false, last_error = NULL,
       result = COALESCE($5, result)
     WHERE id = $1 AND fence = $2 AND state = 'running'
     RETURNING state`,
    [claim.id, claim.fence, claim.version, now, result === undefined ? null : JSON.stringify(result)],
  );
  const state = rows[0]?.state;
  return state === 'done' ? 'done' : state === 'pending' ? 'again' : false;
}

/**
 * Gives a claimed row back to be tried again at `runAt`; `uncertain` when the attempt may have had an effect. A
 * deferral (`failed` false: it was not the work's turn yet) is not counted in `attempts`, so the next attempt does not
 * take it for one that may have been cut off half-way.
 */
export async function retryWork(
  db: Queryable,
  claim: WorkClaim,
  runAt: Date,
  error: string,
  uncertain: boolean,
  failed = true,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE work SET state = 'pending', owner = NULL, lease_until = NULL, run_at = $3, last_error = $4,
       uncertain = uncertain OR $5, attempts = attempts - $6
     WHERE id = $1 AND fence = $2 AND state = 'running'`,
    [claim.id, claim.fence, runAt, error.slice(0, 500), uncertain, failed ? 0 : 1],
  );
  return rowCount > 0;
}

/** Lets go of a lock-like row (done), if this holder still holds it. */
export async function releaseWork(db: Queryable, claim: WorkClaim, now: Date): Promise<void> {
  await db.query(
    `UPDATE work SET state = 'done', owner = NULL, lease_until = NULL, finished_at = $3 WHERE id = $1 AND fence = $2 AND state = 'running'`,
    [claim.id, claim.fence, now],
  );
}

/** Extends a lock-like row's lease by its holder's name (locks are held by a name, not passed around as claims). */
export async function renewHeld(db: Queryable, key: string, owner: string, leaseUntil: Date): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE work SET lease_until = $3 WHERE key = $1 AND owner = $2 AND state = 'running'`, [
    key,
    owner,
    leaseUntil,
  ]);
  return rowCount > 0;
}

/** Lets go of a lock-like row held by `owner`. */
export async function releaseHeld(db: Queryable, key: string, owner: string, now: Date): Promise<void> {
  await db.query(
    `UPDATE work SET state = 'done', owner = NULL, lease_until = NULL, finished_at = $3 WHERE key = $1 AND owner = $2 AND state = 'running'`,
    [key, owner, now],
  );
}

/** Cancels the unfinished rows of an incident (of the given kinds, or all): resolving stops every timer. */
export async function cancelIncidentWork(db: Queryable, incidentId: number, kinds?: readonly string[]): Promise<number> {
  const kindFilter = kinds && kinds.length > 0 ? `AND kind IN (${kinds.map((_, i) => `$${i + 2}`).join(', ')})` : '';
  const { rowCount } = await db.query(
    `UPDATE work SET state = 'cancelled', owner = NULL, lease_until = NULL
     WHERE incident_id = $1 AND state IN ('pending', 'running') ${kindFilter}`,
    [incidentId, ...(kinds ?? [])],
  );
  return rowCount;
}

/** Cancels one row by key, if unfinished. */
export async function cancelWork(db: Queryable, key: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE work SET state = 'cancelled', owner = NULL, lease_until = NULL WHERE key = $1 AND state IN ('pending', 'running')`,
    [key],
  );
  return rowCount > 0;
}

/** Moves a waiting row's due time (escalate now, a new severity's targets). */
export async function rescheduleWork(db: Queryable, key: string, runAt: Date): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE work SET run_at = $2 WHERE key = $1 AND state = 'pending'`, [key, runAt]);
  return rowCount > 0;
}

export async function getWork(db: Queryable, key: string): Promise<WorkRow | undefined> {
  return (await db.query<WorkRow>('SELECT * FROM work WHERE key = $1', [key])).rows[0];
}

/** When the next row of these kinds falls due (or a running one's lease runs out), to sleep until then. */
export async function nextWorkAt(db: Queryable, kinds: readonly string[]): Promise<Date | undefined> {
  if (kinds.length === 0) return undefined;
  // One indexed look per kind (work_kind_due, work_kind_lease): a minimum over `kind IN (…)` read every row of the kinds.
  const looks = kinds.flatMap((_, i) => [
    `SELECT min(run_at) AS next_at FROM work WHERE state = 'pending' AND kind = $${i + 1}`,
    `SELECT min(lease_until) AS next_at FROM work WHERE state = 'running' AND kind = $${i + 1}`,
  ]);
  const { rows } = await db.query<{ next_at: Date | null }>(looks.join(' UNION ALL '), [...kinds]);
  const times = rows.map((row) => row.next_at).filter((at): at is Date => at instanceof Date);
  return times.length ? new Date(Math.min(...times.map((at) => at.getTime()))) : undefined;
}

/** Unfinished rows by priority, with the age of the oldest due one, for /metrics (locks and firings held are not a backlog). */
export async function workBacklog(
  db: Queryable,
  now: Date,
): Promise<Array<{ kind: string; priority: number; due: number; oldest_at: Date | null }>> {
  const { rows } = await db.query<{ kind: string; priority: number; due: number; oldest_at: Date | null }>(
    `SELECT kind, priority, count(*) AS due, min(run_at) AS oldest_at FROM work
     WHERE state IN ('pending', 'running') AND run_at <= $1 AND kind NOT IN ('lock', 'schedule') GROUP BY kind, priority`,
    [now],
  );
  return rows;
}
