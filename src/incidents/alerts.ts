// Alertmanager groups → incidents: one open incident per group, repeats into its channel, storms folded into one.
import { z } from 'zod';
import { formatDuration } from '../config/duration.ts';
import { SEVERITIES, type Severity } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import { botLink, escapeText } from '../slack/escape.ts';
import {
  countAlertIncidentsSince,
  getDelivery,
  insertDelivery,
  linkGroupToIncident,
  markDeliveryProcessed,
  openIncidentByAlertKey,
  openIncidentOfGroup,
} from '../store/alerts.ts';
import type { Queryable, Transaction } from '../store/db.ts';
import { addEvent, getIncident, type Incident } from '../store/incidents.ts';
import { enqueueWork } from '../store/work.ts';
import { DeferWork, PermanentWorkError, type Lease } from '../work/due-work-poller.ts';
import { workKey } from './timers.ts';
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

export interface AlertIntakeOptions extends IncidentModuleDeps {
  /** New work exists (an incident's timers): let the pollers look now. */
  onWorkAdded?: () => void;
  /** Runs a work row here and now. */
  runWorkNow?: (key: string) => Promise<void>;
}

type Decision =
  | { kind: 'summary' }
  | { kind: 'existing'; incident: Incident }
  | { kind: 'created'; incident: Incident }
  | { kind: 'storm'; incident: Incident; created: boolean };

export const ALERT_WORK = 'alert';
const alertKey = (deliveryId: number) => `alert:${deliveryId}`;

export class AlertIntake {
  readonly #o: AlertIntakeOptions;

  constructor(options: AlertIntakeOptions) {
    this.#o = options;
  }

  /** Stores a validated delivery, and the work of processing it, before the delivery is acknowledged; returns its id. */
  async receive(payload: AlertmanagerPayload): Promise<number> {
    const now = this.#o.clock.now();
    return this.#o.store.transaction(async (tx) => {
      const id = await insertDelivery(tx, { receivedAt: now, groupKey: payload.groupKey, status: payload.status, body: payload });
      await enqueueWork(tx, { kind: ALERT_WORK, key: alertKey(id), priority: 1, runAt: now, payload: { delivery: id } }, now);
      return id;
    });
  }

  /** Processes one delivery now, on the receiving replica; any replica's poller finishes it if this cannot. */
  async processNow(id: number): Promise<void> {
    await this.#o.runWorkNow?.(alertKey(id));
  }

  /** The work handler for `alert:<delivery>` rows. Decisions are idempotent: a re-run finds what the first decided. */
  async process(lease: Lease): Promise<void> {
    const { store, clock, incidents, config } = this.#o;
    const id = Number(lease.claim.key.split(':')[1]);
    const delivery = await getDelivery(store, id);
    if (!delivery || delivery.processed_at) return;
    const parsed = alertmanagerPayloadSchema.safeParse(delivery.body);
    if (!parsed.success) throw new PermanentWorkError(`stored alert delivery ${id} is not a valid payload`);
    const payload = parsed.data;
    const log = this.#o.logger.child({ delivery: id, groupKey: payload.groupKey });
    const decision = await store.transaction((tx) => this.#decide(tx, payload));
    log.info({
      event: 'alert.decided',
      kind: decision.kind,
      status: payload.status,
      incidentId: 'incident' in decision ? decision.incident.id : undefined,
    });
    if (decision.kind === 'summary') {
      await lease.hold();
      await this.#o.slack.publish(
        config.file.channels.summaries,
        { text: alertsText(payload, this.#severity(payload)) },
        { key: `alert-summary:${id}`, urgency: 'summary' },
      );
    } else {
      if (decision.kind === 'created' || (decision.kind === 'storm' && decision.created)) {
        this.#o.onWorkAdded?.();
        await this.#o.runWorkNow?.(workKey.setup(decision.incident.id));
      }
      const incident = (await getIncident(store, decision.incident.id))!;
      // The alert lands in the incident's channel: wait (without holding anything up) until it exists.
      if (!incident.channel_id && incident.status !== 'resolved') throw new DeferWork(1_000, 'waiting for the incident channel');
      if (incident.channel_id) {
        await lease.hold();
        // A storm of deliveries into one channel becomes one message, edited as they arrive.
        await this.#o.slack.roll(
          incident.channel_id,
          'alerts',
          ':bell: *Alertmanager* (newest last)',
          alertsText(payload, incident.severity),
          { urgency: 'update', incidentId: incident.id, lineKey: `delivery:${id}`, order: id },
        );
      }
      if (
        payload.status === 'resolved' &&
        config.file.alertmanager.resolveIncidentOnResolved &&
        decision.kind === 'existing' &&
        incident.status !== 'resolved'
      ) {
        await incidents.resolve(incident, 'alertmanager', 'All alerts of the group resolved').catch((error: unknown) => {
          if (!(error instanceof UserError)) throw error;
        });
      }
      await store.transaction(async (tx) => {
        await lease.hold(tx);
        await addEvent(tx, incident.id, clock.now(), 'alert', 'alertmanager', `${payload.status}: ${title(payload)}`, {
          groupKey: payload.groupKey,
          alerts: payload.alerts.length,
        });
        await markDeliveryProcessed(tx, id, clock.now());
        await lease.complete(tx);
      });
      return;
    }
    await store.transaction(async (tx) => {
      await lease.hold(tx);
      await markDeliveryProcessed(tx, id, clock.now());
      await lease.complete(tx);
    });
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
        ({ incident } = await incidents.record(
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
    const { incident } = await incidents.record(
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
  // Labels and annotations are whatever the alert rules put there: text, never mentions or links. Only the
  // generatorURL becomes a link, labelled by the bot.
  const head = `${payload.status === 'firing' ? ':fire:' : ':white_check_mark:'} *${payload.status.toUpperCase()}* (${severity}) ${escapeText(title(payload))}: ${firing} firing, ${resolved} resolved`;
  const lines = payload.alerts.slice(0, 20).map((alert) => {
    const labels = Object.entries(alert.labels)
      .filter(([key]) => key !== 'alertname')
      .map(([key, value]) => `${key}=${value}`)
      .join(', ');
    const what = alert.annotations.summary ?? alert.annotations.description ?? '';
    return `• ${alert.status === 'firing' ? 'firing' : 'resolved'} ${escapeText(alert.labels.alertname ?? '')} ${labels ? `{${escapeText(labels)}}` : ''}${what ? `: ${escapeText(what)}` : ''}${alert.generatorURL ? ` ${botLink(alert.generatorURL, 'source')}` : ''}`;
  });
  const more = payload.alerts.length > 20 ? [`…and ${payload.alerts.length - 20} more`] : [];
  const truncated = payload.truncatedAlerts ? [`(Alertmanager left out ${payload.truncatedAlerts} more alerts)`] : [];
  return clipLines([head, ...lines, ...more, ...truncated], 3_500);
}

/** Whole lines up to `max` characters (the head line is short): a cut never splits an escaped entity or a link. */
function clipLines(lines: string[], max: number): string {
  const kept: string[] = [];
  let length = 0;
  for (const line of lines) {
    if (length + line.length + 1 > max) break;
    kept.push(line);
    length += line.length + 1;
  }
  return kept.join('\n');
}
