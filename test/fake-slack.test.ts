// Proves the fake Slack answers like Slack where the bot depends on it, and that signed requests pass Bolt's own checks.
import { App, HTTPReceiver, LogLevel, verifySlackRequest } from '@slack/bolt';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { freePort } from './support/ports.ts';
import {
  sendBlockAction,
  sendShortcut,
  sendSlashCommand,
  sendViewSubmission,
  signSlackRequest,
} from './support/slack-requests.ts';

const users = [
  { id: 'U0ALICE', name: 'alice', realName: 'Alice Oncall' },
  { id: 'U0BOB', name: 'bob', realName: 'Bob Backup' },
  { id: 'U0CAROL', name: 'carol' },
];

let fake: FakeSlack;
beforeAll(async () => {
  fake = await startFakeSlack({
    users,
    channels: [
      { name: 'ops', id: 'C0OPS' },
      { name: 'inc-2026-01-01-db-down', isArchived: true },
    ],
    usergroups: [{ id: 'S0ONCALL', handle: 'oncall', users: ['U0ALICE', 'U0BOB'] }],
  });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

function client(options: WebClientOptions = {}): WebClient {
  return new WebClient('xoxb-test', { slackApiUrl: fake.url, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR, ...options });
}

/** The Slack error code a WebClient call failed with. */
async function slackError(call: Promise<unknown>): Promise<string> {
  const error: unknown = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  return String((error as { data?: { error?: string } } | undefined)?.data?.error ?? error);
}

describe('fake Slack: channels', () => {
  it('creates a channel, then answers name_taken for the same name and for an archived one', async () => {
    const slack = client();
    const created = await slack.conversations.create({ name: 'inc-2026-11-22-api-slow' });
    expect(created.channel).toMatchObject({ name: 'inc-2026-11-22-api-slow', is_archived: false, is_member: true });
    expect(created.channel!.id).toMatch(/^C/);
    expect(fake.channelByName('inc-2026-11-22-api-slow')).toMatchObject({ id: created.channel!.id, members: ['U0BOT'] });

    expect(await slackError(slack.conversations.create({ name: 'inc-2026-11-22-api-slow' }))).toBe('name_taken');
    expect(await slackError(slack.conversations.create({ name: 'inc-2026-01-01-db-down' }))).toBe('name_taken');
    await slack.conversations.archive({ channel: created.channel!.id! });
    expect(await slackError(slack.conversations.create({ name: 'inc-2026-11-22-api-slow' }))).toBe('name_taken');
  });

  it('applies Slack channel name rules', async () => {
    const slack = client();
    expect(await slackError(slack.conversations.create({ name: 'Inc-Upper' }))).toBe('invalid_name_specials');
    expect(await slackError(slack.conversations.create({ name: 'inc with space' }))).toBe('invalid_name_specials');
    expect(await slackError(slack.conversations.create({ name: 'x'.repeat(81) }))).toBe('invalid_name_maxlength');
    expect(await slackError(slack.conversations.create({ name: '' }))).toBe('invalid_name_required');
    expect(await slackError(slack.conversations.create({ name: '--' }))).toBe('invalid_name_punctuation');
    await slack.conversations.create({ name: 'x'.repeat(80) });
  });

  it('invites, with Slack errors for members, the bot itself and unknown users', async () => {
    const slack = client();
    const { channel } = await slack.conversations.create({ name: 'inc-invite' });
    const id = channel!.id!;
    await slack.conversations.invite({ channel: id, users: 'U0ALICE,U0BOB' });
    expect(await slackError(slack.conversations.invite({ channel: id, users: 'U0ALICE' }))).toBe('already_in_channel');
    expect(await slackError(slack.conversations.invite({ channel: id, users: 'U0BOT' }))).toBe('cant_invite_self');
    expect(await slackError(slack.conversations.invite({ channel: id, users: 'U0NOBODY' }))).toBe('user_not_found');
    // Without force one bad user fails all; with force the valid ones join.
    expect(await slackError(slack.conversations.invite({ channel: id, users: 'U0CAROL,U0NOBODY' }))).toBe('user_not_found');
    expect(fake.channel(id)!.members).not.toContain('U0CAROL');
    const forced = await slack.conversations.invite({ channel: id, users: 'U0CAROL,U0NOBODY', force: true });
    expect(forced.errors).toEqual([{ user: 'U0NOBODY', ok: false, error: 'user_not_found' }]);
    expect((await slack.conversations.members({ channel: id })).members).toEqual(['U0BOT', 'U0ALICE', 'U0BOB', 'U0CAROL']);
    expect(await slackError(slack.conversations.invite({ channel: 'C0MISSING', users: 'U0ALICE' }))).toBe('channel_not_found');
  });

  it('sets topic and purpose, lists and archives', async () => {
    const slack = client();
    const { channel } = await slack.conversations.create({ name: 'inc-topic' });
    await slack.conversations.setTopic({ channel: channel!.id!, topic: 'P1 · commander @alice' });
    await slack.conversations.setPurpose({ channel: channel!.id!, purpose: 'API latency' });
    const info = await slack.conversations.info({ channel: channel!.id! });
    expect(info.channel).toMatchObject({ topic: { value: 'P1 · commander @alice' }, purpose: { value: 'API latency' } });
    await slack.conversations.archive({ channel: channel!.id! });
    expect(await slackError(slack.conversations.setTopic({ channel: channel!.id!, topic: 'x' }))).toBe('is_archived');
    expect(await slackError(slack.conversations.archive({ channel: channel!.id! }))).toBe('already_archived');
    const open = await slack.conversations.list({ exclude_archived: true });
    expect(open.channels!.map((c) => c.name)).toEqual(['ops']);
  });
});

describe('fake Slack: messages', () => {
  it('posts by channel id or name, updates in place, and answers channel_not_found for unknown channels', async () => {
    const slack = client();
    const posted = await slack.chat.postMessage({
      channel: '#ops',
      text: 'Incident declared',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*P1* API slow' } }],
    });
    expect(posted.channel).toBe('C0OPS');
    expect(posted.ts).toMatch(/^\d{10}\.\d{6}$/);
    const second = await slack.chat.postMessage({ channel: 'ops', text: 'second' });
    expect(Number(second.ts)).toBeGreaterThan(Number(posted.ts));

    await slack.chat.update({ channel: 'C0OPS', ts: posted.ts!, text: 'Incident resolved' });
    const [first] = fake.messages('C0OPS');
    expect(first).toMatchObject({ ts: posted.ts, text: 'Incident resolved', user: 'U0BOT' });
    expect(first!.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: '*P1* API slow' } }]);
    expect(first!.editedTs).toBeDefined();
    expect(fake.calls('chat.postMessage')[0]!.args.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: '*P1* API slow' } },
    ]);

    expect(await slackError(slack.chat.postMessage({ channel: 'C0MISSING', text: 'x' }))).toBe('channel_not_found');
    expect(await slackError(slack.chat.postMessage({ channel: '#nope', text: 'x' }))).toBe('channel_not_found');
    expect(await slackError(slack.chat.update({ channel: 'C0OPS', ts: '1.000001', text: 'x' }))).toBe('message_not_found');
    expect(await slackError(slack.chat.postMessage({ channel: 'inc-2026-01-01-db-down', text: 'x' }))).toBe('is_archived');
    expect(
      await slackError(
        slack.chat.postMessage({
          channel: 'C0OPS',
          blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }],
        }),
      ),
    ).toBe('invalid_blocks');
  });

  it('pins, reacts, deletes, finds messages by metadata and posts ephemerals to members only', async () => {
    const slack = client();
    const { ts } = await slack.chat.postMessage({
      channel: 'C0OPS',
      text: 'escalating',
      metadata: { event_type: 'escalation', event_payload: { key: 'inc-1:step-2' } },
    });
    await slack.pins.add({ channel: 'C0OPS', timestamp: ts! });
    expect(await slackError(slack.pins.add({ channel: 'C0OPS', timestamp: ts! }))).toBe('already_pinned');
    await slack.reactions.add({ channel: 'C0OPS', timestamp: ts!, name: 'eyes' });
    expect(fake.messages('C0OPS')[0]).toMatchObject({ pinned: true, reactions: [{ name: 'eyes', users: ['U0BOT'] }] });

    const history = await slack.conversations.history({
      channel: 'C0OPS',
      include_all_metadata: true,
      oldest: String(Number(ts) - 5),
    });
    expect(history.messages![0]).toMatchObject({
      ts,
      metadata: { event_type: 'escalation', event_payload: { key: 'inc-1:step-2' } },
    });

    await slack.chat.postEphemeral({ channel: 'C0OPS', user: 'U0ALICE', text: 'only you' });
    expect(fake.ephemerals('C0OPS', 'U0ALICE')).toMatchObject([{ text: 'only you' }]);
    const { channel } = await slack.conversations.create({ name: 'inc-private-talk' });
    expect(await slackError(slack.chat.postEphemeral({ channel: channel!.id!, user: 'U0ALICE', text: 'x' }))).toBe(
      'user_not_in_channel',
    );

    await slack.chat.delete({ channel: 'C0OPS', ts: ts! });
    expect(fake.messages('C0OPS')).toEqual([]);
  });

  it('answers auth errors and unknown methods as Slack does', async () => {
    expect(
      await slackError(
        new WebClient(undefined, { slackApiUrl: fake.url, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR }).auth.test(),
      ),
    ).toBe('not_authed');
    expect(
      await slackError(
        new WebClient('not-a-token', {
          slackApiUrl: fake.url,
          retryConfig: { retries: 0 },
          logLevel: LogLevel.ERROR,
        }).auth.test(),
      ),
    ).toBe('invalid_auth');
    expect(await slackError(client().apiCall('chat.teleport', { channel: 'C0OPS' }))).toBe('unknown_method');
    expect(await client().auth.test()).toMatchObject({ ok: true, user_id: 'U0BOT', bot_id: 'B0BOT', team_id: 'T0TEST' });
  });
});

