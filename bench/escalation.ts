// bench:escalation — 10,000 open incidents with staggered due times, three bot replicas on one PostgreSQL:
// lateness of escalation posts (p50/p99/max), duplicates and misses. This measures the durable timers, not Slack's
// limits (bench:slack-limits does): the bot's workspace posting budget is raised for it (slack.postsPerMinute), as a
// workspace granted more would. Goal: 0 duplicates and 0 misses always; p99 <= 1 s on an idle machine.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { openStore } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { startFakeSlack, type RecordedCall } from '../test/fakes/fake-slack.ts';
import { startBotProcess, type BotProcess } from '../test/support/bot-process.ts';
import { scratchDatabase } from './scratch-database.ts';

const { values: args } = parseArgs({
  options: {
    incidents: { type: 'string', default: '10000' },
    levels: { type: 'string', default: '2' },
    replicas: { type: 'string', default: '3' },
    window: { type: 'string', default: '60' },
    'lead-in': { type: 'string', default: '20' },
  },
});
const INCIDENTS = Number(args.incidents);
const LEVELS = Number(args.levels);
const REPLICAS = Number(args.replicas);
const WINDOW_MS = Number(args.window) * 1000;
const LEAD_IN_MS = Number(args['lead-in']) * 1000;
const LEVEL_GAP_MS = 5_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  console.log(`bench:escalation: ${INCIDENTS} incidents x ${LEVELS} levels, due over ${WINDOW_MS / 1000}s, ${REPLICAS} replicas`);
  const database = await scratchDatabase('rb_bench_escalation');
  const databaseUrl = database.url;

  const slack = await startFakeSlack();
  slack.addUser({ id: 'U0LEAD' });
  slack.addChannel({ name: 'incidents' });
  const store = await openStore({ databaseUrl });
  await migrate(store);

  // Incidents already set up (channel, pinned card), with escalation steps falling due across the window.
  const start = Date.now() + LEAD_IN_MS;
  const declaredAt = new Date(Date.now());
  const rows: Array<{ id: number; channel: string; card: string }> = [];
  for (let i = 1; i <= INCIDENTS; i += 1) {
    const channel = slack.addChannel({ name: `incident-bench-${i}` });
    const card = slack.seedMessage(channel.id, { user: slack.workspace.botUserId, text: `card ${i}` });
    rows.push({ id: i, channel: channel.id, card: card.ts });
  }
  const due = new Map<string, number>();
  for (let offset = 0; offset < rows.length; offset += 1000) {
    const batch = rows.slice(offset, offset + 1000);
    await store.query(
      `INSERT INTO incidents (id, declaration_key, title, severity, declared_by, declared_at, channel_id, channel_name, card_ts, setup_done, ack_due_at)
       SELECT id, 'bench:' || id, 'bench incident ' || id, 'P2', 'U0LEAD', $1, channel, 'incident-bench-' || id, card, true, NULL
       FROM unnest($2::int[], $3::text[], $4::text[]) AS t(id, channel, card)`,
      [declaredAt, batch.map((row) => row.id), batch.map((row) => row.channel), batch.map((row) => row.card)],
    );
    const ids: number[] = [];
    const levels: number[] = [];
    const dueAts: Date[] = [];
    for (const row of batch) {
      const first = start + Math.floor(Math.random() * WINDOW_MS);
      for (let level = 1; level <= LEVELS; level += 1) {
        const at = first + (level - 1) * LEVEL_GAP_MS;
        ids.push(row.id);
        levels.push(level);
        dueAts.push(new Date(at));
        due.set(`${row.id}:${level}`, at);
      }
    }
    await store.query(
      `INSERT INTO escalation_steps (incident_id, level, label, notify, due_at)
       SELECT id, level, 'Level ' || level, '["U0LEAD"]'::jsonb, due FROM unnest($1::int[], $2::int[], $3::timestamptz[]) AS t(id, level, due)`,
      [ids, levels, dueAts],
    );
    // The timer of each incident's first level (posting a level arms the next, as at declaration).
    await store.query(
      `INSERT INTO work (kind, key, incident_id, priority, run_at, created_at)
       SELECT 'escalation', 'escalation:' || id || ':1', id, 0, due, now() FROM unnest($1::int[], $2::int[], $3::timestamptz[]) AS t(id, level, due)
       WHERE level = 1`,
      [ids, levels, dueAts],
    );
  }
  await store.query(`SELECT setval('incidents_id_seq', $1)`, [INCIDENTS]);
  await store.close();

  const dir = mkdtempSync(join(tmpdir(), 'rb-bench-'));
  const configPath = join(dir, 'runbook-bot.yml');
  writeFileSync(
    configPath,
    stringify({ timers: { lease: '5s', pollEvery: '200ms', lateAfter: '30s' }, slack: { postsPerMinute: 1_000_000 } }),
  );
  const env = {
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: 'bench-signing-secret',
    SLACK_API_URL: slack.url,
    DATABASE_URL: databaseUrl,
    RUNBOOK_BOT_CONFIG: configPath,
    LOG_LEVEL: 'warn',
  };
  const replicas: BotProcess[] = [];
  for (let i = 0; i < REPLICAS; i += 1) replicas.push(await startBotProcess({ ...env, LOG_LEVEL: 'info' }));
  const startedLate = Date.now() > start;
  if (startedLate) console.log('warning: the replicas started after the first due time; raise --lead-in');

  const expected = INCIDENTS * LEVELS;
  const deadline = start + WINDOW_MS + LEVELS * LEVEL_GAP_MS + 60_000;
  // Every escalation post Slack stored (a page's key is escalation:<incident>:<level>).
  const isPage = (call: RecordedCall) =>
    call.method === 'chat.postMessage' &&
    call.status === 200 &&
    !call.error &&
    /^escalation:\d+:\d+$/.test(
      String((call.args.metadata as { event_payload?: { key?: string } } | undefined)?.event_payload?.key),
    );
  const posts = () => slack.calls('chat.postMessage').filter(isPage);
  // Counted as Slack records them: copying the whole call log twice a second cost this process about 20 s of CPU per
  // run, on the same two cores as the replicas it measures.
  let seen = 0;
  await slack
    .waitFor((call) => isPage(call) && (seen += 1) >= expected, Math.max(1, deadline - Date.now()))
    .catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // catch any late duplicate
  await Promise.all(replicas.map((replica) => replica.kill('SIGTERM')));

  const byKey = new Map<string, number[]>();
  for (const call of posts()) {
    const key = String((call.args.metadata as { event_payload: { key: string } }).event_payload.key).replace(/^escalation:/, '');
    byKey.set(key, [...(byKey.get(key) ?? []), call.at]);
  }
  const lateness = [...byKey.entries()].map(([key, ats]) => Math.max(0, Math.min(...ats) - due.get(key)!)).sort((a, b) => a - b);
  const duplicates = [...byKey.values()].reduce((sum, ats) => sum + ats.length - 1, 0);
  const misses = expected - byKey.size;
  const p50 = percentile(lateness, 50);
  const p99 = percentile(lateness, 99);
  const max = lateness.at(-1) ?? Number.NaN;
  console.log(
    `posts: ${byKey.size}/${expected} in ${((Math.max(...[...byKey.values()].flat()) - start) / 1000).toFixed(1)}s of due window ${WINDOW_MS / 1000}s`,
  );
  console.log(`lateness ms: p50 ${p50}  p99 ${p99}  max ${max}`);
  console.log(`duplicates: ${duplicates}  misses: ${misses}`);
  console.log(
    `p99 vs goal (1000 ms): ${(p99 / 1000).toFixed(2)}x  -> ${p99 <= 1000 && duplicates === 0 && misses === 0 ? 'GOAL MET' : 'GOAL MISSED'}`,
  );

  await slack.close();
  await database.drop();
}

await main();
