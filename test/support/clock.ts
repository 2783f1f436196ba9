// A clock tests move by hand: now() is what the test says; sleep() returns at once (tests drive the ticker themselves).
import type { Clock } from '../../src/clock.ts';

export class ManualClock implements Clock {
  #now: number;

  constructor(start: Date | string) {
    this.#now = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  set(at: Date | string): void {
    this.#now = new Date(at).getTime();
  }

  advance(ms: number): void {
    this.#now += ms;
  }

  async sleep(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export const minutes = (n: number) => n * 60_000;
