// Follow-ups of an incident: added during it or after (by command or from the resolution message), each on the
// timeline and posted in the channel with a Done button; only its owner (anyone, when it has none) marks it done.
import { NotPermittedError, UserError } from '../errors.ts';
import { followUpDonePost, followUpPost } from '../slack/incident-blocks.ts';
import { addEvent, getIncident, type Incident } from '../store/incidents.ts';
import { addFollowUp, getFollowUp, markFollowUpDone, type FollowUp } from '../store/follow-ups.ts';
import type { IncidentServiceOptions } from './service-options.ts';

export class FollowUps {
  readonly #o: IncidentServiceOptions;

  constructor(options: IncidentServiceOptions) {
    this.#o = options;
  }

  /** Adds a follow-up to the incident (open or resolved): on the timeline and in the channel. */
  async add(incident: Incident, input: { text: string; owner: string | null }, userId: string): Promise<FollowUp> {
    const { store, clock, config } = this.#o;
    const now = clock.now();
    const { followUp, eventId } = await store.transaction(async (tx) => {
      const followUp = await addFollowUp(tx, {
        incidentId: incident.id,
        text: input.text,
        owner: input.owner,
        createdBy: userId,
        createdAt: now,
        dueAt: new Date(now.getTime() + config.file.incidents.followUpDue),
      });
      const eventId = await addEvent(
        tx,
        incident.id,
        now,
        'followup_added',
        userId,
        `Follow-up #${followUp.id}: ${input.text}${input.owner ? ` (owner <@${input.owner}>)` : ''}`,
        { followUp: followUp.id, owner: input.owner, text: input.text },
      );
      return { followUp, eventId };
    });
    if (incident.channel_id)
      await this.#o.slack.publish(incident.channel_id, followUpPost(followUp, config.timezone), {
        key: `event:${eventId}`,
        urgency: 'update',
        incidentId: incident.id,
      });
    return followUp;
  }

  /** Marks a follow-up done: its owner may, or anyone when it has no owner. */
  async markDone(id: number, userId: string): Promise<FollowUp> {
    const { store, clock } = this.#o;
    const followUp = await getFollowUp(store, id);
    if (!followUp) throw new UserError(`There is no follow-up #${id}.`, 'not_found');
    if (followUp.owner && followUp.owner !== userId)
      throw new NotPermittedError(`Only <@${followUp.owner}>, its owner, can mark follow-up #${id} done.`);
    const now = clock.now();
    const done = await store.transaction(async (tx) => {
      const done = await markFollowUpDone(tx, id, userId, now);
      if (!done) return undefined;
      const eventId = await addEvent(tx, done.incident_id, now, 'followup_done', userId, `Follow-up #${id} done: ${done.text}`, {
        followUp: id,
      });
      return { done, eventId };
    });
    if (!done) throw new UserError(`Follow-up #${id} is already done.`, 'followup_done');
    const incident = await getIncident(store, done.done.incident_id);
    if (incident?.channel_id)
      await this.#o.slack.publish(incident.channel_id, followUpDonePost(done.done), {
        key: `event:${done.eventId}`,
        urgency: 'update',
        incidentId: incident.id,
      });
    return done.done;
  }
}
