// One way through every request: commands, buttons, forms and shortcuts each get a child logger, an outcome metric,
// a safe error reply with a reference id, and one audit row, written the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeService, type FakeService } from './fakes/fake-services.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock } from './support/clock.ts';
import { waitUntil } from './support/ports.ts';
import { CHECKING_ACK, sendBlockAction, sendShortcut, sendSlashCommand, sendViewSubmission } from './support/slack-requests.ts';

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

describe('nothing waits before the ack', () => {
  let slack: FakeSlack;
  let service: FakeService;
  let t: TestBot;

  beforeAll(async () => {
    slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0MALLORY']) slack.addUser({ id });
    slack.addUsergroup({ id: 'S0ONCALL', users: ['U0ALICE'] });
    slack.addChannel({ name: 'incidents' });
    service = await startFakeService({ '/health': { body: { status: 'ok' }, delayMs: 700 } });
    t = await startTestBot({
      slack,
      file: {
        permissions: { incident: ['S0ONCALL'] },
        queue: { concurrency: 1, waiting: 1, kinds: { incident: 4, confirmation: 1 } },
        reads: { freshFor: '0s' },
        services: Object.fromEntries(
          ['svc', 'svc2', 'svc3'].map((name) => [
            name,
            { health: { http: [{ name: 'api', url: `${service.url}/health`, latencyWarn: '30s' }] } },
          ]),
        ),
      },
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    });
  });
  afterAll(async () => {
    await t.stop();
    await slack.close();
    await service.close();
  });

  it('a user group to look up: Slack gets "Checking…" first, then the answer replaces it', async () => {
    slack.delay('usergroups.users.list', 1_500);
    try {
      const allowedAt = slack.newResponseUrl();
      const deniedAt = slack.newResponseUrl();
      const started = performance.now();
      const [allowed, denied] = await Promise.all([
        sendSlashCommand(t.baseUrl, t.secret, {
          command: '/incident',
          text: 'declare P3 Disk filling up',
          responseUrl: allowedAt,
        }),
        sendSlashCommand(t.baseUrl, t.secret, {
          command: '/incident',
          text: 'declare P3 Not mine to declare',
          userId: 'U0MALLORY',
          responseUrl: deniedAt,
        }),
      ]);
      // Both acks came before the group lookup could have answered.
      expect(performance.now() - started).toBeLessThan(1_500);
      expect([allowed.body, denied.body]).toEqual([
        { response_type: 'ephemeral', text: CHECKING_ACK },
        { response_type: 'ephemeral', text: CHECKING_ACK },
      ]);
      await t.bot.idle();
      const [declaring] = slack.responses(allowedAt).map((r) => r.body);
      expect(declaring).toMatchObject({ replace_original: true, text: 'Declaring P3 incident "Disk filling up"…' });
      const [refusal] = slack.responses(deniedAt).map((r) => String(r.body.text));
      expect(refusal).toContain('You are not allowed to declare incidents');
      const { rows } = await t.bot.store.query<{ title: string }>('SELECT title FROM incidents');
      expect(rows).toEqual([{ title: 'Disk filling up' }]);
    } finally {
      slack.delay('usergroups.users.list', 0);
    }
  });

  it('work past the kind’s concurrency waits in line, and says where; one more than the line holds is refused', async () => {
    const urls = [slack.newResponseUrl(), slack.newResponseUrl(), slack.newResponseUrl()];
    const acks: string[] = [];
    // One after the other: each ack is back long before the first check (700 ms) is done. Three services, so that
    // none can join another's run.
    for (const [i, responseUrl] of urls.entries()) {
      const text = ['svc', 'svc2', 'svc3'][i]!;
      const ack = await sendSlashCommand(t.baseUrl, t.secret, { command: '/health', text, responseUrl });
      acks.push(String((ack.body as { text: string }).text));
    }
    expect(acks[0]).toBe(':hourglass_flowing_sand: Checking `svc`…');
    expect(acks[1]).toBe(
      ':hourglass: Queued: position 1 in line for `health` work, so it starts as soon as one ahead of it finishes.\n:hourglass_flowing_sand: Checking `svc2`…',
    );
    expect(acks[2]).toContain(
      'The bot already has 1 `health` requests waiting, so it did not take this one. Try again in a minute.',
    );
    // The depth while the first check runs, as /metrics reads it at the scrape.
    const during = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(during).toContain('runbook_bot_queue_jobs{kind="health",state="running"} 1');
    expect(during).toContain('runbook_bot_queue_jobs{kind="health",state="waiting"} 1');
    await t.bot.idle();
    expect(urls.map((url) => slack.responses(url).length)).toEqual([1, 1, 0]);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toContain('runbook_bot_queue_refused_total{kind="health"} 1');
    expect(metrics).toContain('runbook_bot_queue_jobs{kind="health",state="waiting"} 0');
    expect(metrics).toMatch(/runbook_bot_nodejs_eventloop_lag_p99_seconds \d/);
  });

  it('a click waits its turn quietly, and is told where it stands only when the wait lasts past a second', async () => {
    const gone = 'This confirmation no longer exists. Run the command again.';
    const click = (responseUrl: string) =>
      sendBlockAction(t.baseUrl, t.secret, { actionId: 'confirmation:cancel', value: 'gone', responseUrl });
    // A short wait behind one another (one at a time): one answer each, no note.
    const quick = [slack.newResponseUrl(), slack.newResponseUrl()];
    await Promise.all(quick.map(click));
    await t.bot.idle();
    expect(quick.map((url) => slack.responses(url).map((r) => r.body.text))).toEqual([[gone], [gone]]);
    // The first answer takes 1.2 s to reach Slack: the second click is told it is in line, before its answer.
    slack.delay('response_url', 1_200);
    try {
      const slow = [slack.newResponseUrl(), slack.newResponseUrl()];
      await Promise.all(slow.map(click));
      await t.bot.idle();
      expect(slow.map((url) => slack.responses(url).map((r) => r.body.text))).toEqual([
        [gone],
        [
          ':hourglass: Queued: position 1 in line for `confirmation` work, so it starts as soon as one ahead of it finishes.',
          gone,
        ],
      ]);
    } finally {
      slack.delay('response_url', 0);
    }
  });

  it('a request that only joins checks already running takes no place in line: a crowd asking the same is never refused', async () => {
    const first = slack.newResponseUrl();
    const hitsBefore = service.requests.length;
    await sendSlashCommand(t.baseUrl, t.secret, { command: '/health', text: 'svc', responseUrl: first });
    await waitUntil(() => service.requests.length > hitsBefore, 5_000, 10);
    // The line holds one; five more ask while the check runs.
    const crowd = Array.from({ length: 5 }, () => slack.newResponseUrl());
    const acks = await Promise.all(
      crowd.map((responseUrl) => sendSlashCommand(t.baseUrl, t.secret, { command: '/health', text: 'svc', responseUrl })),
    );
    expect(acks.map((ack) => (ack.body as { text: string }).text)).toEqual(
      crowd.map(() => ':hourglass_flowing_sand: Checking `svc`…'),
    );
    await t.bot.idle();
    for (const responseUrl of [first, ...crowd])
      expect(slack.responses(responseUrl).map((r) => String(r.body.text))).toEqual([
        ':large_green_circle: Health of svc: ok, 1 ok',
      ]);
    // One check answered all six.
    expect(service.requests.length - hitsBefore).toBe(1);
  });
});
