// bench:ack — the bot in HTTP mode against a minimal Bolt app that only acks, measured in the same run:
// 2,000 signed slash commands at concurrency 50 each, from a load generator of its own, in alternating rounds after 1,000
// to warm up, on connections kept open (`--fresh-connections`: new ones for each round, whose opening burst then sets the
// p99 of both apps); p50/p99 ack latency and their ratio (pooled over all rounds, and the median of the rounds'
// ratios). One round starts real post-ack work with every command (`/health all` against a fast, a slow and a hanging service) and counts the requests
// reaching those services. Goals: the bot's p99 <= 1.3x the minimal app's and under 50 ms; each service checked at
// most once per freshness window (`reads.freshFor`).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { startFakeService, type FakeService } from '../test/fakes/fake-services.ts';
import { startFakeSlack } from '../test/fakes/fake-slack.ts';
import { startBotProcess } from '../test/support/bot-process.ts';
import type { SlashCommand } from '../test/support/slack-requests.ts';
import { compareAcks, median, percentile as pct, WARM_UP, type AckTally } from './ack-rounds.ts';
import { scratchDatabase } from './scratch-database.ts';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '50' },
    // The bot's store: PostgreSQL (a scratch database) or the embedded SQLite file.
    store: { type: 'string', default: 'postgres' },
    // Only the rounds whose command text is this (e.g. `--only all` with BENCH_NODE_OPTIONS to profile one round).
    only: { type: 'string' },
    // Each round on new connections (the burst of opening them sets the p99), rather than on connections kept open.
    'fresh-connections': { type: 'boolean', default: false },
  },
});
if (!['postgres', 'embedded'].includes(args.store)) throw new Error('--store is postgres or embedded');
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const SECRET = 'bench-ack-signing-secret';
const MINIMAL_APP = fileURLToPath(new URL('./minimal-bolt-app.ts', import.meta.url));
// The bot's default `reads.freshFor`: a service's result younger than this is served again.
const FRESH_FOR_MS = 10_000;
// The hanging service's checks give up after this (its services.<name>.health.timeout).
const HEALTH_TIMEOUT_MS = 2_000;
// The young generation the shipped bot runs with (Dockerfile CMD, package.json "start").
const BOT_V8_FLAGS = '--max-semi-space-size=4';

