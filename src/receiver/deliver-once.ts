// Every delivery from Slack acted on once, whichever receiver (Socket Mode or HTTP) and whichever replica it reaches.
import { setTimeout as sleep } from 'node:timers/promises';
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/db.ts';
import type { AckFirst } from '../ack-first.ts';
import type { InFlight } from '../inflight.ts';
import {
  claimDelivery,
  markDeliveryAcked,
  pruneDeliveries,
  recordDeliveries,
  releaseDelivery,
} from '../store/slack-deliveries.ts';
import { deliveryKey } from './delivery-key.ts';

/** A receiver's event, with the Socket Mode envelope it came in when there is one. */
export type DeliveredEvent = ReceiverEvent & { customProperties?: { envelopeId?: string } };

export interface DeliverOnceOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /**
   * A delivery claimed and not acknowledged for this long is taken over by its next re-delivery: the receiver that
   * claimed it went away (Slack wants an ack within 3 s, so a live one has acked long before).
   */
  takeOverAfterMs?: number;
  /** Rows are kept this long: Slack re-delivers within minutes. */
  keepMs?: number;
  /**
   * How deliveries reach the app. Over Socket Mode any envelope may come again (retry_attempt), and over HTTP Events
   * API deliveries do (X-Slack-Retry-Num): those are claimed before they are acted on. Slack does not retry slash
   * commands and interactions over HTTP: their first delivery is only noted, after the ack and together with the
   * others of the same moment (one write for a burst), so that a retry, should one come, is still recognised.
   */
  mode: 'socket' | 'http';
  /** Tracks the notes of deliveries written after their ack, so a drain (and a test's idle()) waits for them. */
  inflight?: Pick<InFlight, 'track'>;
  /** Told of each delivery from its arrival to its ack, so the work after earlier acks (the notes here too) can wait for a lull. */
  acks?: Pick<AckFirst, 'arrived' | 'turn'>;
}

const PRUNE_EVERY_MS = 10 * 60_000;
/**
 * Answered deliveries are noted together, once per this long (as audit rows are): one write for a burst rather than
 * one per request, and keys that wait briefly (with a second's wait, a burst's keys outlived the young generation's
 * collections). A copy that reaches this process sooner finds its key among those waiting.
 */
const NOTE_GATHER_MS = 100;
/** A copy that finds the first still at work looks again this often, for up to this long, before giving up unanswered. */
const IN_PROGRESS_POLL_MS = 100;
const IN_PROGRESS_WAIT_MS = 2_000;

/**
 * Wraps a Bolt receiver: before Bolt sees a delivery, its key is claimed in the store. A delivery seen and acked
 * before is acked again and dropped; one still being handled elsewhere is dropped unacknowledged (the first
 * receiver's ack answers Slack, and if that receiver died, Slack's next retry takes it over). Listeners need no
 * idempotency of their own for re-deliveries.
 */
export class DeliverOnce implements Receiver {
  readonly #inner: Receiver;
  readonly #options: DeliverOnceOptions;
  #lastPrune = 0;
  /**
   * Deliveries answered and not yet noted, written together NOTE_GATHER_MS after the first of them and at its time
   * (a row's time only decides when it is pruned). Only the keys are kept: anything more per delivery, waiting for its
   * batch, would outlive the young generation's collections.
   */
  #toNote = new Set<string>();

