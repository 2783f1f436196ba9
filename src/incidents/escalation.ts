// The durable escalation ticker: claims due steps in the database, posts each level once and in order, on any replica.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ackAlarmPost, escalationPost } from '../slack/incident-blocks.ts';
import {
  addEvent,
  claimAckAlarms,
  claimDueEscalations,
  claimSetup,
  getIncident,
  listEvents,
  markEscalationPosted,
  nextDueAt,
  releaseEscalation,
  type EscalationStep,
} from '../store/incidents.ts';
import type { AlertIntake } from './alerts.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';

export const ESCALATION_EVENT_TYPE = 'runbook_bot_escalation';

export interface EscalationTickerOptions extends IncidentModuleDeps {
  /** Alert deliveries nobody finished are picked up on each pass. */
  alerts?: AlertIntake | undefined;
  /** How long a claim is exclusive; a replica that dies holding one delays that post by at most this. */
  leaseMs?: number;
  /** A post later than this after its due time is marked late. */
  lateAfterMs?: number;
  batchSize?: number;
  /** Longest sleep between polls, so work created on other replicas is seen promptly. */
  maxSleepMs?: number;
  /** Delay before retrying a post that failed. */
  retryAfterMs?: number;
}

export class EscalationTicker {
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly #o: Required<
    Omit<EscalationTickerOptions, 'store' | 'slack' | 'config' | 'clock' | 'logger' | 'incidents' | 'alerts'>
  > &
    EscalationTickerOptions;
  #running: Promise<void> | undefined;
  #stop = new AbortController();
  #wake = new AbortController();

  constructor(options: EscalationTickerOptions) {
    this.#o = { leaseMs: 30_000, lateAfterMs: 30_000, batchSize: 50, maxSleepMs: 500, retryAfterMs: 10_000, ...options };
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  /** Stops after the current pass; resolves when it has. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake.abort();
    await this.#running;
  }

  /** Something changed (a declaration, "escalate now", a resolve): look again now instead of after the sleep. */
  wake(): void {
    this.#wake.abort();
  }

  async #loop(): Promise<void> {
    const log = this.#o.logger.child({ component: 'escalation', owner: this.owner });
    while (!this.#stop.signal.aborted) {
      let busy: boolean;
      try {
        busy = (await this.tick()) >= this.#o.batchSize;
      } catch (error) {
        log.error({ event: 'escalation.tick_failed', err: error });
        await this.#o.clock.sleep(1_000, this.#stop.signal);
        continue;
      }
      if (busy) continue;
      const now = this.#o.clock.now().getTime();
      const next = await nextDueAt(this.#o.store).catch(() => undefined);
      const sleep = Math.max(0, Math.min(this.#o.maxSleepMs, next ? next.getTime() - now : this.#o.maxSleepMs));
      if (this.#wake.signal.aborted) this.#wake = new AbortController();
      if (sleep > 0) await this.#o.clock.sleep(sleep, AbortSignal.any([this.#stop.signal, this.#wake.signal]));
    }
  }

  /** One pass: finish unfinished setups, post due escalation levels, raise due acknowledgement alarms. Returns escalations handled. */
  async tick(): Promise<number> {
    const { store, clock } = this.#o;
    const now = clock.now();
    for (const incident of await claimSetup(store, now, new Date(now.getTime() + 60_000), 5)) {
      await this.#o.incidents
        .setUp(incident)
        .catch((error: unknown) =>
          this.#o.logger.warn({ event: 'incident.setup_retry_failed', incidentId: incident.id, err: error }),
        );
    }
    const steps = await claimDueEscalations(store, this.owner, now, this.#o.leaseMs, this.#o.batchSize);
    await Promise.all(steps.map((step) => this.#postStep(step)));
    for (const incident of await claimAckAlarms(store, clock.now(), 20)) {
      const target = this.#o.config.file.incidents.severities[incident.severity];
      const text = ackAlarmPost(incident, this.#o.config.file.incidents.responders, target, incident.channel_id);
      if (incident.channel_id)
        await this.#o.slack
          .post(incident.channel_id, { text })
          .catch((error: unknown) => this.#o.logger.warn({ event: 'incident.ack_alarm_failed', err: error }));
      await this.#o.slack
        .post(this.#o.config.file.channels.announcements, { text })
        .catch((error: unknown) => this.#o.logger.warn({ event: 'incident.ack_alarm_failed', err: error }));
      await addEvent(store, incident.id, clock.now(), 'ack_alarm', null, `Not acknowledged within ${incident.severity}'s target`);
    }
    if (this.#o.alerts) await this.#o.alerts.processPending();
    return steps.length;
  }

  async #postStep(step: EscalationStep): Promise<void> {
    const { store, slack, clock, config } = this.#o;
    const log = this.#o.logger.child({ incidentId: step.incident_id, level: step.level });
    const key = `${step.incident_id}:${step.level}`;
    try {
      const incident = (await getIncident(store, step.incident_id))!;
      const channel = incident.channel_id!;
      let ts: string | undefined;
      if (step.attempts > 1) {
        // A previous holder may have posted and died before recording it: look before posting again.
        ts = await slack
          .findPosted(channel, ESCALATION_EVENT_TYPE, key, new Date(step.due_at.getTime() - 60_000))
          .catch(() => undefined);
        if (ts) log.info({ event: 'escalation.found_previous_post' });
      }
      const postedAt = clock.now();
      const late = postedAt.getTime() - step.due_at.getTime() > this.#o.lateAfterMs;
      if (!ts) {
        const users = await slack.expand(step.notify);
        await slack.invite(channel, users).catch((error: unknown) => log.warn({ event: 'escalation.invite_failed', err: error }));
        const notes = (await listEvents(store, incident.id))
          .filter((event) => event.kind === 'note')
          .slice(-3)
          .map((event) => event.text);
        const message = escalationPost({ incident, step, late, postedAt, timezone: config.timezone, lastNotes: notes });
        ts = (
          await slack.post(channel, {
            ...message,
            metadata: { event_type: ESCALATION_EVENT_TYPE, event_payload: { key, incident: incident.id, level: step.level } },
          })
        ).ts;
      }
      if (!(await markEscalationPosted(store, step, this.owner, postedAt, ts, late))) {
        log.warn({ event: 'escalation.claim_lost_after_post' });
        return;
      }
      await addEvent(
        store,
        incident.id,
        postedAt,
        'escalated',
        null,
        `Escalated to level ${step.level}: ${step.label}${late ? ' (late)' : ''}`,
        { level: step.level, late, lateByMs: postedAt.getTime() - step.due_at.getTime() },
      );
      log.info({ event: 'escalation.posted', late, lateByMs: postedAt.getTime() - step.due_at.getTime() });
      await this.#o.incidents.refresh((await getIncident(store, step.incident_id))!, { topic: false });
    } catch (error) {
      log.error({ event: 'escalation.post_failed', err: error });
      await releaseEscalation(store, step, this.owner, new Date(clock.now().getTime() + this.#o.retryAfterMs)).catch(
        () => undefined,
      );
    }
  }
}
