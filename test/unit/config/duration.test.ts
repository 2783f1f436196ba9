// Durations as people write them in the config and commands, and as the bot writes them back (latencies in milliseconds below 10 s).
import { describe, expect, it } from 'vitest';
import { formatDuration, formatLatency, parseDuration } from '../../../src/config/duration.ts';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['90s', 90_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['2w', 1_209_600_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['1m30s500ms', 90_500],
    [' 15M ', 900_000],
    ['0', 0],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '   ', '10', 'ms', '-5m', '1h 30m', '15 minutes', '1m30', 'm5', '5x', '0s5'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [-5, '0s'],
    [0, '0s'],
    [999, '999ms'],
    [1_000, '1s'],
    [59_999, '1m'],
    [3_600_000, '1h'],
    [3_725_000, '1h 2m'],
    [90_061_000, '1d 1h'],
  ])('%d ms reads %j (the two largest units)', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('reads back what parseDuration took, for whole units', () => {
    for (const text of ['45s', '15m', '2h', '1h 30m', '1d 6h'])
      expect(formatDuration(parseDuration(text.replace(' ', ''))!)).toBe(text);
  });
});

describe('formatLatency', () => {
  it('shows milliseconds below 10 s, so a slow check and its limit can be told apart', () => {
    expect(`slow: ${formatLatency(1_500)} (over ${formatLatency(1_400)})`).toBe('slow: 1500ms (over 1400ms)');
    expect(formatLatency(1_507.4)).toBe('1507ms');
    expect(formatLatency(0.4)).toBe('0ms');
    expect(formatLatency(9_999)).toBe('9999ms');
  });

  it('keeps whole seconds (as limits are usually configured) in seconds, and 10 s or more as a duration', () => {
    expect(formatLatency(1_000)).toBe('1s');
    expect(formatLatency(2_000)).toBe('2s');
    expect(formatLatency(10_000)).toBe('10s');
    expect(formatLatency(12_345)).toBe('12s');
    expect(formatLatency(125_000)).toBe('2m 5s');
  });
});
