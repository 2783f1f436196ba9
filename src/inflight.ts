// Tracks work that outlives its Slack ack, so SIGTERM can wait for it instead of cutting it off.

export class InFlight {
  readonly #running = new Set<Promise<unknown>>();
  #closed = false;

  /** Starts fn now and tracks it until it settles; errors are the caller's to handle inside fn. */
  run(fn: () => Promise<unknown>): void {
    if (this.#closed) throw new Error('shutting down: no new work is accepted');
    const promise = fn().finally(() => this.#running.delete(promise));
    this.#running.add(promise);
    promise.catch(() => undefined);
  }

  /** Tracks work that has already started (e.g. a listener's remaining work after its ack). */
  track<T>(promise: Promise<T>): Promise<T> {
    const tracked = promise.finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
    tracked.catch(() => undefined);
    return promise;
  }

  /** Resolves when nothing is running (tests use it to wait for work that continues after an ack). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  get size(): number {
    return this.#running.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Refuses new work and waits up to timeoutMs for the running work; true when all of it finished. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#closed = true;
    if (this.#running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const all = Promise.allSettled([...this.#running]).then(() => true as const);
    const finished = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return finished;
  }
}
