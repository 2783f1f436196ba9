// Socket Mode with several connections per process, replaced make-before-break, so no command or click lands in a gap.
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import { ExternalError, errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { SocketConnection, type ConnectionTiming, type SocketEnvelope } from './socket-connection.ts';
import { openSocketUrl } from './socket-url.ts';

export interface SocketTiming extends ConnectionTiming {
  /** Backoff after the second failure in a row doubles from this, with jitter, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** How long a slot waits after too_many_websockets when it has no connection to keep meanwhile. */
  tooManyWaitMs: number;
  /** An ack whose connection closed waits this long for another connection to send it on. */
  ackWaitMs: number;
}

const DEFAULT_TIMING: SocketTiming = {
  helloTimeoutMs: 10_000,
  pingEveryMs: 10_000,
  silenceMs: 30_000,
  backoffMs: 1_000,
  maxBackoffMs: 30_000,
  tooManyWaitMs: 60_000,
  ackWaitMs: 2_000,
};

export interface SocketModeOptions {
  appToken: string;
  /** Web API base, e.g. https://slack.com/api/ (SLACK_API_URL). */
  apiUrl: string | undefined;
  /** socketMode.connections */
  connections: number;
  /** socketMode.stagger */
  staggerMs: number;
  /** socketMode.readinessGrace */
  readinessGraceMs: number;
  /** timeouts.slack: the apps.connections.open call. */
  requestTimeoutMs: number;
  logger: Logger;
  metrics: Metrics;
  /** Slack refused the app token: no connection will ever open. Called once; the receiver has stopped. */
  onFatal(error: ExternalError): void;
  timing?: Partial<SocketTiming>;
}

/** One of the N places a connection lives; its connection is replaced in place. */
interface Slot {
  index: number;
  current: SocketConnection | undefined;
  /** A replacement is being asked for or is waiting for its hello. */
  opening: boolean;
  /** Failed attempts in a row (a connection that never got its hello counts). */
  failures: number;
  timer: NodeJS.Timeout | undefined;
  /** too_many_websockets while a connection was kept: retry when that one closes. */
  retryOnClose: boolean;
}

/**
 * A Bolt receiver over `connections` Socket Mode connections. Slack hands each envelope to one open connection of
 * the app, so while one is being replaced the others receive. A `disconnect` message opens the replacement first and
 * closes the old connection once the replacement got its hello; a connection that drops is replaced at once, with
 * jittered backoff only when attempts fail in a row.
 */
export class SocketModeConnections implements Receiver {
  readonly #options: SocketModeOptions;
  readonly #timing: SocketTiming;
  readonly #apiUrl: string;
  readonly #slots: Slot[];
  readonly #connections = new Set<SocketConnection>();
  #app: App | undefined;
  #stopped = true;
  #fatal: ExternalError | undefined;
  readonly #startedAt = Date.now();
  #lastEnvelopeAt: number | undefined;
  /** When the count of open connections last fell to zero (undefined while some are open or none ever was). */
  #noneOpenSince: number | undefined;
  #lastCloseReason: string | undefined;
  #everOpen = false;
  #helloWaiters: Array<() => void> = [];

  constructor(options: SocketModeOptions) {
    this.#options = options;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
    const base = options.apiUrl ?? 'https://slack.com/api/';
    this.#apiUrl = base.endsWith('/') ? base : `${base}/`;
    this.#slots = Array.from({ length: options.connections }, (_, index) => ({
      index,
      current: undefined,
      opening: false,
      failures: 0,
      timer: undefined,
      retryOnClose: false,
    }));
    options.metrics.socketConnections.set(0);
    options.metrics.onCollect(() => {
      options.metrics.socketLastEnvelope.set((Date.now() - (this.#lastEnvelopeAt ?? this.#startedAt)) / 1000);
    });
  }

  init(app: App): void {
    this.#app = app;
  }

  /** Opens the first connection now and the others `staggerMs` apart; resolves at once (connecting goes on). */
  start(): Promise<void> {
    this.#stopped = false;
    for (const slot of this.#slots) this.#schedule(slot, slot.index * this.#options.staggerMs, 'start');
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const slot of this.#slots) clearTimeout(slot.timer);
    const closing = [...this.#connections].map(
      (connection) =>
        new Promise<void>((resolve) => {
          this.#onClosed.set(connection, resolve);
          connection.close();
        }),
    );
    await Promise.all(closing);
  }

  /** Open connections now. */
  get openCount(): number {
    return [...this.#connections].filter((connection) => connection.isOpen).length;
  }

  /** undefined when ready; else why not, for /readyz. A refresh shorter than the grace keeps the bot ready. */
  notReadyReason(): string | undefined {
    if (this.#fatal) return `Slack refused SLACK_APP_TOKEN (${this.#fatal.message})`;
    if (this.openCount > 0) return undefined;
    if (!this.#everOpen) return 'no Socket Mode connection yet (connecting to Slack)';
    const since = this.#noneOpenSince ?? Date.now();
    const seconds = Math.round((Date.now() - since) / 1000);
    if (Date.now() - since < this.#options.readinessGraceMs) return undefined;
    return `no Socket Mode connection open for ${seconds}s (last closed: ${this.#lastCloseReason ?? 'unknown'}); reconnecting`;
  }

  readonly #onClosed = new Map<SocketConnection, () => void>();

  #schedule(slot: Slot, delayMs: number, reason: string): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    if (delayMs <= 0) {
      void this.#open(slot, reason);
      return;
    }
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      void this.#open(slot, reason);
    }, delayMs);
    slot.timer.unref();
  }

  /** Jittered exponential backoff: none for the first failure in a row, then backoffMs, 2×, 4×… up to the cap. */
  #backoff(failures: number): number {
    if (failures <= 1) return 0;
    const full = Math.min(this.#timing.maxBackoffMs, this.#timing.backoffMs * 2 ** (failures - 2));
    return Math.round(full * (0.5 + Math.random() * 0.5));
  }

  async #open(slot: Slot, reason: string): Promise<void> {
    if (this.#stopped || slot.opening) return;
    slot.opening = true;
    const { logger, metrics } = this.#options;
    if (reason !== 'start') metrics.socketReconnects.inc({ reason });
    const answer = await openSocketUrl({
      apiUrl: this.#apiUrl,
      appToken: this.#options.appToken,
      timeoutMs: this.#options.requestTimeoutMs,
    });
    if (this.#stopped) {
      slot.opening = false;
      return;
    }
    if (!answer.ok) {
      slot.opening = false;
      if (answer.kind === 'fatal') return this.#failFatally(answer.error, answer.fix);
      slot.failures += 1;
      if (answer.kind === 'too_many_websockets') {
        logger.warn({
          event: 'slack.socket_too_many',
          slot: slot.index,
          message: 'Slack allows an app 10 Socket Mode connections: keep replicas × socketMode.connections at 10 or fewer',
        });
        // Waiting for a slot of ours to free beats asking again and again while ten are open.
        if (slot.current) {
          slot.retryOnClose = true;
          return;
        }
        return this.#schedule(slot, this.#timing.tooManyWaitMs * (0.5 + Math.random() * 0.5), 'too_many_websockets');
      }
      const delayMs =
        answer.kind === 'rate_limited'
          ? Math.max(answer.retryAfterMs ?? 0, this.#backoff(slot.failures))
          : this.#backoff(slot.failures);
      logger.warn({ event: 'slack.socket_open_failed', slot: slot.index, error: answer.error, retryInMs: delayMs });
      return this.#schedule(slot, Math.max(delayMs, 1), answer.kind === 'rate_limited' ? 'rate_limited' : 'failed');
    }
    let connection: SocketConnection;
    try {
      connection = this.#connect(slot, answer.url);
    } catch (error) {
      // A URL the WebSocket client refuses outright is a failed attempt like any other.
      slot.opening = false;
      slot.failures += 1;
      const delayMs = Math.max(this.#backoff(slot.failures), this.#timing.backoffMs);
      logger.warn({ event: 'slack.socket_open_failed', slot: slot.index, error: errorMessage(error), retryInMs: delayMs });
      return this.#schedule(slot, delayMs, 'failed');
    }
    this.#connections.add(connection);
  }

  #connect(slot: Slot, url: string): SocketConnection {
    const { logger } = this.#options;
    return new SocketConnection(
      url,
      {
        hello: (opened) => this.#greeted(slot, opened),
        envelope: (from, envelope) => this.#deliver(from, envelope),
        disconnectRequested: (from, why) => {
          logger.info({ event: 'slack.socket_refresh', slot: slot.index, connection: from.id, reason: why });
          // Make before break: the old connection keeps receiving until the new one is greeted.
          if (from === slot.current) void this.#open(slot, why);
        },
        closed: (closed, why) => this.#closed(slot, closed, why),
      },
      this.#timing,
    );
  }

  #greeted(slot: Slot, connection: SocketConnection): void {
    const { logger, metrics } = this.#options;
    const previous = slot.current;
    slot.current = connection;
    slot.opening = false;
    slot.failures = 0;
    this.#everOpen = true;
    this.#noneOpenSince = undefined;
    metrics.socketConnections.set(this.openCount);
    logger.info({ event: 'slack.socket_connected', slot: slot.index, connection: connection.id, open: this.openCount });
    if (previous && previous !== connection) previous.close();
    for (const wake of this.#helloWaiters.splice(0)) wake();
    if (this.#stopped) connection.close();
  }

  #closed(slot: Slot, connection: SocketConnection, why: string): void {
    const { logger, metrics } = this.#options;
    this.#connections.delete(connection);
    this.#onClosed.get(connection)?.();
    this.#onClosed.delete(connection);
    const open = this.openCount;
    metrics.socketConnections.set(open);
    if (open === 0 && this.#noneOpenSince === undefined && this.#everOpen) this.#noneOpenSince = Date.now();
    this.#lastCloseReason = why;
    const greeted = connection.greetedAt !== undefined;
    logger.info({ event: 'slack.socket_closed', slot: slot.index, connection: connection.id, reason: why, greeted, open });
    if (this.#stopped) return;
    if (connection === slot.current) {
      slot.current = undefined;
      if (slot.retryOnClose) {
        slot.retryOnClose = false;
        return this.#schedule(slot, 0, 'too_many_websockets');
      }
      // The replacement asked for by a disconnect message is on its way; nothing more to do.
      if (slot.opening) return;
      return this.#schedule(slot, 0, reasonLabel(why));
    }
    if (!greeted && slot.opening) {
      // The replacement died before its hello: a failed attempt.
      slot.opening = false;
      slot.failures += 1;
      const delayMs = this.#backoff(slot.failures);
      logger.warn({ event: 'slack.socket_open_failed', slot: slot.index, error: why, retryInMs: delayMs });
      this.#schedule(slot, delayMs, 'failed');
    }
  }

  #failFatally(error: string, fix: string): void {
    if (this.#fatal) return;
    this.#fatal = new ExternalError('Slack', `apps.connections.open answered ${error}: ${fix}`, {
      code: 'slack_app_token_rejected',
    });
    void this.stop();
    this.#options.onFatal(this.#fatal);
  }

  #deliver(connection: SocketConnection, envelope: SocketEnvelope): void {
    const envelopeId = envelope.envelope_id;
    if (!envelopeId || !envelope.payload) return;
    this.#lastEnvelopeAt = Date.now();
    let acked = false;
    const ack: ReceiverEvent['ack'] = async (response?: unknown) => {
      if (acked) return;
      acked = true;
      await this.#sendAck(connection, envelopeId, response);
    };
    const event: ReceiverEvent = {
      body: envelope.payload,
      ack,
      retryNum: envelope.retry_attempt,
      retryReason: envelope.retry_reason,
      customProperties: { envelopeId },
    };
    this.#app?.processEvent(event).catch((error: unknown) => {
      this.#options.logger.error({ event: 'slack.socket_event_failed', type: envelope.type, envelopeId, err: error });
    });
  }

  /**
   * Acks go back on the connection the envelope came on; when that one has closed (a refresh, a drop), on another
   * open connection of the app, as Slack matches acks by envelope_id.
   */
  async #sendAck(connection: SocketConnection, envelopeId: string, response: unknown): Promise<void> {
    const message = { envelope_id: envelopeId, ...(response === undefined ? {} : { payload: response }) };
    const deadline = Date.now() + this.#timing.ackWaitMs;
    for (;;) {
      if (connection.send(message)) return;
      for (const other of this.#connections) if (other.isOpen && other.send(message)) return;
      const left = deadline - Date.now();
      if (left <= 0 || this.#stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#helloWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    throw new ExternalError('Slack', `no open Socket Mode connection to acknowledge envelope ${envelopeId} on`);
  }
}

/** Metric labels stay a small set; the log keeps the detail. */
function reasonLabel(why: string): string {
  if (why === 'silent' || why === 'hello_timeout') return why;
  return 'dropped';
}
