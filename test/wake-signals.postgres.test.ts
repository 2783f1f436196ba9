import { inject } from 'vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startTestBot, type TestBot } from './support/bot.ts';

describe('replicas with Redis', () => {
  let slack: FakeSlack;
  const bots: TestBot[] = [];
  afterEach(async () => {
    for (const bot of bots.splice(0).reverse()) await bot.stop();
    await slack.close();
  });

  it('wake each other when timers change, instead of waiting for their next poll', async () => {
    slack = await startFakeSlack();
    slack.addChannel({ name: 'incidents' });
    // A minute between polls: only the Redis signal can make the second replica post within seconds.
    const file = { escalation: { default: [{ after: '1s', label: 'Engineering lead' }] }, timers: { pollEvery: '60s' } };
    const env = { REDIS_URL: inject('redisUrl') };
    const declaring = await startTestBot({ file, slack, env, extra: { escalation: { autoStart: false } } });
    bots.push(declaring);
    const polling = await startTestBot({ file, slack, env, databaseUrl: declaring.databaseUrl });
    bots.push(polling);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the polling replica is now asleep for a minute
    const { incident } = await declaring.bot.incidents.declare({
      key: 'wake-test',
      title: 'Queue backlog growing',
      severity: 'P2',
      declaredBy: 'U0ALICE',
    });
    // The woken replica may take the channel setup too, so declare() can return before the channel exists: the page is
    // matched by its text, and its channel checked against the incident's once set up.
    const post = await slack.waitFor(
      (call) => call.method === 'chat.postMessage' && String(call.args.text).startsWith('Escalation level 1'),
      8_000,
    );
    expect(post.at - incident.declared_at.getTime()).toBeLessThan(5_000);
    const { rows } = await declaring.bot.store.query<{ channel_id: string }>('SELECT channel_id FROM incidents WHERE id = $1', [
      incident.id,
    ]);
    expect(post.args.channel).toBe(rows[0]!.channel_id);
  });
});
