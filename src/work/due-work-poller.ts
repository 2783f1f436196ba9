// The poller: claims due durable work on this replica and runs it, lane by lane, so urgent kinds never queue behind slow ones.
//
// Each lane (pages, setups, alert deliveries, Slack posts…) has its own kinds and concurrency and claims only as many
// rows as it has free slots, most urgent first. A claimed row runs under a Lease that renews itself while the work
// runs and aborts the work's signal the moment the lease is lost, so a replica that stalls past its lease stops
// acting once another has taken the row over; the fence the lease carries guards every write the holder makes.
import type { Clock } from '../clock.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { REPLICA_ID } from '../replica.ts';
import type { Queryable, Store } from '../store/db.ts';
import {
  claimDueWork,
  claimWorkByKey,
  completeWork,
  nextWorkAt,
  renewWork,
  retryWork,
  workBacklog,
  type WorkClaim,
} from '../store/work.ts';

/** The work went out into the world and its effect is unknown: the next attempt must look for it first. */
export class UncertainWorkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UncertainWorkError';
  }
}

/** The work cannot succeed however often it is tried (a channel that does not exist): finish it as failed. */
export class PermanentWorkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentWorkError';
  }
}

/**
 * Try again after a while, without counting it as a failure (a rate limit, a channel not there yet). Thrown only
 * when every effect of the attempt so far is recorded: the next attempt does not look for one.
 */
export class DeferWork extends Error {
  readonly afterMs: number;
  constructor(afterMs: number, reason: string) {
    super(reason);
    this.name = 'DeferWork';
    this.afterMs = afterMs;
  }
}

export class Lease {
  readonly claim: WorkClaim;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #leaseMs: number;
  readonly #lost = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #finished = false;
  #again = false;

  constructor(claim: WorkClaim, store: Store, clock: Clock, leaseMs: number) {
    this.claim = claim;
    this.#store = store;
    this.#clock = clock;
    this.#leaseMs = leaseMs;
    // Renewing at a third of the lease leaves two chances before it runs out.
    this.#timer = setInterval(() => void this.renew(), Math.max(50, Math.floor(leaseMs / 3)));
    this.#timer.unref();
  }

  /** Aborts when the lease is lost: stop before the next effect. */
  get signal(): AbortSignal {
    return this.#lost.signal;
  }

