// bench:slack-limits — three replicas against a Slack that enforces its rate limits (and, in the second round, fails
// 10 % of writes: 500 or a dropped connection before or after the effect, or no answer): 50 incidents declared within
// 10 s, escalation levels due at 20/40/60 s. Prints channel-setup time, escalation lateness, duplicates, misses and
// conversations.create calls per incident. Goals (issue #13): 0 duplicates, 0 misses, lateness p99 <= 2 s for pages
// posted in their own incident channel, <= 1.1 create calls per incident, every channel within Tier 2's time + 10 s.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { openStore } from '../src/store/db.ts';
import { startFakeSlack, type FakeSlack } from '../test/fakes/fake-slack.ts';
import { startBotProcess, type BotProcess } from '../test/support/bot-process.ts';
import { sendSlashCommand } from '../test/support/slack-requests.ts';
import { startThrowawayRedis } from '../test/support/throwaway-redis.ts';
import { scratchDatabase } from './scratch-database.ts';

const { values: args } = parseArgs({
  options: {
    incidents: { type: 'string', default: '50' },
    replicas: { type: 'string', default: '3' },
    within: { type: 'string', default: '10' },
    faults: { type: 'string', default: '0.1' },
    rounds: { type: 'string', default: 'limits,faults' },
  },
});
const INCIDENTS = Number(args.incidents);
const REPLICAS = Number(args.replicas);
const WITHIN_MS = Number(args.within) * 1000;
const LEVELS = [20_000, 40_000, 60_000];
const SECRET = 'bench-signing-secret-0123';
const TIER2_PER_MINUTE = 20;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The keys a post carries: one, or several for posts combined into one message. */
function keysOf(metadata: unknown): string[] {
  const payload = (metadata as { event_payload?: { key?: string; keys?: string } } | undefined)?.event_payload;
  if (!payload?.key) return [];
  return payload.keys ? payload.keys.split(' ') : [payload.key];
}

type Call = ReturnType<FakeSlack['calls']>[number];

/** A call Slack carried out: answered 200, or met a fault after its effect (the answer was lost, not the call). */
function tookEffect(call: Call): boolean {
  if (call.error) return false;
  return call.status === 200 || call.fault === 'http500_after' || call.fault === 'drop_after' || call.fault === 'no_answer_after';
}

interface RoundResult {
  name: string;
  setupP50: number;
  setupP99: number;
  setupMax: number;
  channelLatePastTier2: number;
  /** The same, counting only creates answered 200 (a channel whose answer was lost counts as never made). */
  channelLatePastTier2AnsweredOnly: number;
  inChannel: number[];
  elsewhere: number[];
  duplicates: number;
  misses: number;
  createsPerIncident: number;
  rateLimited: number;
  faults: number;
}

/** Where the time of late pages went: started late by the pollers, or held by Slack's budgets (the replicas' logs). */
function diagnose(logs: Array<Record<string, unknown>>): void {
  const started = logs
    .filter((line) => line.event === 'escalation.posted')
    .map((line) => Number(line.lateByMs))
    .sort((a, b) => a - b);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(
    `pages started by a poller after their due time: p50 ${s(percentile(started, 50))}  p99 ${s(percentile(started, 99))}  max ${s(started.at(-1) ?? Number.NaN)}  (${started.length})`,
  );
  const waits = new Map<string, number[]>();
  for (const line of logs.filter((entry) => entry.event === 'slack.budget_wait')) {
    const budget = String(line.budget ?? '').replace(/^post:C\w+$/, 'post:<a channel>');
    const key = `${String(line.priority)} ${String(line.method)} (${budget})`;
    waits.set(key, [...(waits.get(key) ?? []), Number(line.waitedMs)]);
  }
  for (const [key, list] of [...waits].sort())
    console.log(`  calls that waited >= 5 s for Slack's budget, ${key}: ${list.length}, longest ${s(Math.max(...list))}`);
}

