// Incidents, their timeline and escalation steps: every state change is one SQL statement, so replicas cannot race.
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
  setup_lease_until: Date | null;
  alert_group_key: string | null;
}

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
  state: 'pending' | 'claimed' | 'posted' | 'cancelled';
  claimed_by: string | null;
  claim_expires_at: Date | null;
  attempts: number;
  retry_at: Date | null;
  posted_at: Date | null;
  message_ts: string | null;
  late: boolean | null;
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
  setupLeaseUntil: Date;
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
    `INSERT INTO incidents (declaration_key, title, severity, service, summary, source, declared_by, declared_at, ack_due_at, setup_lease_until, alert_group_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
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
      input.setupLeaseUntil,
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
): Promise<void> {
  await db.query('INSERT INTO incident_events (incident_id, at, kind, actor, text, data) VALUES ($1, $2, $3, $4, $5, $6)', [
    incidentId,
    at,
    kind,
    actor,
    text,
    JSON.stringify(data),
  ]);
}

export async function getIncident(db: Queryable, id: number): Promise<Incident | undefined> {
  return (await db.query<Incident>('SELECT * FROM incidents WHERE id = $1', [id])).rows[0];
}

export async function getIncidentByChannel(db: Queryable, channelId: string): Promise<Incident | undefined> {
  return (await db.query<Incident>('SELECT * FROM incidents WHERE channel_id = $1', [channelId])).rows[0];
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

export async function listSteps(db: Queryable, incidentId: number): Promise<EscalationStep[]> {
  return (await db.query<EscalationStep>('SELECT * FROM escalation_steps WHERE incident_id = $1 ORDER BY level', [incidentId]))
    .rows;
}

/** Takes the setup lease for an incident whose setup is unfinished and whose lease ran out (or is this caller's first). */
export async function claimSetup(db: Queryable, now: Date, leaseUntil: Date, limit: number): Promise<Incident[]> {
  return (
    await db.query<Incident>(
      `UPDATE incidents SET setup_lease_until = $2
       WHERE id IN (SELECT id FROM incidents WHERE setup_done = false AND setup_lease_until <= $1 AND status <> 'resolved'
                    ORDER BY declared_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [now, leaseUntil, limit],
    )
  ).rows;
}

export async function recordChannel(db: Queryable, id: number, channelId: string, channelName: string): Promise<void> {
  await db.query('UPDATE incidents SET channel_id = $2, channel_name = $3 WHERE id = $1', [id, channelId, channelName]);
}

export async function recordCard(db: Queryable, id: number, cardTs: string): Promise<void> {
  await db.query('UPDATE incidents SET card_ts = $2 WHERE id = $1', [id, cardTs]);
}

