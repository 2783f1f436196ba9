// Archiving the channel of a resolved incident (incidents.archiveAfter): announced a day before, put off when someone
// posts in the channel after the announcement, cancelled by a reopen. Both steps are work rows, run once each.
import { formatDuration } from '../config/duration.ts';
import { formatWhen } from '../slack/incident-blocks.ts';
import { addEvent, getIncident } from '../store/incidents.ts';
import type { Lease } from '../work/due-work-poller.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';
import { incidentIdOfKey, scheduleArchiveAfterNotice, scheduleChannelArchive } from './timers.ts';

export class ChannelArchiver {
  readonly #o: IncidentModuleDeps;

  constructor(options: IncidentModuleDeps) {
    this.#o = options;
  }

  /** The work handler for `archive_notice:<incident>:<at>` rows: tells the channel when it will be archived. */
  async announce(lease: Lease): Promise<void> {
    const { store, slack, config, clock } = this.#o;
    const incident = await getIncident(store, incidentIdOfKey(lease.claim.key));
    if (!incident?.channel_id || incident.status !== 'resolved') return;
    const archiveAt = new Date(Number(lease.claim.payload.archiveAt));
    const text = `:file_cabinet: This channel will be archived ${formatWhen(archiveAt, config.timezone)}, as incident #${incident.id} is resolved. Post here to keep it open for another ${formatDuration(config.file.incidents.archiveAfter ?? 0)}; follow-ups stay listed in \`/incident followups\`.`;
    await lease.hold();
    const notice = await slack.at('update', () =>
      slack.postOnce(
        incident.channel_id!,
        { text },
        { key: lease.claim.key, lookFirst: lease.claim.uncertain || lease.claim.attempts > 1, since: incident.resolved_at! },
      ),
    );
    await store.transaction(async (tx) => {
      await lease.hold(tx);
      await lease.complete(tx);
      await addEvent(
        tx,
        incident.id,
        clock.now(),
        'archive_announced',
        null,
        `Archive announced for ${formatWhen(archiveAt, config.timezone)}`,
      );
      await scheduleArchiveAfterNotice(tx, incident.id, archiveAt, notice.ts, clock.now());
    });
  }

  /** The work handler for `archive:<incident>:<at>` rows: archives, unless someone posted since the notice. */
  async archive(lease: Lease): Promise<void> {
    const { store, slack, config, clock, logger } = this.#o;
    const incident = await getIncident(store, incidentIdOfKey(lease.claim.key));
    if (!incident?.channel_id || incident.status !== 'resolved') return;
    const channel = incident.channel_id;
    const noticeTs = String(lease.claim.payload.noticeTs);
    await lease.hold();
    const discussed = await slack.at('update', () => slack.humanPostedSince(channel, noticeTs));
    const now = clock.now();
    if (discussed) {
      const later = new Date(now.getTime() + (config.file.incidents.archiveAfter ?? 0));
      await store.transaction(async (tx) => {
        await lease.hold(tx);
        await lease.complete(tx);
        await addEvent(
          tx,
          incident.id,
          now,
          'archive_postponed',
          null,
          `Archive put off to ${formatWhen(later, config.timezone)}: the channel is in use`,
        );
        await scheduleChannelArchive(tx, incident.id, later, now);
      });
      logger.info({ event: 'incident.archive_postponed', incidentId: incident.id });
      return;
    }
    await lease.hold();
    await slack.at('update', () => slack.archiveChannel(channel));
    await store.transaction(async (tx) => {
      await lease.hold(tx);
      await lease.complete(tx);
      await addEvent(tx, incident.id, now, 'channel_archived', null, 'Channel archived');
    });
    logger.info({ event: 'incident.channel_archived', incidentId: incident.id });
  }
}