async function round(name: string, faultRate: number): Promise<RoundResult> {
  const database = await scratchDatabase('rb_bench_slack');
  const redis = process.env.REDIS_URL ? undefined : await startThrowawayRedis();
  const slack: FakeSlack = await startFakeSlack();
  slack.addUser({ id: 'U0LEAD' });
  slack.addUser({ id: 'U0IC' });
  slack.addUser({ id: 'U0EXEC' });
  slack.addUser({ id: 'U0ALICE' });
  slack.addChannel({ name: 'incidents' });
  slack.addChannel({ name: 'ops' });
  slack.enforceRateLimits();
  if (faultRate > 0) slack.injectFaults({ rate: faultRate, seed: 42 });

  const dir = mkdtempSync(join(tmpdir(), 'rb-bench-slack-'));
  const configPath = join(dir, 'runbook-bot.yml');
  writeFileSync(
    configPath,
    stringify({
      channels: { announcements: '#incidents', summaries: '#ops' },
      incidents: { severities: { P2: '4h' } },
      escalation: {
        default: [
          { after: '20s', label: 'Engineering lead', notify: ['U0LEAD'] },
          { after: '40s', label: 'Incident commander', notify: ['U0IC'] },
          { after: '60s', label: 'Executive team', notify: ['U0EXEC'] },
        ],
      },
      timers: { lease: '10s', pollEvery: '250ms', lateAfter: '30s' },
    }),
  );
  const env = {
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.url,
    DATABASE_URL: database.url,
    REDIS_URL: process.env.REDIS_URL ?? redis!.url,
    RUNBOOK_BOT_CONFIG: configPath,
    // startBotProcess waits for the bot.started line.
    LOG_LEVEL: 'info',
  };
  const replicas: BotProcess[] = [];
  for (let i = 0; i < REPLICAS; i += 1) replicas.push(await startBotProcess(env));

  // 50 declarations at random moments within 10 s, spread over the replicas.
  const started = Date.now();
  await Promise.all(
    Array.from({ length: INCIDENTS }, async (_, i) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * WITHIN_MS));
      await sendSlashCommand(replicas[i % REPLICAS]!.baseUrl, SECRET, {
        command: '/incident',
        text: `declare P2 Bench incident ${i + 1}`,
        userId: 'U0ALICE',
        channelId: slack.channelByName('ops')!.id,
        triggerId: `bench-trigger-${name}-${i}`,
        responseUrl: slack.newResponseUrl(),
      }).catch((error: unknown) => console.error(`declaration ${i + 1} failed: ${String(error)}`));
    }),
  );

  // Long enough for Tier 2 to allow every channel, and for the last level to fall due and be posted.
  const tier2Ms = Math.ceil(INCIDENTS / TIER2_PER_MINUTE) * 60_000;
  const store = await openStore({ databaseUrl: database.url });
  const deadline = started + Math.max(tier2Ms, WITHIN_MS + LEVELS.at(-1)!) + 60_000;
  const expected = INCIDENTS * LEVELS.length;
  const pagesPosted = async () =>
    (await store.query<{ n: number }>(`SELECT count(*) AS n FROM escalation_steps WHERE state = 'posted'`)).rows[0]!.n;
  const setupsDone = async () =>
    (await store.query<{ n: number }>(`SELECT count(*) AS n FROM incidents WHERE setup_done`)).rows[0]!.n;
  while (Date.now() < deadline && ((await pagesPosted()) < expected || (await setupsDone()) < INCIDENTS))
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  await new Promise((resolve) => setTimeout(resolve, 5_000)); // room for a late duplicate to show
  await Promise.all(replicas.map((replica) => replica.kill('SIGTERM')));
  // What the replicas had to say about the run, by event (retries, lost leases, failures).
  const events = new Map<string, number>();
  for (const line of replicas.flatMap((replica) => replica.logs()))
    if (Number(line.level) >= 40 || ['warn', 'error'].includes(String(line.level)))
      events.set(String(line.event), (events.get(String(line.event)) ?? 0) + 1);
  if (events.size > 0) console.log(`replica warnings and errors by event: ${JSON.stringify(Object.fromEntries(events))}`);
  diagnose(replicas.flatMap((replica) => replica.logs()));

  const incidents = (
    await store.query<{ id: number; declared_at: Date; channel_id: string | null }>(
      'SELECT id, declared_at, channel_id FROM incidents',
    )
  ).rows;
  const steps = (
    await store.query<{ incident_id: number; level: number; due_at: Date }>(
      'SELECT incident_id, level, due_at FROM escalation_steps',
    )
  ).rows;
  const unfinished = (
    await store.query<{ key: string; state: string; attempts: number; last_error: string | null }>(
      `SELECT key, state, attempts, last_error FROM work WHERE state IN ('pending', 'running') AND kind <> 'lock' AND run_at <= now() ORDER BY key`,
    )
  ).rows;
  if (unfinished.length > 0)
    console.log(`unfinished work at the end: ${unfinished.length}, e.g. ${JSON.stringify(unfinished.slice(0, 5))}`);
  await store.close();

  // What Slack stored, by key: every keyed post the bot made, wherever it landed.
  const stored = new Map<string, number>();
  for (const message of slack.messages())
    for (const key of keysOf(message.metadata))
      stored.set(`${message.channel}|${key}`, (stored.get(`${message.channel}|${key}`) ?? 0) + 1);
  const duplicates = [...stored.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);

  // When each post first reached Slack's store (the calls that did, faults after the effect included).
  const firstAt = new Map<string, { at: number; channel: string }>();
  for (const call of slack.calls('chat.postMessage')) {
    if (!tookEffect(call)) continue;
    for (const key of keysOf(call.args.metadata))
      if (!firstAt.has(key)) firstAt.set(key, { at: call.at, channel: String(call.args.channel) });
  }
  const channelOf = new Map(incidents.map((incident) => [incident.id, incident.channel_id]));
  const inChannel: number[] = [];
  const elsewhere: number[] = [];
  let misses = 0;
  for (const step of steps) {
    const direct = firstAt.get(`escalation:${step.incident_id}:${step.level}`);
    const announced = firstAt.get(`escalation:${step.incident_id}:${step.level}:announcements`);
    const first = direct ?? announced;
    if (!first) {
      misses += 1;
      continue;
    }
    const lateness = Math.max(0, first.at - step.due_at.getTime());
    if (direct && direct.channel === channelOf.get(step.incident_id)) inChannel.push(lateness);
    else elsewhere.push(lateness);
  }
  inChannel.sort((a, b) => a - b);
  elsewhere.sort((a, b) => a - b);

  // Setup time: declaration to the announcement of the channel (its last step).
  const setupMs = incidents
    .map((incident) => {
      const announced = firstAt.get(`announce:${incident.id}`);
      return announced ? announced.at - incident.declared_at.getTime() : Number.POSITIVE_INFINITY;
    })
    .sort((a, b) => a - b);
  // Channel creation within what Tier 2 allows: the i-th channel (in order of creation) needs (i - burst) * 3 s. A
  // channel is made when Slack carries out the call, also when its answer is then lost (as posts are counted above).
  const burst = Math.floor(TIER2_PER_MINUTE / 6);
  const latePastTier2 = (calls: Call[]) =>
    calls
      .map((call) => call.at)
      .sort((a, b) => a - b)
      .filter((at, i) => at - started > Math.max(0, i + 1 - burst) * (60_000 / TIER2_PER_MINUTE) + WITHIN_MS + 10_000).length;
  const creates = slack.calls('conversations.create');
  const channelLatePastTier2 = latePastTier2(creates.filter(tookEffect));
  const channelLatePastTier2AnsweredOnly = latePastTier2(creates.filter((call) => call.status === 200 && !call.error));

  const result: RoundResult = {
    name,
    setupP50: percentile(setupMs, 50),
    setupP99: percentile(setupMs, 99),
    setupMax: setupMs.at(-1) ?? Number.NaN,
    channelLatePastTier2,
    channelLatePastTier2AnsweredOnly,
    inChannel,
    elsewhere,
    duplicates,
    misses,
    createsPerIncident: slack.calls('conversations.create').length / INCIDENTS,
    rateLimited: slack.calls().filter((call) => call.status === 429).length,
    faults: slack.calls().filter((call) => call.fault).length,
  };
  await slack.close();
  await database.drop();
  await redis?.stop();
  return result;
}

