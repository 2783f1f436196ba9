// The work queue: a few jobs of each kind at once, the rest in line with their position, a refusal when the line is full.
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { QueueFullError, WorkQueue } from '../../src/work-queue.ts';

const settled = async (promise: Promise<unknown>) => {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('WorkQueue', () => {
  it('runs up to the kind’s concurrency at once and lines up the rest, each kind on its own', async () => {
    const queue = new WorkQueue({ concurrencyOf: (kind) => (kind === 'backup' ? 1 : 2), maxWaiting: 10 });
    const [a, b, c, d] = [queue.reserve('health'), queue.reserve('health'), queue.reserve('health'), queue.reserve('health')];
    expect([a, b, c, d].map((slot) => slot.position)).toEqual([0, 0, 1, 2]);
    expect(queue.reserve('backup').position).toBe(0);
    expect(queue.reserve('backup').position).toBe(1);
    expect(await settled(c.granted)).toBe(false);

    a.release();
    expect(await settled(c.granted)).toBe(true);
    expect(await settled(d.granted)).toBe(false);
    expect(queue.depth('health')).toEqual({ running: 2, waiting: 1 });
    b.release();
    b.release();
    expect(await settled(d.granted)).toBe(true);
    expect(queue.depth('health')).toEqual({ running: 2, waiting: 0 });
  });

  it('refuses one more than the line holds, saying why', () => {
    const refused: string[] = [];
    const queue = new WorkQueue({ concurrencyOf: () => 1, maxWaiting: 1, onRefused: (kind) => refused.push(kind) });
    queue.reserve('health');
    queue.reserve('health');
    expect(() => queue.reserve('health')).toThrow(QueueFullError);
    expect(() => queue.reserve('health')).toThrow('already has 1 `health` requests waiting');
    expect(refused).toEqual(['health', 'health']);
  });

  it('lets a job leave the line before its turn, and refuses those still waiting when it closes', async () => {
    const queue = new WorkQueue({ concurrencyOf: () => 1, maxWaiting: 10 });
    const running = queue.reserve('incident');
    const leaving = queue.reserve('incident');
    const waiting = queue.reserve('incident');
    leaving.release();
    expect(queue.depth('incident')).toEqual({ running: 1, waiting: 1 });

    queue.close(new UserError('restarting', 'shutting_down'));
    await expect(waiting.granted).rejects.toThrow('restarting');
    expect(() => queue.reserve('incident')).toThrow('restarting');
    running.release();
    expect(queue.depth('incident')).toEqual({ running: 0, waiting: 0 });
  });
});
