// Identical reads share one run: whoever asks while it runs gets the same result, and a recent result is served again with its age.
import { raceAbort } from './abort.ts';
import type { Clock } from './clock.ts';
import { formatDuration } from './config/duration.ts';

export interface SharedRead<T> {
  value: T;
  /** When the run that produced the value finished. */
  checkedAt: Date;
  /** How old the value was when it was served: 0 for the caller that ran it and those who joined it in flight. */
  ageMs: number;
  /** `ran`: this caller started the run; `joined`: it was already running; `reused`: a finished result, still fresh. */
  source: 'ran' | 'joined' | 'reused';
}

export interface SharedReadsOptions {
  clock: Clock;
  /** A finished result younger than this is served again instead of running the read; 0 shares only runs in flight. */
  freshForMs: number;
  /** Told about every run that actually starts (metrics, benchmarks counting dependency hits). */
  onRun?: (key: string) => void;
}

export interface ReadOptions {
  /** This caller stops waiting (the run goes on for the others). */
  signal?: AbortSignal | undefined;
  /** Share only the run in flight; its result is not kept to be served again (a list that must never be stale). */
  inFlightOnly?: boolean;
}

interface Entry {
  running?: Promise<{ value: unknown; checkedAt: Date }>;
  done?: { value: unknown; checkedAt: Date };
  /** A caller said it will read the key shortly (clock milliseconds until which that holds). */
  announcedUntil?: number;
}

/**
 * One run per key at a time, and its result kept for `freshForMs`. Within one process only: replicas each run their
 * own, which is enough to stop a crowd typing `/health all` from multiplying the load on a sick service.
 * Keys name what is read and everything that changes the answer: `health:rlhf-audit-trail`,
 * `rollout-history:<context>/<namespace>/<deployment>`.
 */
export class SharedReads {
  readonly #options: SharedReadsOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(options: SharedReadsOptions) {
    this.#options = options;
  }

  /**
   * The fresh result of `key`, the run in flight, or a new run of `read`. A failed run is not kept: whoever joined it
   * gets the same error, and the next caller runs again.
   */
  async read<T>(key: string, read: () => Promise<T>, options: ReadOptions = {}): Promise<SharedRead<T>> {
    const now = this.#options.clock.now().getTime();
    const entry = this.#entries.get(key);
    if (entry?.done) {
      const ageMs = Math.max(0, now - entry.done.checkedAt.getTime());
      if (ageMs < this.#options.freshForMs)
        return { value: entry.done.value as T, checkedAt: entry.done.checkedAt, ageMs, source: 'reused' };
    }
    if (entry?.running) {
      const result = await this.#wait(entry.running, options.signal);
      return { value: result.value as T, checkedAt: result.checkedAt, ageMs: 0, source: 'joined' };
    }
    this.#prune(now);
    const fresh: Entry = {};
    this.#entries.set(key, fresh);
    this.#options.onRun?.(key);
    fresh.running = (async () => {
      try {
        const value = await read();
        const result = { value, checkedAt: this.#options.clock.now() };
        if (this.#entries.get(key) === fresh) {
          if (this.#options.freshForMs > 0 && !options.inFlightOnly) fresh.done = result;
          else this.#entries.delete(key);
        }
        return result;
      } catch (error) {
        if (this.#entries.get(key) === fresh) this.#entries.delete(key);
        throw error;
      } finally {
        delete fresh.running;
      }
    })();
    const result = await this.#wait(fresh.running, options.signal);
    return { value: result.value as T, checkedAt: result.checkedAt, ageMs: 0, source: 'ran' };
  }

  /** The kept result of `key` while it is fresh, without waiting for anything; undefined when there is none. */
  fresh<T>(key: string): SharedRead<T> | undefined {
    const done = this.#entries.get(key)?.done;
    if (!done) return undefined;
    const ageMs = Math.max(0, this.#options.clock.now().getTime() - done.checkedAt.getTime());
    if (ageMs >= this.#options.freshForMs) return undefined;
    return { value: done.value as T, checkedAt: done.checkedAt, ageMs, source: 'reused' };
  }

  /**
   * True when a read of `key` now would cost nothing: a run is in flight, a fresh result is kept, or a caller announced
   * that it reads the key in a moment (its run will be the one shared).
   */
  covers(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry?.running) return true;
    const now = this.#options.clock.now().getTime();
    if (entry?.announcedUntil !== undefined && entry.announcedUntil > now) return true;
    return !!entry?.done && now - entry.done.checkedAt.getTime() < this.#options.freshForMs;
  }

  /**
   * Says that `key` is read within `withinMs` (by a request whose work starts after its ack): until then, covers(key)
   * is true, so the same request arriving meanwhile joins that read instead of waiting for a run of its own. The first
   * read of the key after this runs it, whoever calls it. An announcement nobody follows just expires.
   */
  announce(key: string, withinMs: number): void {
    if (this.covers(key)) return;
    const entry = this.#entries.get(key) ?? {};
    entry.announcedUntil = this.#options.clock.now().getTime() + withinMs;
    this.#entries.set(key, entry);
  }

  /** Drops what is known about `key` (after a change, such as a reset or a rollback): the next read runs. */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** How many keys have a run in flight or a result kept (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  #wait<R>(running: Promise<R>, signal: AbortSignal | undefined): Promise<R> {
    return signal ? raceAbort(running, signal) : running;
  }

  /** Results past their freshness are dropped when new runs start, so the map holds only what can still be served. */
  #prune(now: number): void {
    for (const [key, entry] of this.#entries) {
      const announced = entry.announcedUntil !== undefined && entry.announcedUntil > now;
      if (!entry.running && !announced && (!entry.done || now - entry.done.checkedAt.getTime() >= this.#options.freshForMs))
        this.#entries.delete(key);
    }
  }
}

/** "checked 4s ago" for a result served again; undefined for one that was just run. */
export function ageNote(ageMs: number | undefined): string | undefined {
  if (!ageMs || ageMs <= 0) return undefined;
  return ageMs < 1_000 ? 'checked just now' : `checked ${formatDuration(ageMs)} ago`;
}
