// The incident's roles as configured (commander, communications lead, scribe…) with who holds each now.
import type { Config, IncidentRole } from '../config/schema.ts';
import type { RoleView } from '../slack/incident-blocks.ts';
import type { Queryable } from '../store/db.ts';
import { listRoleHolders } from '../store/incident-roles.ts';
import type { Incident } from '../store/incidents.ts';

/** Every configured role, in the configured order, with its holder (the commander from the incident row). */
export async function rolesOf(db: Queryable, config: Config, incident: Incident): Promise<RoleView[]> {
  const holders = new Map((await listRoleHolders(db, incident.id)).map((holder) => [holder.role, holder.user_id]));
  return config.file.incidents.roles.map((role) => ({
    ...role,
    user: role.name === 'commander' ? incident.commander : (holders.get(role.name) ?? null),
  }));
}

/** The configured role called `name`, if any. */
export function roleNamed(config: Config, name: string): IncidentRole | undefined {
  return config.file.incidents.roles.find((role) => role.name === name);
}
