// Byte sizes for people, in powers of 1024.
import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../../src/config/units.ts';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1_023, '1023 B'],
    [1_024, '1.0 KB'],
    [1_536, '1.5 KB'],
    [45.2 * 1024 ** 2, '45.2 MB'],
    [1.5 * 1024 ** 3, '1.5 GB'],
    [3 * 1024 ** 4, '3.0 TB'],
    // Past the largest unit the number grows instead of the unit.
    [2 * 1024 ** 5, '2048.0 TB'],
  ])('%d bytes read %j', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
