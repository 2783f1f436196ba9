// When a cron expression fires in a time zone's wall-clock time: once per wall-clock minute, across DST gaps and repeats.
import { describe, expect, it } from 'vitest';
import { CronSchedule } from '../../../src/schedule/cron-times.ts';

const between = (schedule: CronSchedule, after: string, until: string) =>
  schedule.firingsBetween(new Date(after), new Date(until));

describe('CronSchedule.firingsBetween', () => {
  it('fires once on the day clocks go back, though the wall-clock minute happens twice', () => {
    const nightly = new CronSchedule('30 1 * * *', 'America/New_York');
    // 2026-11-01: 01:30 EDT (05:30Z) and 01:30 EST (06:30Z) both happen; one run, at the first.
    expect(between(nightly, '2026-11-01T00:00:00Z', '2026-11-01T12:00:00Z')).toEqual([
      { at: new Date('2026-11-01T05:30:00Z'), key: '2026-11-01T01:30' },
    ]);
  });

  it('fires at the jump for a wall-clock minute that never happens when clocks go forward, and normally the days around it', () => {
    const early = new CronSchedule('30 2 * * *', 'America/New_York');
    // 2026-03-08: 02:00 EST -> 03:00 EDT, so 02:30 never happens; it runs at the jump, 07:00Z.
    expect(between(early, '2026-03-07T00:00:00Z', '2026-03-09T12:00:00Z')).toEqual([
      { at: new Date('2026-03-07T07:30:00Z'), key: '2026-03-07T02:30' },
      { at: new Date('2026-03-08T07:00:00Z'), key: '2026-03-08T02:30' },
      { at: new Date('2026-03-09T06:30:00Z'), key: '2026-03-09T02:30' },
    ]);
  });

  it('keeps the wall-clock hour when the offset changes (Europe/Berlin leaving summer time)', () => {
    const berlin = new CronSchedule('0 6 * * *', 'Europe/Berlin');
    expect(between(berlin, '2026-10-24T00:00:00Z', '2026-10-26T00:00:00Z').map((f) => f.at.toISOString())).toEqual([
      '2026-10-24T04:00:00.000Z',
      '2026-10-25T05:00:00.000Z',
    ]);
  });

  it('takes the window as (after, until]: a firing exactly at `after` already happened, one at `until` is due', () => {
    const daily = new CronSchedule('0 9 * * *', 'UTC');
    expect(between(daily, '2026-01-05T09:00:00Z', '2026-01-06T09:00:00Z')).toEqual([
      { at: new Date('2026-01-06T09:00:00Z'), key: '2026-01-06T09:00' },
    ]);
    expect(between(daily, '2026-01-05T09:00:00Z', '2026-01-06T08:59:59Z')).toEqual([]);
    expect(between(daily, '2026-01-05T10:00:00Z', '2026-01-05T10:00:00Z')).toEqual([]);
  });

  it('fires on either day field when both are restricted, as classic cron does', () => {
    // The 1st of the month or any Monday: 2026-02-01 is a Sunday.
    const either = new CronSchedule('0 9 1 * 1', 'UTC');
    expect(between(either, '2026-01-31T00:00:00Z', '2026-02-28T23:59:00Z').map((f) => f.key)).toEqual([
      '2026-02-01T09:00',
      '2026-02-02T09:00',
      '2026-02-09T09:00',
      '2026-02-16T09:00',
      '2026-02-23T09:00',
    ]);
    const weekly = new CronSchedule('0 9 * * 1', 'UTC');
    expect(between(weekly, '2026-11-16T00:00:00Z', '2026-11-30T00:00:00Z').map((f) => f.key)).toEqual([
      '2026-11-16T09:00',
      '2026-11-23T09:00',
    ]);
  });

  it('reads 7 as Sunday, like 0', () => {
    const sunday = new CronSchedule('0 12 * * 7', 'UTC');
    expect(between(sunday, '2026-11-16T00:00:00Z', '2026-11-30T00:00:00Z').map((f) => f.key)).toEqual([
      '2026-11-22T12:00',
      '2026-11-29T12:00',
    ]);
  });
});
