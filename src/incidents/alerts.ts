// Alertmanager groups → incidents: one open incident per group, repeats into its channel, storms folded into one.
import { z } from 'zod';
import { formatDuration } from '../config/duration.ts';
import { SEVERITIES, type Severity } from '../config/schema.ts';
import { errorMessage } from '../errors.ts';
import {
  claimUnprocessedDeliveries,
  countAlertIncidentsSince,
  insertDelivery,
  linkGroupToIncident,
  markDeliveryFailed,
  markDeliveryProcessed,
  openIncidentByAlertKey,
  openIncidentOfGroup,
  takeDelivery,
} from '../store/alerts.ts';
import type { Queryable, Transaction } from '../store/db.ts';
import { addEvent, getIncident, insertIncidentIn, type Incident } from '../store/incidents.ts';
import { LOCK_IDS } from '../store/locks.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';

// Alertmanager's webhook payload, version 4 (alertmanager/notify/webhook/webhook.go and template.Data).
const labelsSchema = z.record(z.string(), z.string());
export const alertmanagerPayloadSchema = z.object({
  version: z.literal('4', { error: 'only webhook payload version "4" is supported' }),
  groupKey: z.string().min(1),
  truncatedAlerts: z.number().int().nonnegative().optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: labelsSchema,
  commonLabels: labelsSchema,
  commonAnnotations: labelsSchema,
  externalURL: z.string(),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: labelsSchema,
        annotations: labelsSchema,
        startsAt: z.string(),
        endsAt: z.string(),
        generatorURL: z.string(),
        fingerprint: z.string().optional(),
      }),
    )
    .min(1, 'a notification carries at least one alert'),
});
export type AlertmanagerPayload = z.infer<typeof alertmanagerPayloadSchema>;

const STORM_KEY = '__alert_storm__';
const LEASE_MS = 60_000;

export type AlertIntakeOptions = IncidentModuleDeps;

type Decision =
  | { kind: 'summary' }
  | { kind: 'existing'; incident: Incident }
  | { kind: 'created'; incident: Incident }
  | { kind: 'storm'; incident: Incident; created: boolean };

export class AlertIntake {
  readonly #o: AlertIntakeOptions;

  constructor(options: AlertIntakeOptions) {
    this.#o = options;
  }

