// Deadlines on calls that leave the process: each one ends by its limit with an error naming the dependency and the setting.
import { formatDuration } from './config/duration.ts';
import { ExternalError } from './errors.ts';

/** A dependency that did not answer within its limit; `setting` is the config key that sets the limit. */
export class DeadlineError extends ExternalError {
  readonly limitMs: number;
  readonly setting: string | undefined;
  constructor(dependency: string, doing: string, limitMs: number, setting?: string) {
    super(
      dependency,
      `${doing}: no answer within ${formatDuration(limitMs)}${setting ? ` (the limit is ${setting} in the config file)` : ''}`,
      { code: 'timeout' },
    );
    this.name = 'DeadlineError';
    this.limitMs = limitMs;
    this.setting = setting;
  }
}

export interface DeadlineOptions {
  /** Names the other side in the error: "S3", "Kubernetes", "Slack", "PostgreSQL (RLHF_DATABASE_URL)". */
  dependency: string;
  /** What was being done: "listing pods in regulensai". */
  doing: string;
  limitMs: number;
  /** The config key of the limit, so the message says where to change it. */
  setting?: string;
  /** The caller's own cancellation (shutdown, the user's Cancel): passed on to the work, and its reason rethrown. */
  signal?: AbortSignal | undefined;
}

/**
 * Runs `work` with a signal that aborts at the deadline (or when the caller's signal aborts), and settles by then
 * even if the work ignores its signal: a peer that accepts a connection and never answers cannot hold the caller.
 */
export async function withDeadline<T>(options: DeadlineOptions, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { signal: parent } = options;
  if (parent?.aborted) throw parent.reason;
  const expired = new AbortController();
  // Made when the deadline passes, not for every call (most end in time, and an error costs a stack trace).
  const timer = setTimeout(
    () => expired.abort(new DeadlineError(options.dependency, options.doing, options.limitMs, options.setting)),
    options.limitMs,
  );
  const signal = parent ? AbortSignal.any([parent, expired.signal]) : expired.signal;
  try {
    return await new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      work(signal).then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (failure: unknown) => {
          signal.removeEventListener('abort', onAbort);
          // A client that rejects with its own AbortError at our deadline: report the deadline, not the abort.
          reject(expired.signal.aborted ? (expired.signal.reason as DeadlineError) : failure);
        },
      );
    });
  } finally {
    clearTimeout(timer);
  }
}

/** True for an error raised because a deadline passed (ours, or a client's own timeout we mapped). */
export function isDeadlineError(error: unknown): error is DeadlineError {
  return error instanceof DeadlineError;
}

export interface StallGuard {
  /** Aborts with a DeadlineError when no progress was reported for the limit (or when the caller's signal aborts). */
  readonly signal: AbortSignal;
  /** Progress was made (bytes arrived, an event came): the limit starts again. */
  touch(): void;
  /** Stops watching (the work ended). */
  dispose(): void;
}

/**
 * An idle limit for streams and watches, whose total length is unknown: "no bytes for 60 s" rather than a deadline on
 * the whole transfer. The error says "stalled", names the dependency and the setting.
 */
export function stallGuard(options: DeadlineOptions): StallGuard {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    if (signal.aborted) return;
    timer = setTimeout(
      () => controller.abort(new DeadlineError(options.dependency, `${options.doing} stalled`, options.limitMs, options.setting)),
      options.limitMs,
    );
    // A guard alone never keeps the process alive.
    timer.unref();
  };
  arm();
  return {
    signal,
    touch: arm,
    dispose: () => clearTimeout(timer),
  };
}
