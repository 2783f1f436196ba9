// A restore test's outcome is stored as plain text and escaped once where Slack shows it: the weekly report used to
// escape the already-escaped Slack line again, so a failure quoting pg_restore read "&amp;lt;" there.
import { describe, expect, it } from 'vitest';
import { restoreTestOutcomeText, restoreTestText } from '../../../src/slack/backup-blocks.ts';
import { reportMessage } from '../../../src/slack/report-blocks.ts';
import type { OperationsReport } from '../../../src/tasks/report.ts';
import type { RestoreTestResult } from '../../../src/tasks/backup/restore-test.ts';

const failed: RestoreTestResult = {
  ok: false,
  service: 'rlhf-audit-trail',
  tables: [],
  notes: [],
  durationMs: 1_200,
  reason: 'pg_restore: error: relation "a<b>" & <!channel> not found',
};

function reportWith(lastSummary: string): OperationsReport {
  const none = { count: 0, medianMs: undefined, worstMs: undefined };
  return {
    from: new Date('2026-11-16T00:00:00Z'),
    to: new Date('2026-11-23T00:00:00Z'),
    incidents: {
      total: 0,
      open: 0,
      bySeverity: { P0: 0, P1: 0, P2: 0, P3: 0 },
      byService: [],
      perDay: [],
      timeToAcknowledge: none,
      timeToResolve: none,
      escalations: [],
    },
    followUps: { open: 0, overdue: 0 },
    backups: [],
    privacyBudgets: [],
    jobs: [{ job: 'monthlyRestoreTest', runs: 1, failed: 1, late: 0, lastOutcome: 'failed', lastSummary }],
  };
}

describe('restore test outcome', () => {
  it('is plain text for summaries and escaped mrkdwn for Slack', () => {
    expect(restoreTestOutcomeText(failed)).toBe(
      'restore test of rlhf-audit-trail failed: pg_restore: error: relation "a<b>" & <!channel> not found',
    );
    expect(restoreTestText(failed)).toBe(
      ':x: Restore test of *rlhf-audit-trail* failed: pg_restore: error: relation "a&lt;b&gt;" &amp; &lt;!channel&gt; not found',
    );
  });

  it('shows escaped once in the weekly report', () => {
    const shown = JSON.stringify(reportMessage(reportWith(restoreTestOutcomeText(failed)), 'Weekly', 'UTC').blocks);
    expect(shown).toContain('relation \\"a&lt;b&gt;\\" &amp; &lt;!channel&gt; not found');
    expect(shown).not.toContain('&amp;lt;');
    expect(shown).not.toContain('<!channel>');
  });
});
