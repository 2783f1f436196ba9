// Confirmations of changes: created pending, then claimed once (a single UPDATE), then finished with an outcome.
import { randomBytes } from 'node:crypto';
import type { Queryable } from './db.ts';

export type ConfirmationState = 'pending' | 'confirmed' | 'cancelled' | 'expired';

export interface Confirmation {
  id: string;
  action: string;
  service: string | null;
  params: Record<string, unknown>;
  summary: string;
  requested_by: string;
  approvers: string[];
  channel_id: string | null;
  response_url: string | null;
  created_at: Date;
  expires_at: Date;
  state: ConfirmationState;
  decided_by: string | null;
  decided_at: Date | null;
  outcome: string | null;
  outcome_text: string | null;
  finished_at: Date | null;
}

export interface NewConfirmation {
  action: string;
  service?: string | undefined;
  params: Record<string, unknown>;
  summary: string;
  requestedBy: string;
  approvers: string[];
  channelId?: string | undefined;
  responseUrl?: string | undefined;
  now: Date;
  expiresAt: Date;
}

export async function createConfirmation(db: Queryable, input: NewConfirmation): Promise<Confirmation> {
  const id = randomBytes(12).toString('base64url');
  const { rows } = await db.query<Confirmation>(
    `INSERT INTO confirmations (id, action, service, params, summary, requested_by, approvers, channel_id, response_url, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
    [
      id,
      input.action,
      input.service ?? null,
      JSON.stringify(input.params),
      input.summary,
      input.requestedBy,
      JSON.stringify(input.approvers),
      input.channelId ?? null,
      input.responseUrl ?? null,
      input.now,
      input.expiresAt,
    ],
  );
  return rows[0]!;
}

export async function getConfirmation(db: Queryable, id: string): Promise<Confirmation | undefined> {
  const { rows } = await db.query<Confirmation>('SELECT * FROM confirmations WHERE id = $1', [id]);
  return rows[0];
}

/**
 * Moves a pending, unexpired confirmation to `confirmed` or `cancelled` in one statement, so of any number of
 * clicks on any number of replicas exactly one wins. Returns the row when this call won, else undefined.
 */
export async function claimConfirmation(
  db: Queryable,
  id: string,
  decision: 'confirmed' | 'cancelled',
  userId: string,
  now: Date,
): Promise<Confirmation | undefined> {
  const { rows } = await db.query<Confirmation>(
    `UPDATE confirmations SET state = $2, decided_by = $3, decided_at = $4
     WHERE id = $1 AND state = 'pending' AND expires_at > $4 RETURNING *`,
    [id, decision, userId, now],
  );
  return rows[0];
}

/** Marks a pending confirmation whose time is up as expired; true when this call did it. */
export async function expireConfirmation(db: Queryable, id: string, now: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE confirmations SET state = 'expired', decided_at = $2 WHERE id = $1 AND state = 'pending' AND expires_at <= $2`,
    [id, now],
  );
  return rowCount > 0;
}

export async function finishConfirmation(
  db: Queryable,
  id: string,
  outcome: string,
  outcomeText: string,
  now: Date,
): Promise<void> {
  await db.query('UPDATE confirmations SET outcome = $2, outcome_text = $3, finished_at = $4 WHERE id = $1', [
    id,
    outcome,
    outcomeText,
    now,
  ]);
}
