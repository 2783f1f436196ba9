// Alertmanager deliveries (stored before they are acknowledged) and the link from alert groups to their incidents.
import type { Incident } from './incidents.ts';
import type { Queryable } from './db.ts';

export interface PendingDelivery<Body> {
  id: number;
  body: Body;
  attempts: number;
}

/** Stores a validated delivery with a lease for the receiving replica; returns its id. */
export async function insertDelivery(
  db: Queryable,
  delivery: { receivedAt: Date; groupKey: string; status: string; body: unknown; leaseUntil: Date },
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO alert_deliveries (received_at, group_key, status, body, lease_until) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [delivery.receivedAt, delivery.groupKey, delivery.status, JSON.stringify(delivery.body), delivery.leaseUntil],
  );
  return rows[0]!.id;
}

/** Takes one unprocessed delivery for processing now; undefined when it was already processed. */
export async function takeDelivery<Body>(db: Queryable, id: number): Promise<PendingDelivery<Body> | undefined> {
  const { rows } = await db.query<PendingDelivery<Body>>(
    `UPDATE alert_deliveries SET attempts = attempts + 1 WHERE id = $1 AND processed_at IS NULL RETURNING id, body, attempts`,
    [id],
  );
  return rows[0];
}

/** Claims deliveries nobody finished whose lease ran out (a crash after the 200, a Slack failure). */
export async function claimUnprocessedDeliveries<Body>(
  db: Queryable,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<Array<PendingDelivery<Body>>> {
  const { rows } = await db.query<PendingDelivery<Body>>(
    `UPDATE alert_deliveries SET lease_until = $2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM alert_deliveries WHERE processed_at IS NULL AND (lease_until IS NULL OR lease_until <= $1)
                  ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, body, attempts`,
    [now, leaseUntil, limit],
  );
  return rows;
}

export async function markDeliveryProcessed(db: Queryable, id: number, at: Date): Promise<void> {
  await db.query('UPDATE alert_deliveries SET processed_at = $2, last_error = NULL WHERE id = $1', [id, at]);
}

/** Leaves a delivery unprocessed with a short lease, so a later pass retries it. */
export async function markDeliveryFailed(db: Queryable, id: number, error: string, retryAt: Date): Promise<void> {
  await db.query('UPDATE alert_deliveries SET last_error = $2, lease_until = $3 WHERE id = $1', [
    id,
    error.slice(0, 500),
    retryAt,
  ]);
}

/** The newest open incident of an alert group, if any. */
export async function openIncidentOfGroup(db: Queryable, groupKey: string): Promise<Incident | undefined> {
  const { rows } = await db.query<Incident>(
    `SELECT i.* FROM alert_group_incidents l JOIN incidents i ON i.id = l.incident_id
     WHERE l.group_key = $1 AND i.status <> 'resolved' ORDER BY i.id DESC LIMIT 1`,
    [groupKey],
  );
  return rows[0];
}

/** Incidents Alertmanager opened since `since`, the storm incident (`exceptGroupKey`) not counted. */
export async function countAlertIncidentsSince(db: Queryable, since: Date, exceptGroupKey: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*) AS n FROM incidents WHERE source = 'alertmanager' AND declared_at > $1 AND alert_group_key IS DISTINCT FROM $2`,
    [since, exceptGroupKey],
  );
  return rows[0]!.n;
}

export async function openIncidentByAlertKey(db: Queryable, alertGroupKey: string): Promise<Incident | undefined> {
  const { rows } = await db.query<Incident>(`SELECT * FROM incidents WHERE alert_group_key = $1 AND status <> 'resolved'`, [
    alertGroupKey,
  ]);
  return rows[0];
}

export async function linkGroupToIncident(db: Queryable, groupKey: string, incidentId: number, at: Date): Promise<void> {
  await db.query(
    'INSERT INTO alert_group_incidents (group_key, incident_id, linked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [groupKey, incidentId, at],
  );
}
