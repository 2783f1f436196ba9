import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getIncidentByChannel, listEvents } from '../src/store/incidents.ts';
import type { TestBot } from './support/bot.ts';
import { minutes, type ManualClock } from './support/clock.ts';
import { incidentCommand, incidentFile, startIncidentInChannel, stopIncidentBot } from './support/incident-fixture.ts';

const HOUR = minutes(60);

describe('reopening and archiving incident channels', () => {
  let t: TestBot;
  let clock: ManualClock;
  let channelId: string;
  let incidentId: number;
  let resolvedAt: number;

  beforeEach(async () => {
    const file = { ...incidentFile, incidents: { ...incidentFile.incidents, reopenWithin: '2h', archiveAfter: '3d' } };
    ({ t, clock, channelId, incidentId } = await startIncidentInChannel(file, { severity: 'P2' }));
    await command('ack');
    clock.advance(minutes(10));
    await command('resolve config reverted');
    resolvedAt = clock.now().getTime();
  });
  afterEach(() => stopIncidentBot(t));

  const command = (text: string, userId = 'U0ALICE') => incidentCommand(t, text, userId, channelId);
  const tickAt = async (hoursAfterResolve: number) => {
    clock.set(new Date(resolvedAt + hoursAfterResolve * HOUR));
    await t.bot.poller.tick();
    await t.bot.poller.tick();
  };
  const notices = () => t.slack.messages(channelId).filter((message) => message.text.startsWith(':file_cabinet:'));
  const archived = () => t.slack.channel(channelId)!.isArchived;

  it('reopens within incidents.reopenWithin, and not later, for the resolve group only', async () => {
    clock.advance(HOUR);
    expect((await command('reopen', 'U0MALLORY')).text).toContain('You are not allowed to resolve incidents');
    await command('reopen');
    const reopened = (await getIncidentByChannel(t.bot.store, channelId))!;
    expect(reopened).toMatchObject({ status: 'acknowledged', resolved_at: null, resolution: null });
    expect(t.slack.channel(channelId)!.topic).toContain('| Acknowledged |');
    expect(t.slack.messages(channelId).at(-1)!.text).toBe(':leftwards_arrow_with_hook: <@U0ALICE> reopened the incident.');
    expect((await command('reopen')).text).toBe('This incident is not resolved; there is nothing to reopen.');

    await command('resolve again');
    clock.advance(2 * HOUR + 1_000);
    expect((await command('reopen')).text).toContain('longer than the 2h it can be reopened within');
    const kinds = (await listEvents(t.bot.store, incidentId)).map((event) => event.kind);
    expect(kinds.filter((kind) => kind === 'reopened')).toHaveLength(1);
  });

  it('announces the archive a day ahead and archives the channel when nobody posted since', async () => {
    await tickAt(47);
    expect(notices()).toHaveLength(0);
    await tickAt(48);
    expect(notices()).toHaveLength(1);
    expect(notices()[0]!.text).toContain('This channel will be archived 25 Nov, 15:44 UTC');
    await tickAt(71.9);
    expect(archived()).toBe(false);
    await tickAt(72);
    expect(archived()).toBe(true);
    const kinds = (await listEvents(t.bot.store, incidentId)).map((event) => event.kind);
    expect(kinds).toEqual(expect.arrayContaining(['archive_announced', 'channel_archived']));
  });

  it('puts the archive off when someone posts in the channel after the notice, and announces it again', async () => {
    await tickAt(48);
    t.slack.seedMessage(channelId, { user: 'U0BOB', text: 'still checking the follow-up on alerts here' });
    await tickAt(72);
    expect(archived()).toBe(false);
    const postponed = (await listEvents(t.bot.store, incidentId)).filter((event) => event.kind === 'archive_postponed');
    expect(postponed).toHaveLength(1);
    await tickAt(119);
    expect(notices()).toHaveLength(1);
    await tickAt(120);
    expect(notices()).toHaveLength(2);
    await tickAt(144);
    expect(archived()).toBe(true);
  });

  it('does not archive a reopened incident', async () => {
    clock.advance(HOUR);
    await command('reopen');
    await tickAt(200);
    expect(notices()).toHaveLength(0);
    expect(archived()).toBe(false);
  });
});
