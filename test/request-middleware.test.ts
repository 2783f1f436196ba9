// One way through every request: commands, buttons, forms and shortcuts each get a child logger, an outcome metric,
// a safe error reply with a reference id, and one audit row, written the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock } from './support/clock.ts';
import { sendBlockAction, sendShortcut, sendSlashCommand, sendViewSubmission } from './support/slack-requests.ts';

describe('the request middleware', () => {
  let slack: FakeSlack;
  let t: TestBot;

  beforeAll(async () => {
    slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0BOB']) slack.addUser({ id });
    slack.addChannel({ name: 'incidents' });
    t = await startTestBot({
      slack,
      clock: new ManualClock('2026-11-22T15:34:00Z'),
      file: { services: { 'rlhf-audit-trail': {} } },
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
  });
  afterAll(async () => {
    await t.stop();
    await slack.close();
  });

  /** The rows the middleware writes, one per request, in order. */
  async function requestRows() {
    const { rows } = await t.bot.store.query<{ actor: string; action: string; target: string; result: string }>(
      "SELECT actor, action, target, result FROM audit_log WHERE action IN ('command', 'button', 'form', 'shortcut') ORDER BY seq",
    );
    return rows;
  }

  async function metric(name: string, outcome: string): Promise<number> {
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`runbook_bot_commands_total{command="${name}",outcome="${outcome}"}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  it('audits and counts a command, a shortcut, a form and a button alike, each with its own logger', async () => {
    await sendSlashCommand(t.baseUrl, t.secret, { command: '/incident', text: 'list', responseUrl: slack.newResponseUrl() });
    await t.bot.idle();
    await sendShortcut(t.baseUrl, t.secret, {
      callbackId: 'declare_incident_from_message',
      messageText: 'Audit API returns 500s',
      responseUrl: slack.newResponseUrl(),
    });
    await t.bot.idle();
    await sendViewSubmission(t.baseUrl, t.secret, {
      callbackId: 'incident:declare',
      viewId: 'VMIDDLEWARE1',
      values: {
        title: { value: 'Audit API returns 500s' },
        severity: { value: { selected: 'P2' } },
        service: { value: { selected: null } },
        summary: { value: '' },
      },
      privateMetadata: JSON.stringify({ channel: 'C0GENERAL' }),
    });
    await t.bot.idle();
    const { rows } = await t.bot.store.query<{ id: number }>('SELECT id FROM incidents');
    await sendBlockAction(t.baseUrl, t.secret, {
      actionId: 'incident:ack',
      value: String(rows[0]!.id),
      userId: 'U0BOB',
      responseUrl: slack.newResponseUrl(),
    });
    await t.bot.idle();

    expect(await requestRows()).toEqual([
      { actor: 'U0ALICE', action: 'command', target: '/incident', result: 'ok' },
      { actor: 'U0ALICE', action: 'shortcut', target: 'declare_incident_from_message', result: 'ok' },
      { actor: 'U0ALICE', action: 'form', target: 'incident:declare', result: 'ok' },
      { actor: 'U0BOB', action: 'button', target: 'incident:ack', result: 'ok' },
    ]);
    expect(await metric('incident:ack', 'ok')).toBe(1);
    expect(await metric('declare_incident_from_message', 'ok')).toBe(1);
    const received = t
      .logs()
      .split('\n')
      .filter((line) => line.includes('"request.received"'))
      .map((line) => JSON.parse(line) as { reqId: string; command: string; user: string });
    expect(received.map((entry) => entry.command)).toEqual([
      'incident',
      'declare_incident_from_message',
      'incident:declare',
      'incident:ack',
    ]);
    expect(new Set(received.map((entry) => entry.reqId)).size).toBe(4);
  });

  it('answers an unexpected failure with a reference id that is in the logs, and audits it as an error', async () => {
    slack.failNext('views.open', 'internal_error');
    const responseUrl = slack.newResponseUrl();
    await sendShortcut(t.baseUrl, t.secret, { callbackId: 'declare_incident_from_message', messageText: 'x', responseUrl });
    await t.bot.idle();
    const [answer] = slack.responses(responseUrl).map((response) => String(response.body.text));
    const ref = /reference `([A-Z0-9]+)`/.exec(answer ?? '')?.[1];
    expect(ref).toBeDefined();
    expect(t.logs()).toContain(`"ref":"${ref}"`);
    expect((await requestRows()).at(-1)).toMatchObject({ action: 'shortcut', result: 'error' });
    expect(await metric('declare_incident_from_message', 'error')).toBe(1);
  });

  it('answers a button about something gone with its reason, privately, and audits it as a user error', async () => {
    const responseUrl = slack.newResponseUrl();
    const response = await sendBlockAction(t.baseUrl, t.secret, { actionId: 'incident:resolve', value: '9999', responseUrl });
    expect(response.status).toBe(200);
    await t.bot.idle();
    expect(slack.responses(responseUrl).map((r) => r.body)).toEqual([
      { response_type: 'ephemeral', replace_original: false, text: 'This incident no longer exists.' },
    ]);
    expect((await requestRows()).at(-1)).toMatchObject({ action: 'button', target: 'incident:resolve', result: 'user_error' });
  });
});
