// What the incident service (and the follow-ups it holds) is built from: the store, the Slack port, config, clock,
// logger, and the hooks app.ts gives it into the work poller, the health checks and shutdown.
import type { KnownBlock } from '@slack/types';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/db.ts';
import type { Incident } from '../store/incidents.ts';
import type { IncidentSlack } from './slack-port.ts';

/** Runs the affected service's health check for the channel. */
export type IncidentHealthCheck = (
  service: string,
  incident: Incident,
) => Promise<{ text: string; blocks?: KnownBlock[]; summary: string }>;

export interface IncidentServiceOptions {
  store: Store;
  slack: IncidentSlack;
  config: Config;
  clock: Clock;
  logger: Logger;
  healthCheck?: IncidentHealthCheck | undefined;
  /** New timers or queued work exist: let the pollers (here and on other replicas) look now. */
  onWorkAdded?: () => void;
  /** Runs a work row here and now (the replica that declared sets the channel up without waiting for a poll). */
  runWorkNow?: (key: string) => Promise<void>;
  /** Runs work that should not delay the caller (the first health check), tracked for shutdown. */
  background?: (work: () => Promise<unknown>) => void;
}