describe('fake Slack: faults', () => {
  it('answers an injected rate limit with HTTP 429 and Retry-After', async () => {
    fake.failNext('chat.postMessage', 'ratelimited', { retryAfterSeconds: 7 });
    const response = await fetch(`${fake.url}chat.postMessage`, {
      method: 'POST',
      headers: { Authorization: 'Bearer xoxb-test', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'channel=C0OPS&text=hi',
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(await response.json()).toEqual({ ok: false, error: 'ratelimited' });
    expect(fake.messages('C0OPS')).toEqual([]);
  });

  it('makes a retrying WebClient wait Retry-After seconds, then succeed', async () => {
    fake.failNext('chat.postMessage', 'ratelimited', { retryAfterSeconds: 1 });
    const slack = client({ retryConfig: { retries: 2, minTimeout: 10, maxTimeout: 10 } });
    const started = Date.now();
    const posted = await slack.chat.postMessage({ channel: 'C0OPS', text: 'after the limit' });
    expect(posted.ok).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    const [limited, retried] = fake.calls('chat.postMessage');
    expect(limited).toMatchObject({ status: 429, error: 'ratelimited' });
    expect(retried).toMatchObject({ status: 200 });
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(990);
    expect(fake.messages('C0OPS').map((m) => m.text)).toEqual(['after the limit']);
  });

  it('fails the next calls with an error, as many times as asked', async () => {
    fake.failNext('conversations.create', 'restricted_action', { times: 2 });
    const slack = client();
    expect(await slackError(slack.conversations.create({ name: 'inc-a' }))).toBe('restricted_action');
    expect(await slackError(slack.conversations.create({ name: 'inc-a' }))).toBe('restricted_action');
    await slack.conversations.create({ name: 'inc-a' });
  });

  it('delays a method, and waitFor resolves when a matching call arrives', async () => {
    fake.delay('chat.postMessage', 300);
    const slack = client();
    const waiting = fake.waitFor((call) => call.method === 'chat.postMessage' && call.args.text === 'slow', 2_000);
    const started = Date.now();
    void slack.chat.postMessage({ channel: 'C0OPS', text: 'slow' });
    const call = await waiting;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(call.args).toMatchObject({ channel: 'C0OPS', text: 'slow' });
    // The effect is visible once waitFor resolves.
    expect(fake.messages('C0OPS').map((m) => m.text)).toEqual(['slow']);
    await expect(fake.waitFor('chat.delete', 50)).rejects.toThrow(/no matching call within 50 ms/);
  });
});

describe('fake Slack: users, groups, views, files and response URLs', () => {
  it('expands user groups and knows users', async () => {
    const slack = client();
    expect((await slack.usergroups.users.list({ usergroup: 'S0ONCALL' })).users).toEqual(['U0ALICE', 'U0BOB']);
    expect(await slackError(slack.usergroups.users.list({ usergroup: 'S0NOPE' }))).toBe('no_such_subteam');
    expect((await slack.users.info({ user: 'U0ALICE' })).user).toMatchObject({
      id: 'U0ALICE',
      name: 'alice',
      real_name: 'Alice Oncall',
    });
    expect(await slackError(slack.users.info({ user: 'U0NOBODY' }))).toBe('user_not_found');
    const page1 = await slack.users.list({ limit: 2 });
    const page2 = await slack.users.list({ limit: 2, cursor: page1.response_metadata!.next_cursor! });
    expect([...page1.members!, ...page2.members!].map((u) => u.id)).toEqual(['U0BOT', 'U0ALICE', 'U0BOB', 'U0CAROL']);
    expect(page2.response_metadata!.next_cursor).toBe('');
  });

  it('opens views once per trigger id and requires one', async () => {
    const slack = client();
    const view = {
      type: 'modal' as const,
      callback_id: 'declare',
      title: { type: 'plain_text' as const, text: 'Declare incident' },
      blocks: [],
    };
    const opened = await slack.views.open({ trigger_id: '123.456.abc', view });
    expect(opened.view).toMatchObject({ callback_id: 'declare', id: expect.stringMatching(/^V/) });
    expect(await slackError(slack.views.open({ trigger_id: '123.456.abc', view }))).toBe('exchanged_trigger_id');
    expect(await slackError(slack.apiCall('views.open', { view }))).toBe('invalid_arguments');
    await slack.views.update({ view_id: opened.view!.id!, view: { ...view, title: { type: 'plain_text', text: 'Declared' } } });
    expect(fake.views()).toMatchObject([{ id: opened.view!.id, callbackId: 'declare', title: { text: 'Declared' } }]);
  });

  it('takes a file upload through getUploadURLExternal, the upload URL and completeUploadExternal', async () => {
    const slack = client();
    await slack.filesUploadV2({
      channel_id: 'C0OPS',
      filename: 'report.csv',
      content: 'week,incidents\n47,3\n',
      title: 'Weekly report',
      initial_comment: 'This week',
    });
    expect(fake.files()).toMatchObject([
      { filename: 'report.csv', title: 'Weekly report', completed: true, channels: ['C0OPS'] },
    ]);
    expect(fake.files()[0]!.bytes!.toString()).toBe('week,incidents\n47,3\n');
    expect(fake.messages('C0OPS')).toMatchObject([{ text: 'This week', files: [{ name: 'report.csv' }] }]);
  });

  it('records what is posted to response URLs', async () => {
    const url = fake.newResponseUrl();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text: 'Backup started' }),
    });
    expect(response.status).toBe(200);
    expect(fake.responses(url)).toMatchObject([
      { body: { response_type: 'ephemeral', replace_original: false, text: 'Backup started' } },
    ]);
    expect((await fetch(`${fake.url.replace('/api/', '')}/response/unknown`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});

describe('signed Slack requests', () => {
  const secret = 'test-signing-secret';

  it('pass the verification Bolt exports, and fail it with another secret or a changed body', () => {
    const body = 'token=x&command=%2Fhealth&text=all';
    const headers = signSlackRequest(secret, body);
    const asBoltReads = {
      'x-slack-signature': headers['X-Slack-Signature'],
      'x-slack-request-timestamp': Number(headers['X-Slack-Request-Timestamp']),
    };
    expect(() => verifySlackRequest({ signingSecret: secret, body, headers: asBoltReads })).not.toThrow();
    expect(() => verifySlackRequest({ signingSecret: 'another-secret', body, headers: asBoltReads })).toThrow(
      /signature mismatch/,
    );
    expect(() => verifySlackRequest({ signingSecret: secret, body: `${body}x`, headers: asBoltReads })).toThrow(
      /signature mismatch/,
    );
    const stale = signSlackRequest(secret, body, Math.floor(Date.now() / 1000) - 6 * 60);
    expect(() =>
      verifySlackRequest({
        signingSecret: secret,
        body,
        headers: {
          'x-slack-signature': stale['X-Slack-Signature'],
          'x-slack-request-timestamp': Number(stale['X-Slack-Request-Timestamp']),
        },
      }),
    ).toThrow(/stale/);
  });

  describe('against a real Bolt app with HTTPReceiver', () => {
    let app: App;
    let baseUrl: string;
    beforeAll(async () => {
      const port = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
      app = new App({
        receiver: new HTTPReceiver({ signingSecret: secret, logLevel: LogLevel.ERROR }),
        token: 'xoxb-test',
        logLevel: LogLevel.ERROR,
        clientOptions: { slackApiUrl: fake.url, retryConfig: { retries: 0 } },
      });
      app.command('/health', async ({ ack, command, respond }) => {
        await ack({
          response_type: 'ephemeral',
          text: `checking ${command.text} for ${command.user_id} in ${command.channel_id}`,
        });
        await respond({ text: 'all healthy', response_type: 'in_channel' });
      });
      app.action('confirm', async ({ ack, body, action, respond }) => {
        await ack();
        const value = action.type === 'button' ? action.value : '';
        await respond({ replace_original: true, text: `confirmed ${value} by ${body.user.id}` });
      });
      app.view('declare', async ({ ack, view }) => {
        const title = view.state.values.title?.value?.value ?? '';
        const severity = view.state.values.severity?.value?.selected_option?.value ?? '';
        await ack(
          title
            ? undefined
            : { response_action: 'errors', errors: { title: `a title, please (${severity}, ${view.private_metadata})` } },
        );
      });
      app.shortcut('declare_incident_from_message', async ({ ack, shortcut, client: web }) => {
        await ack();
        if (shortcut.type !== 'message_action') return;
        await web.views.open({
          trigger_id: shortcut.trigger_id,
          view: {
            type: 'modal',
            callback_id: 'declare',
            title: { type: 'plain_text', text: 'Declare' },
            private_metadata: shortcut.message.text ?? '',
            blocks: [],
          },
        });
      });
      await app.start(port);
    });
    afterAll(async () => {
      await app.stop();
    });

    it('delivers a slash command that Bolt parses, acks and responds to', async () => {
      const responseUrl = fake.newResponseUrl();
      const answer = await sendSlashCommand(baseUrl, secret, {
        command: '/health',
        text: 'rlhf-audit-trail',
        userId: 'U0ALICE',
        channelId: 'C0OPS',
        responseUrl,
      });
      expect(answer).toMatchObject({
        status: 200,
        body: { response_type: 'ephemeral', text: 'checking rlhf-audit-trail for U0ALICE in C0OPS' },
      });
      await fake.waitFor('response_url');
      expect(fake.responses(responseUrl)).toMatchObject([{ body: { text: 'all healthy', response_type: 'in_channel' } }]);
    });

    it('rejects a forged or stale request with 401', async () => {
      expect((await sendSlashCommand(baseUrl, 'wrong-secret', { command: '/health', text: 'x' })).status).toBe(401);
      expect(
        (await sendSlashCommand(baseUrl, secret, { command: '/health', text: 'x', signatureOverride: `v0=${'0'.repeat(64)}` }))
          .status,
      ).toBe(401);
      expect(
        (
          await sendSlashCommand(baseUrl, secret, {
            command: '/health',
            text: 'x',
            timestamp: Math.floor(Date.now() / 1000) - 6 * 60,
          })
        ).status,
      ).toBe(401);
    });

    it('delivers a button click whose respond() replaces the original message in the fake', async () => {
      const { ts } = await client().chat.postMessage({ channel: 'C0OPS', text: 'Confirm the rollback?' });
      const responseUrl = fake.newResponseUrl({ channelId: 'C0OPS', messageTs: ts! });
      const answer = await sendBlockAction(baseUrl, secret, {
        actionId: 'confirm',
        value: 'c-42',
        userId: 'U0BOB',
        channelId: 'C0OPS',
        messageTs: ts!,
        responseUrl,
      });
      expect(answer).toMatchObject({ status: 200, body: '' });
      await fake.waitFor('response_url');
      expect(fake.messages('C0OPS')).toMatchObject([{ ts, text: 'confirmed c-42 by U0BOB' }]);
    });

    it('delivers a view submission, and Bolt answers its ack body', async () => {
      const rejected = await sendViewSubmission(baseUrl, secret, {
        callbackId: 'declare',
        userId: 'U0ALICE',
        privateMetadata: 'C0OPS',
        values: { title: { value: '' }, severity: { value: { selected: 'P1' } } },
      });
      expect(rejected).toMatchObject({
        status: 200,
        body: { response_action: 'errors', errors: { title: 'a title, please (P1, C0OPS)' } },
      });
      const accepted = await sendViewSubmission(baseUrl, secret, {
        callbackId: 'declare',
        userId: 'U0ALICE',
        values: { title: { value: 'API slow' } },
      });
      expect(accepted).toMatchObject({ status: 200, body: '' });
    });

    it('delivers a message shortcut whose listener opens a modal in the fake', async () => {
      const answer = await sendShortcut(baseUrl, secret, {
        callbackId: 'declare_incident_from_message',
        userId: 'U0ALICE',
        channelId: 'C0OPS',
        messageText: 'p99 latency is 4s',
      });
      expect(answer.status).toBe(200);
      await fake.waitFor('views.open');
      expect(fake.views()).toMatchObject([{ callbackId: 'declare', privateMetadata: 'p99 latency is 4s' }]);
    });
  });
});
