// The incident lifecycle: declare (once), set up the channel (resumable), acknowledge, change, note, resolve.
import type { KnownBlock } from '@slack/types';
import type { Clock } from '../clock.ts';
import { formatDuration } from '../config/duration.ts';
import type { Config, EscalationLevel, Severity } from '../config/schema.ts';
import { UserError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { announcement, checklistBlocks, incidentCard, incidentTopic } from '../slack/incident-blocks.ts';
import type { Store } from '../store/db.ts';
import {
  acknowledgeIncident,
  addEvent,
  escalateNow as escalateNowInStore,
  finishSetup,
  getIncident,
  insertIncident,
  listEvents,
  listSteps,
  recordCard,
  recordChannel,
  resolveIncident as resolveInStore,
  setCommander as setCommanderInStore,
  setSeverity as setSeverityInStore,
  type Incident,
  type NewIncident,
} from '../store/incidents.ts';
import { incidentChannelName } from './channel-name.ts';
import { resolutionMessage } from './report.ts';
import type { IncidentSlack } from './slack-port.ts';

/** Runs the affected service's health check for the channel; undefined until health checks exist. */
export type IncidentHealthCheck = (service: string, incident: Incident) => Promise<{ text: string; blocks?: KnownBlock[] }>;

export interface IncidentServiceOptions {
  store: Store;
  slack: IncidentSlack;
  config: Config;
  clock: Clock;
  logger: Logger;
  healthCheck?: IncidentHealthCheck | undefined;
  /** Called after anything that changes when the next timer falls due (the ticker wakes up). */
  onTimersChanged?: () => void;
  /** Runs work that should not delay the caller (the first health check), tracked for shutdown. */
  background?: (work: () => Promise<unknown>) => void;
}

/** What the incident modules around the lifecycle (ticker, alert intake, health watch) are built from. */
export interface IncidentModuleDeps {
  store: Store;
  slack: IncidentSlack;
  config: Config;
  clock: Clock;
  logger: Logger;
  incidents: IncidentService;
}

export interface Declaration {
  /** Idempotency key: the modal's view id, the command's trigger id, the alert group… */
  key: string;
  title: string;
  severity: Severity;
  service?: string | null | undefined;
  summary?: string | undefined;
  declaredBy: string;
  source?: 'slack' | 'alertmanager' | 'health';
}

const SETUP_LEASE_MS = 60_000;
const MAX_NAME_ATTEMPTS = 50;

export class IncidentService {
  readonly #o: IncidentServiceOptions;

  constructor(options: IncidentServiceOptions) {
    this.#o = options;
  }

  get config(): Config {
    return this.#o.config;
  }

  policyFor(severity: Severity): EscalationLevel[] {
    const escalation = this.#o.config.file.escalation;
    return escalation[severity] ?? escalation.default;
  }

  #steps(severity: Severity, from: Date): NewIncident['steps'] {
    return this.policyFor(severity).map((level, i) => ({
      level: i + 1,
      label: level.label,
      notify: level.notify,
      dueAt: new Date(from.getTime() + level.after),
    }));
  }

  #ackDue(severity: Severity, from: Date): Date {
    return new Date(from.getTime() + this.#o.config.file.incidents.severities[severity]);
  }

  /** The rows a declaration becomes: the incident, its escalation steps from the severity's policy, its ack target. */
  newIncident(input: Declaration, now: Date, alertGroupKey?: string): NewIncident {
    if (input.service && !this.#o.config.file.services[input.service]) {
      throw new UserError(`I don't know a service called \`${input.service}\`.`, 'service_unknown');
    }
    return {
      declarationKey: input.key,
      title: input.title.trim().slice(0, 150),
      severity: input.severity,
      service: input.service ?? null,
      summary: (input.summary ?? '').trim(),
      source: input.source ?? 'slack',
      declaredBy: input.declaredBy,
      declaredAt: now,
      ackDueAt: this.#ackDue(input.severity, now),
      setupLeaseUntil: new Date(now.getTime() + SETUP_LEASE_MS),
      alertGroupKey: alertGroupKey ?? null,
      steps: this.#steps(input.severity, now),
    };
  }

  /** Records the incident (once per key) and sets up its channel; a repeat returns the first incident. */
  async declare(input: Declaration): Promise<{ incident: Incident; created: boolean }> {
    const { incident, created } = await insertIncident(this.#o.store, this.newIncident(input, this.#o.clock.now()));
    return this.afterInsert(incident, created, input.key);
  }

  /** Sets up a newly recorded incident's channel (declare and alert intake both end here). */
  async afterInsert(incident: Incident, created: boolean, key: string): Promise<{ incident: Incident; created: boolean }> {
    const log = this.#o.logger.child({ incidentId: incident.id });
    if (!created) {
      log.info({ event: 'incident.declare_repeat', key });
      return { incident, created };
    }
    log.info({ event: 'incident.declared', severity: incident.severity, service: incident.service, source: incident.source });
    try {
      return { incident: await this.setUp(incident), created };
    } catch (error) {
      // The lease runs out and the ticker finishes the setup; the declarer hears what happened.
      log.error({ event: 'incident.setup_failed', err: error });
      throw new UserError(
        `Incident #${incident.id} is recorded, but setting up its channel failed (${errorMessage(error)}). I will keep trying in the background.`,
        'setup_incomplete',
      );
    } finally {
      this.#o.onTimersChanged?.();
    }
  }

  /** Creates the channel and everything in it; each step is skipped when already done, so a retry finishes the job. */
  async setUp(incident: Incident): Promise<Incident> {
    const { slack, store, config, clock } = this.#o;
    const log = this.#o.logger.child({ incidentId: incident.id });
    let current = incident;
    if (!current.channel_id) {
      const channel = await this.#createChannel(current);
      await recordChannel(store, current.id, channel.id, channel.name);
      await addEvent(store, current.id, clock.now(), 'channel_created', null, `Channel #${channel.name} created`);
      current = { ...current, channel_id: channel.id, channel_name: channel.name };
      log.info({ event: 'incident.channel_created', channel: channel.name });
    }
    const channel = current.channel_id!;
    if (!current.card_ts) {
      await slack
        .setTopic(channel, incidentTopic(current))
        .catch((error: unknown) => log.warn({ event: 'incident.topic_failed', err: error }));
      const card = incidentCard(current, await listSteps(store, current.id), config.timezone);
      const posted = await slack.post(channel, card);
      await recordCard(store, current.id, posted.ts);
      current = { ...current, card_ts: posted.ts };
      await slack.pin(channel, posted.ts).catch((error: unknown) => log.warn({ event: 'incident.pin_failed', err: error }));
      await slack.post(channel, checklistBlocks(config.file.incidents.checklist));
      const responders = [
        ...config.file.incidents.responders,
        ...(current.service ? (config.file.services[current.service]?.responders ?? []) : []),
      ];
      const users = await slack.expand(responders);
      if (current.source === 'slack') users.push(current.declared_by);
      await slack.invite(channel, users).catch((error: unknown) => log.warn({ event: 'incident.invite_failed', err: error }));
      await slack
        .post(config.file.channels.announcements, { text: announcement(current) })
        .catch((error: unknown) => log.warn({ event: 'incident.announce_failed', err: error }));
    }
    await finishSetup(store, current.id);
    current = { ...current, setup_done: true };
    if (current.service) {
      const incidentForCheck = current;
      const check = () => this.runHealthCheck(incidentForCheck, 'system');
      if (this.#o.background) this.#o.background(check);
      else void check();
    }
    return current;
  }

  async #createChannel(incident: Incident): Promise<{ id: string; name: string }> {
    const { slack, config } = this.#o;
    for (let attempt = 1; attempt <= MAX_NAME_ATTEMPTS; attempt += 1) {
      const name = incidentChannelName(config.file.incidents.channelPrefix, incident.declared_at, config.timezone, attempt);
      const result = await slack.createChannel(name);
      if (result.ok) return result;
    }
    throw new Error(`every channel name up to -${MAX_NAME_ATTEMPTS} for this minute is taken`);
  }

  /** Posts the affected service's health check into the channel, and notes it on the timeline. */
  async runHealthCheck(incident: Incident, actor: string): Promise<void> {
    const { slack, store, clock } = this.#o;
    const log = this.#o.logger.child({ incidentId: incident.id });
    if (!incident.channel_id) return;
    if (!incident.service) {
      await slack.post(incident.channel_id, {
        text: 'This incident has no affected service set, so there is nothing to health-check.',
      });
      return;
    }
    try {
      if (!this.#o.healthCheck) {
        await slack.post(incident.channel_id, {
          text: `:information_source: Health checks are not available in this version of runbook-bot yet, so \`${incident.service}\` was not checked.`,
        });
        return;
      }
      const result = await this.#o.healthCheck(incident.service, incident);
      await slack.post(incident.channel_id, result);
      await addEvent(
        store,
        incident.id,
        clock.now(),
        'task_run',
        actor,
        `Health check of ${incident.service}: ${result.text.split('\n')[0]}`,
      );
    } catch (error) {
      log.error({ event: 'incident.health_failed', err: error });
      await slack
        .post(incident.channel_id, {
          text: `:warning: The health check of \`${incident.service}\` failed to run: ${errorMessage(error)}`,
        })
        .catch(() => undefined);
    }
  }

  async acknowledge(incident: Incident, userId: string): Promise<Incident> {
    const now = this.#o.clock.now();
    const updated = await acknowledgeIncident(this.#o.store, incident.id, userId, now);
    if (!updated) {
      const current = (await getIncident(this.#o.store, incident.id))!;
      throw new UserError(
        current.status === 'resolved'
          ? 'This incident is already resolved.'
          : `Already acknowledged by <@${current.acknowledged_by}>.`,
        current.status === 'resolved' ? 'incident_resolved' : 'already_acknowledged',
      );
    }
    await addEvent(
      this.#o.store,
      incident.id,
      now,
      'acknowledged',
      userId,
      `Acknowledged after ${this.#since(incident.declared_at, now)}`,
    );
    await this.refresh(updated);
    await this.#say(
      updated,
      `:eyes: <@${userId}> acknowledged the incident after ${this.#since(incident.declared_at, now)}${updated.commander === userId ? ' and is the commander' : ''}.`,
    );
    this.#o.onTimersChanged?.();
    return updated;
  }

  async changeSeverity(incident: Incident, severity: Severity, userId: string): Promise<Incident> {
    if (severity === incident.severity) throw new UserError(`The severity is already ${severity}.`, 'severity_unchanged');
    const now = this.#o.clock.now();
    const updated = await setSeverityInStore(
      this.#o.store,
      incident.id,
      severity,
      this.#ackDue(severity, incident.declared_at),
      this.#steps(severity, incident.declared_at),
    );
    if (!updated) throw new UserError('This incident is already resolved.', 'incident_resolved');
    await addEvent(this.#o.store, incident.id, now, 'severity_changed', userId, `Severity ${incident.severity} → ${severity}`, {
      from: incident.severity,
      to: severity,
    });
    await this.refresh(updated);
    await this.#say(
      updated,
      `:arrows_counterclockwise: <@${userId}> changed the severity from ${incident.severity} to *${severity}*; escalation now follows the ${severity} policy.`,
    );
    this.#o.onTimersChanged?.();
    return updated;
  }

  async setCommander(incident: Incident, commander: string, userId: string): Promise<Incident> {
    const updated = await setCommanderInStore(this.#o.store, incident.id, commander);
    if (!updated) throw new UserError('This incident is already resolved.', 'incident_resolved');
    await addEvent(this.#o.store, incident.id, this.#o.clock.now(), 'commander_changed', userId, `Commander: <@${commander}>`, {
      commander,
    });
    if (incident.channel_id) await this.#o.slack.invite(incident.channel_id, [commander]).catch(() => undefined);
    await this.refresh(updated);
    await this.#say(updated, `:crown: <@${commander}> is now the incident commander (set by <@${userId}>).`);
    return updated;
  }

  async addNote(incident: Incident, text: string, userId: string): Promise<void> {
    if (!text.trim()) throw new UserError('Add the note text: `/incident note <text>`.', 'usage');
    await addEvent(this.#o.store, incident.id, this.#o.clock.now(), 'note', userId, text.trim().slice(0, 3000));
    await this.#say(incident, `:memo: Note from <@${userId}>: ${text.trim().slice(0, 3000)}`);
  }

  async escalateNow(incident: Incident, userId: string): Promise<string> {
    if (incident.status === 'resolved') throw new UserError('This incident is already resolved.', 'incident_resolved');
    const step = await escalateNowInStore(this.#o.store, incident.id, this.#o.clock.now());
    if (!step) throw new UserError('Every escalation level has already been reached.', 'escalation_exhausted');
    await addEvent(
      this.#o.store,
      incident.id,
      this.#o.clock.now(),
      'escalate_requested',
      userId,
      `Escalation to ${step.label} requested`,
    );
    this.#o.onTimersChanged?.();
    return step.label;
  }

  async resolve(incident: Incident, userId: string, summary: string): Promise<Incident> {
    const { store, clock, config } = this.#o;
    const now = clock.now();
    const resolved = await resolveInStore(store, incident.id, userId, summary.trim(), now);
    if (!resolved)
      throw new UserError(
        `This incident was already resolved${incident.resolved_by ? ` by <@${incident.resolved_by}>` : ''}.`,
        'incident_resolved',
      );
    await addEvent(store, incident.id, now, 'resolved', userId, summary.trim() ? `Resolved: ${summary.trim()}` : 'Resolved');
    this.#o.onTimersChanged?.();
    await this.refresh(resolved);
    if (resolved.channel_id) {
      const [events, steps] = await Promise.all([listEvents(store, resolved.id), listSteps(store, resolved.id)]);
      await this.#o.slack.post(resolved.channel_id, resolutionMessage(resolved, events, steps, config.timezone));
    }
    await this.#o.slack
      .post(config.file.channels.announcements, {
        text: `:white_check_mark: Incident #${resolved.id} resolved: ${resolved.title}${resolved.channel_id ? ` (<#${resolved.channel_id}>)` : ''}`,
      })
      .catch(() => undefined);
    return resolved;
  }

  /** Re-renders the pinned card and (unless only the escalation changed) the topic from the current state. */
  async refresh(incident: Incident, options: { topic?: boolean } = {}): Promise<void> {
    const { slack, store, config } = this.#o;
    if (!incident.channel_id || !incident.card_ts) return;
    const log = this.#o.logger.child({ incidentId: incident.id });
    const steps = await listSteps(store, incident.id);
    await slack
      .update(incident.channel_id, incident.card_ts, incidentCard(incident, steps, config.timezone))
      .catch((error: unknown) => log.warn({ event: 'incident.card_update_failed', err: error }));
    if (options.topic ?? true) {
      await slack
        .setTopic(incident.channel_id, incidentTopic(incident))
        .catch((error: unknown) => log.warn({ event: 'incident.topic_failed', err: error }));
    }
  }

  async #say(incident: Incident, text: string): Promise<void> {
    if (incident.channel_id) await this.#o.slack.post(incident.channel_id, { text });
  }

  #since(from: Date, to: Date): string {
    return formatDuration(to.getTime() - from.getTime());
  }
}
