import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getIncidentByChannel, listEvents } from '../src/store/incidents.ts';
import type { TestBot } from './support/bot.ts';
import { minutes, type ManualClock } from './support/clock.ts';
import { incidentCommand, incidentFile, START, startIncidentInChannel, stopIncidentBot } from './support/incident-fixture.ts';
import { sendBlockAction, sendViewSubmission } from './support/slack-requests.ts';

// P2 is reminded every 20 minutes here; snoozing puts the next one 10 minutes off.
const updatesFile = {
  ...incidentFile,
  incidents: { ...incidentFile.incidents, updateCadence: { P2: '20m', P3: 'off' }, updateSnooze: '10m' },
};

describe('stakeholder updates and their reminders', () => {
  let t: TestBot;
  let clock: ManualClock;
  let channelId: string;
  let incidentId: number;

  beforeEach(async () => {
    ({ t, clock, channelId, incidentId } = await startIncidentInChannel(updatesFile, { severity: 'P2' }));
  });
  afterEach(() => stopIncidentBot(t));

  const command = (text: string, userId = 'U0ALICE') => incidentCommand(t, text, userId, channelId);
  const reminders = () =>
    t.slack.messages(channelId).filter((message) => message.text.startsWith('Time for a stakeholder update'));
  const updates = (channel: string) =>
    t.slack.messages(channel).filter((message) => message.text.startsWith('Update on incident'));
  const tickAt = async (offsetMinutes: number) => {
    clock.set(new Date(new Date(START).getTime() + minutes(offsetMinutes)));
    await t.bot.poller.tick();
  };

  it('posts an update to the announcement channel and the timeline, escaped, and answers bad text with the usage', async () => {
    await command('update Error rate back to 0.1% <!channel> <https://evil.example|status>, watching for 30 min', 'U0BOB');
    const announcements = t.slack.channelByName('incidents')!.id;
    const [posted] = updates(announcements);
    const text = JSON.stringify(posted!.blocks);
    expect(text).toContain(`Update on incident #${incidentId} (P2): Audit API returns 500s`);
    expect(text).toContain('Error rate back to 0.1% &lt;!channel&gt; &lt;https://evil.example|status&gt;, watching for 30 min');
    expect(text).toContain(`Posted by <@U0BOB>`);
    expect(text).toContain(`<#${channelId}>`);
    expect(updates(channelId)).toHaveLength(1);
    const events = (await listEvents(t.bot.store, incidentId)).filter((event) => event.kind === 'status_update');
    expect(events.map((event) => [event.actor, event.text])).toEqual([
      ['U0BOB', 'Error rate back to 0.1% <!channel> <https://evil.example|status>, watching for 30 min'],
    ]);

    expect((await command('update')).text).toContain('Add the update text: `/incident update <text>`');
    expect((await command(`update ${'x'.repeat(2001)}`)).text).toBe('Keep the update under 2000 characters.');
    expect(updates(announcements)).toHaveLength(1);
  });

  it("reminds the commander on the severity's cadence, counts from the last update, snoozes, and stops at resolve", async () => {
    await command('ack', 'U0BOB');
    await tickAt(19);
    expect(reminders()).toHaveLength(0);
    await tickAt(20);
    expect(reminders()).toHaveLength(1);
    const first = JSON.stringify(reminders()[0]!.blocks);
    expect(first).toContain('<@U0BOB> no stakeholder update was posted in the 20m since it was declared (P2)');
    expect(first).toContain('"action_id":"incident:update-post"');
    expect(first).toContain('Snooze 10m');

    // An update at +25m: the next reminder is due at +45m, not at +40m.
    await tickAt(25);
    await command('update mitigated, monitoring');
    await tickAt(44);
    expect(reminders()).toHaveLength(1);
    await tickAt(45);
    expect(reminders()).toHaveLength(2);
    expect(JSON.stringify(reminders()[1]!.blocks)).toContain('the last stakeholder update was 20m ago');

    // Snoozed at +50m: the reminder due at +65m comes at +60m instead.
    await tickAt(50);
    const responseUrl = t.slack.newResponseUrl();
    await sendBlockAction(t.baseUrl, t.secret, {
      actionId: 'incident:update-snooze',
      value: String(incidentId),
      channelId,
      userId: 'U0BOB',
      responseUrl,
    });
    await t.bot.idle();
    expect(String(t.slack.responses(responseUrl)[0]!.body.text)).toContain('Snoozed: the next update reminder comes at');
    await tickAt(59);
    expect(reminders()).toHaveLength(2);
    await tickAt(60);
    expect(reminders()).toHaveLength(3);

    await command('resolve');
    await tickAt(600);
    await t.bot.poller.tick();
    expect(reminders()).toHaveLength(3);
    const kinds = (await listEvents(t.bot.store, incidentId)).map((event) => event.kind);
    expect(kinds.filter((kind) => kind === 'update_reminder')).toHaveLength(3);
    expect(kinds).toContain('update_snoozed');
  });

  it('sends a reminder that fell due while the bot was down once, marked late', async () => {
    await tickAt(180);
    await Promise.all([t.bot.poller.tick(), t.bot.poller.tick(), t.bot.poller.tick()]);
    expect(reminders().map((message) => message.text)).toEqual([
      `Time for a stakeholder update on incident #${incidentId} (late)`,
    ]);
    expect(JSON.stringify(reminders()[0]!.blocks)).toContain('*Late*: due');
    // The next one counts from the late reminder.
    await tickAt(199);
    expect(reminders()).toHaveLength(1);
    await tickAt(200);
    expect(reminders()).toHaveLength(2);
  });

  it('follows a new severity: off for P3, overdue under a faster cadence means now', async () => {
    await command('severity P3');
    await tickAt(300);
    expect(reminders()).toHaveLength(0);
    await command('severity P2');
    await t.bot.poller.tick();
    expect(reminders()).toHaveLength(1);
  });

  it('posts the update written in the form behind the Post update button', async () => {
    await tickAt(20);
    await sendBlockAction(t.baseUrl, t.secret, {
      actionId: 'incident:update-post',
      value: String(incidentId),
      channelId,
      responseUrl: t.slack.newResponseUrl(),
    });
    const open = await t.slack.waitFor('views.open');
    const view = open.args.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe('incident:update');
    const empty = await sendViewSubmission(t.baseUrl, t.secret, {
      callbackId: 'incident:update',
      values: { text: { value: '  ' } },
      privateMetadata: view.private_metadata,
    });
    expect(empty.body).toMatchObject({ response_action: 'errors' });
    await sendViewSubmission(t.baseUrl, t.secret, {
      callbackId: 'incident:update',
      values: { text: { value: 'Root cause found: a bad config push' } },
      privateMetadata: view.private_metadata,
    });
    await t.bot.idle();
    expect(JSON.stringify(updates(t.slack.channelByName('incidents')!.id)[0]!.blocks)).toContain(
      'Root cause found: a bad config push',
    );
    expect((await getIncidentByChannel(t.bot.store, channelId))!.id).toBe(incidentId);
  });
});
