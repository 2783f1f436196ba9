// One Socket Mode WebSocket: waits for Slack's hello, hands over envelopes, notices refresh requests and silent deaths.
import WebSocket from 'ws';

/** A message Slack sends over Socket Mode (https://docs.slack.dev/apis/events-api/using-socket-mode). */
export interface SocketEnvelope {
  type: string;
  envelope_id?: string;
  payload?: Record<string, unknown>;
  retry_attempt?: number;
  retry_reason?: string;
  reason?: string;
}

export interface ConnectionTiming {
  /** Slack's hello must come within this long of opening the socket. */
  helloTimeoutMs: number;
  /** We ping this often… */
  pingEveryMs: number;
  /** …and a connection silent (no message, ping or pong) this long is dead even if TCP has not noticed. */
  silenceMs: number;
}

export interface ConnectionEvents {
  hello(connection: SocketConnection): void;
  envelope(connection: SocketConnection, envelope: SocketEnvelope): void;
  /** Slack asked us to reconnect (refresh_requested, warning, link_disabled…); the connection is still usable. */
  disconnectRequested(connection: SocketConnection, reason: string): void;
  /** Closed, by us or not; `reason` says why when we know (silent, hello_timeout, error). */
  closed(connection: SocketConnection, reason: string): void;
}

let nextId = 1;

export class SocketConnection {
  readonly id = nextId++;
  readonly openedAt = Date.now();
  greetedAt: number | undefined;
  #closed = false;
  #closing = false;
  #closeReason: string | undefined;
  #lastSign = Date.now();
  readonly #ws: WebSocket;
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(url: string, events: ConnectionEvents, timing: ConnectionTiming) {
    this.#ws = new WebSocket(url, { handshakeTimeout: timing.helloTimeoutMs });
    const alive = () => {
      this.#lastSign = Date.now();
    };
    this.#timers.push(
      setTimeout(() => {
        if (this.greetedAt === undefined) this.terminate('hello_timeout');
      }, timing.helloTimeoutMs),
      setInterval(() => {
        if (Date.now() - this.#lastSign > timing.silenceMs) return this.terminate('silent');
        if (this.#ws.readyState === WebSocket.OPEN) this.#ws.ping();
      }, timing.pingEveryMs),
    );
    for (const timer of this.#timers) timer.unref();
    this.#ws.on('ping', alive);
    this.#ws.on('pong', alive);
    this.#ws.on('message', (data, isBinary) => {
      alive();
      if (isBinary) return;
      let envelope: SocketEnvelope;
      try {
        envelope = JSON.parse(data.toString()) as SocketEnvelope;
      } catch {
        return;
      }
      if (envelope.type === 'hello') {
        if (this.greetedAt !== undefined || this.#closing) return;
        this.greetedAt = Date.now();
        events.hello(this);
      } else if (envelope.type === 'disconnect') {
        events.disconnectRequested(this, envelope.reason ?? 'unknown');
      } else {
        events.envelope(this, envelope);
      }
    });
    // 'error' is always followed by 'close'; the reason is kept for the log.
    this.#ws.on('error', (error) => {
      this.#closeReason ??= `error: ${error.message}`;
    });
    this.#ws.on('close', () => {
      if (this.#closed) return;
      this.#closed = true;
      for (const timer of this.#timers) clearTimeout(timer);
      events.closed(this, this.#closeReason ?? (this.#closing ? 'closed' : 'dropped'));
    });
  }

  /** Greeted and not closed: envelopes arrive and acks can be sent. */
  get isOpen(): boolean {
    return this.greetedAt !== undefined && !this.#closed && !this.#closing && this.#ws.readyState === WebSocket.OPEN;
  }

  /** Sends when the socket is open (even while closing); false when it could not. */
  send(message: unknown): boolean {
    if (this.#ws.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  /** A close handshake, cut short after a second. */
  close(): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#closeReason ??= 'closed';
    this.#ws.close(1000);
    setTimeout(() => this.#ws.terminate(), 1_000).unref();
  }

  terminate(reason: string): void {
    if (this.#closed) return;
    this.#closeReason ??= reason;
    this.#closing = true;
    this.#ws.terminate();
  }
}
