// A fake Slack Socket Mode endpoint: URLs from apps.connections.open (through the fake Web API), hello, envelopes acked
// by envelope_id and re-delivered when not acked, disconnect messages with reasons, abrupt drops, too_many_websockets.
//
// Modelled on Slack's behaviour: each envelope goes to one open connection of the app; one that is not acked within
// ackTimeoutMs goes again (retry_attempt + 1) to an open connection; with no connection open, an envelope is lost
// (Slack does not hold interactive payloads). A connection asked to disconnect gets no new envelopes.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { FakeSlack } from './fake-slack.ts';

export const FAKE_APP_TOKEN = 'xapp-1-A0RUNBOOK-1-fakeapptoken';

export interface ServerConnection {
  id: number;
  openedAt: number;
  helloAt: number | undefined;
  closedAt: number | undefined;
  /** A disconnect message was sent: no new envelopes. */
  leaving: boolean;
  /** Envelopes sent on this connection. */
  envelopes: number;
}

export interface Delivery {
  envelopeId: string;
  type: string;
  payload: Record<string, unknown>;
  /** Sends so far (1 + re-deliveries). */
  attempts: number;
  acked: boolean;
  ackPayload: unknown;
  sentAt: number;
  ackedAt: number | undefined;
  /** No open connection to send it on, or not acked after maxAttempts. */
  lost: boolean;
  /** The connection it was last sent on. */
  connectionId: number | undefined;
}

export interface FakeSocketModeOptions {
  appToken?: string;
  /** Slack's limit per app. */
  maxConnections?: number;
  ackTimeoutMs?: number;
  maxAttempts?: number;
}

export async function startFakeSocketMode(slack: FakeSlack, options: FakeSocketModeOptions = {}): Promise<FakeSocketMode> {
  const fake = new FakeSocketMode(options);
  await fake.listen();
  slack.serveSocketMode(fake.appToken, () => fake.open());
  return fake;
}

interface Live {
  info: ServerConnection;
  ws: WebSocket;
}

interface Pending {
  /** Send on this connection when it is open (the first attempt only). */
  to?: number | undefined;
  delivery: Delivery;
  timer: NodeJS.Timeout | undefined;
  done: () => void;
}

export class FakeSocketMode {
  readonly appToken: string;
  readonly #options: Required<FakeSocketModeOptions>;
  readonly #wss: WebSocketServer;
  #port = 0;
  #nextId = 1;
  #tickets = new Set<string>();
  readonly #live: Live[] = [];
  readonly #all: ServerConnection[] = [];
  readonly #pending = new Map<string, Pending>();
  #next = 0;
  #refusing = false;
  /** When the count of open (greeted, not closed) connections last fell to 0 after the first hello. */
  #noneOpenSince: number | undefined;
  #everOpen = false;
  #longestGapMs = 0;
  #helloWaiters: Array<(connection: ServerConnection) => void> = [];

