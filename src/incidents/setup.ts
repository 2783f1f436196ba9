// Setting up an incident's channel: a durable, fenced, resumable piece of work that any replica can finish.
//
// The channel name is reserved in the database before Slack is asked, so same-minute incidents get -2, -3… with about
// one conversations.create each. A name_taken for a name this incident reserved (an earlier attempt's answer was lost)
// is resolved by finding the bot's own channel of that name and adopting it; a name taken by someone else (or an
// archived channel) is marked so and the next one is reserved. Every step records that it is done under the work
// row's fence, so a replica that stalled past its lease cannot act on stale state, and a takeover resumes where the
// first stopped. Steps run in order and each is recorded once done, so only the first step not recorded can have
// been cut off by an earlier attempt: its keyed post (card, checklist, announcement) is looked for before it is posted
// again, and no other (each look is a Tier 3 call, which pages need too).
import { incidentChannelName } from './channel-name.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';
import { rolesOf } from './roles.ts';
import { OutcomeUnknown } from './slack-port.ts';
import { checklistBlocks, incidentCard, incidentTopic } from '../slack/incident-blocks.ts';
import {
  addEvent,
  finishSetup,
  getIncident,
  listSteps,
  markChannelNameCreated,
  markChannelNameTaken,
  recordCard,
  recordChannel,
  recordSetupStep,
  reserveChannelName,
  reservedChannelName,
  type Incident,
  type SetupStep,
} from '../store/incidents.ts';
import { LOCK_IDS } from '../store/locks.ts';
import { UncertainWorkError, type Lease } from '../work/due-work-poller.ts';
import { copyEarlierPages } from './escalation.ts';
import { incidentIdOfKey } from './timers.ts';

const MAX_NAME_ATTEMPTS = 50;

export class ChannelSetup {
  readonly #o: IncidentModuleDeps;

  constructor(options: IncidentModuleDeps) {
    this.#o = options;
  }

  /** The work handler for `setup:<incident>` rows. */
  async run(lease: Lease): Promise<void> {
    const { store, slack } = this.#o;
    const incidentId = incidentIdOfKey(lease.claim.key);
    let incident = await getIncident(store, incidentId);
    // Resolved before it ever had a channel: nothing left to set up.
    if (!incident || (incident.status === 'resolved' && !incident.channel_id)) return;
    const again = lease.claim.uncertain || lease.claim.attempts > 1;
    // An earlier attempt may have been cut off half-way in filling the channel only if the channel was there.
    const resumed = again && Boolean(incident.channel_id);
    await slack.at('setup', async () => {
      if (!incident!.channel_id) incident = await this.#createChannel(incident!, lease, again);
      incident = await this.#fillChannel(incident!, lease, resumed);
      await store.transaction(async (tx) => {
        await lease.hold(tx);
        await finishSetup(tx, incident!.id);
        await lease.complete(tx);
      });
    });
    this.#o.logger.info({ event: 'incident.setup_done', incidentId, channel: incident!.channel_name });
    if (incident!.service) {
      const forCheck = incident!;
      this.#o.incidents.backgroundHealthCheck(forCheck);
    }
  }

