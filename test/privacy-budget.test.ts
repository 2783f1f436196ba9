// The privacy budget: grading and projection, /privacy-budget and its confirmed reset through the real bot, and the CLI.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../src/cli.ts';
import { verifyAuditLog } from '../src/store/audit.ts';
import type { BudgetSnapshot } from '../src/store/privacy-budget.ts';
import { gradeBudget, projectExhaustion, usageBar, type PrivacyBudgetTarget } from '../src/tasks/privacy-budget.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { rlhfRoutes, startFakeService, type FakeService } from './fakes/fake-services.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock } from './support/clock.ts';
import { createTestDatabase } from './support/databases.ts';
import { commandAnswer, sendBlockAction, sendSlashCommand } from './support/slack-requests.ts';

const DAY = 86_400_000;
const NOW = new Date('2026-11-22T10:00:00Z');

function snapshot(daysAgo: number, consumed: number, total = 10, daysUntilReset = 12): BudgetSnapshot {
  return {
    service: 'rlhf-audit-trail',
    taken_at: new Date(NOW.getTime() - daysAgo * DAY),
    total_epsilon: total,
    consumed_epsilon: consumed,
    remaining_epsilon: total - consumed,
    days_until_reset: daysUntilReset,
  };
}

const target: PrivacyBudgetTarget = {
  name: 'rlhf-audit-trail',
  displayName: 'RLHF Audit Trail',
  budget: { url: 'http://budget.invalid/', warnPercent: 80, criticalPercent: 90 },
};

describe('grading and projection', () => {
  it('warns at 80 % consumed and is critical at 90 % (at or over, configurable)', () => {
    const status = (consumed: number, budget = target.budget) =>
      gradeBudget({ ...target, budget }, snapshot(0, consumed), [snapshot(0, consumed)]).status;
    expect([status(7.99), status(8), status(8.99), status(9), status(10)]).toEqual([
      'ok',
      'warn',
      'warn',
      'critical',
      'critical',
    ]);
    expect(status(7, { ...target.budget, warnPercent: 70 })).toBe('warn');
    expect(usageBar(82, 10)).toBe('▓▓▓▓▓▓▓▓░░');
    expect(usageBar(130, 4)).toBe('▓▓▓▓');
  });

  it('projects exhaustion by a line through the snapshots since the last reset', () => {
    // Before the reset 4 days ago it was spent fast; since then 0.5 ε a day.
    const history = [
      snapshot(9, 2),
      snapshot(7, 6),
      snapshot(5, 9.5),
      snapshot(4, 0),
      snapshot(3, 0.5),
      snapshot(2, 1),
      snapshot(1, 1.5),
      snapshot(0, 2),
    ];
    const projection = projectExhaustion(history, history.at(-1)!);
    expect(projection).toMatchObject({ kind: 'resets-first', snapshots: 5 });
    expect(projection.kind === 'resets-first' && projection.ratePerDay).toBeCloseTo(0.5, 6);
    // 8 ε left at 0.5 a day: 16 days, after the reset in 12.
    expect(projection.kind === 'resets-first' && projection.at.toISOString()).toBe('2026-12-08T10:00:00.000Z');

    const faster = [snapshot(2, 5), snapshot(1, 6), snapshot(0, 7)];
    expect(projectExhaustion(faster, faster.at(-1)!)).toMatchObject({ kind: 'exhausts', at: new Date('2026-11-25T10:00:00Z') });
  });

  it('says when there is too little history, no consumption, or nothing left', () => {
    expect(projectExhaustion([snapshot(0, 3)], snapshot(0, 3))).toEqual({ kind: 'too-little-history', snapshots: 1 });
    const close = [snapshot(0.01, 3), snapshot(0, 3.1)];
    expect(projectExhaustion(close, close[1]!)).toEqual({ kind: 'too-little-history', snapshots: 2 });
    const flat = [snapshot(3, 3), snapshot(1, 3), snapshot(0, 3)];
    expect(projectExhaustion(flat, flat[2]!)).toMatchObject({ kind: 'not-consuming', snapshots: 3 });
    expect(projectExhaustion([snapshot(0, 10)], snapshot(0, 10))).toEqual({ kind: 'exhausted' });
  });
});

