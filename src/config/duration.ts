// Human durations in config and commands ("90s", "15m", "2h", "1d", "1h30m") and back.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;

/** Milliseconds for a duration string, or undefined when it is not one. "0" means zero. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '0') return 0;
  if (!WHOLE.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return Math.round(total);
}

// Largest first, in seconds.
const DISPLAY_UNITS = [
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
] as const;

/** "1h 5m", "45s", "0s": the two largest units, for people. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return ms <= 0 ? '0s' : `${Math.round(ms)}ms`;
  // Built without arrays: every kept result served again ("checked 4s ago") formats its age.
  let text = '';
  let shown = 0;
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of DISPLAY_UNITS) {
    if (rest < size) continue;
    text += `${shown === 0 ? '' : ' '}${Math.floor(rest / size)}${unit}`;
    rest %= size;
    if (++shown === 2) break;
  }
  return text;
}

/**
 * For latencies and thresholds compared with them: milliseconds below 10 s, so 1.5 s against a 1.4 s limit reads
 * "1500ms (over 1400ms)" rather than "2s (over 1s)"; whole seconds (as config values usually are) stay "1s".
 */
export function formatLatency(ms: number): string {
  if (ms >= 10_000) return formatDuration(ms);
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${Math.round(ms)}ms`;
}
