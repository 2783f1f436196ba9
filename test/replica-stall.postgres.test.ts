// A replica that stalls mid-post (paused with SIGSTOP past its lease, then resumed) does not make a page appear twice.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openStore, type Store } from '../src/store/db.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startBotProcess, type BotProcess } from './support/bot-process.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { sendSlashCommand } from './support/slack-requests.ts';

const SECRET = 'stall-test-signing-secret';

describe('a replica paused while it posts a page', () => {
  let slack: FakeSlack | undefined;
  let database: TestDatabase | undefined;
  let store: Store | undefined;
  const replicas: BotProcess[] = [];

  afterEach(async () => {
    for (const replica of replicas.splice(0)) {
      replica.child.kill('SIGCONT');
      await replica.kill('SIGKILL');
    }
    await store?.close();
    await slack?.close();
    await database?.drop();
  });

  it('is taken over after its lease, the page is found instead of posted again, and the paused replica stands down', async () => {
    slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0LEAD']) slack.addUser({ id });
    slack.addChannel({ name: 'incidents' });
    database = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'rb-stall-'));
    const configPath = join(dir, 'runbook-bot.yml');
    writeFileSync(
      configPath,
      stringify({
        escalation: { default: [{ after: '4s', label: 'Engineering lead', notify: ['U0LEAD'] }] },
        timers: { lease: '2s', pollEvery: '100ms', lateAfter: '30s' },
      }),
    );
    const env = {
      SLACK_BOT_TOKEN: slack.token,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      DATABASE_URL: database.url,
      RUNBOOK_BOT_CONFIG: configPath,
    };
    const paused = await startBotProcess(env);
    replicas.push(paused);
    const declared = await sendSlashCommand(paused.baseUrl, SECRET, {
      command: '/incident',
      text: 'declare P2 Audit API down',
      userId: 'U0ALICE',
      responseUrl: slack.newResponseUrl(),
    });
    expect(declared.status).toBe(200);

    // Slack takes a second to store each post; the replica is paused while its page is on the way.
    slack.delay('chat.postMessage', 1_000);
    const page = (call: { method: string; args: Record<string, unknown> }) =>
      call.method === 'chat.postMessage' &&
      (call.args.metadata as { event_payload?: { key?: string } } | undefined)?.event_payload?.key === 'escalation:1:1';
    await slack.waitForArrival(page, 20_000);
    paused.child.kill('SIGSTOP');

    // Another replica starts, finds the claim's lease run out, looks in the channel first and finds the page.
    const other = await startBotProcess(env);
    replicas.push(other);
    store = await openStore({ databaseUrl: database.url });
    const deadline = Date.now() + 20_000;
    let state = '';
    while (Date.now() < deadline) {
      state = (await store.query<{ state: string }>(`SELECT state FROM escalation_steps WHERE incident_id = 1 AND level = 1`))
        .rows[0]!.state;
      if (state === 'posted') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(state).toBe('posted');

    // The paused replica resumes where it stopped: its lease is gone, so it does nothing more.
    paused.child.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const posts = slack
      .messages()
      .filter(
        (message) =>
          (message.metadata as { event_payload?: { key?: string } } | undefined)?.event_payload?.key === 'escalation:1:1',
      );
    expect(posts).toHaveLength(1);
    const { rows } = await store.query<{ owner: string; attempts: number }>(
      `SELECT owner, attempts FROM work WHERE key = 'escalation:1:1'`,
    );
    expect(rows[0]!.attempts).toBeGreaterThanOrEqual(2);
    expect(other.logs().some((line) => line.event === 'escalation.posted')).toBe(true);
  }, 90_000);
});