describe('/privacy-budget through the bot', () => {
  let budget: FakeService;
  let slack: FakeSlack;
  let clock: ManualClock;
  let t: TestBot;

  beforeAll(async () => {
    budget = await startFakeService(rlhfRoutes());
  });
  afterAll(async () => {
    await budget.close();
  });
  beforeEach(async () => {
    budget.set('/api/v1/privacy/budget', {
      body: { total_epsilon: 10, consumed_epsilon: 8.2, remaining_epsilon: 1.8, days_until_reset: 12 },
    });
    slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0MALLORY']) slack.addUser({ id });
    slack.addUsergroup({ id: 'S0PRIVACY', users: ['U0ALICE'] });
    slack.addChannel({ name: 'privacy' });
    clock = new ManualClock(NOW);
    vi.stubEnv('PB_RLHF_API_TOKEN', 'rlhf-api-token');
    t = await startTestBot({
      slack,
      clock,
      file: {
        permissions: { privacyReset: ['S0PRIVACY'] },
        services: {
          'rlhf-audit-trail': {
            displayName: 'RLHF Audit Trail',
            privacyBudget: {
              url: `${budget.url}/api/v1/privacy/budget`,
              resetUrl: `${budget.url}/api/v1/privacy/budget/reset`,
              tokenEnv: 'PB_RLHF_API_TOKEN',
            },
          },
          'research-sandbox': { privacyBudget: { url: `${budget.url}/api/v1/privacy/budget` } },
          'pqc-migration-audit': {},
        },
      },
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
  });
  afterEach(async () => {
    await t.stop();
    await slack.close();
    vi.unstubAllEnvs();
  });

  async function command(text: string, userId = 'U0ALICE') {
    const responseUrl = slack.newResponseUrl();
    const channelId = slack.channelByName('privacy')!.id;
    const ack = await sendSlashCommand(t.baseUrl, t.secret, { command: '/privacy-budget', text, userId, responseUrl, channelId });
    await t.bot.idle();
    const { answer, later } = commandAnswer(
      ack.body as { text: string; response_type: string; blocks?: unknown[] },
      slack.responses(responseUrl).map((r) => r.body as { text: string; blocks: unknown[]; response_type: string }),
    );
    return { ack: answer, posted: later };
  }

  const snapshots = async () =>
    (
      await t.bot.store.query<{ consumed_epsilon: number }>('SELECT consumed_epsilon FROM privacy_budget_snapshots ORDER BY id')
    ).rows.map((row) => row.consumed_epsilon);

  it('shows the figures, the bar and the threshold reached, stores a snapshot and sends the token', async () => {
    const { ack, posted } = await command('rlhf-audit-trail');
    expect(ack).toMatchObject({
      response_type: 'ephemeral',
      text: ':hourglass_flowing_sand: Reading the privacy budget of `rlhf-audit-trail`…',
    });
    expect(posted[0]!.response_type).toBe('in_channel');
    expect(posted[0]!.text).toBe('Privacy budget: rlhf-audit-trail 82% consumed (8.2 of 10 ε), warn');
    const shown = JSON.stringify(posted[0]!.blocks);
    expect(shown).toContain('*RLHF Audit Trail* (`rlhf-audit-trail`) — at or over the warning threshold of 80%');
    expect(shown).toContain('`▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓▓░░░░` *82%* consumed');
    expect(shown).toContain('Total ε 10 · consumed 8.2 · remaining 1.8 · resets in 12 days (2026-12-04)');
    expect(shown).toContain('Projection: not enough history yet (1 reading since the last reset');
    expect(await snapshots()).toEqual([8.2]);
    expect(budget.requests.at(-1)!.headers.authorization).toBe('Bearer rlhf-api-token');
  });

  it('projects the exhaustion date from the stored history', async () => {
    for (const [daysAgo, consumed] of [
      [4, 6.2],
      [3, 6.7],
      [2, 7.2],
      [1, 7.7],
    ] as const) {
      clock.set(new Date(NOW.getTime() - daysAgo * DAY));
      budget.set('/api/v1/privacy/budget', {
        body: { total_epsilon: 10, consumed_epsilon: consumed, remaining_epsilon: 10 - consumed, days_until_reset: 12 + daysAgo },
      });
      await command('rlhf-audit-trail');
    }
    clock.set(NOW);
    budget.set('/api/v1/privacy/budget', {
      body: { total_epsilon: 10, consumed_epsilon: 9.2, remaining_epsilon: 0.8, days_until_reset: 12 },
    });
    const { posted } = await command('rlhf-audit-trail');
    expect(await snapshots()).toEqual([6.2, 6.7, 7.2, 7.7, 9.2]);
    const shown = JSON.stringify(posted[0]!.blocks);
    expect(shown).toContain(':red_circle: *RLHF Audit Trail* (`rlhf-audit-trail`) — at or over the critical threshold of 90%');
    // A least-squares line through the five readings: 0.7 ε a day, 0.8 left → about 1.1 days.
    expect(shown).toContain(
      ':warning: Projection: exhausted around 2026-11-23 (in 1.1 days), before the reset, at 0.7 ε/day over 5 readings.',
    );
  });

  it('without a service, reads every budget and reports an unreadable one next to the others', async () => {
    vi.stubEnv('PB_RLHF_API_TOKEN', '');
    const { posted } = await command('');
    expect(posted[0]!.text).toBe(
      'Privacy budget: research-sandbox 82% consumed (8.2 of 10 ε), warn | rlhf-audit-trail: could not read the budget: ' +
        'The privacy budget of `rlhf-audit-trail` is not configured: PB_RLHF_API_TOKEN (its API token) is not set.',
    );
  });

  it('names what the budget API did wrong: an error status, or a missing field', async () => {
    budget.set('/api/v1/privacy/budget', { status: 500, body: { detail: 'privacy engine down' } });
    expect((await command('rlhf-audit-trail')).posted[0]!.text).toContain(
      'the privacy budget API of rlhf-audit-trail: answered HTTP 500: {"detail":"privacy engine down"}',
    );
    budget.set('/api/v1/privacy/budget', { body: { total_epsilon: 10, consumed_epsilon: 8.2, days_until_reset: 12 } });
    expect((await command('rlhf-audit-trail')).posted[0]!.text).toContain(
      'answered JSON of an unexpected shape: remaining_epsilon',
    );
    expect(await snapshots()).toEqual([]);
  });

  it('resets only for the privacy role, only after a confirmation, audited', async () => {
    let resets = 0;
    budget.set('POST /api/v1/privacy/budget/reset', {
      body: { status: 'reset' },
      onRequest: () => {
        resets += 1;
        budget.set('/api/v1/privacy/budget', {
          body: { total_epsilon: 10, consumed_epsilon: 0, remaining_epsilon: 10, days_until_reset: 30 },
        });
      },
    });

    const denied = await command('reset rlhf-audit-trail', 'U0MALLORY');
    expect(denied.ack.text).toContain(
      'You are not allowed to reset the privacy budget for `rlhf-audit-trail`. Only <!subteam^S0PRIVACY> may',
    );

    // The ack comes first; the confirmation is stored after it, and its question takes the ack's place.
    const asked = await command('reset rlhf-audit-trail');
    expect(resets).toBe(0);
    expect(asked.ack.text).toContain('Preparing the confirmation to reset the privacy budget of `rlhf-audit-trail`');
    const [replaced] = asked.posted as Array<{ text: string; blocks: unknown[]; replace_original?: boolean }>;
    expect(replaced).toMatchObject({
      replace_original: true,
      text: 'Reset the privacy budget of rlhf-audit-trail: confirm or cancel',
    });
    const question = JSON.stringify(replaced!.blocks);
    expect(question).toContain(`POST \`${budget.url}/api/v1/privacy/budget/reset\``);
    const id = /"value":"([^"]+)"/.exec(question)![1]!;

    const channelId = slack.channelByName('privacy')!.id;
    const click = (userId: string) =>
      sendBlockAction(t.baseUrl, t.secret, {
        actionId: 'confirmation:confirm',
        value: id,
        userId,
        channelId,
        ephemeral: true,
        responseUrl: slack.newResponseUrl(),
      });
    await click('U0MALLORY');
    await t.bot.idle();
    expect(resets).toBe(0);
    await click('U0ALICE');
    await t.bot.idle();
    await click('U0ALICE');
    await t.bot.idle();
    expect(resets).toBe(1);
    const reset = budget.requests.find((r) => r.method === 'POST')!;
    expect(reset.headers.authorization).toBe('Bearer rlhf-api-token');

    const status = slack.messages(channelId).at(-1)!;
    expect(status.text).toMatch(
      /^:white_check_mark: \*Reset the privacy budget of rlhf-audit-trail\* finished after .* \(confirmed by <@U0ALICE>\): budget reset; now rlhf-audit-trail 0% consumed \(0 of 10 ε\), ok$/,
    );
    expect(await snapshots()).toEqual([0]);
    const { rows } = await t.bot.store.query<{ action: string; actor: string; result: string | null }>(
      "SELECT action, actor, result FROM audit_log WHERE action NOT IN ('command', 'button') ORDER BY seq",
    );
    expect(rows.map((row) => `${row.action} ${row.actor}`)).toEqual([
      'confirmation.requested U0ALICE',
      'denied U0MALLORY',
      'confirmation.confirmed U0ALICE',
      'task.outcome U0ALICE',
    ]);
    expect(rows.at(-1)!.result).toBe('ok: budget reset; now rlhf-audit-trail 0% consumed (0 of 10 ε), ok');
    expect((await verifyAuditLog(t.bot.store)).ok).toBe(true);
  });

  it('says plainly that a service without a reset endpoint cannot be reset, and asks nothing', async () => {
    const { ack } = await command('reset research-sandbox');
    expect(ack.text).toContain(
      'The privacy budget of `research-sandbox` cannot be reset from here: no reset endpoint is configured',
    );
    expect(ack.blocks).toBeUndefined();
    const { rows } = await t.bot.store.query('SELECT id FROM confirmations');
    expect(rows).toEqual([]);
    expect((await command('pqc-migration-audit')).ack.text).toContain('has no privacy budget configured');
  });
});

