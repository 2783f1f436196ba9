// The pinned incident card and the channel topic, re-rendered from the stored state when their work rows run.
//
// Changes only mark the card (and topic) as stale; the row collapses every change that arrives before it runs, and
// renders what is stored when it does, so a burst of changes costs one chat.update, never a stale one.
import { incidentCard, incidentTopic } from '../slack/incident-blocks.ts';
import { getIncident, listSteps } from '../store/incidents.ts';
import type { Lease } from '../work/due-work-poller.ts';
import type { IncidentModuleDeps } from './lifecycle.ts';
import { rolesOf } from './roles.ts';
import { incidentIdOfKey } from './timers.ts';

export class IncidentViews {
  readonly #o: IncidentModuleDeps;

  constructor(options: IncidentModuleDeps) {
    this.#o = options;
  }

  /** The work handler for `card:<incident>` rows. */
  async renderCard(lease: Lease): Promise<void> {
    const { store, slack, config } = this.#o;
    const incident = await getIncident(store, incidentIdOfKey(lease.claim.key));
    if (!incident?.channel_id || !incident.card_ts) return;
    const roles = await rolesOf(store, config, incident);
    const card = incidentCard(incident, await listSteps(store, incident.id), config.timezone, roles);
    await lease.hold();
    await slack.at('update', () => slack.update(incident.channel_id!, incident.card_ts!, card));
  }

  /** The work handler for `topic:<incident>` rows. */
  async renderTopic(lease: Lease): Promise<void> {
    const { store, slack, config } = this.#o;
    const incident = await getIncident(store, incidentIdOfKey(lease.claim.key));
    if (!incident?.channel_id) return;
    const topic = incidentTopic(incident, await rolesOf(store, config, incident));
    await lease.hold();
    await slack.at('update', () => slack.setTopic(incident.channel_id!, topic));
  }
}
