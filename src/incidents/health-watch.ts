// Health results → incidents: K critical results in a row open one incident for the service; health again posts recovery.
import { addEvent, getIncident } from '../store/incidents.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';

export type HealthLevel = 'ok' | 'warn' | 'critical';

export type HealthWatchOptions = IncidentModuleDeps;

interface Streak {
  service: string;
  critical_count: number;
  since: Date | null;
  last_reason: string | null;
  incident_id: number | null;
}

export class HealthWatch {
  readonly #o: HealthWatchOptions;

  constructor(options: HealthWatchOptions) {
    this.#o = options;
  }

  /** Records one scheduled result for a service; returns what it did. */
  async record(service: string, level: HealthLevel, reason: string): Promise<'counted' | 'opened' | 'recovered' | 'unchanged'> {
    const { store, clock, config } = this.#o;
    const now = clock.now();
    const threshold = config.file.healthIncidents.afterConsecutiveCritical;
    // One statement per result: the count goes up on critical and back to zero otherwise, whichever replica records it.
    const { rows } = await store.query<Streak>(
      `INSERT INTO service_health_streaks (service, critical_count, since, last_reason, updated_at)
       VALUES ($1, CASE WHEN $2 THEN 1 ELSE 0 END, CASE WHEN $2 THEN $3::timestamptz END, $4, $3)
       ON CONFLICT (service) DO UPDATE SET
         critical_count = CASE WHEN $2 THEN service_health_streaks.critical_count + 1 ELSE 0 END,
         since = CASE WHEN $2 THEN COALESCE(service_health_streaks.since, $3::timestamptz) END,
         last_reason = $4, updated_at = $3
       RETURNING service, critical_count, since, last_reason, incident_id`,
      [service, level === 'critical', now, reason.slice(0, 500)],
    );
    const streak = rows[0]!;
    if (level === 'critical') {
      if (streak.critical_count < threshold || streak.incident_id) return 'counted';
      return this.#open(streak, reason);
    }
    if (!streak.incident_id) return 'unchanged';
    await store.query('UPDATE service_health_streaks SET incident_id = NULL WHERE service = $1 AND incident_id = $2', [
      service,
      streak.incident_id,
    ]);
    const incident = await getIncident(store, streak.incident_id);
    if (incident?.channel_id && incident.status !== 'resolved') {
      await this.#o.slack.post(incident.channel_id, {
        text: `:large_green_circle: \`${service}\` is healthy again (${level}: ${reason}). Resolve the incident when you are satisfied.`,
      });
      await addEvent(store, incident.id, now, 'recovered', null, `${service} healthy again`);
    }
    return 'recovered';
  }

  async #open(streak: Streak, reason: string): Promise<'opened' | 'counted'> {
    const { config, store } = this.#o;
    const { severity, afterConsecutiveCritical } = config.file.healthIncidents;
    const { incident } = await this.#o.incidents.declare({
      // One declaration per streak, whichever replica gets here first.
      key: `health:${streak.service}:${streak.since?.toISOString()}`,
      title: `${streak.service} health checks critical ${afterConsecutiveCritical} times in a row`,
      severity,
      service: config.file.services[streak.service] ? streak.service : undefined,
      summary: `Latest: ${reason}`,
      declaredBy: 'health-watch',
      source: 'health',
    });
    const { rowCount } = await store.query(
      'UPDATE service_health_streaks SET incident_id = $2 WHERE service = $1 AND incident_id IS NULL',
      [streak.service, incident.id],
    );
    return rowCount > 0 ? 'opened' : 'counted';
  }
}
