// Delivery to a Slack that says no: rate limits with Retry-After, 500s before and after the effect, dropped
// connections, answers that never come. Each page, channel and post lands exactly once.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withSlackPriority } from '../src/clients/slack.ts';
import { listSteps } from '../src/store/incidents.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock, minutes } from './support/clock.ts';
import { sendSlashCommand } from './support/slack-requests.ts';

const START = '2026-11-22T15:34:20Z';
const file = {
  channels: { announcements: '#incidents', summaries: '#ops' },
  escalation: {
    default: [
      { after: '15m', label: 'Engineering lead', notify: ['U0LEAD'] },
      { after: '30m', label: 'Incident commander', notify: ['U0IC'] },
    ],
  },
  // Short Slack deadline: an answer that never comes is given up on quickly.
  timeouts: { slack: '1s' },
};

describe('delivery to Slack when it says no', () => {
  let slack: FakeSlack;
  let t: TestBot;
  let clock: ManualClock;

  beforeEach(async () => {
    slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0LEAD', 'U0IC']) slack.addUser({ id });
    slack.addChannel({ name: 'incidents' });
    slack.addChannel({ name: 'ops' });
    clock = new ManualClock(START);
    t = await startTestBot({ file, slack, clock, extra: { escalation: { autoStart: false } } });
  });
  afterEach(async () => {
    await t.stop();
    await slack.close();
  });

  async function declare(title: string, triggerId = `T${Math.random().toString(36).slice(2)}`) {
    const response = await sendSlashCommand(t.baseUrl, t.secret, {
      command: '/incident',
      text: `declare P2 ${title}`,
      userId: 'U0ALICE',
      triggerId,
      responseUrl: slack.newResponseUrl(),
    });
    expect(response.status).toBe(200);
    await t.bot.idle();
  }

  /** Drives the poller until nothing due is left (work deferred or retried a few seconds later included). */
  async function drain(rounds = 12) {
    for (let i = 0; i < rounds; i += 1) {
      await t.bot.poller.tick();
      await t.bot.idle();
      clock.advance(6_000);
    }
  }

  const keyed = (key: string) =>
    slack.messages().filter((message) => (message.metadata as { event_payload?: { key?: string } })?.event_payload?.key === key);
  const incidentChannels = () => slack.channels().filter((channel) => channel.name.startsWith('incident-'));

  it('posts a page once when Slack stored it but answered 500', async () => {
    await declare('Audit API down');
    clock.advance(minutes(15));
    slack.faultNext('chat.postMessage', 'http500_after');
    await drain();
    expect(keyed('escalation:1:1')).toHaveLength(1);
    const metrics = await t.bot.metrics.registry.metrics();
    expect(metrics).toMatch(/runbook_bot_slack_resends_avoided_total\{kind="incident"\} 1/);
  });

  it('posts a page once when the answer never comes, and once when the connection drops after the effect', async () => {
    await declare('Audit API down');
    clock.advance(minutes(15));
    slack.faultNext('chat.postMessage', 'no_answer_after');
    await drain();
    expect(keyed('escalation:1:1')).toHaveLength(1);
    clock.advance(minutes(15));
    slack.faultNext('chat.postMessage', 'drop_after');
    await drain();
    expect(keyed('escalation:1:2')).toHaveLength(1);
    expect((await listSteps(t.bot.store, 1)).map((step) => step.state)).toEqual(['posted', 'posted']);
  });

  it('sends a page again that never reached Slack (a 500 or a dropped connection before the effect)', async () => {
    await declare('Audit API down');
    clock.advance(minutes(15));
    slack.faultNext('chat.postMessage', 'http500_before');
    await drain(2);
    clock.advance(minutes(15));
    slack.faultNext('chat.postMessage', 'drop_before');
    await drain();
    expect(keyed('escalation:1:1')).toHaveLength(1);
    expect(keyed('escalation:1:2')).toHaveLength(1);
  });

  it('sends a page that never reached Slack again at once, after looking for it, without waiting for a retry', async () => {
    await declare('Audit API down');
    clock.advance(minutes(15));
    const looksBefore = slack.calls('conversations.history').length;
    slack.faultNext('chat.postMessage', 'http500_before');
    // One pass and the clock stands still: a retry of the work could not run yet.
    await t.bot.poller.tick();
    await t.bot.idle();
    expect(keyed('escalation:1:1')).toHaveLength(1);
    expect(slack.calls('conversations.history')).toHaveLength(looksBefore + 1);
    expect((await listSteps(t.bot.store, 1)).map((step) => step.state)).toEqual(['posted', 'pending']);
  });

  it('sends a page again at once also after two uncertain outcomes in a row', async () => {
    await declare('Audit API down');
    clock.advance(minutes(15));
    slack.faultNext('chat.postMessage', 'http500_before');
    slack.faultNext('chat.postMessage', 'drop_before');
    await t.bot.poller.tick();
    await t.bot.idle();
    expect(keyed('escalation:1:1')).toHaveLength(1);
    expect((await listSteps(t.bot.store, 1)).map((step) => step.state)).toEqual(['posted', 'pending']);
  });

  it('resumes a setup whose card post was cut off by looking for the card alone, not for every post', async () => {
    // The card's post and its resend both meet a 500: the setup is retried with the card's outcome unknown.
    slack.faultNext('chat.postMessage', 'http500_before', 2);
    await declare('Audit API down');
    await drain();
    const channel = incidentChannels()[0]!;
    for (const key of ['card:1', 'checklist:1', 'announce:1']) expect(keyed(key)).toHaveLength(1);
    // One look before the resend and one when the setup resumed; none for the announcement (in #incidents, a long
    // history) or the checklist, which no attempt had reached.
    expect(slack.calls('conversations.history').map((call) => call.args.channel)).toEqual([channel.id, channel.id]);
  });

  it('adopts the channel it created when the answer to conversations.create was lost: no orphan, no -2', async () => {
    slack.faultNext('conversations.create', 'http500_after');
    await declare('Audit API down');
    await drain();
    expect(incidentChannels().map((channel) => channel.name)).toEqual(['incident-2026-11-22-1534']);
    const { rows } = await t.bot.store.query<{ channel_name: string; setup_done: boolean }>(
      'SELECT channel_name, setup_done FROM incidents',
    );
    expect(rows).toEqual([{ channel_name: 'incident-2026-11-22-1534', setup_done: true }]);
  });

  it('adopts the channel an earlier attempt created but did not record, by looking before creating again', async () => {
    // The answer to conversations.create is lost and the look for the channel fails too: the attempt stops with the
    // channel made but not recorded (as when a replica stalls past its lease right after creating it).
    slack.faultNext('conversations.create', 'drop_after');
    slack.failNext('users.conversations', 'internal_error', { times: 4 });
    await declare('Audit API down');
    await drain();
    expect(incidentChannels().map((channel) => channel.name)).toEqual(['incident-2026-11-22-1534']);
    // Found by the bot's own channels (Tier 3), not by a second create answered name_taken (Tier 2, 20 a minute).
    expect(slack.calls('conversations.create')).toHaveLength(1);
    const { rows } = await t.bot.store.query<{ channel_name: string; setup_done: boolean }>(
      'SELECT channel_name, setup_done FROM incidents',
    );
    expect(rows).toEqual([{ channel_name: 'incident-2026-11-22-1534', setup_done: true }]);
  });

  it('names same-minute incidents -2, -3 from its own reservations: one create call each', async () => {
    await declare('first');
    await declare('second');
    await declare('third');
    await drain(2);
    expect(
      incidentChannels()
        .map((channel) => channel.name)
        .sort(),
    ).toEqual(['incident-2026-11-22-1534', 'incident-2026-11-22-1534-2', 'incident-2026-11-22-1534-3']);
    expect(slack.calls('conversations.create')).toHaveLength(3);
  });

  it('pages in the announcement channel when the incident channel cannot be created yet, then copies the page in', async () => {
    // Slack refuses channel creation for 20 s (its Tier 2 budget spent): 429 with Retry-After.
    slack.failNext('conversations.create', 'ratelimited', { retryAfterSeconds: 20 });
    await declare('Audit API down');
    expect(incidentChannels()).toHaveLength(0);
    clock.advance(minutes(15));
    // The page does not wait for the channel: it goes to the announcement channel, mentioning the level's people.
    await t.bot.poller.tick();
    await t.bot.idle();
    const announced = keyed('escalation:1:1:announcements');
    expect(announced).toHaveLength(1);
    expect(announced[0]!.channel).toBe(slack.channelByName('incidents')!.id);
    expect(JSON.stringify(announced[0]!.blocks)).toContain('<@U0LEAD>');
    // Once Slack allows it, the channel is made and the page lands there too, once.
    await drain(3);
    const [channel] = incidentChannels();
    expect(channel).toBeDefined();
    expect(keyed('escalation-copy:1:1').map((message) => message.channel)).toEqual([channel!.id]);
    expect(slack.calls('conversations.create').filter((call) => call.status === 200)).toHaveLength(1);
  }, 90_000);

  it('combines the pages of many incidents due at once into few messages in the announcement channel, each page once', async () => {
    // A storm: no incident channel can be made yet, five incidents whose first level falls due together, and a Slack
    // that takes a moment to answer each post (so the others wait while the first is on its way).
    slack.failNext('conversations.create', 'restricted_action', { times: 50 });
    for (let i = 1; i <= 5; i += 1) await declare(`Audit API down ${i}`);
    clock.advance(minutes(15));
    slack.delay('chat.postMessage', 300);
    await t.bot.poller.tick();
    await t.bot.idle();
    const announcements = slack.channelByName('incidents')!.id;
    const keysIn = (message: { metadata?: unknown }) => {
      const payload = (message.metadata as { event_payload?: { key?: string; keys?: string } } | undefined)?.event_payload;
      return payload?.keys ? payload.keys.split(' ') : payload?.key ? [payload.key] : [];
    };
    const pages = slack
      .messages()
      .filter((message) => message.channel === announcements && keysIn(message).some((key) => key.startsWith('escalation:')));
    const keys = pages.flatMap(keysIn).sort();
    expect(keys).toEqual([1, 2, 3, 4, 5].map((id) => `escalation:${id}:1:announcements`).sort());
    // The first goes at once; the others, which waited for it, go together.
    expect(pages.length).toBeLessThan(5);
  }, 90_000);

  /** Five incidents with no channel yet page the announcement channel together; `faults` meet the messages after the first. */
  async function combinedPagesMeet(...faults: Array<'drop_before' | 'http500_before' | 'http500_after'>) {
    slack.failNext('conversations.create', 'restricted_action', { times: 50 });
    for (let i = 1; i <= 5; i += 1) await declare(`Audit API down ${i}`);
    clock.advance(minutes(15));
    slack.delay('chat.postMessage', 300);
    const looksBefore = slack.calls('conversations.history').length;
    const announcements = slack.channelByName('incidents')!.id;
    // The first page goes alone at once; the others wait for it and go together, in the message that meets the fault.
    const pass = t.bot.poller.tick();
    await slack.waitFor('chat.postMessage');
    for (const fault of faults) slack.faultNext('chat.postMessage', fault);
    await pass;
    await t.bot.idle();
    const keysIn = (message: { metadata?: unknown }) => {
      const payload = (message.metadata as { event_payload?: { key?: string; keys?: string } } | undefined)?.event_payload;
      return payload?.keys ? payload.keys.split(' ') : payload?.key ? [payload.key] : [];
    };
    const keys = slack
      .messages()
      .filter((message) => message.channel === announcements)
      .flatMap(keysIn)
      .filter((key) => key.startsWith('escalation:'));
    return { keys, looks: slack.calls('conversations.history').length - looksBefore };
  }

  it('sends the pages of a combined message that never reached Slack again at once, after one look, without waiting for a retry', async () => {
    const { keys, looks } = await combinedPagesMeet('drop_before');
    // One pass and the clock stands still: a retry of the works could not run yet.
    expect(keys.sort()).toEqual([1, 2, 3, 4, 5].map((id) => `escalation:${id}:1:announcements`).sort());
    expect(looks).toBe(1);
    for (let id = 1; id <= 5; id += 1) expect((await listSteps(t.bot.store, id))[0]!.state).toBe('posted');
  }, 90_000);

  it('sends the pages of a combined message again at once also when the next one fails too', async () => {
    const { keys, looks } = await combinedPagesMeet('drop_before', 'http500_before');
    expect(keys.sort()).toEqual([1, 2, 3, 4, 5].map((id) => `escalation:${id}:1:announcements`).sort());
    expect(looks).toBe(2);
    for (let id = 1; id <= 5; id += 1) expect((await listSteps(t.bot.store, id))[0]!.state).toBe('posted');
  }, 90_000);

  it('finds the pages of a combined message Slack stored but answered 500 for with one look, and sends none twice', async () => {
    const { keys, looks } = await combinedPagesMeet('http500_after');
    expect(keys.sort()).toEqual([1, 2, 3, 4, 5].map((id) => `escalation:${id}:1:announcements`).sort());
    expect(looks).toBe(1);
    for (let id = 1; id <= 5; id += 1) expect((await listSteps(t.bot.store, id))[0]!.state).toBe('posted');
  }, 90_000);

  it('does not page again in the incident channel a level whose announcement-channel page had an unknown outcome', async () => {
    // The first setup fails (its outcome unknown, no channel made), so the level falls due before the channel exists.
    slack.failNext('conversations.create', 'fatal_error');
    await declare('Audit API down');
    clock.advance(minutes(15));
    // The page to the announcement channel never arrives; sent again, Slack stores it but answers 500: still unknown.
    slack.faultNext('chat.postMessage', 'drop_before');
    slack.faultNext('chat.postMessage', 'http500_after');
    await drain();
    const [channel] = incidentChannels();
    expect(channel).toBeDefined();
    // The next attempt, with the channel there, finds the page where it went and copies it in: paged once.
    expect(keyed('escalation:1:1:announcements')).toHaveLength(1);
    expect(keyed('escalation:1:1')).toHaveLength(0);
    expect(keyed('escalation-copy:1:1').map((message) => message.channel)).toEqual([channel!.id]);
    expect((await listSteps(t.bot.store, 1))[0]!.state).toBe('posted');
  });

  it('tells the user a note is queued when Slack is down, and posts it once Slack is back', async () => {
    await declare('Audit API down');
    const channel = incidentChannels()[0]!;
    slack.faultNext('chat.postMessage', 'http500_before', 2);
    const responseUrl = slack.newResponseUrl();
    await sendSlashCommand(t.baseUrl, t.secret, {
      command: '/incident',
      text: 'note rolled back the deploy',
      channelId: channel.id,
      userId: 'U0ALICE',
      responseUrl,
    });
    await t.bot.idle();
    expect(slack.responses(responseUrl.split('/').at(-1)).map((response) => String(response.body.text))).toEqual([
      expect.stringContaining('will appear in this channel as soon as Slack accepts it'),
    ]);
    await drain();
    expect(slack.messages(channel.id).filter((message) => message.text.includes('rolled back the deploy'))).toHaveLength(1);
  });

  it('waits out a 429 on one channel without holding up a page to another', async () => {
    await declare('first');
    await declare('second');
    const [first, second] = incidentChannels();
    await sendSlashCommand(t.baseUrl, t.secret, {
      command: '/incident',
      text: 'resolve',
      channelId: first!.id,
      userId: 'U0ALICE',
      responseUrl: slack.newResponseUrl(),
    });
    await t.bot.idle();
    // The first channel's posting budget is spent for a minute: a note there waits (and the user hears it is queued)…
    slack.failNext('chat.postMessage', 'ratelimited', { retryAfterSeconds: 60 });
    const responseUrl = slack.newResponseUrl();
    await sendSlashCommand(t.baseUrl, t.secret, {
      command: '/incident',
      text: 'note first note',
      channelId: first!.id,
      userId: 'U0ALICE',
      responseUrl,
    });
    await t.bot.idle();
    expect(slack.responses(responseUrl.split('/').at(-1)).map((response) => String(response.body.text))).toEqual([
      expect.stringContaining('will appear in this channel'),
    ]);
    // …while the second incident's page, in a channel whose budget is untouched, goes at once. (The tick gives up on
    // work that would wait more than 2 s for its budget, as the queued note does: the poller sends it later.)
    const started = Date.now();
    clock.advance(minutes(15));
    await withSlackPriority('interactive', () => t.bot.poller.tick(), 2_000);
    await t.bot.idle();
    expect(keyed('escalation:2:1').map((message) => message.channel)).toEqual([second!.id]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(slack.messages(first!.id).filter((message) => message.text.includes('first note'))).toHaveLength(0);
    const metrics = await t.bot.metrics.registry.metrics();
    expect(metrics).toMatch(/runbook_bot_slack_rate_limited_total\{method="chat.postMessage"\} 1/);
  });
});
