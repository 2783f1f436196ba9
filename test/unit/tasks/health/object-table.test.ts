// The details table: kubectl-style columns, padded, ages from the report's time, long messages cut when asked.
import { describe, expect, it } from 'vitest';
import { objectTable } from '../../../../src/tasks/health/object-table.ts';

describe('objectTable', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const objects = [
    {
      status: 'critical' as const,
      kind: 'Pod',
      name: 'api-0',
      reason: 'CrashLoopBackOff',
      count: 12,
      at: new Date('2026-12-01T11:57:00Z'),
      message: '12 restarts,\n last OOMKilled',
    },
    { status: 'warn' as const, kind: 'PersistentVolumeClaim', name: 'scratch', reason: 'Pending' },
  ];

  it('pads columns as kubectl does and shows ages from the report time', () => {
    expect(objectTable(objects, now)).toEqual([
      'STATUS     OBJECT                          REASON             COUNT   LAST SEEN   MESSAGE',
      'critical   pod/api-0                       CrashLoopBackOff   12      3m          12 restarts, last OOMKilled',
      'warn       persistentvolumeclaim/scratch   Pending',
    ]);
  });

  it('cuts long messages when asked', () => {
    const [, row] = objectTable([{ ...objects[0]!, message: 'x'.repeat(50) }], now, { maxMessage: 10 });
    expect(row!.endsWith(`${'x'.repeat(9)}…`)).toBe(true);
  });
});
