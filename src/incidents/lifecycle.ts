// The incident lifecycle: declare (once), acknowledge, change, note, escalate now, resolve; each change recorded
// with its timers in one transaction, and what it says in Slack accepted into the outgoing queue (posted once).
import type { Clock } from '../clock.ts';
import { formatDuration } from '../config/duration.ts';
import type { Config, EscalationLevel, Severity } from '../config/schema.ts';
import { UserError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { escapeText } from '../slack/escape.ts';
import { announcement, mention, stakeholderUpdatePost } from '../slack/incident-blocks.ts';
import type { Queryable, Store } from '../store/db.ts';
import {
  acknowledgeIncident,
  addEvent,
  escalateNow as escalateNowInStore,
  getIncident,
  insertIncidentIn,
  lastStatusUpdateAt,
  listEvents,
  listSteps,
  reopenIncident,
  resolveIncident as resolveInStore,
  setSeverity as setSeverityInStore,
  type Incident,
  type NewIncident,
} from '../store/incidents.ts';
import { assignRole as assignRoleInStore } from '../store/incident-roles.ts';
import { listFollowUps } from '../store/follow-ups.ts';
import { FollowUps } from './follow-ups.ts';
import { resolutionMessage } from './report.ts';
import { roleNamed } from './roles.ts';
import type { IncidentServiceOptions } from './service-options.ts';
import type { IncidentSlack, SlackMessage, SlackUrgency } from './slack-port.ts';
import {
  armUpdateReminder,
  escalateLevelNow,
  refreshIncidentViews,
  rescheduleAfterSeverityChange,
  scheduleChannelArchive,
  schedulePostIncidentReport,
  stopChannelArchive,
  startIncidentTimers,
  stopAckAlarm,
  stopIncidentTimers,
  workKey,
} from './timers.ts';

/** What the incident modules around the lifecycle (work handlers, alert intake, health watch) are built from. */
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

export class IncidentService {
  readonly #o: IncidentServiceOptions;
  /** Follow-ups (action items) of incidents. */
  readonly followUps: FollowUps;

  constructor(options: IncidentServiceOptions) {
    this.#o = options;
    this.followUps = new FollowUps(options);
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

  /** When the next stakeholder update is due after one at `from` (or the declaration), per the severity's cadence. */
  updateDueAfter(severity: Severity, from: Date): Date | null {
    const cadence = this.#o.config.file.incidents.updateCadence[severity];
    return cadence === null ? null : new Date(from.getTime() + cadence);
  }

  #ackDue(severity: Severity, from: Date): Date {
    return new Date(from.getTime() + this.#o.config.file.incidents.severities[severity]);
  }

  /** The rows a declaration becomes: the incident, its escalation steps from the severity's policy, its ack target. */
  newIncident(input: Declaration, now: Date, alertGroupKey?: string): NewIncident {
    if (input.service && !this.#o.config.file.services[input.service]) {
      throw new UserError(`I don't know a service called \`${escapeText(input.service)}\`.`, 'service_unknown');
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
      alertGroupKey: alertGroupKey ?? null,
      steps: this.#steps(input.severity, now),
    };
  }

  /** Records the incident with its timers inside the caller's transaction (declare and alert intake both use it). */
  async record(tx: Queryable, incident: NewIncident): Promise<{ incident: Incident; created: boolean }> {
    const inserted = await insertIncidentIn(tx, incident);
    if (inserted.created) {
      await startIncidentTimers(tx, inserted.incident, incident.declaredAt);
      const reminder = this.updateDueAfter(incident.severity, incident.declaredAt);
      await armUpdateReminder(tx, inserted.incident.id, reminder, incident.declaredAt);
    }
    return inserted;
  }

  /** Records the incident (once per key) and sets up its channel here and now; a repeat returns the first incident. */
  async declare(input: Declaration): Promise<{ incident: Incident; created: boolean }> {
    const now = this.#o.clock.now();
    const { incident, created } = await this.#o.store.transaction((tx) => this.record(tx, this.newIncident(input, now)));
    return this.afterRecord(incident, created, input.key);
  }

  /** Sets up a newly recorded incident's channel on this replica; the poller finishes it if that cannot happen now. */
  async afterRecord(incident: Incident, created: boolean, key: string): Promise<{ incident: Incident; created: boolean }> {
    const log = this.#o.logger.child({ incidentId: incident.id });
    if (!created) {
      log.info({ event: 'incident.declare_repeat', key });
      return { incident, created };
    }
    log.info({ event: 'incident.declared', severity: incident.severity, service: incident.service, source: incident.source });
    this.#o.onWorkAdded?.();
    await this.#o.runWorkNow?.(workKey.setup(incident.id));
    // Without a channel yet (Slack busy or down), the poller keeps at it; pages go to the announcement channel meanwhile.
    return { incident: (await getIncident(this.#o.store, incident.id))!, created };
  }

  /** Runs the first health check of a new incident's service without holding up its setup. */
  backgroundHealthCheck(incident: Incident): void {
    const check = () => this.runHealthCheck(incident, 'system');
    if (this.#o.background) this.#o.background(check);
    else void check();
  }

  /** Posts the affected service's health check into the channel, and notes it on the timeline. */
  async runHealthCheck(incident: Incident, actor: string): Promise<void> {
    const { store, clock } = this.#o;
    const log = this.#o.logger.child({ incidentId: incident.id });
    if (!incident.channel_id) return;
    const key = `health:${incident.id}:${clock.now().getTime()}`;
    if (!incident.service) {
      await this.#publish(
        incident,
        { text: 'This incident has no affected service set, so there is nothing to health-check.' },
        key,
      );
      return;
    }
    try {
      if (!this.#o.healthCheck) {
        await this.#publish(
          incident,
          {
            text: `:information_source: Health checks are not available in this version of runbook-bot yet, so \`${escapeText(incident.service)}\` was not checked.`,
          },
          key,
        );
        return;
      }
      const result = await this.#o.healthCheck(incident.service, incident);
      await addEvent(
        store,
        incident.id,
        clock.now(),
        'task_run',
        actor,
        `Health check of ${incident.service}: ${result.summary.split('\n')[0]}`,
      );
      await this.#publish(incident, { text: result.text, ...(result.blocks ? { blocks: result.blocks } : {}) }, key);
    } catch (error) {
      log.error({ event: 'incident.health_failed', err: error });
      await this.#publish(
        incident,
        {
          text: `:warning: The health check of \`${escapeText(incident.service)}\` failed to run: ${escapeText(errorMessage(error))}`,
        },
        key,
      ).catch(() => undefined);
    }
  }

  async acknowledge(incident: Incident, userId: string): Promise<Incident> {
    const now = this.#o.clock.now();
    const done = await this.#o.store.transaction(async (tx) => {
      const updated = await acknowledgeIncident(tx, incident.id, userId, now);
      if (!updated) return undefined;
      await stopAckAlarm(tx, incident.id);
      const eventId = await addEvent(
        tx,
        incident.id,
        now,
        'acknowledged',
        userId,
        `Acknowledged after ${this.#since(incident.declared_at, now)}`,
      );
      await refreshIncidentViews(tx, incident.id, now, true);
      return { updated, eventId };
    });
    if (!done) {
      const current = (await getIncident(this.#o.store, incident.id))!;
      if (current.status === 'resolved') throw new UserError('This incident is already resolved.', 'incident_resolved');
      throw new UserError(`Already acknowledged by <@${current.acknowledged_by}>.`, 'already_acknowledged');
    }
    const { updated, eventId } = done;
    await this.#refreshNow(incident.id, true);
    await this.#publish(
      updated,
      {
        text: `:eyes: <@${userId}> acknowledged the incident after ${this.#since(incident.declared_at, now)}${updated.commander === userId ? ' and is the commander' : ''}.`,
      },
      `event:${eventId}`,
    );
    this.#o.onWorkAdded?.();
    return updated;
  }

  async changeSeverity(incident: Incident, severity: Severity, userId: string): Promise<Incident> {
    if (severity === incident.severity) throw new UserError(`The severity is already ${severity}.`, 'severity_unchanged');
    const now = this.#o.clock.now();
    const done = await this.#o.store.transaction(async (tx) => {
      const updated = await setSeverityInStore(
        tx,
        incident.id,
        severity,
        this.#ackDue(severity, incident.declared_at),
        this.#steps(severity, incident.declared_at),
      );
      if (!updated) return undefined;
      await rescheduleAfterSeverityChange(tx, updated, now);
      // The new cadence counts from the last update (or the declaration): overdue under it means a reminder now.
      const since = (await lastStatusUpdateAt(tx, incident.id)) ?? incident.declared_at;
      await armUpdateReminder(tx, incident.id, this.updateDueAfter(severity, since), now);
      const eventId = await addEvent(
        tx,
        incident.id,
        now,
        'severity_changed',
        userId,
        `Severity ${incident.severity} → ${severity}`,
        {
          from: incident.severity,
          to: severity,
        },
      );
      await refreshIncidentViews(tx, incident.id, now, true);
      return { updated, eventId };
    });
    if (!done) throw new UserError('This incident is already resolved.', 'incident_resolved');
    await this.#refreshNow(incident.id, true);
    await this.#publish(
      done.updated,
      {
        text: `:arrows_counterclockwise: <@${userId}> changed the severity from ${incident.severity} to *${severity}*; escalation now follows the ${severity} policy.`,
      },
      `event:${done.eventId}`,
    );
    this.#o.onWorkAdded?.();
    return done.updated;
  }

  async setCommander(incident: Incident, commander: string, userId: string): Promise<Incident> {
    return this.assignRole(incident, 'commander', commander, userId);
  }

  /**
   * Gives a configured role to a user: on the timeline, on the card and topic, the new holder invited; when someone
   * held it before, a hand-over post names both so the old holder briefs the new one.
   */
  async assignRole(incident: Incident, roleName: string, holder: string, userId: string): Promise<Incident> {
    const role = roleNamed(this.#o.config, roleName);
    if (!role) throw new UserError(`There is no role called \`${escapeText(roleName)}\`.`, 'usage');
    const now = this.#o.clock.now();
    const done = await this.#o.store.transaction(async (tx) => {
      const changed = await assignRoleInStore(tx, incident.id, role.name, { userId: holder, by: userId, at: now });
      if (!changed) return undefined;
      if (changed.previous === holder) return { ...changed, eventId: undefined };
      const commander = role.name === 'commander';
      const eventId = await addEvent(
        tx,
        incident.id,
        now,
        commander ? 'commander_changed' : 'role_changed',
        userId,
        `${commander ? 'Commander' : role.label}: <@${holder}>${changed.previous ? ` (was <@${changed.previous}>)` : ''}`,
        { role: role.name, user: holder, previous: changed.previous, ...(commander ? { commander: holder } : {}) },
      );
      await refreshIncidentViews(tx, incident.id, now, true);
      return { ...changed, eventId };
    });
    if (!done) throw new UserError('This incident is already resolved.', 'incident_resolved');
    if (done.eventId === undefined) throw new UserError(`<@${holder}> is already the ${role.label}.`, 'role_unchanged');
    if (incident.channel_id)
      await this.#o.slack.at('interactive', () => this.#o.slack.invite(incident.channel_id!, [holder])).catch(() => undefined);
    await this.#refreshNow(incident.id, true);
    const text = done.previous
      ? `:handshake: *Hand-over*: <@${holder}> takes over as ${role.label} from <@${done.previous}> (set by <@${userId}>). <@${done.previous}>, please brief <@${holder}> on where things stand and what you were about to do.`
      : role.name === 'commander'
        ? `:crown: <@${holder}> is now the incident commander (set by <@${userId}>).`
        : `:busts_in_silhouette: <@${holder}> is now the ${role.label} (set by <@${userId}>).`;
    await this.#publish(done.incident, { text }, `event:${done.eventId}`);
    this.#o.onWorkAdded?.();
    return done.incident;
  }

  /** Puts the note on the timeline and into the channel; 'queued' when Slack did not take it yet (it will). */
  async addNote(incident: Incident, text: string, userId: string): Promise<'posted' | 'queued'> {
    if (!text.trim()) throw new UserError('Add the note text: `/incident note <text>`.', 'usage');
    const note = text.trim().slice(0, 3000);
    const eventId = await addEvent(this.#o.store, incident.id, this.#o.clock.now(), 'note', userId, note);
    return this.#publish(incident, { text: `:memo: Note from ${mention(userId)}: ${escapeText(note)}` }, `event:${eventId}`);
  }

  /**
   * Posts a stakeholder update to the announcement channel and the incident channel, puts it on the timeline, and
   * starts the severity's cadence again; 'queued' when Slack did not take it yet (it will).
   */
  async postUpdate(incident: Incident, text: string, userId: string): Promise<'posted' | 'queued'> {
    const update = text.trim().slice(0, 2000);
    if (!update) throw new UserError('Add the update text: `/incident update <text>`.', 'usage');
    const now = this.#o.clock.now();
    const { current, eventId } = await this.#o.store.transaction(async (tx) => {
      const current = (await getIncident(tx, incident.id))!;
      const eventId = await addEvent(tx, incident.id, now, 'status_update', userId, update);
      if (current.status !== 'resolved')
        await armUpdateReminder(tx, incident.id, this.updateDueAfter(current.severity, now), now);
      return { current, eventId };
    });
    this.#o.onWorkAdded?.();
    const message = stakeholderUpdatePost(current, update, userId);
    const announced = await this.#o.slack.publish(this.#o.config.file.channels.announcements, message, {
      key: `update:${eventId}`,
      urgency: 'update',
      incidentId: incident.id,
    });
    const inChannel = current.channel_id ? await this.#publish(current, message, `update:${eventId}:channel`) : 'posted';
    return announced === 'posted' && inChannel === 'posted' ? 'posted' : 'queued';
  }

  /** The reminder's Snooze: the next reminder comes incidents.updateSnooze from now. Returns when. */
  async snoozeUpdateReminder(incident: Incident, userId: string): Promise<Date> {
    const now = this.#o.clock.now();
    const next = new Date(now.getTime() + this.#o.config.file.incidents.updateSnooze);
    await this.#o.store.transaction(async (tx) => {
      const current = await getIncident(tx, incident.id);
      if (!current || current.status === 'resolved')
        throw new UserError('This incident is already resolved.', 'incident_resolved');
      await armUpdateReminder(tx, incident.id, next, now);
      await addEvent(tx, incident.id, now, 'update_snoozed', userId, `Update reminder snoozed for ${this.#since(now, next)}`);
    });
    this.#o.onWorkAdded?.();
    return next;
  }

  async escalateNow(incident: Incident, userId: string): Promise<string> {
    if (incident.status === 'resolved') throw new UserError('This incident is already resolved.', 'incident_resolved');
    const now = this.#o.clock.now();
    const step = await this.#o.store.transaction(async (tx) => {
      const pending = await escalateNowInStore(tx, incident.id, now);
      if (!pending) return undefined;
      await escalateLevelNow(tx, incident.id, pending.level, now);
      await addEvent(tx, incident.id, now, 'escalate_requested', userId, `Escalation to ${pending.label} requested`);
      return pending;
    });
    if (!step) throw new UserError('Every escalation level has already been reached.', 'escalation_exhausted');
    this.#o.onWorkAdded?.();
    return step.label;
  }

  async resolve(incident: Incident, userId: string, summary: string): Promise<Incident> {
    const { store, clock, config } = this.#o;
    const now = clock.now();
    const resolved = await store.transaction(async (tx) => {
      const done = await resolveInStore(tx, incident.id, userId, summary.trim(), now);
      if (!done) return undefined;
      await stopIncidentTimers(tx, incident.id);
      await schedulePostIncidentReport(tx, incident.id, now);
      const archiveAfter = config.file.incidents.archiveAfter;
      if (archiveAfter !== null && done.channel_id)
        await scheduleChannelArchive(tx, incident.id, new Date(now.getTime() + archiveAfter), now);
      await addEvent(tx, incident.id, now, 'resolved', userId, summary.trim() ? `Resolved: ${summary.trim()}` : 'Resolved');
      await refreshIncidentViews(tx, incident.id, now, true);
      return done;
    });
    if (!resolved)
      throw new UserError(
        `This incident was already resolved${incident.resolved_by ? ` by <@${incident.resolved_by}>` : ''}.`,
        'incident_resolved',
      );
    await this.#refreshNow(incident.id, true);
    if (resolved.channel_id) {
      const [events, steps, followUps] = await Promise.all([
        listEvents(store, resolved.id),
        listSteps(store, resolved.id),
        listFollowUps(store, resolved.id),
      ]);
      await this.#publish(
        resolved,
        resolutionMessage(resolved, events, steps, config.timezone, followUps),
        `resolution:${resolved.id}`,
      );
    }
    await this.#o.slack
      .publish(
        config.file.channels.announcements,
        {
          text: `:white_check_mark: Incident #${resolved.id} resolved: ${escapeText(resolved.title)}${resolved.channel_id ? ` (<#${resolved.channel_id}>)` : ''}`,
        },
        { key: `resolved-announcement:${resolved.id}`, urgency: 'update', incidentId: resolved.id },
      )
      .catch((error: unknown) => this.#o.logger.warn({ event: 'incident.announce_failed', incidentId: resolved.id, err: error }));
    return resolved;
  }

  /** Reopens a resolved incident within incidents.reopenWithin: acknowledged again, reminders on, no archive. */
  async reopen(incident: Incident, userId: string): Promise<Incident> {
    const { store, clock, config } = this.#o;
    const now = clock.now();
    if (incident.status !== 'resolved' || !incident.resolved_at)
      throw new UserError('This incident is not resolved; there is nothing to reopen.', 'incident_not_resolved');
    const within = config.file.incidents.reopenWithin;
    if (now.getTime() - incident.resolved_at.getTime() > within)
      throw new UserError(
        `This incident was resolved ${this.#since(incident.resolved_at, now)} ago, longer than the ${formatDuration(within)} it can be reopened within: declare a new incident with \`/incident declare\`.`,
        'reopen_too_late',
      );
    const done = await store.transaction(async (tx) => {
      const reopened = await reopenIncident(tx, incident.id);
      if (!reopened) return undefined;
      await stopChannelArchive(tx, incident.id);
      await armUpdateReminder(tx, incident.id, this.updateDueAfter(reopened.severity, now), now);
      const eventId = await addEvent(tx, incident.id, now, 'reopened', userId, 'Reopened');
      await refreshIncidentViews(tx, incident.id, now, true);
      return { reopened, eventId };
    });
    if (!done)
      throw new UserError(
        'This incident cannot be reopened now: it is no longer resolved, or its alert group has a newer open incident.',
        'incident_not_resolved',
      );
    await this.#refreshNow(incident.id, true);
    this.#o.onWorkAdded?.();
    await this.#publish(
      done.reopened,
      { text: `:leftwards_arrow_with_hook: <@${userId}> reopened the incident.` },
      `event:${done.eventId}`,
    );
    await this.#o.slack
      .publish(
        config.file.channels.announcements,
        {
          text: `:leftwards_arrow_with_hook: Incident #${done.reopened.id} reopened${done.reopened.channel_id ? ` (<#${done.reopened.channel_id}>)` : ''}`,
        },
        { key: `reopened-announcement:${done.eventId}`, urgency: 'update', incidentId: done.reopened.id },
      )
      .catch((error: unknown) => this.#o.logger.warn({ event: 'incident.announce_failed', incidentId: incident.id, err: error }));
    return done.reopened;
  }

  /** Re-renders the pinned card and (unless only the escalation changed) the topic from the stored state, soon. */
  async refresh(incident: Incident, options: { topic?: boolean } = {}): Promise<void> {
    await refreshIncidentViews(this.#o.store, incident.id, this.#o.clock.now(), options.topic ?? true);
    await this.#refreshNow(incident.id, options.topic ?? true);
  }

  /** The announcement channel's post of a new incident (setup makes it once the channel exists). */
  announcementOf(incident: Incident): SlackMessage {
    return { text: announcement(incident) };
  }

  /** Brings the card (and topic) up to date now on this replica; under load the rows collapse and run when Slack allows. */
  async #refreshNow(incidentId: number, topic: boolean): Promise<void> {
    this.#o.onWorkAdded?.();
    await this.#o.runWorkNow?.(workKey.card(incidentId));
    if (topic) await this.#o.runWorkNow?.(workKey.topic(incidentId));
  }

  async #publish(
    incident: Incident,
    message: SlackMessage,
    key: string,
    urgency: SlackUrgency = 'update',
  ): Promise<'posted' | 'queued'> {
    if (!incident.channel_id) return 'queued';
    return this.#o.slack.publish(incident.channel_id, message, { key, urgency, incidentId: incident.id });
  }

  #since(from: Date, to: Date): string {
    return formatDuration(to.getTime() - from.getTime());
  }
}
