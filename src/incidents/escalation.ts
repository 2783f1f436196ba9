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
  claimPageCopy,
  getIncident,
  listEvents,
  listSteps,
  type EscalationStep,
  type Incident,
  markAckAlarmSent,
  markPageCopied,
  markStepPosted,
} from '../store/incidents.ts';
import { DeferWork, type Lease } from '../work/due-work-poller.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';
import {
  incidentIdOfKey,
  inviteAfterPage,
  pageCopyKey,
  parseEscalationKey,
  refreshIncidentViews,
  scheduleNextLevel,
} from './timers.ts';

export interface PagerOptions extends IncidentModuleDeps {
  /** A post later than this after its due time is marked late. */
  lateAfterMs: number;
}

/** How often a page looks whether an earlier level's copy, posted by other work, is done. */
const COPY_POLL_MS = 100;

/**
 * How long a page waits for an earlier level's copy that other work is posting, so the channel reads in order. Under
 * the 2 s a page may be late: a copy whose call hangs until Slack's timeout must not make the page late too (3 s did,
 * once in three bench:slack-limits faults rounds: one page 3.10 s late).
 */
const PAGE_WAITS_FOR_COPY_MS = 1_500;

/**
 * Copies into the incident channel the pages that went to the announcement channel before it existed (below `level`,
 * lowest first), each once. The setup and a later level's page both do it; each copy is claimed in the store before it
 * is posted, so they never both post one, and the channel's history is read only to finish a copy whose work stopped half-way (its lease ran out).
 * A copy another is posting right now is skipped, or with `waitForOthers` deferred until it is done; with
 * `waitForOthersMs` (a later level's page) it is waited for that long, so the channel reads in order, and then skipped:
 * the page it holds up goes to the same channel, whose one post a second makes the copy's post a short wait anyway.
 */
export async function copyEarlierPages(
  deps: Pick<IncidentModuleDeps, 'store' | 'slack' | 'config' | 'clock'>,
  incident: Incident,
  lease: Lease,
  options: { below?: number; waitForOthers?: boolean; waitForOthersMs?: number; steps?: EscalationStep[] } = {},
): Promise<void> {
  const { store, slack, config, clock } = deps;
  const earlier = (options.steps ?? (await listSteps(store, incident.id))).filter(
    (step) =>
      step.level < (options.below ?? Number.POSITIVE_INFINITY) &&
      step.state === 'posted' &&
      step.posted_in !== incident.channel_id,
  );
  for (const step of earlier) {
    await lease.hold();
    const target = { incidentId: incident.id, level: step.level };
    let claim = await claimPageCopy(store, target, lease.claim.key, clock.now());
    // Real time, not the clock's: this waits for other work's Slack call, which no test clock moves.
    const waitUntil = performance.now() + (options.waitForOthersMs ?? 0);
    while (claim.kind === 'busy' && performance.now() < waitUntil) {
      await new Promise((resolve) => setTimeout(resolve, COPY_POLL_MS));
      await lease.hold();
      claim = await claimPageCopy(store, target, lease.claim.key, clock.now());
    }
    if (claim.kind === 'done') continue;
    if (claim.kind === 'busy') {
      if (options.waitForOthers) throw new DeferWork(2_000, `level ${step.level}'s copy is being posted by other work`);
      continue;
    }
    await slack.postOnce(incident.channel_id!, escalationCopyPost(incident, step, config.timezone), {
      key: pageCopyKey(incident.id, step.level),
      lookFirst: claim.resumed,
      since: step.posted_at ?? step.due_at,
      hold: () => lease.hold(),
    });
    await markPageCopied(store, target, clock.now());
  }
}

/** How long a page waits for the invite budget before it goes out and the invite follows it. */
const INVITE_BEFORE_PAGE_MAX_WAIT_MS = 100;

