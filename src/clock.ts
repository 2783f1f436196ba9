// Time as a dependency: domain code asks a Clock, so tests can move time instead of waiting.

export interface Clock {
  now(): Date;
  /** Resolves after `ms` of this clock's time (or earlier when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

const formats = new Map<string, Intl.DateTimeFormat>();

/**
 * An Intl.DateTimeFormat for a time zone, made once per use and zone: making one costs far more than formatting with
 * it (every page, card and schedule formats times). `use` names the options, which never change for it.
 */
export function zonedFormat(use: string, timezone: string, options: () => Intl.DateTimeFormatOptions & { locale: string }) {
  const key = `${use}\u0000${timezone}`;
  let format = formats.get(key);
  if (!format) {
    const { locale, ...rest } = options();
    format = new Intl.DateTimeFormat(locale, { ...rest, timeZone: timezone });
    formats.set(key, format);
  }
  return format;
}
