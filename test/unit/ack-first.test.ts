// Acks before the work that follows them: work after an ack starts at a lull in Slack's requests, or after a bounded wait.
import { describe, expect, it } from 'vitest';
import { AckFirst } from '../../src/ack-first.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether the promise has settled, after one turn of the event loop. */
const settled = async (promise: Promise<unknown>) => {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('AckFirst', () => {
  it('holds the work while a request still waits for its answer, and starts it once answers have paused', async () => {
    const acks = new AckFirst({ quietMs: 20, maxWaitMs: 10_000 });
    const answer = acks.arrived();
    const work = acks.turn();
    await sleep(60);
    expect(await settled(work)).toBe(false);
    expect(acks.waiting).toBe(1);

    answer();
    // Right after an answer more of a burst may follow: not yet.
    expect(await settled(work)).toBe(false);
    await sleep(60);
    expect(await settled(work)).toBe(true);
    expect(acks.waiting).toBe(0);
  });

  it('starts work at once when no request is waiting, and counts an answer given twice once', async () => {
    const acks = new AckFirst({ quietMs: 20, maxWaitMs: 10_000 });
    const answer = acks.arrived();
    answer();
    answer();
    await sleep(30);
    // A second answer of the same request must not make the count negative (and the gate open for a new request).
    const next = acks.arrived();
    const work = acks.turn();
    await sleep(60);
    expect(await settled(work)).toBe(false);
    next();
    await sleep(60);
    expect(await settled(work)).toBe(true);
  });

  it('never holds work longer than its limit, however steady the stream of requests', async () => {
    const acks = new AckFirst({ quietMs: 1_000, maxWaitMs: 80 });
    acks.arrived()();
    const stream = setInterval(() => acks.arrived()(), 5);
    try {
      const started = performance.now();
      const both = Promise.all([acks.turn(), acks.turn()]);
      expect(acks.waiting).toBe(2);
      await both;
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(75);
      expect(waited).toBeLessThan(5_000);
      expect(acks.waiting).toBe(0);
    } finally {
      clearInterval(stream);
    }
  });
});