async function main(): Promise<void> {
  const database = args.store === 'postgres' ? await scratchDatabase('rb_bench_ack') : undefined;
  const storeEnv: Record<string, string> = database
    ? { DATABASE_URL: database.url }
    : { DATA_DIR: mkdtempSync(join(tmpdir(), 'rb-bench-ack-data-')) };

  const slack = await startFakeSlack();
  // The watched services of the health round: one answers at once, one late (over its latency limit), one never.
  const fast = await startFakeService({ '/health': { body: { status: 'healthy' } } });
  const slow = await startFakeService({ '/health': { body: { status: 'healthy' }, delayMs: 1_500 } });
  const hanging = await startFakeService({ '/health': { hang: true } });
  const watched: Record<string, FakeService> = { 'rlhf-audit-trail': fast, 'pqc-migration-audit': slow, regulensai: hanging };
  const dir = mkdtempSync(join(tmpdir(), 'rb-bench-ack-'));
  const configPath = join(dir, 'runbook-bot.yml');
  writeFileSync(
    configPath,
    stringify({
      services: Object.fromEntries(
        Object.entries(watched).map(([name, service]) => [
          name,
          { health: { timeout: HEALTH_TIMEOUT_MS, http: [{ name: 'api', url: `${service.url}/health`, latencyWarn: 1_400 }] } },
        ]),
      ),
      reads: { freshFor: FRESH_FOR_MS },
      // Only the commands check the services here: the scheduled checks (and a start-up catch-up) would add hits of their own.
      schedules: { dailyHealth: { enabled: false }, healthWatch: { enabled: false } },
    }),
  );
  // Both apps run as processes of their own, so the load generator here does not share their event loop.
  const env = {
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.url,
    ...storeEnv,
    RUNBOOK_BOT_CONFIG: configPath,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  };
  // The bot runs with the V8 flag its start command has (Dockerfile, `npm start`), as bench:footprint runs it;
  // BENCH_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is added to the bot's process only.
  const botOptions = { NODE_OPTIONS: [BOT_V8_FLAGS, process.env.BENCH_NODE_OPTIONS ?? ''].join(' ').trim() };
  const bot = await startBotProcess({ ...env, ...botOptions, LOG_LEVEL: 'info' });
  const minimal = await startBotProcess(env, 30_000, MINIMAL_APP);
  const botUrl = bot.baseUrl;

  const load = () =>
    loadavg()
      .map((value) => value.toFixed(1))
      .join(' ');
  console.log(
    `bench:ack (${args.store} store): ${REQUESTS} signed slash commands per app at concurrency ${CONCURRENCY}, in alternating rounds ` +
      `after ${WARM_UP} to warm up, ${args['fresh-connections'] ? 'each round on new connections' : 'on connections kept open'}, ` +
      `the bot with ${BOT_V8_FLAGS}; ` +
      `${new Date().toISOString()}, Node ${process.version}, load average ${load()} on ${availableParallelism()} CPUs`,
  );
  const cases = [
    { name: '/health <unknown service> (answered from the config)', command: '/health', text: 'billing' },
    { name: '/incident list (answered from the store)', command: '/incident', text: 'list' },
    {
      name: `/health all (post-ack work: checks of a fast, a slow (1.5 s) and a hanging service (${HEALTH_TIMEOUT_MS / 1000} s timeout))`,
      command: '/health',
      text: 'all',
      dependencies: true,
    },
  ];
  let worstRatio = 0;
  let worstP99 = 0;
  let hitsWithinGoal = true;
  for (const { name, command, text, dependencies } of cases.filter((c) => args.only === undefined || c.text === args.only)) {
    // Each command gets a response URL of its own, as from Slack, so the post-ack result lands in the fake Slack.
    const input = (): SlashCommand => ({ command, text, responseUrl: slack.newResponseUrl() });
    const hitsBefore = Object.values(watched).map((service) => service.requests.length);
    const started = performance.now();
    const tally: AckTally = { queued: 0, refused: 0 };
    const { baseline, ours, cpu, rounds } = await compareAcks({
      secret: SECRET,
      concurrency: CONCURRENCY,
      tally,
      botUrl,
      minimalUrl: minimal.baseUrl,
      botPid: bot.child.pid,
      minimalPid: minimal.child.pid,
      input,
      requests: REQUESTS,
      freshConnections: args['fresh-connections'],
    });
    const elapsedMs = performance.now() - started;
    const ratio = pct(ours, 99) / pct(baseline, 99);
    const roundRatios = rounds.map((round) => round.bot / round.minimal);
    worstRatio = Math.max(worstRatio, ratio);
    worstP99 = Math.max(worstP99, pct(ours, 99));
    console.log(`${name}`);
    console.log(`  minimal Bolt app: p50 ${pct(baseline, 50).toFixed(1)} ms  p99 ${pct(baseline, 99).toFixed(1)} ms`);
    console.log(
      `  runbook-bot:      p50 ${pct(ours, 50).toFixed(1)} ms  p99 ${pct(ours, 99).toFixed(1)} ms  max ${ours.at(-1)!.toFixed(1)} ms`,
    );
    console.log(
      `  p99 ratio: ${ratio.toFixed(2)}x pooled; per round ${roundRatios.map((r) => r.toFixed(2)).join(' ')} ` +
        `(median ${median(roundRatios).toFixed(2)}x)`,
    );
    if (cpu.bot > 0)
      console.log(
        `  CPU per command: minimal ${(cpu.minimal / REQUESTS).toFixed(2)} ms, runbook-bot ${(cpu.bot / REQUESTS).toFixed(2)} ms ` +
          `(${(cpu.bot / cpu.minimal).toFixed(2)}x; on a machine short of CPU the ack waits in proportion)`,
      );
    console.log(
      `  measured acks: ${REQUESTS - tally.queued - tally.refused} started at once, ${tally.queued} queued, ${tally.refused} refused (line full)`,
    );
    if (!dependencies) continue;
    const commands = REQUESTS + WARM_UP;
    // A service's result is served again for freshFor after its run ends, so a round of this length may run it at most this often.
    const windows = Math.ceil(elapsedMs / FRESH_FOR_MS);
    console.log(
      `  ${commands} commands in ${(elapsedMs / 1000).toFixed(1)} s (${windows} freshness window${windows === 1 ? '' : 's'} of ${FRESH_FOR_MS / 1000} s)`,
    );
    Object.entries(watched).forEach(([service, fake], index) => {
      const hits = fake.requests.length - hitsBefore[index]!;
      hitsWithinGoal &&= hits <= windows;
      console.log(
        `  dependency hits, ${service}: ${hits} (${((hits / commands) * 100).toFixed(2)} per 100 commands; goal <= ${windows}, one run per window)`,
      );
    });
  }
  const metrics = await (await fetch(`${botUrl}/metrics`)).text();
  const metric = (line: string) => new RegExp(`^${line} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 'absent';
  console.log(
    `bot /metrics: runbook_bot_nodejs_eventloop_lag_p99_seconds ${metric('runbook_bot_nodejs_eventloop_lag_p99_seconds')}, ` +
      `runbook_bot_nodejs_eventloop_lag_max_seconds ${metric('runbook_bot_nodejs_eventloop_lag_max_seconds')}, ` +
      `runbook_bot_queue_refused_total{kind="health"} ${metric('runbook_bot_queue_refused_total\\{kind="health"\\}')}`,
  );
  const met = worstRatio <= 1.3 && worstP99 < 50 && hitsWithinGoal;
  console.log(
    `worst p99 ratio ${worstRatio.toFixed(2)}x (goal <= 1.3x), worst p99 ${worstP99.toFixed(1)} ms (goal < 50 ms), ` +
      `dependency hits ${hitsWithinGoal ? 'within' : 'OVER'} one run per service per window -> ${met ? 'GOAL MET' : 'GOAL MISSED'}`,
  );

  await minimal.kill();
  await bot.kill();
  await Promise.all([slack.close(), ...Object.values(watched).map((service) => service.close())]);
  await database?.drop();
}

await main();
