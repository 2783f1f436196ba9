// How a check's findings become its outcome: the worst status, a reason naming what is wrong (worst first), every finding in details.
import { describe, expect, it } from 'vitest';
import { notConfigured, outcomeFromFindings, worstStatus, type Finding } from '../../../../src/tasks/health/check.ts';

describe('worstStatus', () => {
  it.each([
    [[], 'ok'],
    [['ok', 'ok'], 'ok'],
    [['ok', 'warn', 'ok'], 'warn'],
    [['warn', 'critical', 'ok'], 'critical'],
    [['critical', 'warn'], 'critical'],
  ] as const)('%j → %s', (statuses, worst) => {
    expect(worstStatus(statuses)).toBe(worst);
  });
});

describe('outcomeFromFindings', () => {
  const ok = (text: string): Finding => ({ status: 'ok', text });
  const warn = (text: string): Finding => ({ status: 'warn', text });
  const critical = (text: string): Finding => ({ status: 'critical', text });

  it('sums up with the given line when every finding is ok, keeping each in details', () => {
    expect(outcomeFromFindings([ok('HTTP 200'), ok('answered in 12ms')], 'HTTP 200, answered in 12ms')).toEqual({
      status: 'ok',
      reason: 'HTTP 200, answered in 12ms',
      details: ['HTTP 200', 'answered in 12ms'],
    });
    expect(outcomeFromFindings([], 'nothing to check')).toMatchObject({ status: 'ok', reason: 'nothing to check' });
  });

  it('names only the problems in the reason, worst first, in their order within a status', () => {
    const outcome = outcomeFromFindings(
      [ok('HTTP 200'), warn('slow: 1500ms (over 1400ms)'), critical('score = 0.9'), warn('second warning'), critical('db down')],
      'unused',
    );
    expect(outcome.status).toBe('critical');
    expect(outcome.reason).toBe('score = 0.9; db down; slow: 1500ms (over 1400ms); second warning');
    expect(outcome.details).toEqual(['score = 0.9', 'db down', 'slow: 1500ms (over 1400ms)', 'second warning', 'HTTP 200']);
  });

  it('shows at most maxInReason problems and counts the rest, while details and objects keep them all', () => {
    const object = (name: string) => ({ kind: 'Pod', name, status: 'critical' as const, reason: 'CrashLoopBackOff' });
    const findings: Finding[] = ['a', 'b', 'c', 'd'].map((name) => ({
      status: 'critical',
      text: `Pod ${name}: CrashLoopBackOff`,
      object: object(name),
    }));
    const outcome = outcomeFromFindings([...findings, ok('namespace exists')], 'unused', { maxInReason: 2 });
    expect(outcome.reason).toBe('Pod a: CrashLoopBackOff; Pod b: CrashLoopBackOff; and 2 more');
    expect(outcome.details).toHaveLength(5);
    expect(outcome.objects?.map((o) => o.name)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('leaves objects out when no problem names one', () => {
    expect(outcomeFromFindings([warn('x')], 'unused')).not.toHaveProperty('objects');
  });
});

describe('notConfigured', () => {
  it('is a warning that says so, marked as not configured', () => {
    expect(notConfigured('REGULENSAI_DB_URL is not set')).toEqual({
      status: 'warn',
      reason: 'not configured: REGULENSAI_DB_URL is not set',
      notConfigured: true,
    });
  });
});
