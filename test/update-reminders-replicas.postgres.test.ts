import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';
import { ManualClock, minutes } from './support/clock.ts';
import { declareByModal, incidentCommand, incidentFile, seedWorkspace, START, untilSetUp } from './support/incident-fixture.ts';

const INCIDENTS = 6;

describe('update reminders across three replicas sharing one PostgreSQL and one clock', () => {
  let slack: FakeSlack;
  const clock = new ManualClock(START);
  const replicas: TestBot[] = [];

  beforeAll(async () => {
    slack = await startFakeSlack();
    seedWorkspace(slack);
    const file = { ...incidentFile, incidents: { ...incidentFile.incidents, updateCadence: { P2: '20m' } } };
    const options = { file, clock, slack, extra: { escalation: { autoStart: false } } };
    replicas.push(await startTestBot(options));
    for (let i = 0; i < 2; i += 1) replicas.push(await startTestBot({ ...options, databaseUrl: replicas[0]!.databaseUrl! }));
  }, 60_000);

  afterAll(async () => {
    for (const replica of replicas.reverse()) await replica.stop();
    await slack?.close();
  });

  it('sends each due reminder once (late after downtime), and none after resolve', async () => {
    const channels: string[] = [];
    for (let i = 0; i < INCIDENTS; i += 1) {
      await declareByModal(replicas[i % 3]!, { severity: 'P2', title: `replica incident ${i}` });
      const { channel } = await untilSetUp(
        replicas[i % 3]!,
        i === 0 ? 'incident-2026-11-22-1534' : `incident-2026-11-22-1534-${i + 1}`,
      );
      channels.push(channel.id);
    }
    const reminders = (channel: string) =>
      slack.messages(channel).filter((message) => message.text.startsWith('Time for a stakeholder update'));
    const tickAll = () => Promise.all(replicas.flatMap((replica) => [replica.bot.poller.tick(), replica.bot.poller.tick()]));

    // Every replica was down for an hour past the first reminder: all three look at once, several times.
    clock.set(new Date(new Date(START).getTime() + minutes(80)));
    await tickAll();
    await tickAll();
    for (const channel of channels) {
      expect(
        reminders(channel).map((message) => message.text),
        channel,
      ).toEqual([expect.stringMatching(/\(late\)$/)]);
    }

    // Half are resolved; a cadence later only the others are reminded, each once more.
    for (const [i, channel] of channels.entries())
      if (i % 2 === 0) await incidentCommand(replicas[i % 3]!, 'resolve', 'U0ALICE', channel);
    clock.advance(minutes(20));
    await tickAll();
    await tickAll();
    for (const [i, channel] of channels.entries()) expect(reminders(channel).length, `incident ${i}`).toBe(i % 2 === 0 ? 1 : 2);
    // Ten hours on: one more for each open incident (the next counts from the last sent), none for the resolved.
    clock.advance(minutes(600));
    await tickAll();
    await tickAll();
    for (const [i, channel] of channels.entries()) expect(reminders(channel).length, `incident ${i}`).toBe(i % 2 === 0 ? 1 : 3);
  }, 60_000);
});