describe('runbook-bot privacy-budget', () => {
  let budget: FakeService;
  let dir: string;
  beforeAll(async () => {
    budget = await startFakeService(rlhfRoutes());
    dir = mkdtempSync(join(tmpdir(), 'rb-budget-'));
  });
  afterAll(async () => {
    await budget.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the budget, snapshots it, and exits 0 / 1 / 2 by status', async () => {
    const database = await createTestDatabase();
    const path = join(dir, 'runbook-bot.yml');
    writeFileSync(
      path,
      stringify({ services: { 'rlhf-audit-trail': { privacyBudget: { url: `${budget.url}/api/v1/privacy/budget` } } } }),
    );
    const run = async (consumed: number, args: string[] = []) => {
      budget.set('/api/v1/privacy/budget', {
        body: { total_epsilon: 10, consumed_epsilon: consumed, remaining_epsilon: 10 - consumed, days_until_reset: 12 },
      });
      const out: string[] = [];
      const code = await runCli(
        ['privacy-budget', ...args],
        { out: (line) => out.push(line), err: (line) => out.push(line) },
        {
          RUNBOOK_BOT_CONFIG: path,
          DATABASE_URL: database.url,
        },
      );
      return { code, out: out.join('\n') };
    };
    try {
      const ok = await run(4);
      expect(ok.code).toBe(0);
      expect(ok.out).toContain('rlhf-audit-trail: OK, 40% consumed (warn at 80%, critical at 90%)');
      expect(ok.out).toContain('  ▓▓▓▓▓▓▓▓░░░░░░░░░░░░');
      expect((await run(8.5)).code).toBe(1);
      const critical = await run(9.5, ['rlhf-audit-trail', '--json']);
      expect(critical.code).toBe(2);
      const json = JSON.parse(critical.out) as { readings: Array<{ status: string; projection: { kind: string } }> };
      expect(json.readings[0]).toMatchObject({ status: 'critical' });
      budget.set('/api/v1/privacy/budget', { status: 503, body: 'unavailable' });
      const out: string[] = [];
      const unreadable = await runCli(
        ['privacy-budget'],
        { out: (line) => out.push(line), err: (line) => out.push(line) },
        {
          RUNBOOK_BOT_CONFIG: path,
          DATABASE_URL: database.url,
        },
      );
      expect(unreadable).toBe(1);
      expect(out.join('\n')).toContain(
        'rlhf-audit-trail: UNREADABLE: the privacy budget API of rlhf-audit-trail: answered HTTP 503: unavailable',
      );
    } finally {
      await database.drop();
    }
  });
});