  constructor(inner: Receiver, options: DeliverOnceOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  init(app: App): void {
    // The inner receiver only calls processEvent on the app it is given.
    this.#inner.init({ processEvent: (event: ReceiverEvent) => this.process(app, event) } as unknown as App);
  }

  start(...args: unknown[]): Promise<unknown> {
    return this.#inner.start(...args);
  }

  stop(...args: unknown[]): Promise<unknown> {
    return this.#inner.stop(...args);
  }

  async process(app: App, delivered: DeliveredEvent): Promise<void> {
    const answered = this.#options.acks?.arrived();
    if (!answered) return this.#process(app, delivered);
    const ack: ReceiverEvent['ack'] = async (response) => {
      answered();
      await delivered.ack(response);
    };
    try {
      await this.#process(app, { ...delivered, ack });
    } finally {
      answered();
    }
  }

  async #process(app: App, event: DeliveredEvent): Promise<void> {
    const { store, clock, logger, metrics } = this.#options;
    const key = deliveryKey(event.body, event.customProperties?.envelopeId);
    if (key === undefined) return app.processEvent(event);
    const now = clock.now();
    if (!mayComeAgain(event, this.#options.mode)) {
      // Nothing before the ack: the note waits until Slack has its answer.
      const ack: ReceiverEvent['ack'] = async (response) => {
        await event.ack(response);
        this.#note(key, now);
      };
      return app.processEvent({ ...event, ack });
    }
    let claim: Awaited<ReturnType<typeof claimDelivery>>;
    try {
      // Answered here a moment ago and not yet written down: a copy is acked again, as from the store.
      claim = this.#toNote.has(key)
        ? 'done'
        : await claimDelivery(store, key, now, new Date(now.getTime() - (this.#options.takeOverAfterMs ?? 30_000)));
      // A copy right behind the first usually finds its ack a moment later: wait a little rather than leave it unanswered.
      for (let waited = 0; claim === 'in_progress' && waited < IN_PROGRESS_WAIT_MS; waited += IN_PROGRESS_POLL_MS) {
        await sleep(IN_PROGRESS_POLL_MS);
        claim = await claimDelivery(store, key, clock.now(), new Date(now.getTime() - (this.#options.takeOverAfterMs ?? 30_000)));
      }
    } catch (error) {
      // Acting possibly twice beats dropping a click because the store hiccuped.
      logger.warn({ event: 'slack.delivery_claim_failed', key, err: error });
      return app.processEvent(event);
    }
    this.#pruneNowAndThen(now);
    if (claim !== 'new') {
      metrics.slackRedeliveries.inc({ outcome: claim === 'done' ? 'acked_again' : 'in_progress' });
      logger.info({ event: 'slack.redelivery_dropped', key, retryNum: event.retryNum, claim });
      if (claim === 'done') await event.ack();
      return;
    }
    let acked = false;
    const ack: ReceiverEvent['ack'] = async (response) => {
      // Marked while the ack travels, so a copy that Slack sends right after finds it done.
      const marked = markDeliveryAcked(store, key, clock.now()).catch((error: unknown) =>
        logger.warn({ event: 'slack.delivery_mark_failed', key, err: error }),
      );
      acked = true;
      try {
        await event.ack(response);
      } finally {
        await marked;
      }
    };
    try {
      await app.processEvent({ ...event, ack });
    } catch (error) {
      // Not answered: let Slack's retry act on it rather than drop it as a duplicate.
      if (!acked) await releaseDelivery(store, key).catch(() => undefined);
      throw error;
    }
  }

  /** Queues a note of an answered delivery; the first of a burst schedules the write of them all. */
  #note(key: string, at: Date): void {
    this.#toNote.add(key);
    if (this.#toNote.size > 1) return;
    const written = sleep(NOTE_GATHER_MS).then(async () => {
      await this.#options.acks?.turn();
      const keys = [...this.#toNote];
      this.#toNote = new Set();
      await recordDeliveries(this.#options.store, keys, at).catch((error: unknown) =>
        this.#options.logger.warn({ event: 'slack.delivery_record_failed', count: keys.length, err: error }),
      );
    });
    this.#options.inflight?.track(written);
  }

  #pruneNowAndThen(now: Date): void {
    if (now.getTime() - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now.getTime();
    const before = new Date(now.getTime() - (this.#options.keepMs ?? 60 * 60_000));
    pruneDeliveries(this.#options.store, before).catch((error: unknown) =>
      this.#options.logger.warn({ event: 'slack.delivery_prune_failed', err: error }),
    );
  }
}

/** Whether Slack delivers this again when unanswered: every Socket Mode envelope; over HTTP, Events API deliveries (and retries). */
function mayComeAgain(event: DeliveredEvent, mode: DeliverOnceOptions['mode']): boolean {
  if (mode === 'socket') return true;
  return event.body.type === 'event_callback' || (event.retryNum !== undefined && event.retryNum > 0);
}
