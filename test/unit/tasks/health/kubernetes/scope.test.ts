// Label selectors matched as the API server matches them; an empty selector selects nothing.
import { describe, expect, it } from 'vitest';
import { selects, serviceSelects } from '../../../../../src/tasks/health/kubernetes/scope.ts';

describe('selects', () => {
  const labels = { app: 'api', tier: 'web' };
  it('matches matchLabels and every matchExpressions operator', () => {
    expect(selects({ matchLabels: { app: 'api' } }, labels)).toBe(true);
    expect(selects({ matchLabels: { app: 'db' } }, labels)).toBe(false);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'edge'] }] }, labels)).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels)).toBe(false);
    expect(selects({ matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'canary', operator: 'Exists' }] }, labels)).toBe(false);
  });

  it('selects nothing with an empty selector, rather than everything', () => {
    expect(selects({}, labels)).toBe(false);
    expect(selects(undefined, labels)).toBe(false);
    expect(serviceSelects({}, labels)).toBe(false);
    expect(serviceSelects({ app: 'api' }, labels)).toBe(true);
  });
});
