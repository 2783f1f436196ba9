import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ConfirmableAction } from '../src/handlers/confirm.ts';
import { verifyAuditLog } from '../src/store/audit.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import type { StoreKind } from './support/stores.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock, minutes } from './support/clock.ts';
import { sendBlockAction } from './support/slack-requests.ts';

const file = {
  permissions: { backup: ['S0SRE'] },
  services: { 'pqc-migration-audit': {} },
};

/** A stand-in change with observable effects: it counts its runs and can be told to fail or hang. */
function recordingAction(
  runs: string[],
  behaviour: { fail?: string; hang?: boolean } = {},
): ConfirmableAction<{ target: string }> {
  return {
    name: 'test-change',
    permission: 'backup',
    timeLimitMs: 300,
    params: z.object({ target: z.string() }),
    title: (params, service) => `Change ${params.target} on ${service}`,
    async run(params, run) {
      runs.push(`${params.target} by ${run.actor}`);
      await run.progress('half way');
      if (behaviour.hang) await new Promise((_, reject) => run.signal.addEventListener('abort', () => reject(run.signal.reason)));
      if (behaviour.fail) throw new Error(behaviour.fail);
      return { ok: true, text: `changed ${params.target}` };
    },
  };
}

describe('confirmations', () => {
  let slack: FakeSlack;
  let clock: ManualClock;
  let t: TestBot;
  let channelId: string;
  let runs: string[];

  async function start(
    behaviour: { fail?: string; hang?: boolean } = {},
    store?: StoreKind,
    config: Record<string, unknown> = file,
  ) {
    runs = [];
    t = await startTestBot({
      file: config,
      clock,
      slack,
      ...(store ? { store } : {}),
      extra: { confirmableActions: [recordingAction(runs, behaviour) as never], escalation: { autoStart: false } },
    });
  }

  beforeEach(async () => {
    clock = new ManualClock('2026-11-22T10:00:00Z');
    slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0BOB', 'U0SRE', 'U0MALLORY']) slack.addUser({ id });
    slack.addUsergroup({ id: 'S0SRE', users: ['U0SRE'] });
    channelId = slack.addChannel({ name: 'ops' }).id;
  });
  afterEach(async () => {
    await t.stop();
    await slack.close();
  });

  async function ask(requestedBy = 'U0ALICE') {
    const { blocks, text } = await t.bot.confirmations.request({
      action: 'test-change',
      service: 'pqc-migration-audit',
      params: { target: 'primary' },
      details: ['Target: `primary` in namespace `default`'],
      requestedBy,
      channelId,
    });
    const id = JSON.stringify(blocks).match(/"value":"([^"]+)"/)![1]!;
    return { id, text, blocks };
  }

  async function click(id: string, userId: string, action: 'confirm' | 'cancel' = 'confirm') {
    const responseUrl = slack.newResponseUrl();
    const response = await sendBlockAction(t.baseUrl, t.secret, {
      actionId: `confirmation:${action}`,
      value: id,
      userId,
      channelId,
      ephemeral: true,
      responseUrl,
    });
    expect(response.status).toBe(200);
    await t.bot.idle();
    return slack
      .responses()
      .filter((r) => r.url === responseUrl || r.id === responseUrl.split('/').pop())
      .map((r) => r.body as { text?: string; replace_original?: boolean });
  }

  /** The confirmation's own audit rows (each click's request row, action `button`, is asserted on its own). */
  async function auditActions() {
    const { rows } = await t.bot.store.query<{ action: string; actor: string; result: string | null }>(
      "SELECT action, actor, result FROM audit_log WHERE action <> 'button' ORDER BY seq",
    );
    return rows;
  }

  it('says exactly what will run, who may confirm, and when it expires', async () => {
    await start();
    const { text, blocks } = await ask();
    const shown = JSON.stringify(blocks);
    expect(text).toBe('Change primary on pqc-migration-audit: confirm or cancel');
    expect(shown).toContain('Target: `primary` in namespace `default`');
    expect(shown).toContain('Only <@U0ALICE> or <!subteam^S0SRE> can confirm');
    expect(shown).toContain('Expires at 10:05 UTC');
    expect(runs).toEqual([]);
  });

  it('runs once for the requester, reports progress and outcome in the channel, and audits each step', async () => {
    await start();
    const { id } = await ask();
    const answers = await click(id, 'U0ALICE');
    expect(answers[0]).toMatchObject({ replace_original: true, text: 'Confirmed: Change primary on pqc-migration-audit' });
    expect(runs).toEqual(['primary by U0ALICE']);
    const status = slack.messages(channelId).at(-1)!;
    expect(status.text).toMatch(
      /^:white_check_mark: \*Change primary on pqc-migration-audit\* finished after .* \(confirmed by <@U0ALICE>\): changed primary$/,
    );
    expect((await auditActions()).map((row) => row.action)).toEqual([
      'confirmation.requested',
      'confirmation.confirmed',
      'task.outcome',
    ]);
    expect((await auditActions()).at(-1)!.result).toBe('ok: changed primary');
    const clicks = await t.bot.store.query<{ actor: string; target: string; result: string }>(
      "SELECT actor, target, result FROM audit_log WHERE action = 'button'",
    );
    expect(clicks.rows).toEqual([{ actor: 'U0ALICE', target: 'confirmation:confirm', result: 'ok' }]);
    expect((await verifyAuditLog(t.bot.store)).ok).toBe(true);
  });

  it('runs at most once however many clicks arrive on however many replicas', async () => {
    // Replicas share one PostgreSQL database.
    await start({}, 'postgres');
    const second = await startTestBot({
      file,
      clock,
      slack,
      databaseUrl: t.databaseUrl,
      extra: { confirmableActions: [recordingAction(runs) as never], escalation: { autoStart: false } },
    });
    try {
      const { id } = await ask();
      const clicks = [t, second, t, second, t, second].map((bot) =>
        sendBlockAction(bot.baseUrl, bot.secret, {
          actionId: 'confirmation:confirm',
          value: id,
          userId: 'U0ALICE',
          channelId,
          ephemeral: true,
          responseUrl: slack.newResponseUrl(),
        }),
      );
      await Promise.all(clicks);
      await Promise.all([t.bot.idle(), second.bot.idle()]);
      expect(runs).toHaveLength(1);
      const already = slack
        .responses()
        .filter((r) => String((r.body as { text?: string }).text).includes('already confirmed by <@U0ALICE>'));
      expect(already).toHaveLength(5);
    } finally {
      await second.stop();
    }
  });

  it('lets a member of the permitted group confirm, and refuses anyone else, naming who may', async () => {
    await start();
    const { id } = await ask();
    const denied = await click(id, 'U0MALLORY');
    expect(denied[0]!.text).toBe(':no_entry: Only <@U0ALICE> or <!subteam^S0SRE> can confirm this.');
    expect(runs).toEqual([]);
    expect((await auditActions()).map((row) => [row.action, row.actor])).toContainEqual(['denied', 'U0MALLORY']);
    await click(id, 'U0SRE');
    expect(runs).toEqual(['primary by U0SRE']);
  });

  it('names each permitted person once when the requester is also in the list', async () => {
    await start({}, undefined, { ...file, permissions: { backup: ['U0ALICE', 'S0SRE', 'U0ALICE'] } });
    const { blocks } = await ask('U0ALICE');
    expect(JSON.stringify(blocks)).toContain('Only <@U0ALICE> or <!subteam^S0SRE> can confirm');
    const denied = await click((await ask('U0ALICE')).id, 'U0MALLORY');
    expect(denied[0]!.text).toBe(':no_entry: Only <@U0ALICE> or <!subteam^S0SRE> can confirm this.');
  });

  it('under four-eyes refuses the requester their own confirmation, even when permitted, and lets another confirm', async () => {
    await start({}, undefined, {
      ...file,
      permissions: { backup: ['U0ALICE', 'S0SRE'] },
      confirmations: { requireSecondPerson: { backup: true } },
    });
    const { id, blocks } = await ask('U0ALICE');
    expect(JSON.stringify(blocks)).toContain('Only <!subteam^S0SRE> (not the requester) can confirm');
    const own = await click(id, 'U0ALICE');
    expect(own[0]!.text).toBe(
      ':no_entry: You asked for this, so someone else must confirm it (four-eyes for backup): <!subteam^S0SRE>.',
    );
    expect(runs).toEqual([]);
    // Someone not permitted is told who may: the requester is not among them.
    expect((await click(id, 'U0MALLORY'))[0]!.text).toBe(':no_entry: Only <!subteam^S0SRE> can confirm this.');
    expect(await auditActions()).toContainEqual({
      action: 'denied',
      actor: 'U0ALICE',
      result: 'requester may not confirm their own request (four-eyes)',
    });
    await click(id, 'U0SRE');
    expect(runs).toEqual(['primary by U0SRE']);

    // A member of the permitted group asking is refused too; the requester may still cancel.
    const second = await ask('U0SRE');
    expect((await click(second.id, 'U0SRE'))[0]!.text).toContain('someone else must confirm it');
    expect((await click(second.id, 'U0SRE', 'cancel'))[0]).toMatchObject({
      text: 'Cancelled: Change primary on pqc-migration-audit',
    });
    expect(runs).toEqual(['primary by U0SRE']);
  });

  it('expires, and then says so instead of running', async () => {
    await start();
    const { id } = await ask();
    clock.advance(minutes(5) + 1_000);
    const answers = await click(id, 'U0ALICE');
    expect(answers[0]).toMatchObject({ replace_original: true, text: 'Expired: Change primary on pqc-migration-audit' });
    expect(runs).toEqual([]);
    expect((await auditActions()).map((row) => row.action)).toContain('confirmation.expired');
  });

  it('cancels without running, and a later confirm cannot revive it', async () => {
    await start();
    const { id } = await ask();
    expect((await click(id, 'U0ALICE', 'cancel'))[0]).toMatchObject({ text: 'Cancelled: Change primary on pqc-migration-audit' });
    const late = await click(id, 'U0ALICE');
    expect(late[0]!.text).toContain('already cancelled by <@U0ALICE>');
    expect(runs).toEqual([]);
  });

  it('reports a failure with its reason', async () => {
    await start({ fail: 'pg_dump exited with code 1: connection refused' });
    const { id } = await ask();
    await click(id, 'U0ALICE');
    expect(slack.messages(channelId).at(-1)!.text).toContain('failed after');
    expect(slack.messages(channelId).at(-1)!.text).toContain('pg_dump exited with code 1: connection refused');
    expect((await auditActions()).at(-1)!.result).toBe('failed: failed: pg_dump exited with code 1: connection refused');
  });

  it('reports a task that outlives its time limit as timed out', async () => {
    await start({ hang: true });
    const { id } = await ask();
    await click(id, 'U0ALICE');
    const status = slack.messages(channelId).at(-1)!.text;
    expect(status).toMatch(/^:alarm_clock: \*Change primary on pqc-migration-audit\* timed out after/);
    expect(status).toContain('time limit of 300ms reached');
  });
});