/** How long an invite that follows its page waits for the invite budget in one go before it makes way (and tries again). */
const PAGE_INVITE_WAITS_MS = 2_000;

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
    // Not `level`: that is pino's own field (the line's severity) and would hide the escalation level.
    const log = this.#o.logger.child({
      incidentId,
      escalationLevel: level,
      work: lease.claim.key,
      attempt: lease.claim.attempts,
    });
    // Read side by side: with thousands of pages due at once, each round trip to the store delays every page behind it.
    const [incident, steps, events] = await Promise.all([
      getIncident(store, incidentId),
      listSteps(store, incidentId),
      listEvents(store, incidentId),
    ]);
    const step = steps.find((candidate) => candidate.level === level);
    // Resolved, or the level was replaced by a new severity's or posted already: nothing to page.
    if (!incident || incident.status === 'resolved' || !step || step.state !== 'pending') return;
    const lookFirst = lease.claim.uncertain || lease.claim.attempts > 1;
    const postedAt = clock.now();
    const late = postedAt.getTime() - step.due_at.getTime() > this.#o.lateAfterMs;
    const notes = events
      .filter((event) => event.kind === 'note')
      .slice(-3)
      .map((event) => event.text);
    const message = escalationPost({ incident, step, late, postedAt, timezone: config.timezone, lastNotes: notes });
    let invitedWithPage = true;
    const posted = await slack.at('page', async () => {
      if (incident.channel_id) {
        // An earlier attempt may have paged the announcement channel before this one existed, and lost the answer:
        // found there, the level is not paged a second time here but copied in below, like any page that went there.
        const announced = lookFirst
          ? await slack.findPost(config.file.channels.announcements, `${lease.claim.key}:announcements`, step.due_at)
          : undefined;
        if (announced) return announced;
        // Lower levels paged before the channel existed land here first, so the channel reads in order.
        await copyEarlierPages(this.#o, incident, lease, { below: level, steps, waitForOthersMs: PAGE_WAITS_FOR_COPY_MS });
        const users = await slack.expand(step.notify);
        // Invited first, so the mention reaches them, when the invite budget (Tier 3) has room right now; a page never
        // waits for it (when it is busy, the invite follows the page).
        const invited = await slack
          .invite(incident.channel_id, users, { maxWaitMs: INVITE_BEFORE_PAGE_MAX_WAIT_MS })
          .then((outcome) => outcome === 'invited')
          .catch((error: unknown) => {
            log.warn({ event: 'escalation.invite_deferred', err: error });
            return false;
          });
        await lease.hold();
        invitedWithPage = invited;
        return slack.postOnce(incident.channel_id, message, {
          key: lease.claim.key,
          lookFirst,
          since: step.due_at,
          hold: () => lease.hold(),
        });
      }
      log.info({ event: 'escalation.paged_before_channel' });
      await lease.hold();
      // Many incidents may page the one announcement channel at once: combined, they arrive on time.
      return slack.postOnce(config.file.channels.announcements, message, {
        key: `${lease.claim.key}:announcements`,
        lookFirst,
        since: step.due_at,
        combine: true,
        hold: () => lease.hold(),
      });
    });
    const inChannel = Boolean(incident.channel_id) && posted.channel === incident.channel_id;
    const marked = await store.transaction(async (tx) => {
      // The fence. Paged in the incident channel, nothing is left to do after the marks: the work is finished in this
      // transaction (one round trip less per page); paged in the announcement channel, it still copies below.
      if (inChannel) await lease.completeHeld(tx);
      else await lease.hold(tx);
      if (!(await markStepPosted(tx, incidentId, level, { at: postedAt, in: posted.channel, ts: posted.ts, late }))) return false;
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
      // The page is out and mentions them; the invite is work of its own, waiting for its budget without holding this
      // page's slot (a busy invite budget, Tier 3, never slows the pages behind it), and done by any replica, also
      // after this one shuts down.
      if (inChannel && !invitedWithPage) await inviteAfterPage(tx, incidentId, level, postedAt);
      return true;
    });
    if (!marked) return;
    log.info({ event: 'escalation.posted', late, lateByMs: postedAt.getTime() - step.due_at.getTime(), in: posted.channel });
    // Paged in the announcement channel: the incident channel may have been made meanwhile, and its setup may have
    // copied the earlier pages before this one was marked. Whoever sees both copies it (claims keep it to one copy).
    if (!inChannel) {
      const now = await getIncident(store, incidentId);
      if (now?.channel_id) await slack.at('page', () => copyEarlierPages(this.#o, now, lease, { below: level + 1 }));
    }
  }

  /** The work handler for `page_invite:<incident>:<level>` rows: the level's people into the channel they were paged in. */
  async inviteAfterPage(lease: Lease): Promise<void> {
    const { store, slack } = this.#o;
    const { incidentId, level } = parseEscalationKey(lease.claim.key);
    const [incident, steps] = await Promise.all([getIncident(store, incidentId), listSteps(store, incidentId)]);
    const step = steps.find((candidate) => candidate.level === level);
    if (!incident?.channel_id || incident.status === 'resolved' || !step) return;
    const users = await slack.expand(step.notify);
    await lease.hold();
    // Inviting someone already there changes nothing: a second run after a lost answer is harmless. A busy budget is
    // waited for off the lane, so invites never fill the slots that card updates and queued posts run in.
    const outcome = await slack.at('update', () =>
      slack.invite(incident.channel_id!, users, { maxWaitMs: PAGE_INVITE_WAITS_MS }),
    );
    if (outcome === 'busy') throw new DeferWork(PAGE_INVITE_WAITS_MS, 'the invite budget (Tier 3) is busy');
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
        await slack.postOnce(
          incident.channel_id,
          { text },
          { key: `${lease.claim.key}:channel`, lookFirst, since: dueAt, hold: () => lease.hold() },
        );
      }
      await lease.hold();
      await slack.postOnce(
        config.file.channels.announcements,
        { text },
        { key: `${lease.claim.key}:announcements`, lookFirst, since: dueAt, combine: true, hold: () => lease.hold() },
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
