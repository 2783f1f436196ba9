// Incidents, their timeline, escalation steps and reserved channel names: every state change is one SQL statement, so replicas cannot race.
import type { Severity } from '../config/schema.ts';
import type { Queryable, Store } from './db.ts';

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';

export interface Incident {
  id: number;
  declaration_key: string;
  title: string;
  severity: Severity;
  service: string | null;
  summary: string;
  status: IncidentStatus;
  source: string;
  declared_by: string;
  declared_at: Date;
  channel_id: string | null;
  channel_name: string | null;
  card_ts: string | null;
  commander: string | null;
  acknowledged_by: string | null;
  acknowledged_at: Date | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  resolution: string | null;
  ack_due_at: Date | null;
  ack_alarm_sent_at: Date | null;
  setup_done: boolean;
  /** The setup steps already done (topic, card, pin, checklist, invited, announced), so a resumed setup skips them. */
  setup_progress: Partial<Record<SetupStep, true>>;
  alert_group_key: string | null;
}

export type SetupStep = 'topic' | 'card' | 'pin' | 'checklist' | 'invited' | 'announced' | 'pages_copied';

export interface IncidentEvent {
  id: number;
  incident_id: number;
  at: Date;
  kind: string;
  actor: string | null;
  text: string;
  data: Record<string, unknown>;
}

export interface EscalationStep {
  incident_id: number;
  level: number;
  label: string;
  notify: string[];
  due_at: Date;
  state: 'pending' | 'posted' | 'cancelled';
  posted_at: Date | null;
  /** Where the page went: the incident channel, or the announcement channel when the incident had none yet. */
  posted_in: string | null;
  message_ts: string | null;
  late: boolean | null;
  /** The work that claimed this page's copy into the incident channel (when it was paged elsewhere first). */
  copy_claimed_by: string | null;
  copy_started_at: Date | null;
  copied_at: Date | null;
}

export interface NewIncident {
  declarationKey: string;
  title: string;
  severity: Severity;
  service: string | null;
  summary: string;
  source: string;
  declaredBy: string;
  declaredAt: Date;
  ackDueAt: Date | null;
  alertGroupKey?: string | null;
  steps: Array<{ level: number; label: string; notify: string[]; dueAt: Date }>;
}

/** Inserts the incident, its escalation steps and the "declared" event; returns `created: false` with the existing row on a repeat. */
export async function insertIncident(store: Store, input: NewIncident): Promise<{ incident: Incident; created: boolean }> {
  return store.transaction((tx) => insertIncidentIn(tx, input));
}

/** insertIncident inside a transaction the caller holds (alert intake decides and inserts under one lock). */
export async function insertIncidentIn(tx: Queryable, input: NewIncident): Promise<{ incident: Incident; created: boolean }> {
  const inserted = await tx.query<Incident>(
    `INSERT INTO incidents (declaration_key, title, severity, service, summary, source, declared_by, declared_at, ack_due_at, alert_group_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (declaration_key) DO NOTHING RETURNING *`,
    [
      input.declarationKey,
      input.title,
      input.severity,
      input.service,
      input.summary,
      input.source,
      input.declaredBy,
      input.declaredAt,
      input.ackDueAt,
      input.alertGroupKey ?? null,
    ],
  );
  const incident = inserted.rows[0];
  if (!incident) {
    const existing = await tx.query<Incident>('SELECT * FROM incidents WHERE declaration_key = $1', [input.declarationKey]);
    return { incident: existing.rows[0]!, created: false };
  }
  await insertSteps(tx, incident.id, input.steps);
  await addEvent(tx, incident.id, input.declaredAt, 'declared', input.declaredBy, `Declared ${input.severity}: ${input.title}`, {
    source: input.source,
  });
  return { incident, created: true };
}

async function insertSteps(tx: Queryable, incidentId: number, steps: NewIncident['steps']): Promise<void> {
  for (const step of steps) {
    await tx.query(
      `INSERT INTO escalation_steps (incident_id, level, label, notify, due_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (incident_id, level) DO NOTHING`,
      [incidentId, step.level, step.label, JSON.stringify(step.notify), step.dueAt],
    );
  }
}

export async function addEvent(
  db: Queryable,
  incidentId: number,
  at: Date,
  kind: string,
  actor: string | null,
  text: string,
  data: Record<string, unknown> = {},
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    'INSERT INTO incident_events (incident_id, at, kind, actor, text, data) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
    [incidentId, at, kind, actor, text, JSON.stringify(data)],
  );
  return rows[0]!.id;
}