export async function finishSetup(db: Queryable, id: number): Promise<void> {
  await db.query('UPDATE incidents SET setup_done = true, setup_lease_until = NULL WHERE id = $1', [id]);
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

/** Resolves and cancels every pending timer in one transaction; undefined when already resolved. */
export async function resolveIncident(
  store: Store,
  id: number,
  userId: string,
  resolution: string,
  now: Date,
): Promise<Incident | undefined> {
  return store.transaction(async (tx) => {
    const resolved = (
      await tx.query<Incident>(
        `UPDATE incidents SET status = 'resolved', resolved_by = $2, resolved_at = $3, resolution = $4,
           acknowledged_at = COALESCE(acknowledged_at, $3), acknowledged_by = COALESCE(acknowledged_by, $2)
         WHERE id = $1 AND status <> 'resolved' RETURNING *`,
        [id, userId, now, resolution],
      )
    ).rows[0];
    if (!resolved) return undefined;
    await tx.query(`UPDATE escalation_steps SET state = 'cancelled' WHERE incident_id = $1 AND state IN ('pending', 'claimed')`, [
      id,
    ]);
    return resolved;
  });
}

export async function setSeverity(
  store: Store,
  id: number,
  severity: Severity,
  ackDueAt: Date | null,
  steps: NewIncident['steps'],
): Promise<Incident | undefined> {
  return store.transaction(async (tx) => {
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
      `SELECT level FROM escalation_steps WHERE incident_id = $1 AND state IN ('posted', 'claimed')`,
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
  });
}

export async function setCommander(db: Queryable, id: number, userId: string): Promise<Incident | undefined> {
  return (
    await db.query<Incident>(`UPDATE incidents SET commander = $2 WHERE id = $1 AND status <> 'resolved' RETURNING *`, [
      id,
      userId,
    ])
  ).rows[0];
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

/**
 * Claims due escalation steps: each the lowest unposted level of an unresolved incident, pending or with an
 * expired claim. One statement with SKIP LOCKED, so concurrent replicas never claim the same step.
 */
export async function claimDueEscalations(
  db: Queryable,
  owner: string,
  now: Date,
  leaseMs: number,
  limit: number,
): Promise<EscalationStep[]> {
  return (
    await db.query<EscalationStep>(
      `UPDATE escalation_steps
         SET state = 'claimed', claimed_by = $1, claim_expires_at = $3, attempts = attempts + 1
       WHERE (incident_id, level) IN (
         SELECT e.incident_id, e.level FROM escalation_steps e
         JOIN incidents i ON i.id = e.incident_id AND i.status <> 'resolved' AND i.setup_done
         WHERE e.due_at <= $2 AND (e.retry_at IS NULL OR e.retry_at <= $2)
           AND (e.state = 'pending' OR (e.state = 'claimed' AND e.claim_expires_at <= $2))
           AND NOT EXISTS (SELECT 1 FROM escalation_steps p
                           WHERE p.incident_id = e.incident_id AND p.level < e.level AND p.state IN ('pending', 'claimed'))
         ORDER BY e.due_at
         LIMIT $4
         FOR UPDATE OF e SKIP LOCKED
       )
       RETURNING *`,
      [owner, now, new Date(now.getTime() + leaseMs), limit],
    )
  ).rows;
}

/** Marks a claimed step posted; false when this owner lost the claim (resolved meanwhile, or the lease was taken over). */
export async function markEscalationPosted(
  db: Queryable,
  step: EscalationStep,
  owner: string,
  postedAt: Date,
  messageTs: string | null,
  late: boolean,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE escalation_steps SET state = 'posted', posted_at = $4, message_ts = $5, late = $6
     WHERE incident_id = $1 AND level = $2 AND state = 'claimed' AND claimed_by = $3`,
    [step.incident_id, step.level, owner, postedAt, messageTs, late],
  );
  return rowCount > 0;
}

/** Gives a claim back (posting failed), to be retried after `retryAt`. */
export async function releaseEscalation(db: Queryable, step: EscalationStep, owner: string, retryAt: Date): Promise<void> {
  await db.query(
    `UPDATE escalation_steps SET state = 'pending', claimed_by = NULL, claim_expires_at = NULL, retry_at = $4
     WHERE incident_id = $1 AND level = $2 AND state = 'claimed' AND claimed_by = $3`,
    [step.incident_id, step.level, owner, retryAt],
  );
}

/** The earliest time anything becomes due (escalation, ack alarm, unfinished setup), to sleep until then. */
export async function nextDueAt(db: Queryable): Promise<Date | undefined> {
  const { rows } = await db.query<{ step_at: Date | null; claim_at: Date | null; alarm_at: Date | null; setup_at: Date | null }>(
    `SELECT
       (SELECT min(CASE WHEN e.retry_at > e.due_at THEN e.retry_at ELSE e.due_at END) FROM escalation_steps e
        WHERE e.state = 'pending') AS step_at,
       (SELECT min(e.claim_expires_at) FROM escalation_steps e WHERE e.state = 'claimed') AS claim_at,
       (SELECT min(ack_due_at) FROM incidents WHERE ack_alarm_sent_at IS NULL AND status = 'open') AS alarm_at,
       (SELECT min(setup_lease_until) FROM incidents WHERE setup_done = false AND status <> 'resolved') AS setup_at`,
  );
  const times = Object.values(rows[0] ?? {}).filter((at): at is Date => at instanceof Date);
  return times.length ? new Date(Math.min(...times.map((at) => at.getTime()))) : undefined;
}

/** Claims unacknowledged incidents past their target; each alarm is sent at most once. */
export async function claimAckAlarms(db: Queryable, now: Date, limit: number): Promise<Incident[]> {
  return (
    await db.query<Incident>(
      `UPDATE incidents SET ack_alarm_sent_at = $1
       WHERE id IN (SELECT id FROM incidents WHERE status = 'open' AND ack_alarm_sent_at IS NULL AND ack_due_at <= $1 AND setup_done
                    ORDER BY ack_due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [now, limit],
    )
  ).rows;
}
