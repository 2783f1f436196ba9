// Follow-ups (action items) of incidents: added, listed, marked done once, counted for the weekly report.
import type { Queryable } from './db.ts';

export interface FollowUp {
  id: number;
  incident_id: number;
  text: string;
  owner: string | null;
  created_by: string;
  created_at: Date;
  due_at: Date;
  done_at: Date | null;
  done_by: string | null;
}

/** An open follow-up with where its incident lives, for listings across incidents. */
export interface OpenFollowUp extends FollowUp {
  incident_title: string;
  channel_id: string | null;
}

export async function addFollowUp(
  db: Queryable,
  input: { incidentId: number; text: string; owner: string | null; createdBy: string; createdAt: Date; dueAt: Date },
): Promise<FollowUp> {
  return (
    await db.query<FollowUp>(
      `INSERT INTO follow_ups (incident_id, text, owner, created_by, created_at, due_at) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING *`,
      [input.incidentId, input.text, input.owner, input.createdBy, input.createdAt, input.dueAt],
    )
  ).rows[0]!;
}

export async function getFollowUp(db: Queryable, id: number): Promise<FollowUp | undefined> {
  return (await db.query<FollowUp>('SELECT * FROM follow_ups WHERE id = $1', [id])).rows[0];
}

/** An incident's follow-ups, open and done, oldest first. */
export async function listFollowUps(db: Queryable, incidentId: number): Promise<FollowUp[]> {
  return (await db.query<FollowUp>('SELECT * FROM follow_ups WHERE incident_id = $1 ORDER BY id', [incidentId])).rows;
}

/** Open follow-ups across incidents, the soonest due first. */
export async function listOpenFollowUps(db: Queryable, limit: number): Promise<OpenFollowUp[]> {
  return (
    await db.query<OpenFollowUp>(
      `SELECT f.*, i.title AS incident_title, i.channel_id FROM follow_ups f JOIN incidents i ON i.id = f.incident_id
       WHERE f.done_at IS NULL ORDER BY f.due_at, f.id LIMIT $1`,
      [limit],
    )
  ).rows;
}

/** Marks it done; undefined when it already was (two clicks, two replicas: one wins). */
export async function markFollowUpDone(db: Queryable, id: number, by: string, at: Date): Promise<FollowUp | undefined> {
  return (
    await db.query<FollowUp>('UPDATE follow_ups SET done_at = $3, done_by = $2 WHERE id = $1 AND done_at IS NULL RETURNING *', [
      id,
      by,
      at,
    ])
  ).rows[0];
}

/** Follow-ups open at `at` (added before it, not done by it), and how many of those were past due. */
export async function followUpCountsAt(db: Queryable, at: Date): Promise<{ open: number; overdue: number }> {
  const { rows } = await db.query<{ open: number; overdue: number }>(
    `SELECT count(*) AS open, count(*) FILTER (WHERE due_at < $1) AS overdue FROM follow_ups
     WHERE created_at < $1 AND (done_at IS NULL OR done_at >= $1)`,
    [at],
  );
  return { open: Number(rows[0]?.open ?? 0), overdue: Number(rows[0]?.overdue ?? 0) };
}
