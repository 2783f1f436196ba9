// Deadlines and stall limits: a call that never settles still ends at its limit, naming the dependency and the setting.
import { describe, expect, it } from 'vitest';
import { DeadlineError, stallGuard, withDeadline } from '../../src/deadline.ts';

const never = () => new Promise<never>(() => undefined);

describe('withDeadline', () => {
  it('ends work that ignores its signal at the limit, with a message naming the dependency and the setting', async () => {
    const started = Date.now();
    const failure = await withDeadline(
      { dependency: 'S3', doing: 'uploading part 3', limitMs: 50, setting: 'timeouts.s3.request' },
      never,
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeadlineError);
    expect((failure as DeadlineError).code).toBe('timeout');
    expect((failure as Error).message).toMatch(/^S3: uploading part 3: no answer within .* \(the limit is timeouts\.s3\.request/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('passes the abort to work that listens, and reports the deadline rather than the abort', async () => {
    let sawAbort = false;
    const failure = await withDeadline(
      { dependency: 'Kubernetes', doing: 'listing pods', limitMs: 30 },
      (signal) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new DOMException('aborted', 'AbortError'));
          });
        }),
    ).catch((error: unknown) => error);
    expect(sawAbort).toBe(true);
    expect(failure).toBeInstanceOf(DeadlineError);
  });

  it("rethrows the caller's own cancellation as it is", async () => {
    const cancel = new AbortController();
    const pending = withDeadline({ dependency: 'S3', doing: 'x', limitMs: 10_000, signal: cancel.signal }, never);
    cancel.abort(new Error('cancelled by the user'));
    await expect(pending).rejects.toThrow('cancelled by the user');
  });

  it('returns the value of work that finishes in time', async () => {
    await expect(withDeadline({ dependency: 'S3', doing: 'x', limitMs: 1_000 }, async () => 42)).resolves.toBe(42);
  });
});

describe('stallGuard', () => {
  it('aborts after the limit without progress, and not while progress keeps coming', async () => {
    const guard = stallGuard({ dependency: 'pg_dump', doing: 'dumping rlhf', limitMs: 80, setting: 'timeouts.pgToolStall' });
    for (let i = 0; i < 5; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      guard.touch();
    }
    expect(guard.signal.aborted).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(guard.signal.aborted).toBe(true);
    expect(String((guard.signal.reason as Error).message)).toContain('dumping rlhf stalled');
    guard.dispose();
  });
});