function report(result: RoundResult): boolean {
  const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'never');
  const lateness = (values: number[]) =>
    values.length === 0
      ? 'none'
      : `p50 ${s(percentile(values, 50))}  p99 ${s(percentile(values, 99))}  max ${s(values.at(-1)!)}  (${values.length})`;
  const p99InChannel = percentile(result.inChannel, 99);
  const met =
    result.duplicates === 0 &&
    result.misses === 0 &&
    (result.inChannel.length === 0 || p99InChannel <= 2_000) &&
    result.createsPerIncident <= 1.1 &&
    result.channelLatePastTier2 === 0;
  console.log(`\n== round: ${result.name} ==`);
  console.log(`Slack answered 429 ${result.rateLimited} times; ${result.faults} calls met an injected fault`);
  console.log(
    `channel setup (declared → announced): p50 ${s(result.setupP50)}  p99 ${s(result.setupP99)}  max ${s(result.setupMax)}`,
  );
  console.log(
    `channels created later than Tier 2 allows + 10 s: ${result.channelLatePastTier2} (counting only creates answered 200: ${result.channelLatePastTier2AnsweredOnly})`,
  );
  console.log(`escalation lateness, pages in their incident channel: ${lateness(result.inChannel)}`);
  console.log(
    `escalation lateness, pages in the announcement channel (incident channel not there yet): ${lateness(result.elsewhere)}`,
  );
  console.log(`duplicates: ${result.duplicates}  misses: ${result.misses}`);
  console.log(`conversations.create calls per incident: ${result.createsPerIncident.toFixed(2)} (goal <= 1.10)`);
  console.log(
    `p99 in-channel lateness vs goal (2 s): ${Number.isFinite(p99InChannel) ? (p99InChannel / 2_000).toFixed(2) : 'n/a'}x  -> ${met ? 'GOAL MET' : 'GOAL MISSED'}`,
  );
  return met;
}

const rounds = args.rounds.split(',');
console.log(
  `bench:slack-limits: ${INCIDENTS} incidents declared within ${WITHIN_MS / 1000} s on ${REPLICAS} replicas, levels at 20/40/60 s; rounds: ${rounds.join(', ')}`,
);
let allMet = true;
for (const name of rounds) {
  const result = await round(name, name === 'faults' ? Number(args.faults) : 0);
  allMet = report(result) && allMet;
}
process.exitCode = allMet ? 0 : 1;