export async function getIncident(db: Queryable, id: number): Promise<Incident | undefined> {
  return (await db.query<Incident>('SELECT * FROM incidents WHERE id = $1', [id])).rows[0];
}

export async function getIncidentByChannel(db: Queryable, channelId: string): Promise<Incident | undefined> {
  return (await db.query<Incident>('SELECT * FROM incidents WHERE channel_id = $1', [channelId])).rows[0];
}

export async function getIncidentByChannelName(db: Queryable, name: string): Promise<Incident | undefined> {
  return (await db.query<Incident>('SELECT * FROM incidents WHERE channel_name = $1', [name])).rows[0];
}

export async function listOpenIncidents(db: Queryable, limit = 20): Promise<Incident[]> {
  return (
    await db.query<Incident>(`SELECT * FROM incidents WHERE status <> 'resolved' ORDER BY declared_at DESC LIMIT $1`, [limit])
  ).rows;
}

export async function listEvents(db: Queryable, incidentId: number): Promise<IncidentEvent[]> {
  return (await db.query<IncidentEvent>('SELECT * FROM incident_events WHERE incident_id = $1 ORDER BY at, id', [incidentId]))
    .rows;
}

/** When the last stakeholder update (`/incident update`) was posted, if ever. */
export async function lastStatusUpdateAt(db: Queryable, incidentId: number): Promise<Date | undefined> {
  return (
    await db.query<{ at: Date }>(
      `SELECT at FROM incident_events WHERE incident_id = $1 AND kind = 'status_update' ORDER BY at DESC, id DESC LIMIT 1`,
      [incidentId],
    )
  ).rows[0]?.at;
}

export async function listSteps(db: Queryable, incidentId: number): Promise<EscalationStep[]> {
  return (await db.query<EscalationStep>('SELECT * FROM escalation_steps WHERE incident_id = $1 ORDER BY level', [incidentId]))
    .rows;
}

export async function recordChannel(db: Queryable, id: number, channelId: string, channelName: string): Promise<void> {
  await db.query('UPDATE incidents SET channel_id = $2, channel_name = $3 WHERE id = $1', [id, channelId, channelName]);
}

export async function recordCard(db: Queryable, id: number, cardTs: string): Promise<void> {
  await db.query('UPDATE incidents SET card_ts = $2 WHERE id = $1', [id, cardTs]);
}

export async function finishSetup(db: Queryable, id: number): Promise<void> {
  await db.query('UPDATE incidents SET setup_done = true WHERE id = $1', [id]);
}

/** Records that one setup step is done (in the caller's fenced transaction). */
export async function recordSetupStep(db: Queryable, id: number, step: SetupStep): Promise<void> {
  const merged =
    db.dialect === 'postgres'
      ? `setup_progress || jsonb_build_object($2::text, true)`
      : `json_set(setup_progress, '$.' || $2, json('true'))`;
  await db.query(`UPDATE incidents SET setup_progress = ${merged} WHERE id = $1`, [id, step]);
}

/** open → acknowledged; undefined when it was already acknowledged or resolved. */
export async function acknowledgeIncident(db: Queryable, id: number, userId: string, now: Date): Promise<Incident | undefined> {
  return (
    await db.query<Incident>(
      `UPDATE incidents SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = $3,
         commander = COALESCE(commander, $2)
       WHERE id = $1 AND status = 'open' RETURNING *`,
      [id, userId, now],
    )
  ).rows[0];
}

/** open|acknowledged → resolved, and every pending level cancelled; undefined when already resolved. Run it in a transaction. */
export async function resolveIncident(
  tx: Queryable,
  id: number,
  userId: string,
  resolution: string,
  now: Date,
): Promise<Incident | undefined> {
  const resolved = (
    await tx.query<Incident>(
      `UPDATE incidents SET status = 'resolved', resolved_by = $2, resolved_at = $3, resolution = $4,
         acknowledged_at = COALESCE(acknowledged_at, $3), acknowledged_by = COALESCE(acknowledged_by, $2)
       WHERE id = $1 AND status <> 'resolved' RETURNING *`,
      [id, userId, now, resolution],
    )
  ).rows[0];
  if (!resolved) return undefined;
  await tx.query(`UPDATE escalation_steps SET state = 'cancelled' WHERE incident_id = $1 AND state = 'pending'`, [id]);
  return resolved;
}