  constructor(options: FakeSocketModeOptions) {
    this.appToken = options.appToken ?? FAKE_APP_TOKEN;
    this.#options = {
      appToken: this.appToken,
      maxConnections: options.maxConnections ?? 10,
      ackTimeoutMs: options.ackTimeoutMs ?? 3_000,
      maxAttempts: options.maxAttempts ?? 4,
    };
    this.#wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient: ({ req }, done) => {
        const ticket = new URL(req.url ?? '/', 'ws://x').searchParams.get('ticket') ?? '';
        // A URL is good for one attempt, whether or not it is let in.
        const issued = this.#tickets.delete(ticket);
        if (this.#refusing || !issued) return done(false, 503);
        done(true);
      },
    });
    this.#wss.on('connection', (ws) => this.#accept(ws));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ready = () => {
        this.#port = (this.#wss.address() as AddressInfo).port;
        resolve();
      };
      if (this.#wss.address()) return ready();
      this.#wss.once('listening', ready);
      this.#wss.once('error', reject);
    });
  }

  /** apps.connections.open: a one-time URL, or too_many_websockets when the app already has its limit. */
  open(): { url: string } | { error: string } {
    const active = this.#live.length + this.#tickets.size;
    if (active >= this.#options.maxConnections) return { error: 'too_many_websockets' };
    const ticket = randomBytes(8).toString('hex');
    this.#tickets.add(ticket);
    return { url: `ws://127.0.0.1:${this.#port}/link/?ticket=${ticket}` };
  }

  /** Every connection ever accepted, in order. */
  connections(): ServerConnection[] {
    return this.#all.map((connection) => ({ ...connection }));
  }

  /** Greeted and not closed. */
  openConnections(): ServerConnection[] {
    return this.#live.filter((live) => live.info.helloAt !== undefined).map((live) => ({ ...live.info }));
  }

  get openCount(): number {
    return this.#live.filter((live) => live.info.helloAt !== undefined).length;
  }

  /** The longest time with no open connection since the first hello (including a gap still going on). */
  longestGapMs(): number {
    const current = this.#noneOpenSince === undefined ? 0 : Date.now() - this.#noneOpenSince;
    return Math.max(this.#longestGapMs, current);
  }

  /** Resolves with the next connection to get its hello. */
  nextHello(timeoutMs = 5_000): Promise<ServerConnection> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no new Socket Mode connection within ${timeoutMs} ms`)), timeoutMs);
      this.#helloWaiters.push((connection) => {
        clearTimeout(timer);
        resolve(connection);
      });
    });
  }

  /** Sends an envelope to one open connection; resolves when it is acked or lost. */
  deliver(type: string, payload: Record<string, unknown>): Promise<Delivery> {
    const delivery: Delivery = {
      envelopeId: randomBytes(12).toString('hex'),
      type,
      payload,
      attempts: 0,
      acked: false,
      ackPayload: undefined,
      sentAt: Date.now(),
      ackedAt: undefined,
      lost: false,
      connectionId: undefined,
    };
    return new Promise((resolve) => {
      this.#pending.set(delivery.envelopeId, { delivery, timer: undefined, done: () => resolve(delivery) });
      this.#send(delivery.envelopeId);
    });
  }

  /**
   * Sends an already acked envelope again, as Slack sometimes does (same envelope_id, retry_attempt + 1), on the next
   * open connection in turn, or on connection `to` when it is open. Resolves when this copy is acked.
   */
  redeliver(delivery: Delivery, options: { to?: number } = {}): Promise<Delivery> {
    const copy: Delivery = { ...delivery, acked: false, ackPayload: undefined, ackedAt: undefined, lost: false };
    return new Promise((resolve) => {
      this.#pending.set(copy.envelopeId, { delivery: copy, timer: undefined, done: () => resolve(copy), to: options.to });
      this.#send(copy.envelopeId);
    });
  }

  /** Slack's `disconnect` message (refresh_requested, warning…); the connection is closed closeAfterMs later. */
  requestDisconnect(id: number, reason: string, closeAfterMs: number): void {
    const live = this.#live.find((candidate) => candidate.info.id === id);
    if (!live) return;
    live.info.leaving = true;
    live.ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-socket-mode' } }));
    setTimeout(() => {
      if (live.ws.readyState === live.ws.OPEN) live.ws.close(1000);
    }, closeAfterMs).unref();
  }

  /** The connection dies without a close handshake (a node of Slack's going away, a NAT forgetting it). */
  drop(id: number): void {
    this.#live.find((candidate) => candidate.info.id === id)?.ws.terminate();
  }

  /** The connection goes quiet without closing (a half-open TCP connection): nothing is read or answered on it. */
  freeze(id: number): void {
    const live = this.#live.find((candidate) => candidate.info.id === id);
    if (!live) return;
    live.info.leaving = true;
    live.ws.pause();
  }

  /** While refusing, WebSocket upgrades are answered 503 (apps.connections.open still gives URLs). */
  refuseConnections(refusing: boolean): void {
    this.#refusing = refusing;
  }

  async close(): Promise<void> {
    for (const live of [...this.#live]) live.ws.terminate();
    for (const pending of this.#pending.values()) clearTimeout(pending.timer);
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #accept(ws: WebSocket): void {
    const info: ServerConnection = {
      id: this.#nextId++,
      openedAt: Date.now(),
      helloAt: undefined,
      closedAt: undefined,
      leaving: false,
      envelopes: 0,
    };
    const live = { info, ws };
    this.#live.push(live);
    this.#all.push(info);
    ws.on('message', (data) => {
      let message: { envelope_id?: string; payload?: unknown };
      try {
        message = JSON.parse(data.toString()) as typeof message;
      } catch {
        return;
      }
      const pending = message.envelope_id ? this.#pending.get(message.envelope_id) : undefined;
      if (!pending) return;
      clearTimeout(pending.timer);
      this.#pending.delete(message.envelope_id!);
      pending.delivery.acked = true;
      pending.delivery.ackPayload = message.payload;
      pending.delivery.ackedAt = Date.now();
      pending.done();
    });
    ws.on('close', () => {
      info.closedAt = Date.now();
      this.#live.splice(this.#live.indexOf(live), 1);
      this.#countChanged();
    });
    ws.on('error', () => undefined);
    info.helloAt = Date.now();
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.#live.length,
        debug_info: { host: 'fake-socket-mode', approximate_connection_time: 18_060 },
        connection_info: { app_id: 'A0RUNBOOK' },
      }),
    );
    this.#countChanged();
    for (const wake of this.#helloWaiters.splice(0)) wake({ ...info });
  }

  #countChanged(): void {
    const open = this.openCount;
    if (open > 0) {
      this.#everOpen = true;
      if (this.#noneOpenSince !== undefined) {
        this.#longestGapMs = Math.max(this.#longestGapMs, Date.now() - this.#noneOpenSince);
        this.#noneOpenSince = undefined;
      }
    } else if (this.#everOpen && this.#noneOpenSince === undefined) {
      this.#noneOpenSince = Date.now();
    }
  }

  #send(envelopeId: string): void {
    const pending = this.#pending.get(envelopeId);
    if (!pending) return;
    const { delivery } = pending;
    const candidates = this.#live.filter(
      (live) => live.info.helloAt !== undefined && !live.info.leaving && live.ws.readyState === live.ws.OPEN,
    );
    if (candidates.length === 0 || delivery.attempts >= this.#options.maxAttempts) {
      this.#pending.delete(envelopeId);
      delivery.lost = true;
      pending.done();
      return;
    }
    const chosen = candidates.find((candidate) => candidate.info.id === pending.to);
    pending.to = undefined;
    const live = chosen ?? candidates[this.#next++ % candidates.length]!;
    delivery.connectionId = live.info.id;
    live.info.envelopes += 1;
    live.ws.send(
      JSON.stringify({
        envelope_id: envelopeId,
        type: delivery.type,
        payload: delivery.payload,
        accepts_response_payload: delivery.type !== 'events_api',
        retry_attempt: delivery.attempts,
        retry_reason: delivery.attempts === 0 ? '' : 'timeout',
      }),
    );
    delivery.attempts += 1;
    pending.timer = setTimeout(() => this.#send(envelopeId), this.#options.ackTimeoutMs);
    pending.timer.unref();
  }
}