  /** Extends the lease now; false (and the signal aborted) when it is no longer this holder's. */
  async renew(db: Queryable = this.#store): Promise<boolean> {
    if (this.#finished || this.#lost.signal.aborted) return !this.#lost.signal.aborted;
    const held = await renewWork(db, this.claim, new Date(this.#clock.now().getTime() + this.#leaseMs)).catch(() => true);
    if (!held) this.#lost.abort(new Error(`lost the lease on ${this.claim.key}`));
    return held;
  }

  /** Throws when the lease is lost; call before each effect outside the process, and inside transactions as a fence. */
  async hold(db?: Queryable): Promise<void> {
    if (!(await this.renew(db))) throw this.#lost.signal.reason as Error;
  }

  /** Marks the work done inside the caller's transaction (with the fence); true when this holder still held it. */
  async complete(db: Queryable, result?: Record<string, unknown>): Promise<boolean> {
    const outcome = await completeWork(db, this.claim, this.#clock.now(), result);
    if (outcome) this.#finished = true;
    if (outcome === 'again') this.#again = true;
    return outcome !== false;
  }

  /**
   * Finishes the work inside the caller's transaction, as its fence: throws (and aborts the signal) when the lease is
   * lost, so the transaction's other writes roll back with it.
   */
  async completeHeld(db: Queryable, result?: Record<string, unknown>): Promise<void> {
    if (await this.complete(db, result)) return;
    this.#lost.abort(new Error(`lost the lease on ${this.claim.key}`));
    throw this.#lost.signal.reason as Error;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Its payload changed while it ran (a newer card, more lines): it is due to run once more. */
  get again(): boolean {
    return this.#again;
  }

  end(): void {
    this.#finished = true;
    clearInterval(this.#timer);
  }
}

export type WorkHandler = (lease: Lease) => Promise<Record<string, unknown> | void>;

export interface Lane {
  name: string;
  kinds: Record<string, WorkHandler>;
  concurrency: number;
}

export interface DueWorkPollerOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  /** How long a claim is exclusive without renewal; a replica that dies delays its work by at most this. */
  leaseMs?: number;
  /** Longest sleep between looks, so work created on other replicas is seen promptly. */
  maxSleepMs?: number;
  owner?: string;
  /** The wait before the first retry of failed work; each further retry waits twice as long, up to a minute. */
  retryAfterMs?: number;
  /** Turns a failure from outside (a Slack client's) into DeferWork / UncertainWorkError / PermanentWorkError. */
  classify?: (error: unknown) => unknown;
}

const MAX_RETRY_DELAY_MS = 60_000;

export class DueWorkPoller {
  readonly owner: string;
  readonly #o: Required<Omit<DueWorkPollerOptions, 'metrics' | 'owner' | 'classify'>> &
    Pick<DueWorkPollerOptions, 'metrics' | 'classify'>;
  readonly #lanes: Lane[] = [];
  readonly #handlers = new Map<string, WorkHandler>();
  readonly #running = new Map<string, Set<Promise<void>>>();
  readonly #loops: Array<Promise<void>> = [];
  readonly #stop = new AbortController();
  // Per lane: a freed slot wakes only its own lane (waking all of them cost every lane a claim per finished row).
  readonly #wakes = new Map<string, AbortController>();

  constructor(options: DueWorkPollerOptions) {
    this.owner = options.owner ?? REPLICA_ID;
    this.#o = { leaseMs: 30_000, maxSleepMs: 500, retryAfterMs: 2_000, ...options };
    options.metrics?.onCollect(async () => {
      const backlog = await workBacklog(this.#o.store, this.#o.clock.now()).catch(() => []);
      options.metrics!.workDue.reset();
      options.metrics!.workOldest.reset();
      for (const row of backlog) {
        const labels = { kind: row.kind, priority: String(row.priority) };
        options.metrics!.workDue.set(labels, row.due);
        options.metrics!.workOldest.set(labels, row.oldest_at ? (Date.now() - row.oldest_at.getTime()) / 1000 : 0);
      }
    });
  }

  /** Adds a lane (before start): its kinds, their handlers, and how many rows of them may run at once here. */
  addLane(lane: Lane): void {
    this.#lanes.push(lane);
    this.#running.set(lane.name, new Set());
    this.#wakes.set(lane.name, new AbortController());
    for (const [kind, handler] of Object.entries(lane.kinds)) this.#handlers.set(kind, handler);
  }

  start(): void {
    if (this.#loops.length > 0) return;
    for (const lane of this.#lanes) this.#loops.push(this.#loop(lane));
  }

  /** Stops claiming; resolves when the running work has finished. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.wake();
    await Promise.all(this.#loops);
    await Promise.allSettled([...this.#running.values()].flatMap((running) => [...running]));
  }

  /** Something became due (a declaration, "escalate now", a resolve): look now instead of after the sleep. */
  wake(): void {
    for (const wake of this.#wakes.values()) wake.abort();
  }

  /** Runs one pass of every lane and waits for what it started (tests with a moved clock). Returns rows run. */
  async tick(): Promise<number> {
    let ran = 0;
    for (const lane of this.#lanes) ran += await this.#pass(lane, true);
    return ran;
  }

  /** Claims one row by key right now and runs it here (the replica that created the work does not wait for a poll). */
  async runNow(key: string): Promise<void> {
    const now = this.#o.clock.now();
    const claim = await claimWorkByKey(this.#o.store, key, this.owner, now, new Date(now.getTime() + this.#o.leaseMs));
    if (claim) await this.#run(claim);
  }

  async #loop(lane: Lane): Promise<void> {
    const log = this.#o.logger.child({ component: 'work', lane: lane.name });
    while (!this.#stop.signal.aborted) {
      // A wake-up from here on (a slot freed or work added while it looks) ends the coming sleep at once.
      let wake = this.#wakes.get(lane.name)!;
      if (wake.signal.aborted) this.#wakes.set(lane.name, (wake = new AbortController()));
      let claimed: number;
      try {
        claimed = await this.#pass(lane, false);
      } catch (error) {
        log.error({ event: 'work.poll_failed', err: error });
        await this.#o.clock.sleep(1_000, this.#stop.signal);
        continue;
      }
      const slotsFree = this.#running.get(lane.name)!.size < lane.concurrency;
      if (claimed > 0 && slotsFree) continue;
      const now = this.#o.clock.now().getTime();
      const next = slotsFree ? await nextWorkAt(this.#o.store, Object.keys(lane.kinds)).catch(() => undefined) : undefined;
      const sleep = Math.max(slotsFree ? 0 : 50, Math.min(this.#o.maxSleepMs, next ? next.getTime() - now : this.#o.maxSleepMs));
      if (sleep > 0) await this.#o.clock.sleep(sleep, AbortSignal.any([this.#stop.signal, wake.signal]));
    }
  }

  /** Claims as many due rows as the lane has free slots and starts them; `wait` waits for them. */
  async #pass(lane: Lane, wait: boolean): Promise<number> {
    const running = this.#running.get(lane.name)!;
    const free = lane.concurrency - running.size;
    if (free <= 0) return 0;
    const now = this.#o.clock.now();
    const claims = await claimDueWork(
      this.#o.store,
      Object.keys(lane.kinds),
      this.owner,
      now,
      new Date(now.getTime() + this.#o.leaseMs),
      free,
    );
    const started = claims.map((claim) => {
      const run = this.#run(claim).finally(() => {
        running.delete(run);
        // A slot is free: the lane looks again now rather than after its sleep.
        if (!wait) this.#wakes.get(lane.name)!.abort();
      });
      running.add(run);
      return run;
    });
    if (wait) await Promise.all(started);
    return claims.length;
  }

  async #run(claim: WorkClaim): Promise<void> {
    const { store, clock } = this.#o;
    const log = this.#o.logger.child({ work: claim.key, attempt: claim.attempts });
    const handler = this.#handlers.get(claim.kind);
    const lease = new Lease(claim, store, clock, this.#o.leaseMs);
    try {
      if (!handler) throw new PermanentWorkError(`no handler for work of kind ${claim.kind}`);
      const result = await handler(lease);
      if (!lease.finished) await lease.complete(store, result ?? undefined);
      // Its payload changed while it ran: once more at once, here, with the newest (the old lease is done with).
      if (lease.again) {
        lease.end();
        await this.runNow(claim.key);
      }
    } catch (thrown) {
      const error = this.#o.classify?.(thrown) ?? thrown;
      if (lease.signal.aborted) {
        log.warn({ event: 'work.lease_lost' });
        return;
      }
      const now = clock.now().getTime();
      if (error instanceof DeferWork) {
        await retryWork(store, claim, new Date(now + error.afterMs), error.message, false, false).catch(() => undefined);
        return;
      }
      if (error instanceof PermanentWorkError) {
        log.error({ event: 'work.failed_permanently', err: error });
        await lease.complete(store, { failed: errorMessage(error) }).catch(() => undefined);
        return;
      }
      const uncertain = error instanceof UncertainWorkError;
      const delay = Math.min(MAX_RETRY_DELAY_MS, this.#o.retryAfterMs * 2 ** Math.min(10, claim.attempts - 1));
      log.warn({ event: 'work.retry', uncertain, inMs: delay, err: error });
      await retryWork(store, claim, new Date(now + delay), errorMessage(error), uncertain).catch(() => undefined);
    } finally {
      lease.end();
    }
  }
}