/**
 * resolved → acknowledged again (a resolve always leaves it acknowledged); undefined when it is not resolved, or when
 * its alert group has a newer open incident (one open incident per group).
 */
export async function reopenIncident(tx: Queryable, id: number): Promise<Incident | undefined> {
  return (
    await tx.query<Incident>(
      `UPDATE incidents SET status = 'acknowledged', resolved_at = NULL, resolved_by = NULL, resolution = NULL
       WHERE id = $1 AND status = 'resolved' AND NOT EXISTS (
         SELECT 1 FROM incidents o WHERE o.alert_group_key = incidents.alert_group_key AND o.status <> 'resolved' AND o.id <> $1)
       RETURNING *`,
      [id],
    )
  ).rows[0];
}

/** A new severity with its ack target; the levels not yet posted are replaced by the new policy's. Run it in a transaction. */
export async function setSeverity(
  tx: Queryable,
  id: number,
  severity: Severity,
  ackDueAt: Date | null,
  steps: NewIncident['steps'],
): Promise<Incident | undefined> {
  const updated = (
    await tx.query<Incident>(
      `UPDATE incidents SET severity = $2,
         ack_due_at = CASE WHEN status = 'open' AND ack_alarm_sent_at IS NULL THEN $3::timestamptz ELSE ack_due_at END
       WHERE id = $1 AND status <> 'resolved' RETURNING *`,
      [id, severity, ackDueAt],
    )
  ).rows[0];
  if (!updated) return undefined;
  // Levels already posted stay; the rest follow the new severity's policy.
  const posted = await tx.query<{ level: number }>(
    `SELECT level FROM escalation_steps WHERE incident_id = $1 AND state = 'posted'`,
    [id],
  );
  const reached = Math.max(0, ...posted.rows.map((row) => row.level));
  await tx.query(`DELETE FROM escalation_steps WHERE incident_id = $1 AND state = 'pending'`, [id]);
  await insertSteps(
    tx,
    id,
    steps.filter((step) => step.level > reached),
  );
  return updated;
}

/** Makes the lowest pending level due now; returns it, or undefined when every level is already posted. */
export async function escalateNow(db: Queryable, id: number, now: Date): Promise<EscalationStep | undefined> {
  return (
    await db.query<EscalationStep>(
      `UPDATE escalation_steps SET due_at = CASE WHEN due_at < $2::timestamptz THEN due_at ELSE $2::timestamptz END
       WHERE incident_id = $1 AND level = (SELECT min(level) FROM escalation_steps WHERE incident_id = $1 AND state = 'pending')
         AND state = 'pending' RETURNING *`,
      [id, now],
    )
  ).rows[0];
}

