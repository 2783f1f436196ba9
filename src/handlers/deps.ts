// What app.ts builds once and every handler, the request middleware and the confirmations are given (HandlerDeps adds
// the confirmations themselves, in listener.ts).
import type { WebClient } from '@slack/web-api';
import type { AckFirst } from '../ack-first.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { InFlight } from '../inflight.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { SharedReads } from '../shared-reads.ts';
import type { AuditWriter } from '../store/audit.ts';
import type { Store } from '../store/db.ts';
import type { WorkQueue } from '../work-queue.ts';
import type { Permissions } from './authorize.ts';

export interface SharedDeps {
  config: Config;
  store: Store;
  slack: WebClient;
  logger: Logger;
  metrics: Metrics;
  inflight: InFlight;
  clock: Clock;
  permissions: Permissions;
  audit: AuditWriter;
  /** Identical reads (health, privacy budget, rollout history) share one run and a fresh result. */
  reads: SharedReads;
  /** Where the work after an ack waits its turn, a few of each kind at a time. */
  queue: WorkQueue;
  /** The work after an ack waits for a lull in Slack's requests (briefly), so a burst is answered first. */
  acks: AckFirst;
}
