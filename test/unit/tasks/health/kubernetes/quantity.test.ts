// Memory quantities as Kubernetes writes them, in bytes.
import { describe, expect, it } from 'vitest';
import { memoryBytes } from '../../../../../src/tasks/health/kubernetes/quantity.ts';

describe('memoryBytes', () => {
  it('reads binary and decimal suffixes, exponents and plain numbers', () => {
    expect(memoryBytes('512Mi')).toBe(512 * 1024 * 1024);
    expect(memoryBytes('1Gi')).toBe(1024 ** 3);
    expect(memoryBytes('1G')).toBe(1e9);
    expect(memoryBytes('129e6')).toBe(129e6);
    expect(memoryBytes('1500m')).toBe(1.5);
    expect(memoryBytes('123456')).toBe(123456);
    expect(memoryBytes('0.5Gi')).toBe(0.5 * 1024 ** 3);
  });

  it('is undefined for what is not a quantity', () => {
    expect(memoryBytes(undefined)).toBeUndefined();
    expect(memoryBytes('')).toBeUndefined();
    expect(memoryBytes('lots')).toBeUndefined();
    expect(memoryBytes('1GB')).toBeUndefined();
  });
});
