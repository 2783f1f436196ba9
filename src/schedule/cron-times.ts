// When a cron expression fires, in wall-clock time of a time zone, across DST changes, from an injectable "now".
import { zonedFormat } from '../clock.ts';
import { parse } from 'node-cron';

export interface Firing {
  /** The instant the firing happens (for a wall-clock time skipped by DST: the instant of the jump). */
  at: Date;
  /** The wall-clock minute it stands for, "2026-03-08T02:30": one run per key, so a repeated hour runs once. */
  key: string;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function wallClock(at: Date, timezone: string): WallClock {
  const format = zonedFormat('wall-clock', timezone, () => ({
    locale: 'en-US',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    weekday: 'short',
    hourCycle: 'h23',
  }));
  const parts = Object.fromEntries(format.formatToParts(at).map((part) => [part.type, part.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAYS[parts.weekday!]!,
  };
}

/** The wall-clock minute as a count, for comparing two wall clocks. */
function minuteNumber(w: WallClock): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) / 60_000;
}

function fromMinuteNumber(n: number): WallClock {
  const d = new Date(n * 60_000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    weekday: d.getUTCDay(),
  };
}

function keyOf(w: WallClock): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

export class CronSchedule {
  readonly #minute: Set<number>;
  readonly #hour: Set<number>;
  readonly #dayOfMonth: Set<number>;
  readonly #month: Set<number>;
  readonly #dayOfWeek: Set<number>;
  readonly #domRestricted: boolean;
  readonly #dowRestricted: boolean;
  readonly timezone: string;

  constructor(expression: string, timezone: string) {
    const fields = parse(expression);
    this.#minute = new Set(fields.minute);
    this.#hour = new Set(fields.hour);
    this.#dayOfMonth = new Set(fields.dayOfMonth.filter((v): v is number => typeof v === 'number'));
    this.#month = new Set(fields.month);
    this.#dayOfWeek = new Set(fields.dayOfWeek.filter((v): v is number => typeof v === 'number').map((v) => v % 7));
    this.#domRestricted = this.#dayOfMonth.size < 31;
    this.#dowRestricted = this.#dayOfWeek.size < 7;
    this.timezone = timezone;
  }

  matches(w: WallClock): boolean {
    if (!this.#minute.has(w.minute) || !this.#hour.has(w.hour) || !this.#month.has(w.month)) return false;
    const dom = this.#dayOfMonth.has(w.day);
    const dow = this.#dayOfWeek.has(w.weekday);
    // Classic cron: when both day fields are restricted, either may match.
    if (this.#domRestricted && this.#dowRestricted) return dom || dow;
    return dom && dow;
  }

  /**
   * Firings in (after, until]: scanned minute by minute in UTC, so a wall-clock hour repeated when clocks go back
   * yields the same key twice (run once), and wall-clock minutes skipped when clocks go forward fire at the jump.
   */
  firingsBetween(after: Date, until: Date): Firing[] {
    const firings: Firing[] = [];
    const seen = new Set<string>();
    let instant = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
    let previous = minuteNumber(wallClock(new Date(instant - 60_000), this.timezone));
    for (; instant <= until.getTime(); instant += 60_000) {
      const at = new Date(instant);
      const current = minuteNumber(wallClock(at, this.timezone));
      // Clocks went forward: the minutes in between never happen; treat them as happening now.
      for (let skipped = previous + 1; skipped < current && current - previous <= 180; skipped += 1)
        this.#consider(fromMinuteNumber(skipped), at, firings, seen);
      this.#consider(fromMinuteNumber(current), at, firings, seen);
      previous = current;
    }
    return firings;
  }

  #consider(w: WallClock, at: Date, firings: Firing[], seen: Set<string>): void {
    if (!this.matches(w)) return;
    const key = keyOf(w);
    if (seen.has(key)) return;
    seen.add(key);
    firings.push({ at, key });
  }
}
