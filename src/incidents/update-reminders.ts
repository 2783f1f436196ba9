// Reminders to post a stakeholder update: a reminder falls due when none was posted within the severity's cadence,
// and is posted once, on whichever replica runs it.
//
// Each reminder is its own work row (`update_reminder:<incident>:<due ms>`), so a sent one is done and the next is a
// new row armed in the same fenced transaction. Posting an update, a snooze or a new severity replaces the waiting
// row; resolving cancels it, and a reminder that runs for an incident resolved meanwhile posts nothing. One that fell
// due while no replica ran is posted once when one is back, marked late.
import { updateReminderPost } from '../slack/incident-blocks.ts';
import { addEvent, getIncident, lastStatusUpdateAt } from '../store/incidents.ts';
import { DeferWork, type Lease } from '../work/due-work-poller.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';
import { armUpdateReminder, parseUpdateReminderKey } from './timers.ts';

export interface UpdateRemindersOptions extends IncidentModuleDeps {
  /** A reminder posted later than this after its due time is marked late. */
  lateAfterMs: number;
}

export class UpdateReminders {
  readonly #o: UpdateRemindersOptions;

  constructor(options: UpdateRemindersOptions) {
    this.#o = options;
  }

  /** The work handler for `update_reminder:<incident>:<due>` rows. */
  async remind(lease: Lease): Promise<void> {
    const { store, slack, clock, config, incidents } = this.#o;
    const { incidentId, dueAt } = parseUpdateReminderKey(lease.claim.key);
    const incident = await getIncident(store, incidentId);
    if (!incident || incident.status === 'resolved') return;
    if (!incident.channel_id) throw new DeferWork(5_000, 'waiting for the incident channel');
    const postedAt = clock.now();
    const late = postedAt.getTime() - dueAt.getTime() > this.#o.lateAfterMs;
    const message = updateReminderPost({
      incident,
      lastUpdateAt: await lastStatusUpdateAt(store, incidentId),
      dueAt,
      postedAt,
      late,
      snooze: config.file.incidents.updateSnooze,
      timezone: config.timezone,
    });
    await lease.hold();
    await slack.at('update', () =>
      slack.postOnce(incident.channel_id!, message, {
        key: lease.claim.key,
        lookFirst: lease.claim.uncertain || lease.claim.attempts > 1,
        since: dueAt,
      }),
    );
    await store.transaction(async (tx) => {
      await lease.hold(tx);
      await lease.complete(tx);
      const current = await getIncident(tx, incidentId);
      if (!current || current.status === 'resolved') return;
      await addEvent(
        tx,
        incidentId,
        postedAt,
        'update_reminder',
        null,
        `Reminded ${current.commander ? `<@${current.commander}>` : 'the responders'} to post a stakeholder update${late ? ' (late)' : ''}`,
        { late, lateByMs: postedAt.getTime() - dueAt.getTime() },
      );
      // The next one counts from this reminder, so a long outage yields one reminder, not one per missed cadence.
      await armUpdateReminder(tx, incidentId, incidents.updateDueAfter(current.severity, postedAt), postedAt);
    });
    this.#o.logger.info({ event: 'update_reminder.posted', incidentId, late });
  }
}
