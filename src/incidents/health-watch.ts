// Health results → incidents: K critical results in a row open one incident for the service; health again posts recovery.
import { linkStreakIncident, recordHealthResult, unlinkStreakIncident, type HealthStreak } from '../store/health-streaks.ts';
import { addEvent, getIncident } from '../store/incidents.ts';
import { escapeText } from '../slack/escape.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';

export type HealthLevel = 'ok' | 'warn' | 'critical';

export type HealthWatchOptions = IncidentModuleDeps;

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
    const streak = await recordHealthResult(store, service, level === 'critical', reason, now);
    if (level === 'critical') {
      if (streak.critical_count < threshold || streak.incident_id) return 'counted';
      return this.#open(streak, reason);
    }
    if (!streak.incident_id) return 'unchanged';
    await unlinkStreakIncident(store, service, streak.incident_id);
    const incident = await getIncident(store, streak.incident_id);
    if (incident?.channel_id && incident.status !== 'resolved') {
      const eventId = await addEvent(store, incident.id, now, 'recovered', null, `${service} healthy again`);
      await this.#o.slack.publish(
        incident.channel_id,
        {
          text: `:large_green_circle: \`${escapeText(service)}\` is healthy again (${level}: ${escapeText(reason)}). Resolve the incident when you are satisfied.`,
        },
        { key: `event:${eventId}`, urgency: 'update', incidentId: incident.id },
      );
    }
    return 'recovered';
  }

  async #open(streak: HealthStreak, reason: string): Promise<'opened' | 'counted'> {
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
    return (await linkStreakIncident(store, streak.service, incident.id)) ? 'opened' : 'counted';
  }
}
