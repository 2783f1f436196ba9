// The fake Slack's call log: every request in arrival order, and the waits a test can hang on it.
import type { RecordedCall } from './types.ts';

type Waiter = { predicate: (call: RecordedCall) => boolean; resolve: (call: RecordedCall) => void };

export class CallLog {
  #seq = 0;
  #calls: RecordedCall[] = [];
  #waiters = new Set<Waiter>();
  #arrivals = new Set<Waiter>();

  /** 1, 2, 3…: the next call's number, counted across clear(). */
  nextSeq(): number {
    return ++this.#seq;
  }

  /** Forgets the calls recorded; waits already pending keep waiting. */
  clear(): void {
    this.#calls = [];
  }

  list(method?: string): RecordedCall[] {
    return structuredClone(method ? this.#calls.filter((c) => c.method === method) : this.#calls);
  }

  /** A call arrived (before any delay and before it is processed): wakes waitForArrival. */
  arrived(call: RecordedCall): void {
    for (const waiter of [...this.#arrivals]) if (waiter.predicate(call)) waiter.resolve(call);
  }

  /** A call was answered (its effects are in place): recorded, wakes waitFor. */
  record(call: RecordedCall): void {
    this.#calls.push(call);
    for (const waiter of [...this.#waiters]) if (waiter.predicate(call)) waiter.resolve(call);
  }

  /**
   * Resolves with the first recorded call that matches, including ones already recorded (use `seq` or `at` in the
   * predicate to skip those). A method name matches any call of that method. The call's effects are visible when it resolves.
   */
  waitFor(match: string | ((call: RecordedCall) => boolean), timeoutMs = 5_000): Promise<RecordedCall> {
    const predicate = typeof match === 'string' ? (call: RecordedCall) => call.method === match : match;
    const seen = this.#calls.find(predicate);
    if (seen) return Promise.resolve(structuredClone(seen));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (call) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(structuredClone(call));
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const methods = this.#calls.map((c) => c.method + (c.error ? `(${c.error})` : '')).join(', ') || 'none';
        reject(new Error(`fake-slack: no matching call within ${timeoutMs} ms; calls so far: ${methods}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Resolves when a matching call arrives, before any delay and before it is processed (waitFor resolves after). */
  waitForArrival(match: string | ((call: RecordedCall) => boolean), timeoutMs = 5_000): Promise<RecordedCall> {
    const predicate = typeof match === 'string' ? (call: RecordedCall) => call.method === match : match;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (call) => {
          clearTimeout(timer);
          this.#arrivals.delete(waiter);
          resolve(call);
        },
      };
      const timer = setTimeout(() => {
        this.#arrivals.delete(waiter);
        reject(new Error(`no matching call arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#arrivals.add(waiter);
    });
  }
}
