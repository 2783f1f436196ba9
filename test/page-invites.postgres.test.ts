// A page whose invite waits for Slack's budget: the invite is durable work, so a replica shut down before it ran
// leaves it to another, and the level's people still end up in the incident channel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock, minutes } from './support/clock.ts';
import { declareByModal, incidentFile, seedWorkspace, START, untilSetUp } from './support/incident-fixture.ts';

describe('the invite that follows a page', () => {
  let slack: FakeSlack;
  const clock = new ManualClock(START);
  let first: TestBot;
  let second: TestBot;

  beforeAll(async () => {
    slack = await startFakeSlack();
    seedWorkspace(slack);
    const options = { file: incidentFile, clock, slack, extra: { escalation: { autoStart: false } } };
    first = await startTestBot(options);
    second = await startTestBot({ ...options, databaseUrl: first.databaseUrl! });
  }, 60_000);

  afterAll(async () => {
    await first?.stop();
    await slack?.close();
  });

  it('is done by another replica when the one that paged shut down before Slack allowed it', async () => {
    await declareByModal(second, { severity: 'P2', title: 'Audit API down' });
    const { channel } = await untilSetUp(second, 'incident-2026-11-22-1534');
    expect(slack.channel(channel.id)!.members).not.toContain('U0CAROL');
    // The invite budget is closed for a minute: the page goes out at once, mentioning the lead, the invite after it.
    slack.failNext('conversations.invite', 'ratelimited', { retryAfterSeconds: 60 });
    clock.advance(minutes(15));
    await second.bot.poller.tick();
    await second.bot.idle();
    expect(slack.messages(channel.id).some((message) => message.text.includes('Engineering lead'))).toBe(true);
    expect(slack.channel(channel.id)!.members).not.toContain('U0CAROL');
    await second.stop();
    // A minute later the other replica, whose budget is not closed, finds the invite among the work to do.
    clock.advance(minutes(1));
    await first.bot.poller.tick();
    await first.bot.idle();
    expect(slack.channel(channel.id)!.members).toContain('U0CAROL');
  }, 60_000);
});
