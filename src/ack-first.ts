// Acks before the work that follows them: while Slack's requests keep arriving, work after earlier acks waits for a lull
// (at most a moment), so a burst of commands is answered first and worked on right after.
//
// Slack gives an ack 3 s; the answer that follows it (a health summary, a list) has no such deadline. Without this,
// every request of a burst after the first few is read behind the store queries, HTTP calls and rendering started by
// those before it, and the ack waits for all of it (bench:ack: ack p99 4-7x a Bolt app that only acks).

export interface AckFirstOptions {
  /** No request answered for this long is a lull: the waiting work starts. */
  quietMs?: number;
  /** Work never waits longer than this for a lull, so a steady stream of requests cannot starve it. */
  maxWaitMs?: number;
}

const QUIET_MS = 5;
const MAX_WAIT_MS = 250;

interface Waiter {
  since: number;
  go: () => void;
}

export class AckFirst {
  readonly #quietMs: number;
  readonly #maxWaitMs: number;
  readonly #waiting: Waiter[] = [];
  /** Requests that arrived and have no answer yet (a Socket Mode delivery may read the store before its ack). */
  #unanswered = 0;
  #lastAnswer = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #turnPending = false;

  constructor(options: AckFirstOptions = {}) {
    this.#quietMs = options.quietMs ?? QUIET_MS;
    this.#maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS;
  }

  /** A request from Slack arrived. Call the function returned once it is answered (or dropped); calls after the first do nothing. */
  arrived(): () => void {
    this.#unanswered += 1;
    let answered = false;
    return () => {
      if (answered) return;
      answered = true;
      this.#unanswered -= 1;
      this.#lastAnswer = performance.now();
    };
  }

  /** Jobs waiting for a lull. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves at the first lull in Slack's requests, or after maxWaitMs. Jobs start one per turn of the event loop, so
   * requests that arrive meanwhile are read and answered between them.
   */
  turn(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push({ since: performance.now(), go: resolve });
      this.#nextTurn();
    });
  }

  #nextTurn(): void {
    if (this.#turnPending || this.#waiting.length === 0) return;
    this.#turnPending = true;
    // After the event loop's poll phase: what arrived by then is read (and answered) before the check below.
    setImmediate(() => {
      this.#turnPending = false;
      this.#startOne();
    });
  }

  #startOne(): void {
    const head = this.#waiting[0];
    if (!head) return;
    const now = performance.now();
    const quietFor = this.#unanswered > 0 ? 0 : now - this.#lastAnswer;
    const waited = now - head.since;
    if (quietFor >= this.#quietMs || waited >= this.#maxWaitMs) {
      this.#waiting.shift();
      head.go();
      this.#nextTurn();
      return;
    }
    // Requests are still coming: look again when the lull would be long enough, or when the first job has waited enough.
    const delay = Math.max(1, Math.min(this.#quietMs - quietFor, this.#maxWaitMs - waited));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#nextTurn(), delay);
  }
}
