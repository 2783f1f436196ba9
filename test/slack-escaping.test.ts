// Text people type and alerts or services send reaches Slack as text: no mention or link in it is live in any payload.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getIncidentByChannel } from '../src/store/incidents.ts';
import { startFakeService, type FakeService } from './fakes/fake-services.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { sendSlashCommand, sendViewSubmission } from './support/slack-requests.ts';

/** Every kind of mention and link Slack would make live, plus a raw @channel (harmless text without link_names). */
const HOSTILE = '<!channel> <!here> <!everyone> <@U0CEO> <!subteam^S0EXEC> <http://evil.example/login|Join the bridge> @channel';
const LIVE = /<!channel>|<!here>|<!everyone>|<@U0CEO[>|]|<!subteam\^S0EXEC|<https?:\/\/evil\.example|<mailto:/;
const TOKEN = 'alertmanager-token-0123456789';

/** Every call the bot made to Slack (Web API, response URLs) and every HTTP answer it gave Slack, as one text each. */
function payloads(slack: FakeSlack, answers: unknown[]): string[] {
  return [
    ...slack.calls().map((call) => `${call.method} ${JSON.stringify(call.args)}`),
    ...answers.map((a) => JSON.stringify(a)),
  ];
}

function expectNoLiveMention(slack: FakeSlack, answers: unknown[]) {
  const all = payloads(slack, answers);
  const live = all.filter((text) => LIVE.test(text));
  expect(live, 'payloads carrying a live mention or link').toEqual([]);
  // Nothing asks Slack to turn raw @channel into a mention.
  expect(slack.calls().filter((call) => call.args.link_names === true || call.args.link_names === 'true')).toEqual([]);
  return all;
}