/** Marks a level posted (where and when); false when it was not pending (posted already, or cancelled by a resolve). */
export async function markStepPosted(
  db: Queryable,
  incidentId: number,
  level: number,
  posted: { at: Date; in: string; ts: string | null; late: boolean },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE escalation_steps SET state = 'posted', posted_at = $3, posted_in = $4, message_ts = $5, late = $6
     WHERE incident_id = $1 AND level = $2 AND state = 'pending'`,
    [incidentId, level, posted.at, posted.in, posted.ts, posted.late],
  );
  return rowCount > 0;
}

/** Who posts the copy of a page: this work (first, or again after its own attempt), nobody (done), or someone else. */
export type PageCopyClaim = { kind: 'mine'; resumed: boolean } | { kind: 'done' } | { kind: 'busy' };

/**
 * Claims the copy of one page for a piece of work (its work key). It is `mine` when nobody claimed it, when this same
 * work claimed it before (a retry: `resumed`, so it looks in the channel first), or when the work that claimed it no
 * longer runs under a live lease (it stopped half-way: `resumed` too). A claim is a compare-and-set on the claimant, so
 * two pieces of work never both win.
 */
export async function claimPageCopy(
  db: Queryable,
  step: { incidentId: number; level: number },
  by: string,
  now: Date,
): Promise<PageCopyClaim> {
  const current = (
    await db.query<{ copy_claimed_by: string | null; copied_at: Date | null; claimant_alive: unknown }>(
      `SELECT e.copy_claimed_by, e.copied_at,
              EXISTS (SELECT 1 FROM work w WHERE w.key = e.copy_claimed_by AND w.state = 'running' AND w.lease_until >= $3)
                AS claimant_alive
       FROM escalation_steps e WHERE e.incident_id = $1 AND e.level = $2`,
      [step.incidentId, step.level, now],
    )
  ).rows[0];
  if (!current || current.copied_at) return { kind: 'done' };
  const previous = current.copy_claimed_by;
  // PostgreSQL answers EXISTS with a boolean, SQLite with 0 or 1.
  const alive = Boolean(Number(current.claimant_alive));
  if (previous !== null && previous !== by && alive) return { kind: 'busy' };
  const { rowCount } = await db.query(
    `UPDATE escalation_steps SET copy_claimed_by = $3, copy_started_at = $4
     WHERE incident_id = $1 AND level = $2 AND copied_at IS NULL AND copy_claimed_by IS NOT DISTINCT FROM $5`,
    [step.incidentId, step.level, by, now, previous],
  );
  return rowCount > 0 ? { kind: 'mine', resumed: previous !== null } : { kind: 'busy' };
}

export async function markPageCopied(db: Queryable, step: { incidentId: number; level: number }, at: Date): Promise<void> {
  await db.query('UPDATE escalation_steps SET copied_at = $3 WHERE incident_id = $1 AND level = $2', [
    step.incidentId,
    step.level,
    at,
  ]);
}

export async function getStep(db: Queryable, incidentId: number, level: number): Promise<EscalationStep | undefined> {
  return (
    await db.query<EscalationStep>('SELECT * FROM escalation_steps WHERE incident_id = $1 AND level = $2', [incidentId, level])
  ).rows[0];
}

/** The lowest level not yet posted, if any (the one whose work row should exist). */
export async function nextPendingStep(db: Queryable, incidentId: number): Promise<EscalationStep | undefined> {
  return (
    await db.query<EscalationStep>(
      `SELECT * FROM escalation_steps WHERE incident_id = $1 AND state = 'pending' ORDER BY level LIMIT 1`,
      [incidentId],
    )
  ).rows[0];
}

/** Records that the acknowledgement alarm went out; false when it already had (or the incident was acknowledged). */
export async function markAckAlarmSent(db: Queryable, id: number, at: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE incidents SET ack_alarm_sent_at = $2 WHERE id = $1 AND ack_alarm_sent_at IS NULL AND status = 'open'`,
    [id, at],
  );
  return rowCount > 0;
}

// --- channel names ---

export interface ChannelName {
  name: string;
  incident_id: number | null;
  state: 'reserved' | 'created' | 'taken';
  channel_id: string | null;
}

/** The name this incident has reserved or created, if any. */
export async function reservedChannelName(db: Queryable, incidentId: number): Promise<ChannelName | undefined> {
  return (
    await db.query<ChannelName>(
      `SELECT name, incident_id, state, channel_id FROM channel_names WHERE incident_id = $1 AND state <> 'taken'
       ORDER BY reserved_at DESC LIMIT 1`,
      [incidentId],
    )
  ).rows[0];
}

/** Reserves the first of `candidates` nobody holds (caller holds the channel-names lock); undefined when all are held. */
export async function reserveChannelName(
  db: Queryable,
  incidentId: number,
  candidates: readonly string[],
  at: Date,
): Promise<string | undefined> {
  const list = candidates.map((_, i) => `$${i + 1}`).join(', ');
  const { rows } = await db.query<{ name: string }>(`SELECT name FROM channel_names WHERE name IN (${list})`, [...candidates]);
  const held = new Set(rows.map((row) => row.name));
  const free = candidates.find((name) => !held.has(name));
  if (!free) return undefined;
  await db.query(`INSERT INTO channel_names (name, incident_id, state, reserved_at) VALUES ($1, $2, 'reserved', $3)`, [
    free,
    incidentId,
    at,
  ]);
  return free;
}

/** The name turned out to belong to someone else (or an archived channel): never offer it again. */
export async function markChannelNameTaken(db: Queryable, name: string): Promise<void> {
  await db.query(`UPDATE channel_names SET state = 'taken', incident_id = NULL WHERE name = $1`, [name]);
}

export async function markChannelNameCreated(db: Queryable, name: string, channelId: string): Promise<void> {
  await db.query(`UPDATE channel_names SET state = 'created', channel_id = $2 WHERE name = $1`, [name, channelId]);
}
