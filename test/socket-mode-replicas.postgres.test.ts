// Two replicas on one database, each with its Socket Mode connections: an envelope Slack delivers again to the other
// replica is acked there and not acted on a second time.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CANCEL_ACTION_ID } from '../src/slack/confirmation-blocks.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startFakeSocketMode, type Delivery, type FakeSocketMode } from './fakes/fake-socket-mode.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { blockActionPayload, newTriggerId, slashCommandBody } from './support/slack-requests.ts';

describe('Socket Mode across two replicas', () => {
  let slack: FakeSlack;
  let fake: FakeSocketMode;
  const replicas: TestBot[] = [];
  const replicaOf = new Map<number, number>();

  beforeAll(async () => {
    slack = await startFakeSlack();
    slack.addUser({ id: 'U0ALICE' });
    fake = await startFakeSocketMode(slack);
    const options = {
      slack,
      env: { SLACK_APP_TOKEN: fake.appToken },
      file: { socketMode: { connections: 2, stagger: '200ms' } },
      extra: { escalation: { autoStart: false }, schedules: { autoStart: false } },
    };
    // One replica after the other, so the fake knows whose connections are whose.
    replicas.push(await startTestBot(options));
    await vi.waitFor(() => expect(fake.openCount).toBe(2), { timeout: 5_000 });
    replicaOf.set(fake.openConnections()[0]!.id, 0).set(fake.openConnections()[1]!.id, 0);
    replicas.push(await startTestBot({ ...options, databaseUrl: replicas[0]!.databaseUrl! }));
    await vi.waitFor(() => expect(fake.openCount).toBe(4), { timeout: 5_000 });
    for (const connection of fake.openConnections()) if (!replicaOf.has(connection.id)) replicaOf.set(connection.id, 1);
  });
  afterAll(async () => {
    for (const replica of replicas.reverse()) await replica.stop();
    await fake.close();
    await slack.close();
  });

  it('acts once on every command and click when each comes twice, the copy on another connection', async () => {
    const sent: Array<{ responseUrl: string; first: Delivery; copy: Delivery }> = [];
    for (let i = 0; i < 40; i += 1) {
      const responseUrl = slack.newResponseUrl();
      const triggerId = newTriggerId();
      const first =
        i % 2 === 0
          ? await fake.deliver(
              'slash_commands',
              Object.fromEntries(
                new URLSearchParams(
                  slashCommandBody({ command: '/incident', text: 'list', userId: 'U0ALICE', triggerId, responseUrl }),
                ),
              ),
            )
          : await fake.deliver(
              'interactive',
              blockActionPayload({
                actionId: CANCEL_ACTION_ID,
                value: `gone-${i}`,
                userId: 'U0ALICE',
                ephemeral: true,
                triggerId,
                responseUrl,
              }),
            );
      // The copy goes to a connection of the other replica.
      const other = [...replicaOf].find(([, replica]) => replica !== replicaOf.get(first.connectionId!))![0];
      sent.push({ responseUrl, first, copy: await fake.redeliver(first, { to: other }) });
    }
    for (const replica of replicas) await replica.bot.idle();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sent.every((entry) => entry.first.acked && entry.copy.acked)).toBe(true);
    expect(sent.every((entry) => replicaOf.get(entry.copy.connectionId!) !== replicaOf.get(entry.first.connectionId!))).toBe(
      true,
    );
    const acted = sent.map((entry) => slack.responses(entry.responseUrl).length);
    expect(acted.filter((count) => count !== 1)).toEqual([]);
    // Both replicas received work: the dedupe crossed processes, not only one bot's memory.
    const byReplica = await Promise.all(
      replicas.map(async (replica) => {
        const text = await (await fetch(`${replica.baseUrl}/metrics`)).text();
        return /runbook_bot_slack_redeliveries_total\{outcome="acked_again"\} (\d+)/.exec(text)?.[1] ?? '0';
      }),
    );
    expect(byReplica.map(Number).every((count) => count > 0)).toBe(true);
  });
});
