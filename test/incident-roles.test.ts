import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { getIncidentByChannel, listEvents } from '../src/store/incidents.ts';
import type { TestBot } from './support/bot.ts';
import { incidentCommand, incidentFile, startIncidentInChannel, stopIncidentBot } from './support/incident-fixture.ts';
import { sendBlockAction } from './support/slack-requests.ts';

describe('incident roles', () => {
  let t: TestBot;
  let channelId: string;
  let incidentId: number;

  beforeEach(async () => {
    ({ t, channelId, incidentId } = await startIncidentInChannel(incidentFile, { severity: 'P2' }));
  });
  afterEach(() => stopIncidentBot(t));

  const command = (text: string, userId = 'U0ALICE') => incidentCommand(t, text, userId, channelId);
  const card = async () => {
    const incident = (await getIncidentByChannel(t.bot.store, channelId))!;
    return JSON.stringify(t.slack.messages(channelId).find((message) => message.ts === incident.card_ts)!.blocks);
  };
  const posts = () => t.slack.messages(channelId).map((message) => message.text);

  it('gives a role by command, shows it on the card and topic, and hands it over with a post naming both', async () => {
    await command('role <@U0BOB|bob> comms');
    expect(posts().at(-1)).toBe(':busts_in_silhouette: <@U0BOB> is now the Communications lead (set by <@U0ALICE>).');
    expect(t.slack.channel(channelId)!.topic).toContain('| Communications lead: <@U0BOB>');
    expect(await card()).toContain('Communications lead: <@U0BOB>');
    expect(await card()).toContain('"action_id":"incident:role:comms"');
    expect(await card()).toContain('"initial_user":"U0BOB"');

    await command('role comms <@U0CAROL>', 'U0BOB');
    const handOver = posts().at(-1)!;
    expect(handOver).toContain('*Hand-over*: <@U0CAROL> takes over as Communications lead from <@U0BOB>');
    expect(handOver).toContain('<@U0BOB>, please brief <@U0CAROL>');
    expect(t.slack.channel(channelId)!.topic).toContain('| Communications lead: <@U0CAROL>');
    expect(t.slack.channel(channelId)!.members).toContain('U0CAROL');

    const changes = (await listEvents(t.bot.store, incidentId)).filter((event) => event.kind === 'role_changed');
    expect(changes.map((event) => event.text)).toEqual([
      'Communications lead: <@U0BOB>',
      'Communications lead: <@U0CAROL> (was <@U0BOB>)',
    ]);

    const again = await command('role <@U0CAROL> comms');
    expect(again.text).toBe('<@U0CAROL> is already the Communications lead.');
    const status = await command('status');
    expect(status.text).toContain('Communications lead: <@U0CAROL> · Scribe: nobody yet');
  });

  it('hands over the commander role from the card picker', async () => {
    await command('ack', 'U0BOB');
    await sendBlockAction(t.baseUrl, t.secret, {
      actionId: 'incident:role:commander',
      blockId: `roles:${incidentId}`,
      channelId,
      userId: 'U0ALICE',
      responseUrl: t.slack.newResponseUrl(),
      action: { type: 'users_select', selected_user: 'U0CAROL' },
    });
    await t.bot.idle();
    expect((await getIncidentByChannel(t.bot.store, channelId))!.commander).toBe('U0CAROL');
    expect(posts().at(-1)).toContain('*Hand-over*: <@U0CAROL> takes over as Incident commander from <@U0BOB>');
    expect(t.slack.channel(channelId)!.topic).toContain('Commander: <@U0CAROL>');
    const kinds = (await listEvents(t.bot.store, incidentId)).map((event) => event.kind);
    expect(kinds).toContain('commander_changed');
  });

  it('answers malformed or unknown roles with the usage and the configured roles', async () => {
    for (const text of ['role', 'role <@U0BOB>', 'role <@U0BOB> chef', 'role bob comms', 'role <@U0BOB> comms extra']) {
      const answer = await command(text);
      expect(answer.text, text).toBe(
        'Give a person and a role: `/incident role @user <role>`, with a role among `commander`, `comms`, `scribe`.',
      );
    }
    expect((await listEvents(t.bot.store, incidentId)).some((event) => event.kind === 'role_changed')).toBe(false);
  });

  it('refuses a role list without the commander, or with a role twice', () => {
    const env = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
    expect(() => parseConfig(env, { incidents: { roles: [{ name: 'scribe', label: 'Scribe' }] } }, 'x.yml')).toThrow(
      /incidents\.roles.*must include the `commander` role/,
    );
    expect(() =>
      parseConfig(
        env,
        {
          incidents: {
            roles: [
              { name: 'commander', label: 'IC' },
              { name: 'scribe', label: 'Scribe' },
              { name: 'scribe', label: 'Notes' },
            ],
          },
        },
        'x.yml',
      ),
    ).toThrow(/role `scribe` is listed twice/);
  });
});
