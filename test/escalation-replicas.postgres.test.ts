import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { openStore, type Store } from '../src/store/db.ts';
import { startFakeSlack, type FakeSlack } from './fakes/fake-slack.ts';
import { startBotProcess, type BotProcess } from './support/bot-process.ts';
import { createTestDatabase, type TestDatabase } from './support/databases.ts';
import { sendSlashCommand } from './support/slack-requests.ts';

const SECRET = 'replica-test-signing-secret';
const INCIDENTS = 12;

describe('escalation across three replicas', () => {
  let slack: FakeSlack;
  let database: TestDatabase;
  let store: Store;
  const replicas: BotProcess[] = [];

  beforeAll(async () => {
    slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0LEAD', 'U0IC', 'U0EXEC']) slack.addUser({ id });
    slack.addChannel({ name: 'incidents' });
    database = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'rb-replicas-'));
    const configPath = join(dir, 'runbook-bot.yml');
    // The runbook matrix compressed from minutes to seconds.
    writeFileSync(
      configPath,
      stringify({
        escalation: {
          default: [
            { after: '3s', label: 'Engineering lead', notify: ['U0LEAD'] },
            { after: '5s', label: 'Incident commander', notify: ['U0IC'] },
            { after: '7s', label: 'Executive team', notify: ['U0EXEC'] },
          ],
        },
        timers: { lease: '1500ms', pollEvery: '100ms', lateAfter: '10s', retryAfter: '500ms' },
      }),
    );
    const env = {
      SLACK_BOT_TOKEN: slack.token,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      DATABASE_URL: database.url,
      RUNBOOK_BOT_CONFIG: configPath,
    };
    // Start one first so the others find the migrations applied, then two at once.
    replicas.push(await startBotProcess(env));
    replicas.push(...(await Promise.all([startBotProcess(env), startBotProcess(env)])));
    store = await openStore({ databaseUrl: database.url });
  }, 90_000);

  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.kill('SIGKILL')));
    await store?.close();
    await slack?.close();
    await database?.drop();
  });

  it('posts every level exactly once and in order, even when one replica is killed mid-run', async () => {
    for (let i = 0; i < INCIDENTS; i += 1) {
      const replica = replicas[i % replicas.length]!;
      const response = await sendSlashCommand(replica.baseUrl, SECRET, {
        command: '/incident',
        text: `declare P2 replica test ${i}`,
        userId: 'U0ALICE',
        responseUrl: slack.newResponseUrl(),
      });
      expect(response.status).toBe(200);
    }
    // Kill one replica with SIGKILL while levels are falling due (it may be holding claims).
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const killed = replicas[1]!;
    await killed.kill('SIGKILL');

    const deadline = Date.now() + 30_000;
    let pending = Number.POSITIVE_INFINITY;
    while (Date.now() < deadline) {
      const { rows } = await store.query<{ n: number }>(`SELECT count(*) AS n FROM escalation_steps WHERE state <> 'posted'`);
      pending = rows[0]!.n;
      if (pending === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(pending).toBe(0);

    // A level paged in the announcement channel (its channel not made yet, e.g. because the killed replica held the
    // setup) is copied into the incident channel once that exists: give the last setups and copies a moment.
    const levelsByIncident = async () => {
      const { rows } = await store.query<{ id: number; channel_id: string | null }>(
        'SELECT id, channel_id FROM incidents ORDER BY id',
      );
      return rows.map((incident) => ({
        id: incident.id,
        levels: incident.channel_id
          ? slack
              .messages(incident.channel_id)
              .filter((message) => message.text.startsWith('Escalation level'))
              .map((message) => Number(/^Escalation level (\d+)/.exec(message.text)![1]))
          : [],
      }));
    };
    await vi.waitFor(
      async () => {
        const all = await levelsByIncident();
        expect(all).toHaveLength(INCIDENTS);
        for (const { id, levels } of all) expect(levels, `incident ${id}`).toEqual([1, 2, 3]);
      },
      { timeout: 20_000, interval: 250 },
    );
    // Every replica did some of the work, the killed one included (before it died).
    const { rows: posters } = await store.query<{ n: number }>(
      `SELECT count(DISTINCT owner) AS n FROM work WHERE kind = 'escalation' AND state = 'done'`,
    );
    expect(posters[0]!.n).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
