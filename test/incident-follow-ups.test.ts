import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listEvents } from '../src/store/incidents.ts';
import { buildOperationsReport } from '../src/tasks/report.ts';
import type { TestBot } from './support/bot.ts';
import { minutes, type ManualClock } from './support/clock.ts';
import { incidentCommand, incidentFile, START, startIncidentInChannel, stopIncidentBot } from './support/incident-fixture.ts';
import { sendBlockAction, sendSlashCommand, sendViewSubmission } from './support/slack-requests.ts';

const DAY = 86_400_000;

describe('incident follow-ups', () => {
  let t: TestBot;
  let clock: ManualClock;
  let channelId: string;
  let incidentId: number;

  beforeEach(async () => {
    const file = { ...incidentFile, incidents: { ...incidentFile.incidents, followUpDue: '7d' } };
    ({ t, clock, channelId, incidentId } = await startIncidentInChannel(file, { severity: 'P2' }));
  });
  afterEach(() => stopIncidentBot(t));

  const command = (text: string, userId = 'U0ALICE', channel = channelId) => incidentCommand(t, text, userId, channel);
  const posts = () => t.slack.messages(channelId);
  const clickDone = async (id: number, userId: string) => {
    const responseUrl = t.slack.newResponseUrl();
    await sendBlockAction(t.baseUrl, t.secret, {
      actionId: 'followup:done',
      value: String(id),
      channelId,
      userId,
      responseUrl,
    });
    await t.bot.idle();
    return String(t.slack.responses(responseUrl)[0]?.body.text ?? '');
  };

  it('adds follow-ups by command and after resolve from the resolution message, lists them in the report', async () => {
    await command('followup Alert on audit write errors <!here> <@U0BOB|bob>');
    const first = posts().at(-1)!;
    expect(first.text).toBe('Follow-up #1 added');
    const firstText = JSON.stringify(first.blocks);
    expect(firstText).toContain('#1 Alert on audit write errors &lt;!here&gt; · owner <@U0BOB> · due');
    expect(firstText).toContain('"action_id":"followup:done"');
    await command('followup Update the rollback runbook');

    await command('resolve config reverted');
    const resolution = posts().find((message) => message.text.includes('resolved: time to resolve'))!;
    const report = JSON.stringify(resolution.blocks);
    expect(report).toContain('- [ ] #1 Alert on audit write errors &lt;!here&gt; (owner <@U0BOB>, due');
    expect(report).toContain('Follow-up #1: Alert on audit write errors &lt;!here&gt; (owner <@U0BOB>)');
    expect(report).toContain('- [ ] #2 Update the rollback runbook (no owner, due');
    expect(report).toContain('"action_id":"incident:followup-add"');

    // After the resolve: from the resolution message's button, through its form.
    await sendBlockAction(t.baseUrl, t.secret, {
      actionId: 'incident:followup-add',
      value: String(incidentId),
      channelId,
      responseUrl: t.slack.newResponseUrl(),
    });
    const open = await t.slack.waitFor('views.open');
    const view = open.args.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe('incident:followup');
    const tooLong = await sendViewSubmission(t.baseUrl, t.secret, {
      callbackId: 'incident:followup',
      values: { text: { value: 'x'.repeat(501) }, owner: { value: null } },
      privateMetadata: view.private_metadata,
    });
    expect(tooLong.body).toEqual({ response_action: 'errors', errors: { text: 'Keep the follow-up under 500 characters.' } });
    await sendViewSubmission(t.baseUrl, t.secret, {
      callbackId: 'incident:followup',
      values: {
        text: { value: 'Load-test the audit writer' },
        owner: { value: { type: 'users_select', selected_user: 'U0CAROL' } },
      },
      privateMetadata: view.private_metadata,
    });
    await t.bot.idle();
    expect(JSON.stringify(posts().at(-1)!.blocks)).toContain('#3 Load-test the audit writer · owner <@U0CAROL>');
    const added = (await listEvents(t.bot.store, incidentId)).filter((event) => event.kind === 'followup_added');
    expect(added).toHaveLength(3);

    expect((await command('followup')).text).toContain('Describe the follow-up: `/incident followup <text> [@owner]`');
    expect((await command('followup done x')).text).toContain('`x` is not a follow-up number.');
  });

  it('lists open follow-ups across incidents with the overdue ones, and lets only the owner mark one done', async () => {
    await command('followup Alert on audit write errors <@U0BOB>');
    await command('followup Update the rollback runbook');
    clock.advance(8 * DAY);
    await command('followup Rotate the audit signing key <@U0CAROL>');

    const listing = await (async () => {
      const responseUrl = t.slack.newResponseUrl();
      await sendSlashCommand(t.baseUrl, t.secret, {
        command: '/incident',
        text: 'followups',
        channelId: 'C0GENERAL',
        userId: 'U0BOB',
        responseUrl,
      });
      await t.bot.idle();
      return JSON.stringify(t.slack.responses(responseUrl)[0]!.body);
    })();
    expect(listing).toContain('*Open follow-ups*: 3, 2 overdue');
    expect(listing).toContain('#1 Alert on audit write errors · owner <@U0BOB> · due');
    expect(listing).toContain(`Incident #${incidentId}: Audit API returns 500s <#${channelId}>`);
    expect(listing.indexOf('#1 Alert')).toBeLessThan(listing.indexOf('#3 Rotate'));

    expect(await clickDone(1, 'U0MALLORY')).toContain('Only <@U0BOB>, its owner, can mark follow-up #1 done.');
    expect(await clickDone(1, 'U0BOB')).toBe('Follow-up #1 is marked done.');
    expect(await clickDone(1, 'U0BOB')).toBe('Follow-up #1 is already done.');
    expect(posts().at(-1)!.text).toBe(':ballot_box_with_check: Follow-up #1 done (<@U0BOB>): Alert on audit write errors');
    expect((await command('followup done #2', 'U0MALLORY')).text).toBe('Follow-up #2 is marked done.');

    // The weekly report counts what is open at its end, and what of that is past due.
    const week = await buildOperationsReport(
      t.bot.store,
      { from: new Date(new Date(START).getTime() - DAY), to: new Date(clock.now().getTime() + minutes(1)) },
      'UTC',
    );
    expect(week.followUps).toEqual({ open: 1, overdue: 0 });
    const later = await buildOperationsReport(
      t.bot.store,
      { from: clock.now(), to: new Date(clock.now().getTime() + 9 * DAY) },
      'UTC',
    );
    expect(later.followUps).toEqual({ open: 1, overdue: 1 });
    const before = await buildOperationsReport(
      t.bot.store,
      { from: new Date(new Date(START).getTime() - DAY), to: new Date(new Date(START).getTime() + 7.5 * DAY) },
      'UTC',
    );
    expect(before.followUps).toEqual({ open: 2, overdue: 2 });
  });
});
