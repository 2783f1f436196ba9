// Alertmanager deliveries (stored before they are acknowledged) and the link from alert groups to their incidents.
import type { Incident } from './incidents.ts';
import type { Queryable } from './db.ts';

/** Stores a validated delivery; returns its id. */
export async function insertDelivery(
  db: Queryable,
  delivery: { receivedAt: Date; groupKey: string; status: string; body: unknown },
): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO alert_deliveries (received_at, group_key, status, body) VALUES ($1, $2, $3, $4) RETURNING id`,
    [delivery.receivedAt, delivery.groupKey, delivery.status, JSON.stringify(delivery.body)],
  );
  return rows[0]!.id;
}

export interface StoredDelivery {
  id: number;
  body: unknown;
  processed_at: Date | null;
}

export async function getDelivery(db: Queryable, id: number): Promise<StoredDelivery | undefined> {
  return (await db.query<StoredDelivery>('SELECT id, body, processed_at FROM alert_deliveries WHERE id = $1', [id])).rows[0];
}

export async function markDeliveryProcessed(db: Queryable, id: number, at: Date): Promise<void> {
  await db.query('UPDATE alert_deliveries SET processed_at = $2, last_error = NULL, attempts = attempts + 1 WHERE id = $1', [
    id,
    at,
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
