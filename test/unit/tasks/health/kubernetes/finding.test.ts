// Ages as kubectl prints them in its AGE and LAST SEEN columns.
import { describe, expect, it } from 'vitest';
import { age } from '../../../../../src/tasks/health/kubernetes/finding.ts';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

describe('age', () => {
  it('follows apimachinery HumanDuration: seconds to 2m, then minutes with seconds, hours, days, years', () => {
    expect(age(-5 * s)).toBe('0s');
    expect(age(90 * s)).toBe('90s');
    expect(age(4 * m + 10 * s)).toBe('4m10s');
    expect(age(4 * m)).toBe('4m');
    expect(age(45 * m)).toBe('45m');
    expect(age(3 * h + 12 * m)).toBe('3h12m');
    expect(age(30 * h)).toBe('30h');
    expect(age(3 * d + 4 * h)).toBe('3d4h');
    expect(age(40 * d)).toBe('40d');
    expect(age(3 * 365 * d + 10 * d)).toBe('3y10d');
  });
});
