// Slack's retries over HTTP (X-Slack-Retry-Num, the same request again) are answered and never acted on twice.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CANCEL_ACTION_ID } from '../src/slack/confirmation-blocks.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { newTriggerId, sendBlockAction, sendSlashCommand } from './support/slack-requests.ts';

describe('Slack retries in HTTP mode', () => {
  let slack: FakeSlack;
  let t: TestBot;

  beforeAll(async () => {
    slack = await startFakeSlack();
    slack.addUser({ id: 'U0ALICE' });
    t = await startTestBot({ slack, extra: { escalation: { autoStart: false }, schedules: { autoStart: false } } });
  });
  afterAll(async () => {
    await t.stop();
    await slack.close();
  });

  async function redeliveries(): Promise<string> {
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith('runbook_bot_slack_redeliveries_total{'))
      .join('\n');
  }

  it('answers a retried command with 200 and runs it once', async () => {
    const command = {
      command: '/incident',
      text: 'list',
      userId: 'U0ALICE',
      triggerId: newTriggerId(),
      responseUrl: slack.newResponseUrl(),
    };
    expect((await sendSlashCommand(t.baseUrl, t.secret, command)).status).toBe(200);
    await t.bot.idle();
    const retry = await sendSlashCommand(t.baseUrl, t.secret, command, { retryNum: 1 });
    expect(retry.status).toBe(200);
    await t.bot.idle();
    expect(slack.responses(command.responseUrl)).toHaveLength(1);
    expect(await redeliveries()).toContain('outcome="acked_again"} 1');
  });

  it('acts on a button click that Slack sends twice once, and on a new click again', async () => {
    const click = {
      actionId: CANCEL_ACTION_ID,
      value: 'gone-confirmation',
      userId: 'U0ALICE',
      ephemeral: true,
      triggerId: newTriggerId(),
      responseUrl: slack.newResponseUrl(),
    };
    await sendBlockAction(t.baseUrl, t.secret, click);
    await sendBlockAction(t.baseUrl, t.secret, click, { retryNum: 1 });
    await t.bot.idle();
    await vi.waitFor(() => expect(slack.responses(click.responseUrl).length).toBeGreaterThan(0));
    expect(slack.responses(click.responseUrl)).toHaveLength(1);
    expect(slack.responses(click.responseUrl)[0]!.body).toMatchObject({ text: expect.stringContaining('no longer exists') });

    // The same button pressed again is a new action (a new trigger_id): it runs.
    await sendBlockAction(t.baseUrl, t.secret, { ...click, triggerId: newTriggerId() });
    await t.bot.idle();
    await vi.waitFor(() => expect(slack.responses(click.responseUrl)).toHaveLength(2));
  });
});
