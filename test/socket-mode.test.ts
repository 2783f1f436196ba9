// Socket Mode without gaps: a steady stream of commands and clicks across refreshes, warnings and abrupt drops is
// answered, acted on once each, and never meets a moment without an open connection; readiness tells the truth.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SocketTiming } from '../src/receiver/socket-mode-receiver.ts';
import { CANCEL_ACTION_ID } from '../src/slack/confirmation-blocks.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startFakeSocketMode, type Delivery, type FakeSocketMode } from './fakes/fake-socket-mode.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { blockActionPayload, newTriggerId, slashCommandBody } from './support/slack-requests.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

describe('Socket Mode', () => {
  let slack: FakeSlack;
  let fake: FakeSocketMode;
  let t: TestBot | undefined;

  async function start(
    options: { socketMode?: Record<string, unknown>; maxConnections?: number; timing?: Partial<SocketTiming> } = {},
  ) {
    slack = await startFakeSlack();
    slack.addUser({ id: 'U0ALICE' });
    fake = await startFakeSocketMode(slack, { maxConnections: options.maxConnections ?? 10 });
    t = await startTestBot({
      slack,
      env: { SLACK_APP_TOKEN: fake.appToken },
      file: { socketMode: { connections: 2, stagger: '300ms', readinessGrace: '1s', ...options.socketMode } },
      extra: {
        escalation: { autoStart: false },
        schedules: { autoStart: false },
        socketTiming: { backoffMs: 200, maxBackoffMs: 1_000, tooManyWaitMs: 2_000, ...options.timing },
      },
    });
    return t;
  }

  afterEach(async () => {
    await t?.stop();
    t = undefined;
    await fake?.close();
    await slack?.close();
  });

  async function metricsText(): Promise<string> {
    return (await fetch(`${t!.baseUrl}/metrics`)).text();
  }

  it('loses no command or click and acts on none twice across refreshes, warnings and abrupt drops', async () => {
    await start();
    await vi.waitFor(() => expect(fake.openCount).toBe(2), { timeout: 5_000 });

    const sent: Array<{ kind: 'command' | 'click'; responseUrl: string; delivery: Promise<Delivery> }> = [];
    const redelivered: Array<Promise<Delivery>> = [];
    const replacements: number[] = [];
    const STREAM_MS = 12_000;
    const faults: Array<[atMs: number, act: () => void]> = [
      [1_500, () => fake.requestDisconnect(fake.openConnections()[0]!.id, 'refresh_requested', 1_000)],
      [4_000, () => fake.requestDisconnect(fake.openConnections()[1]!.id, 'warning', 3_000)],
      [8_000, () => dropAndTime(fake.openConnections()[0]!.id)],
      [9_500, () => fake.requestDisconnect(fake.openConnections()[1]!.id, 'refresh_requested', 500)],
      [11_000, () => dropAndTime(fake.openConnections()[1]!.id)],
    ];
    function dropAndTime(id: number) {
      const at = Date.now();
      void fake.nextHello(5_000).then(
        () => replacements.push(Date.now() - at),
        () => replacements.push(Infinity),
      );
      fake.drop(id);
    }

    const begin = Date.now();
    for (let i = 0; Date.now() - begin < STREAM_MS; i += 1) {
      while (faults.length > 0 && Date.now() - begin >= faults[0]![0]) faults.shift()![1]();
      const responseUrl = slack.newResponseUrl();
      const triggerId = newTriggerId();
      const delivery =
        i % 2 === 0
          ? fake.deliver(
              'slash_commands',
              Object.fromEntries(
                new URLSearchParams(
                  slashCommandBody({ command: '/incident', text: 'list', userId: 'U0ALICE', triggerId, responseUrl }),
                ),
              ),
            )
          : fake.deliver(
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
      sent.push({ kind: i % 2 === 0 ? 'command' : 'click', responseUrl, delivery });
      // Every tenth envelope comes again after its ack, as Slack re-delivers now and then.
      if (i % 10 === 5) redelivered.push(delivery.then((first) => (first.acked ? fake.redeliver(first) : first)));
      await sleep(begin + (i + 1) * 100 - Date.now());
    }

    const deliveries = await Promise.all(sent.map((entry) => entry.delivery));
    const copies = await Promise.all(redelivered);
    await t!.bot.idle();
    await sleep(500);
    await t!.bot.idle();
    const actedOn = sent.map((entry) => slack.responses(entry.responseUrl).length);
    const figures = {
      commandsAndClicksSent: sent.length,
      answered: deliveries.filter((delivery) => delivery.acked).length,
      answeredOnFirstDelivery: deliveries.filter((delivery) => delivery.acked && delivery.attempts === 1).length,
      lost: actedOn.filter((count) => count === 0).length,
      actedOnTwice: actedOn.filter((count) => count > 1).length,
      redeliveriesSent: copies.length,
      redeliveriesAcked: copies.filter((copy) => copy.acked).length,
      longestWithoutConnectionMs: fake.longestGapMs(),
      replacementAfterDropMs: replacements,
      connectionsOpened: fake.connections().length,
    };
    console.log(`socket-mode figures: ${JSON.stringify(figures)}`);

    expect(figures.answered).toBe(sent.length);
    expect(figures.lost).toBe(0);
    expect(figures.actedOnTwice).toBe(0);
    expect(figures.redeliveriesAcked).toBe(copies.length);
    expect(figures.longestWithoutConnectionMs).toBe(0);
    expect(replacements).toHaveLength(2);
    for (const ms of replacements) expect(ms).toBeLessThan(1_000);
    const metrics = await metricsText();
    expect(metrics).toMatch(/runbook_bot_socket_reconnects_total\{reason="refresh_requested"\} 2/);
    expect(metrics).toMatch(/runbook_bot_socket_reconnects_total\{reason="warning"\} 1/);
    expect(metrics).toMatch(/runbook_bot_socket_reconnects_total\{reason="dropped"\} 2/);
    expect(metrics).toMatch(/runbook_bot_socket_connections 2/);
    expect(metrics).toMatch(/runbook_bot_slack_redeliveries_total\{outcome="acked_again"\} \d+/);
  }, 40_000);

  it('answers /readyz 503 with the reason while no connection is open past the grace, and 200 once one is', async () => {
    await start();
    await vi.waitFor(() => expect(fake.openCount).toBe(2), { timeout: 5_000 });
    expect((await fetch(`${t!.baseUrl}/readyz`)).status).toBe(200);

    fake.refuseConnections(true);
    for (const connection of fake.openConnections()) fake.drop(connection.id);
    // Within the grace (a refresh) the bot stays ready…
    expect((await fetch(`${t!.baseUrl}/readyz`)).status).toBe(200);
    await sleep(1_300);
    const notReady = await fetch(`${t!.baseUrl}/readyz`);
    expect(notReady.status).toBe(503);
    const body = (await notReady.json()) as { checks: Record<string, string> };
    expect(body.checks.slack).toMatch(/no Socket Mode connection open for \ds/);
    expect(await metricsText()).toMatch(/runbook_bot_socket_connections 0/);

    fake.refuseConnections(false);
    await vi.waitFor(() => expect(fake.openCount).toBe(2), { timeout: 5_000 });
    expect((await fetch(`${t!.baseUrl}/readyz`)).status).toBe(200);
  });

  it('replaces a connection that goes silent without closing', async () => {
    await start({ timing: { pingEveryMs: 200, silenceMs: 1_000 } });
    await vi.waitFor(() => expect(fake.openCount).toBe(2), { timeout: 5_000 });
    const frozeAt = Date.now();
    const replaced = fake.nextHello(5_000);
    fake.freeze(fake.openConnections()[0]!.id);
    await replaced;
    const ms = Date.now() - frozeAt;
    expect(ms).toBeGreaterThan(800);
    expect(ms).toBeLessThan(2_500);
    expect(await metricsText()).toMatch(/runbook_bot_socket_reconnects_total\{reason="silent"\} 1/);
  });

  it('waits out 429 on apps.connections.open, and meets too_many_websockets without a storm', async () => {
    slack = await startFakeSlack();
    // Slack's Retry-After is honoured before the next try.
    slack.failNext('apps.connections.open', 'ratelimited', { retryAfterSeconds: 1 });
    fake = await startFakeSocketMode(slack, { maxConnections: 1 });
    const started = Date.now();
    t = await startTestBot({
      slack,
      env: { SLACK_APP_TOKEN: fake.appToken },
      file: { socketMode: { connections: 2, stagger: '100ms' } },
      extra: { schedules: { autoStart: false }, socketTiming: { tooManyWaitMs: 2_000 } },
    });
    await vi.waitFor(() => expect(fake.openCount).toBe(1), { timeout: 5_000 });
    const opens = () => slack.calls('apps.connections.open');
    // The first slot's first try was refused with 429; the second slot, opened 100 ms later, got the only place.
    expect(opens()[0]!.status).toBe(429);
    await sleep(2_500);
    // One connection is all Slack allows: the other slot asks again every second or so, not in a loop.
    const refused = opens().filter((call) => call.error === 'too_many_websockets');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(4);
    expect(fake.openCount).toBe(1);
    expect((await fetch(`${t.baseUrl}/readyz`)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThan(1_000);
  });
});