  /**
   * With `again` (an earlier attempt may have created the reserved name's channel and stopped before recording it: its
   * replica stalled past its lease, or the answer was lost), the bot's own channel of that name is looked for first:
   * a Tier 3 read instead of a Tier 2 create that would only answer name_taken.
   */
  async #createChannel(incident: Incident, lease: Lease, again: boolean): Promise<Incident> {
    const { store, slack, config, clock } = this.#o;
    let lookFirst = again;
    for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt += 1) {
      let reservedBefore = false;
      const name = await store.transaction(async (tx) => {
        await tx.lock(LOCK_IDS.channelNames);
        await lease.hold(tx);
        const held = await reservedChannelName(tx, incident.id);
        reservedBefore = Boolean(held);
        if (held) return held.name;
        const candidates = Array.from({ length: MAX_NAME_ATTEMPTS }, (_, i) =>
          incidentChannelName(config.file.incidents.channelPrefix, incident.declared_at, config.timezone, i + 1),
        );
        return reserveChannelName(tx, incident.id, candidates, clock.now());
      });
      if (!name) break;
      await lease.hold();
      let created: { id: string; name: string } | undefined =
        lookFirst && reservedBefore ? await slack.findOwnChannel(name) : undefined;
      lookFirst = false;
      try {
        if (!created) {
          const result = await slack.createChannel(name);
          if (result.ok) created = result;
          // Taken: by this incident's own earlier attempt whose answer was lost, or by someone else.
          else created = await slack.findOwnChannel(name);
        }
      } catch (error) {
        if (!(error instanceof OutcomeUnknown)) throw error;
        created = await slack.findOwnChannel(name);
        // Slack may still be creating it: try again later with the same reserved name.
        if (!created) throw new UncertainWorkError(`creating #${name}: ${error.message}`, { cause: error });
      }
      if (!created) {
        await store.transaction(async (tx) => {
          await lease.hold(tx);
          await markChannelNameTaken(tx, name);
        });
        continue;
      }
      const channel = created;
      await store.transaction(async (tx) => {
        await lease.hold(tx);
        await markChannelNameCreated(tx, channel.name, channel.id);
        await recordChannel(tx, incident.id, channel.id, channel.name);
        await addEvent(tx, incident.id, clock.now(), 'channel_created', null, `Channel #${channel.name} created`);
      });
      this.#o.logger.info({ event: 'incident.channel_created', incidentId: incident.id, channel: channel.name });
      return { ...incident, channel_id: channel.id, channel_name: channel.name };
    }
    throw new Error(`every channel name up to -${MAX_NAME_ATTEMPTS} for this minute is taken`);
  }

  /**
   * The pages posted before the channel existed, the card, the responders and the announcement first (what people need
   * to join and act), then the checklist, the topic and the pin.
   */
  async #fillChannel(incident: Incident, lease: Lease, resumed: boolean): Promise<Incident> {
    const { store, slack, config } = this.#o;
    const log = this.#o.logger.child({ incidentId: incident.id });
    const channel = incident.channel_id!;
    const done = new Set(Object.keys(incident.setup_progress ?? {}));
    // Steps run in order, so the first one not done is the one an earlier attempt can have cut off after its effect.
    let mayBeCutOff = resumed;
    let current = incident;
    const hold = () => lease.hold();
    const step = async (
      name: SetupStep,
      work: (lookFirst: boolean) => Promise<void>,
      record?: (tx: Parameters<Parameters<typeof store.transaction>[0]>[0]) => Promise<void>,
    ) => {
      if (done.has(name)) return;
      const lookFirst = mayBeCutOff;
      mayBeCutOff = false;
      await lease.hold();
      await work(lookFirst);
      await store.transaction(async (tx) => {
        await lease.hold(tx);
        await record?.(tx);
        await recordSetupStep(tx, current.id, name);
      });
    };
    const since = current.declared_at;

    // Levels that fell due before the channel existed went to the announcement channel: they land here first.
    await step('pages_copied', () => copyEarlierPages(this.#o, current, lease, { waitForOthers: true }));
    let cardTs = current.card_ts;
    await step(
      'card',
      async (lookFirst) => {
        const roles = await rolesOf(store, config, current);
        const card = incidentCard(current, await listSteps(store, current.id), config.timezone, roles);
        cardTs = (await slack.postOnce(channel, card, { key: `card:${current.id}`, lookFirst, since, hold })).ts;
      },
      (tx) => recordCard(tx, current.id, cardTs!),
    );
    current = { ...current, card_ts: cardTs };
    await step('invited', async () => {
      const responders = [
        ...config.file.incidents.responders,
        ...(current.service ? (config.file.services[current.service]?.responders ?? []) : []),
      ];
      const users = await slack.expand(responders);
      if (current.source === 'slack') users.push(current.declared_by);
      await slack.invite(channel, users).catch((error: unknown) => log.warn({ event: 'incident.invite_failed', err: error }));
    });
    await step('announced', async (lookFirst) => {
      await slack.postOnce(config.file.channels.announcements, this.#o.incidents.announcementOf(current), {
        key: `announce:${current.id}`,
        lookFirst,
        since,
        hold,
      });
    });
    await step('checklist', async (lookFirst) => {
      await slack.postOnce(channel, checklistBlocks(config.file.incidents.checklist), {
        key: `checklist:${current.id}`,
        lookFirst,
        since,
        hold,
      });
    });
    const topic = incidentTopic(current, await rolesOf(store, config, current));
    await step('topic', () =>
      slack.setTopic(channel, topic).catch((error: unknown) => log.warn({ event: 'incident.topic_failed', err: error })),
    );
    await step('pin', () =>
      slack.pin(channel, cardTs!).catch((error: unknown) => log.warn({ event: 'incident.pin_failed', err: error })),
    );
    return (await getIncident(store, current.id)) ?? current;
  }
}