  /** Stores a validated delivery before it is acknowledged; returns its id. */
  async receive(payload: AlertmanagerPayload): Promise<number> {
    const now = this.#o.clock.now();
    return insertDelivery(this.#o.store, {
      receivedAt: now,
      groupKey: payload.groupKey,
      status: payload.status,
      body: payload,
      leaseUntil: new Date(now.getTime() + LEASE_MS),
    });
  }

  /** Processes one delivery now (the receiving replica, right after its 200). */
  async processNow(id: number): Promise<void> {
    const delivery = await takeDelivery<AlertmanagerPayload>(this.#o.store, id);
    if (delivery) await this.#process(delivery.id, delivery.body);
  }

  /** Picks up deliveries nobody finished (a crash after the 200, a Slack failure); returns how many. */
  async processPending(limit = 20): Promise<number> {
    const now = this.#o.clock.now();
    const rows = await claimUnprocessedDeliveries<AlertmanagerPayload>(
      this.#o.store,
      now,
      new Date(now.getTime() + LEASE_MS),
      limit,
    );
    for (const row of rows) await this.#process(row.id, row.body);
    return rows.length;
  }

  async #process(id: number, payload: AlertmanagerPayload): Promise<void> {
    const { store, clock, incidents } = this.#o;
    const log = this.#o.logger.child({ delivery: id, groupKey: payload.groupKey });
    try {
      const decision = await store.transaction((tx) => this.#decide(tx, payload));
      log.info({
        event: 'alert.decided',
        kind: decision.kind,
        status: payload.status,
        incidentId: 'incident' in decision ? decision.incident.id : undefined,
      });
      if (decision.kind === 'summary') {
        await this.#o.slack.post(this.#o.config.file.channels.summaries, { text: alertsText(payload, this.#severity(payload)) });
      } else {
        let incident = decision.incident;
        if (decision.kind === 'created' || (decision.kind === 'storm' && decision.created)) {
          incident = (await incidents.afterInsert(incident, true, incident.declaration_key)).incident;
        }
        incident = await this.#withChannel(incident.id);
        if (incident.channel_id) await this.#o.slack.post(incident.channel_id, { text: alertsText(payload, incident.severity) });
        await addEvent(store, incident.id, clock.now(), 'alert', 'alertmanager', `${payload.status}: ${title(payload)}`, {
          groupKey: payload.groupKey,
          alerts: payload.alerts.length,
        });
        if (
          payload.status === 'resolved' &&
          this.#o.config.file.alertmanager.resolveIncidentOnResolved &&
          decision.kind === 'existing' &&
          incident.status !== 'resolved'
        ) {
          await incidents.resolve(incident, 'alertmanager', 'All alerts of the group resolved');
        }
      }
      await markDeliveryProcessed(store, id, clock.now());
    } catch (error) {
      log.error({ event: 'alert.process_failed', err: error });
      // Leave it unprocessed with a short lease: processPending retries it.
      await markDeliveryFailed(store, id, errorMessage(error), new Date(clock.now().getTime() + 10_000)).catch(() => undefined);
    }
  }

  /** The incident once its channel exists: another delivery may be setting it up right now. */
  async #withChannel(id: number): Promise<Incident> {
    for (let waited = 0; ; waited += 100) {
      const incident = (await getIncident(this.#o.store, id))!;
      if (incident.channel_id || incident.status === 'resolved') return incident;
      // Still without a channel after a while: fail, and the delivery is retried on a later pass.
      if (waited >= 15_000) throw new Error(`incident #${id} has no channel yet`);
      await this.#o.clock.sleep(100);
    }
  }

  async #decide(tx: Transaction, payload: AlertmanagerPayload): Promise<Decision> {
    const { config, clock, incidents } = this.#o;
    // One lock for every alert decision across replicas: deciding is a few statements, so it never queues long.
    await tx.lock(LOCK_IDS.alerts);
    const open = await openIncidentOfGroup(tx, payload.groupKey);
    if (open) return { kind: 'existing', incident: open };
    const severity = this.#severity(payload);
    // A resolved notification for a group with no open incident, or a group below the threshold: summaries only.
    if (payload.status === 'resolved' || SEVERITIES.indexOf(severity) > SEVERITIES.indexOf(config.file.alertmanager.openAt))
      return { kind: 'summary' };

    const now = clock.now();
    const { maxIncidents, window } = config.file.alertmanager.storm;
    const recent = await countAlertIncidentsSince(tx, new Date(now.getTime() - window), STORM_KEY);
    const service = this.#service(payload);
    if (recent >= maxIncidents) {
      let incident = await openIncidentByAlertKey(tx, STORM_KEY);
      let created = false;
      if (!incident) {
        ({ incident } = await insertIncidentIn(
          tx,
          incidents.newIncident(
            {
              key: `alert-storm:${now.toISOString()}`,
              title: `Alert storm: more than ${maxIncidents} alert groups within ${formatDuration(window)}`,
              severity: 'P1',
              summary:
                'Alertmanager opened more incidents than the storm limit allows; further alert groups are listed here instead of getting channels of their own.',
              declaredBy: 'alertmanager',
              source: 'alertmanager',
            },
            now,
            STORM_KEY,
          ),
        ));
        created = true;
      }
      await this.#link(tx, payload.groupKey, incident.id, now);
      return { kind: 'storm', incident, created };
    }
    const { incident } = await insertIncidentIn(
      tx,
      incidents.newIncident(
        {
          key: `alert:${payload.groupKey}:${now.toISOString()}`,
          title: title(payload),
          severity,
          service,
          summary: payload.commonAnnotations.description ?? payload.commonAnnotations.summary ?? '',
          declaredBy: 'alertmanager',
          source: 'alertmanager',
        },
        now,
        `group:${payload.groupKey}`,
      ),
    );
    await this.#link(tx, payload.groupKey, incident.id, now);
    return { kind: 'created', incident };
  }

  async #link(tx: Queryable, groupKey: string, incidentId: number, now: Date): Promise<void> {
    await linkGroupToIncident(tx, groupKey, incidentId, now);
  }

  /** The most severe mapped severity among the group's labels and its alerts'; unmapped values count as P3. */
  #severity(payload: AlertmanagerPayload): Severity {
    const { severityLabel, severityMap } = this.#o.config.file.alertmanager;
    const values = [payload.commonLabels[severityLabel], ...payload.alerts.map((alert) => alert.labels[severityLabel])].filter(
      (value): value is string => Boolean(value),
    );
    const mapped = values.map((value) => severityMap[value] ?? severityMap[value.toLowerCase()] ?? 'P3');
    return mapped.sort((a, b) => SEVERITIES.indexOf(a) - SEVERITIES.indexOf(b))[0] ?? 'P3';
  }

  #service(payload: AlertmanagerPayload): string | undefined {
    const value = payload.commonLabels[this.#o.config.file.alertmanager.serviceLabel];
    return value && this.#o.config.file.services[value] ? value : undefined;
  }
}

export function title(payload: AlertmanagerPayload): string {
  const name = payload.commonLabels.alertname ?? payload.groupLabels.alertname ?? 'Alert';
  const summary = payload.commonAnnotations.summary;
  return `${name}${summary ? `: ${summary}` : ''}`.slice(0, 150);
}

export function alertsText(payload: AlertmanagerPayload, severity: Severity): string {
  const firing = payload.alerts.filter((alert) => alert.status === 'firing').length;
  const resolved = payload.alerts.length - firing;
  const head = `${payload.status === 'firing' ? ':fire:' : ':white_check_mark:'} *${payload.status.toUpperCase()}* (${severity}) ${title(payload)}: ${firing} firing, ${resolved} resolved`;
  const lines = payload.alerts.slice(0, 20).map((alert) => {
    const labels = Object.entries(alert.labels)
      .filter(([key]) => key !== 'alertname')
      .map(([key, value]) => `${key}=${value}`)
      .join(', ');
    const what = alert.annotations.summary ?? alert.annotations.description ?? '';
    return `• ${alert.status === 'firing' ? 'firing' : 'resolved'} ${alert.labels.alertname ?? ''} ${labels ? `{${labels}}` : ''}${what ? `: ${what}` : ''}${alert.generatorURL ? ` <${alert.generatorURL}|source>` : ''}`;
  });
  const more = payload.alerts.length > 20 ? [`…and ${payload.alerts.length - 20} more`] : [];
  const truncated = payload.truncatedAlerts ? [`(Alertmanager left out ${payload.truncatedAlerts} more alerts)`] : [];
  return [head, ...lines, ...more, ...truncated].join('\n').slice(0, 3_500);
}
