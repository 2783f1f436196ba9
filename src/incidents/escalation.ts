// Pages: an escalation level or an acknowledgement alarm falls due, and is posted once, on whichever replica runs it.
//
// A level is posted into the incident channel; if the channel does not exist yet (its setup waits on Slack's
// limits), it goes to the announcement channel at once, mentioning the level's people, and is copied into the
// incident channel when that is set up: pages never wait for setup. Each post is keyed; after an attempt whose
// outcome is unknown (a crash, a timeout, a 5xx) the next attempt looks for the key in the channel first. Marking
// the level posted, adding the next level's timer and finishing the work happen in one transaction under the fence.
import { ackAlarmPost, escalationCopyPost, escalationPost } from '../slack/incident-blocks.ts';
import {
  addEvent,
  getIncident,
  getStep,
  listEvents,
  listSteps,
  type Incident,
  markAckAlarmSent,
  markStepPosted,
} from '../store/incidents.ts';
import { DeferWork, type Lease } from '../work/due-work-poller.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';
import { incidentIdOfKey, pageCopyKey, parseEscalationKey, refreshIncidentViews, scheduleNextLevel } from './timers.ts';

export interface PagerOptions extends IncidentModuleDeps {
  /** A post later than this after its due time is marked late. */
  lateAfterMs: number;
}

/** An acknowledgement alarm waits this long for the channel's setup before it goes to the announcement channel alone. */
const ALARM_WAITS_FOR_SETUP_MS = 60_000;

export class Pager {
  readonly #o: PagerOptions;

  constructor(options: PagerOptions) {
    this.#o = options;
  }

  /** The work handler for `escalation:<incident>:<level>` rows. */
  async postLevel(lease: Lease): Promise<void> {
    const { store, slack, clock, config } = this.#o;
    const { incidentId, level } = parseEscalationKey(lease.claim.key);
    const log = this.#o.logger.child({ incidentId, level });
    const [incident, step] = await Promise.all([getIncident(store, incidentId), getStep(store, incidentId, level)]);
    // Resolved, or the level was replaced by a new severity's or posted already: nothing to page.
    if (!incident || incident.status === 'resolved' || !step || step.state !== 'pending') return;
    const lookFirst = lease.claim.uncertain || lease.claim.attempts > 1;
    const postedAt = clock.now();
    const late = postedAt.getTime() - step.due_at.getTime() > this.#o.lateAfterMs;
    const notes = (await listEvents(store, incident.id))
      .filter((event) => event.kind === 'note')
      .slice(-3)
      .map((event) => event.text);
    const message = escalationPost({ incident, step, late, postedAt, timezone: config.timezone, lastNotes: notes });
    const posted = await slack.at('page', async () => {
      if (incident.channel_id) {
        // Lower levels paged before the channel existed land here first, so the channel reads in order.
        await this.#copyEarlierPages(incident, level, lease);
        const users = await slack.expand(step.notify);
        await lease.hold();
        // Invited first, so the mention reaches them; but the page does not wait for a busy invite budget.
        const invited = await slack
          .invite(incident.channel_id, users, { maxWaitMs: 1_500 })
          .then(() => true)
          .catch((error: unknown) => {
            log.warn({ event: 'escalation.invite_deferred', err: error });
            return false;
          });
        await lease.hold();
        const page = await slack.postOnce(incident.channel_id, message, { key: lease.claim.key, lookFirst, since: step.due_at });
        if (!invited)
          await slack
            .invite(incident.channel_id, users)
            .catch((error: unknown) => log.warn({ event: 'escalation.invite_failed', err: error }));
        return page;
      }
      log.info({ event: 'escalation.paged_before_channel' });
      await lease.hold();
      // Many incidents may page the one announcement channel at once: combined, they arrive on time.
      return slack.postOnce(config.file.channels.announcements, message, {
        key: `${lease.claim.key}:announcements`,
        lookFirst,
        since: step.due_at,
        combine: true,
      });
    });
    await store.transaction(async (tx) => {
      await lease.hold(tx);
      if (!(await markStepPosted(tx, incidentId, level, { at: postedAt, in: posted.channel, ts: posted.ts, late }))) return;
      await addEvent(
        tx,
        incidentId,
        postedAt,
        'escalated',
        null,
        `Escalated to level ${level}: ${step.label}${late ? ' (late)' : ''}`,
        {
          level,
          late,
          lateByMs: postedAt.getTime() - step.due_at.getTime(),
        },
      );
      await scheduleNextLevel(tx, incidentId, postedAt);
      await refreshIncidentViews(tx, incidentId, postedAt, false);
      await lease.complete(tx);
    });
    log.info({ event: 'escalation.posted', late, lateByMs: postedAt.getTime() - step.due_at.getTime(), in: posted.channel });
  }

  /** Copies into the incident channel the lower levels that were paged in the announcement channel (once each). */
  async #copyEarlierPages(incident: Incident, level: number, lease: Lease): Promise<void> {
    const { store, slack, config } = this.#o;
    const earlier = (await listSteps(store, incident.id)).filter(
      (step) => step.level < level && step.state === 'posted' && step.posted_in !== incident.channel_id,
    );
    for (const step of earlier) {
      await lease.hold();
      await slack.postOnce(incident.channel_id!, escalationCopyPost(incident, step, config.timezone), {
        key: pageCopyKey(incident.id, step.level),
        lookFirst: true,
        since: step.posted_at ?? step.due_at,
      });
    }
  }

  /** The work handler for `ack_alarm:<incident>` rows: the severity's response target passed without an acknowledgement. */
  async raiseAckAlarm(lease: Lease): Promise<void> {
    const { store, slack, clock, config } = this.#o;
    const incident = await getIncident(store, incidentIdOfKey(lease.claim.key));
    if (!incident || incident.status !== 'open' || incident.ack_alarm_sent_at) return;
    const now = clock.now();
    const dueAt = incident.ack_due_at ?? now;
    if (!incident.setup_done && now.getTime() - dueAt.getTime() < ALARM_WAITS_FOR_SETUP_MS)
      throw new DeferWork(2_000, 'waiting for the channel setup');
    const lookFirst = lease.claim.uncertain || lease.claim.attempts > 1;
    const target = config.file.incidents.severities[incident.severity];
    const text = ackAlarmPost(incident, config.file.incidents.responders, target, incident.channel_id);
    await slack.at('page', async () => {
      if (incident.channel_id) {
        await lease.hold();
        await slack.postOnce(incident.channel_id, { text }, { key: `${lease.claim.key}:channel`, lookFirst, since: dueAt });
      }
      await lease.hold();
      await slack.postOnce(
        config.file.channels.announcements,
        { text },
        { key: `${lease.claim.key}:announcements`, lookFirst, since: dueAt, combine: true },
      );
    });
    await store.transaction(async (tx) => {
      await lease.hold(tx);
      if (await markAckAlarmSent(tx, incident.id, clock.now()))
        await addEvent(tx, incident.id, clock.now(), 'ack_alarm', null, `Not acknowledged within ${incident.severity}'s target`);
      await lease.complete(tx);
    });
  }
}
