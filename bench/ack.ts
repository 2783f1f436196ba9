// bench:ack — the bot in HTTP mode against a minimal Bolt app that only acks, measured in the same run:
// 2,000 signed slash commands at concurrency 50 each; p50/p99 ack latency and their ratio.
// Goal: the bot's p99 <= 1.3x the minimal app's, and under 50 ms.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { startFakeSlack } from '../test/fakes/fake-slack.ts';
import { startBotProcess } from '../test/support/bot-process.ts';
import { sendSlashCommand } from '../test/support/slack-requests.ts';
import { scratchDatabase } from './scratch-database.ts';

const { values: args } = parseArgs({
  options: { requests: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '50' } },
});
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const SECRET = 'bench-ack-signing-secret';
const MINIMAL_APP = fileURLToPath(new URL('./minimal-bolt-app.ts', import.meta.url));

async function measure(baseUrl: string, command: string, text: string, count: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  async function worker() {
    while (next < count) {
      next += 1;
      const started = performance.now();
      const response = await sendSlashCommand(baseUrl, SECRET, { command, text });
      latencies.push(performance.now() - started);
      if (response.status !== 200) throw new Error(`${command} answered ${response.status}`);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return latencies.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function main(): Promise<void> {
  const database = await scratchDatabase('rb_bench_ack');

  const slack = await startFakeSlack();
  const dir = mkdtempSync(join(tmpdir(), 'rb-bench-ack-'));
  const configPath = join(dir, 'runbook-bot.yml');
  writeFileSync(configPath, stringify({ services: { 'rlhf-audit-trail': {}, 'pqc-migration-audit': {}, regulensai: {} } }));
  // Both apps run as processes of their own, so the load generator here does not share their event loop.
  const env = {
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.url,
    DATABASE_URL: database.url,
    RUNBOOK_BOT_CONFIG: configPath,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  };
  const bot = await startBotProcess({ ...env, LOG_LEVEL: 'info' });
  const minimal = await startBotProcess(env, 30_000, MINIMAL_APP);
  const botUrl = bot.baseUrl;

  console.log(`bench:ack: ${REQUESTS} signed slash commands at concurrency ${CONCURRENCY}, each app measured in turn`);
  const cases = [
    { name: '/health <unknown service> (answered from the config)', command: '/health', text: 'billing' },
    { name: '/incident list (answered from the store)', command: '/incident', text: 'list' },
  ];
  let worstRatio = 0;
  let worstP99 = 0;
  for (const { name, command, text } of cases) {
    // Warm both up (JIT, pools) before measuring; alternate so machine noise hits both alike.
    await measure(minimal.baseUrl, command, text, 200);
    await measure(botUrl, command, text, 200);
    // Interleaved rounds, so a noisy moment on this machine hits both apps alike.
    const baseline: number[] = [];
    const ours: number[] = [];
    const rounds = 4;
    for (let round = 0; round < rounds; round += 1) {
      baseline.push(...(await measure(minimal.baseUrl, command, text, REQUESTS / rounds)));
      ours.push(...(await measure(botUrl, command, text, REQUESTS / rounds)));
    }
    baseline.sort((a, b) => a - b);
    ours.sort((a, b) => a - b);
    const ratio = pct(ours, 99) / pct(baseline, 99);
    worstRatio = Math.max(worstRatio, ratio);
    worstP99 = Math.max(worstP99, pct(ours, 99));
    console.log(`${name}`);
    console.log(`  minimal Bolt app: p50 ${pct(baseline, 50).toFixed(1)} ms  p99 ${pct(baseline, 99).toFixed(1)} ms`);
    console.log(`  runbook-bot:      p50 ${pct(ours, 50).toFixed(1)} ms  p99 ${pct(ours, 99).toFixed(1)} ms`);
    console.log(`  p99 ratio: ${ratio.toFixed(2)}x`);
  }
  console.log(
    `worst p99 ratio ${worstRatio.toFixed(2)}x (goal <= 1.3x), worst p99 ${worstP99.toFixed(1)} ms (goal < 50 ms) -> ${worstRatio <= 1.3 && worstP99 < 50 ? 'GOAL MET' : 'GOAL MISSED'}`,
  );

  await minimal.kill();
  await bot.kill();
  await slack.close();
  await database.drop();
}

await main();