describe('untrusted text in Slack', () => {
  let slack: FakeSlack;
  let t: TestBot;
  let service: FakeService;
  const answers: unknown[] = [];

  beforeEach(async () => {
    answers.length = 0;
    // A service whose answer quotes the hostile text (a health check that asserts on JSON quotes a non-JSON body).
    service = await startFakeService({
      '/health': { status: 200, body: '<!channel> <http://evil.example/x|x>' },
      '/broken': { status: 503, body: '<!here>' },
    });
    slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0CEO']) slack.addUser({ id });
    slack.addUsergroup({ id: 'S0EXEC', users: ['U0CEO'] });
    slack.addChannel({ name: 'incidents' });
    slack.addChannel({ name: 'ops' });
    t = await startTestBot({
      slack,
      env: { ALERTMANAGER_TOKEN: TOKEN },
      extra: { escalation: { autoStart: false } },
      file: {
        channels: { announcements: '#incidents', summaries: '#ops' },
        services: {
          api: {
            health: { timeout: '2s', http: [{ name: 'status', url: `${service.url}/health`, assert: ['ok == true'] }] },
          },
        },
        alertmanager: { severityMap: { critical: 'P1' }, openAt: 'P2' },
      },
    });
  });
  afterEach(async () => {
    await t.stop();
    await slack.close();
    await service.close();
  });

  const command = async (name: string, text: string, channelId = 'C0GENERAL') => {
    const responseUrl = slack.newResponseUrl();
    const response = await sendSlashCommand(t.baseUrl, t.secret, {
      command: name,
      text,
      channelId,
      userId: 'U0ALICE',
      responseUrl,
    });
    answers.push(response.body);
    await t.bot.idle();
    return response;
  };

  async function incidentChannel(): Promise<string> {
    for (let i = 0; i < 250; i += 1) {
      await t.bot.idle();
      for (const channel of slack.channels().filter((c) => c.name.startsWith('incident-'))) {
        const incident = await getIncidentByChannel(t.bot.store, channel.id);
        if (incident?.setup_done) return channel.id;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('no incident channel was set up');
  }

  it('shows mentions and links typed into commands, notes, the topic and the resolution as text', async () => {
    await command('/incident', `declare P3 ${HOSTILE} db down`);
    const channel = await incidentChannel();
    await command('/incident', `note ${HOSTILE}`, channel);
    await command('/incident', 'status', channel);
    await command('/incident', 'role <@U0ALICE> <!channel>', channel);
    await command('/incident', `update ${HOSTILE}`, channel);
    await command('/incident', 'list');
    await command('/incident', `${HOSTILE}`);
    await command('/health', HOSTILE.split(' ')[0]!);
    await command('/incident', `resolve ${HOSTILE}`, channel);
    await t.bot.idle();

    const all = expectNoLiveMention(slack, answers);
    // The text is there, escaped: in the announcement, the topic, the card, the note and the resolution.
    const announcement = slack.messages().find((m) => m.text.includes('incident declared'));
    expect(announcement?.text).toContain('&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U0CEO&gt;');
    expect(announcement?.text).toContain('&lt;http://evil.example/login|Join the bridge&gt; @channel');
    expect(slack.channel(channel)!.topic).toContain('&lt;!channel&gt;');
    expect(slack.calls('conversations.setTopic').length).toBeGreaterThan(0);
    expect(slack.messages(channel).some((m) => m.text.startsWith(':memo: Note from <@U0ALICE>: &lt;!channel&gt;'))).toBe(true);
    expect(all.some((text) => text.includes('Resolved: &lt;!channel&gt;'))).toBe(true);
    // The bot's own mentions and channel links stay live.
    expect(announcement?.text).toContain(`Join <#${channel}>`);
    // Stored as typed: escaping happens where the text is placed, once.
    const incident = await getIncidentByChannel(t.bot.store, channel);
    expect(incident!.title).toBe(`${HOSTILE} db down`);
  });

  it('shows mentions and links in the declare form, alerts and health answers as text', async () => {
    const submission = await sendViewSubmission(t.baseUrl, t.secret, {
      callbackId: 'incident:declare',
      viewId: 'VHOSTILE1',
      userId: 'U0ALICE',
      values: {
        title: { value: `Modal ${HOSTILE}`.slice(0, 150) },
        severity: { value: { selected: 'P2' } },
        service: { value: { selected: 'api' } },
        summary: { value: `Summary ${HOSTILE}` },
      },
      privateMetadata: JSON.stringify({ channel: 'C0GENERAL' }),
    });
    answers.push(submission.body);
    const channel = await incidentChannel();
    // The card's health button runs the service's check, whose answer quotes the hostile text.
    await command('/incident', 'status', channel);

    const alert = {
      version: '4',
      groupKey: '{}:{alertname="Hostile"}',
      status: 'firing',
      receiver: 'runbook-bot',
      groupLabels: { alertname: 'Hostile' },
      commonLabels: { alertname: 'Hostile', severity: 'critical', team: HOSTILE },
      commonAnnotations: { summary: `Summary ${HOSTILE}`, description: `Description ${HOSTILE}` },
      externalURL: 'http://alertmanager:9093',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'Hostile', severity: 'critical', instance: HOSTILE },
          annotations: { summary: HOSTILE },
          startsAt: '2026-11-22T15:20:03.112Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
        },
        {
          status: 'firing',
          labels: { alertname: 'Hostile', severity: 'critical', instance: 'b' },
          annotations: { summary: 'b' },
          startsAt: '2026-11-22T15:20:03.112Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://evil.example/|<!channel>',
        },
      ],
    };
    const delivered = await fetch(`${t.baseUrl}/webhooks/alertmanager`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(alert),
    });
    expect(delivered.status).toBe(200);
    await command('/health', 'api');
    for (let i = 0; i < 100 && !slack.messages().some((m) => m.text.includes('FIRING')); i += 1) {
      await t.bot.idle();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const all = expectNoLiveMention(slack, answers);
    const alertPost = slack.messages().find((m) => m.text.includes('FIRING'));
    expect(alertPost?.text).toContain('Hostile: Summary &lt;!channel&gt;');
    // Alertmanager's generatorURL stays a link the bot labels; one that is not a plain URL is not a link at all.
    expect(alertPost?.text).toContain('<http://prometheus:9090/graph?g0.expr=up|source>');
    expect(all.some((text) => text.includes('Modal &lt;!channel&gt;'))).toBe(true);
    // The health check's reason quotes the service's answer, escaped (in /health and in the incident channel).
    expect(all.filter((text) => text.includes('&lt;!channel&gt; &lt;http://evil.example/x|x&gt;')).length).toBeGreaterThan(1);
  });
});
