// An incident workspace for tests: the people and groups, declaring through the modal, waiting for the channel,
// and sending /incident in it the way Slack does.
import { getIncidentByChannel } from '../../src/store/incidents.ts';
import { startFakeSlack, type FakeSlack } from '../fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './bot.ts';
import { ManualClock } from './clock.ts';
import { commandAnswer, sendSlashCommand, sendViewSubmission } from './slack-requests.ts';

export const START = '2026-11-22T15:34:20Z';

export const incidentFile = {
  channels: { announcements: '#incidents', summaries: '#ops' },
  incidents: { responders: ['S0ONCALL'] },
  escalation: {
    default: [
      { after: '15m', label: 'Engineering lead', notify: ['S0LEADS'] },
      { after: '30m', label: 'Incident commander', notify: ['U0IC'] },
      { after: '1h', label: 'Executive team', notify: ['U0EXEC'] },
    ],
  },
  permissions: { resolve: ['S0ONCALL'] },
  services: { 'rlhf-audit-trail': {} },
};

export function seedWorkspace(slack: FakeSlack) {
  for (const id of ['U0ALICE', 'U0BOB', 'U0CAROL', 'U0IC', 'U0EXEC', 'U0MALLORY']) slack.addUser({ id });
  slack.addUsergroup({ id: 'S0ONCALL', users: ['U0ALICE', 'U0BOB'] });
  slack.addUsergroup({ id: 'S0LEADS', users: ['U0CAROL'] });
  slack.addChannel({ name: 'incidents' });
}

export async function declareByModal(
  t: TestBot,
  options: { viewId?: string; title?: string; severity?: string; service?: string; retryNum?: number } = {},
) {
  return sendViewSubmission(
    t.baseUrl,
    t.secret,
    {
      callbackId: 'incident:declare',
      viewId: options.viewId ?? `V${Math.random().toString(36).slice(2, 10).toUpperCase()}`,
      values: {
        title: { value: options.title ?? 'Audit API returns 500s' },
        severity: { value: { selected: options.severity ?? 'P1' } },
        service: { value: options.service ? { selected: options.service } : { selected: null } },
        summary: { value: 'Writes to /api/v1/audit fail since 15:30' },
      },
      privateMetadata: JSON.stringify({ channel: 'C0GENERAL' }),
    },
    options.retryNum === undefined ? {} : { retryNum: options.retryNum },
  );
}

/** Waits until the named channel exists and its incident's setup is finished. */
export async function untilSetUp(t: TestBot, name: string) {
  for (let i = 0; i < 250; i += 1) {
    await t.bot.idle();
    const channel = t.slack.channelByName(name);
    const incident = channel ? await getIncidentByChannel(t.bot.store, channel.id) : undefined;
    if (channel && incident?.setup_done) return { channel, incident };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`incident channel ${name} was not set up`);
}

/** Sends /incident, waits for the work it starts after its ack, and returns what it answered (ack or message). */
export async function incidentCommand(t: TestBot, text: string, userId: string, channelId: string) {
  const responseUrl = t.slack.newResponseUrl();
  const response = await sendSlashCommand(t.baseUrl, t.secret, { command: '/incident', text, channelId, userId, responseUrl });
  await t.bot.idle();
  // In-channel subcommands ack at once and answer through the response URL: the ack is empty then.
  const messages = t.slack.responses(responseUrl).map((r) => r.body as { text: string });
  const acked = response.body as { text?: string } | string;
  const answer = typeof acked === 'object' && acked?.text ? commandAnswer(acked, messages).answer : messages[0];
  return { status: response.status, text: String(answer?.text ?? '') };
}

export interface IncidentInChannel {
  t: TestBot;
  clock: ManualClock;
  channelId: string;
  incidentId: number;
}

/** A bot on a manual clock at START (polling left to the test) with one incident declared and its channel set up. */
export async function startIncidentInChannel(
  file: Record<string, unknown>,
  declaration: { severity?: string; service?: string } = {},
): Promise<IncidentInChannel> {
  const clock = new ManualClock(START);
  const slack = await startFakeSlack();
  seedWorkspace(slack);
  const t = await startTestBot({ file, clock, slack, extra: { escalation: { autoStart: false } } });
  await declareByModal(t, declaration);
  const { channel, incident } = await untilSetUp(t, 'incident-2026-11-22-1534');
  return { t, clock, channelId: channel.id, incidentId: incident.id };
}

/** Stops a bot started by startIncidentInChannel, and its fake Slack. */
export async function stopIncidentBot(t: TestBot): Promise<void> {
  await t.stop();
  await t.slack.close();
}
