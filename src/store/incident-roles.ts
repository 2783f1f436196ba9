// Incident roles: who holds which. The commander lives in incidents.commander; the other configured roles here.
import type { Queryable } from './db.ts';
import type { Incident } from './incidents.ts';

export interface RoleHolder {
  role: string;
  user_id: string;
  assigned_by: string;
  assigned_at: Date;
}

/** The holders of the roles other than the commander. */
export async function listRoleHolders(db: Queryable, incidentId: number): Promise<RoleHolder[]> {
  return (
    await db.query<RoleHolder>(
      'SELECT role, user_id, assigned_by, assigned_at FROM incident_roles WHERE incident_id = $1 ORDER BY role',
      [incidentId],
    )
  ).rows;
}

/**
 * Gives `role` to `userId` under the incident's row lock, so two changes at once hand over one after the other.
 * Returns the incident after the change and the previous holder; undefined when the incident is resolved. Run it
 * in a transaction.
 */
export async function assignRole(
  tx: Queryable,
  incidentId: number,
  role: string,
  change: { userId: string; by: string; at: Date },
): Promise<{ incident: Incident; previous: string | null } | undefined> {
  const locked = (
    await tx.query<Incident>(`SELECT * FROM incidents WHERE id = $1 AND status <> 'resolved' FOR UPDATE`, [incidentId])
  ).rows[0];
  if (!locked) return undefined;
  if (role === 'commander') {
    const updated = (
      await tx.query<Incident>('UPDATE incidents SET commander = $2 WHERE id = $1 RETURNING *', [incidentId, change.userId])
    ).rows[0]!;
    return { incident: updated, previous: locked.commander };
  }
  const previous = (
    await tx.query<{ user_id: string }>('SELECT user_id FROM incident_roles WHERE incident_id = $1 AND role = $2', [
      incidentId,
      role,
    ])
  ).rows[0]?.user_id;
  await tx.query(
    `INSERT INTO incident_roles (incident_id, role, user_id, assigned_by, assigned_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (incident_id, role) DO UPDATE SET user_id = EXCLUDED.user_id, assigned_by = EXCLUDED.assigned_by,
       assigned_at = EXCLUDED.assigned_at`,
    [incidentId, role, change.userId, change.by, change.at],
  );
  return { incident: locked, previous: previous ?? null };
}
