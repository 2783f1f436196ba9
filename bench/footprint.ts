// bench:footprint — the bot as it ships (the built dist/, as the container runs it), on the embedded store and on
// PostgreSQL: time to ready and start-up peak on existing data, idle RSS, RSS after 10,000 mixed requests with 1,000 open
// incidents, the CLI's peak RSS for `health all` and `health <service>` (its Kubernetes checks reading a fake API server's
// lists), and (embedded store) ack p99 against a minimal Bolt app in the same run. --cli-only measures the CLI alone,
// --ack-only the ack comparison alone.
// Goals (issue #15): embedded idle <= 120 MB, start-up peak <= 160 MB, ready <= 1.5 s on existing data; PostgreSQL idle
// <= 110 MB; CLI health <= 100 MB; embedded ack p99 <= 1.3x the minimal Bolt app and < 50 ms.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { openMigratedStore } from '../src/store/open.ts';
import { finishSetup, insertIncident, recordChannel } from '../src/store/incidents.ts';
import { startFakeSlack, type FakeSlack } from '../test/fakes/fake-slack.ts';
import { runningPod, service, workload } from '../test/fakes/kubernetes/fixtures.ts';
import { startFakeKubernetes, type FakeKubernetes } from '../test/fakes/kubernetes/index.ts';
import { startBotProcess, type BotProcess } from '../test/support/bot-process.ts';
import { sendSlashCommand, type SlashCommand } from '../test/support/slack-requests.ts';
import { compareAcks, percentile, type Comparison } from './ack-rounds.ts';
import { scratchDatabase } from './scratch-database.ts';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    incidents: { type: 'string', default: '1000' },
    'ack-requests': { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '50' },
    stores: { type: 'string', default: 'embedded,postgres' },
    'cli-only': { type: 'boolean', default: false },
    'ack-only': { type: 'boolean', default: false },
  },
});
const REQUESTS = Number(args.requests);
const INCIDENTS = Number(args.incidents);
const ACK_REQUESTS = Number(args['ack-requests']);
const CONCURRENCY = Number(args.concurrency);
const SECRET = 'bench-footprint-signing-secret';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist/src/main.js');
const CLI = join(ROOT, 'bin/runbook-bot.js');
const MINIMAL_APP = fileURLToPath(new URL('./minimal-bolt-app.ts', import.meta.url));
/** Time for the process to settle after start (timers armed, first pool connections, JIT) before idle is read. */
const SETTLE_MS = 5_000;
const MB = 1024 * 1024;

/** Current and peak resident memory of a running process, from /proc (what `ps` and the kernel's OOM killer see). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

const mb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;

/** The Node flags the container starts the bot with (the Dockerfile's CMD): the figures are those of what ships. */
function shippedNodeFlags(): string[] {
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
  if (!cmd) throw new Error('bench:footprint: the Dockerfile has no CMD line to take the Node flags from');
  const argv = JSON.parse(cmd) as string[];
  return argv.slice(1, argv.indexOf('dist/src/main.js'));
}
const NODE_FLAGS = shippedNodeFlags();

/** Builds dist/ when it is missing or older than a source file: the container runs the built JavaScript. */
function ensureBuilt(): void {
  if (existsSync(MAIN) && statSync(MAIN).isFile()) {
    const newer = execFileSync('find', [join(ROOT, 'src'), '-newer', MAIN, '-type', 'f'], { encoding: 'utf8' });
    if (newer.trim() === '') return;
  }
  console.log('building dist/ (npm run build)…');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
}

interface StoreUnderTest {
  name: 'embedded' | 'postgres';
  env: Record<string, string>;
  close: () => Promise<void>;
}

async function storeUnderTest(name: StoreUnderTest['name']): Promise<StoreUnderTest> {
  if (name === 'embedded') {
    const dataDir = mkdtempSync(join(tmpdir(), 'rb-bench-footprint-data-'));
    return { name, env: { DATA_DIR: dataDir }, close: async () => {} };
  }
  const database = await scratchDatabase('rb_bench_footprint');
  return { name, env: { DATABASE_URL: database.url }, close: () => database.drop() };
}

/** 1,000 open incidents with their channels set up and escalation levels a day away: a busy week's state, nothing due. */
async function seedOpenIncidents(env: Record<string, string>, count: number): Promise<void> {
  const { store } = await openMigratedStore({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR });
  try {
    const now = Date.now();
    for (let i = 1; i <= count; i += 1) {
      const declaredAt = new Date(now - i * 60_000);
      const { incident } = await insertIncident(store, {
        declarationKey: `bench-footprint-${i}`,
        title: `Seeded incident ${i}: audit API latency`,
        severity: (['P1', 'P2', 'P3'] as const)[i % 3]!,
        service: 'rlhf-audit-trail',
        summary: 'p99 latency above 2 s on the audit API',
        source: 'bench',
        declaredBy: 'U0BENCH',
        declaredAt,
        ackDueAt: null,
        steps: [1, 2].map((level) => ({
          level,
          label: `Level ${level}`,
          notify: ['S0ONCALL'],
          dueAt: new Date(now + 86_400_000 * level),
        })),
      });
      await recordChannel(store, incident.id, `C0SEED${i}`, `incident-seeded-${i}`);
      await finishSetup(store, incident.id);
    }
  } finally {
    await store.close();
  }
}

/** The mix of a working day: lists and incident views from the store, help and usage answers, unknown services. */
function mixedCommand(slack: FakeSlack, i: number): SlashCommand {
  const mix: Array<[string, string]> = [
    ['/incident', 'list'],
    ['/incident', 'help'],
    ['/health', 'billing'],
    ['/rollback', 'help'],
    ['/backup', 'help'],
    ['/privacy-budget', 'help'],
    ['/incident', ''],
  ];
  const [command, text] = mix[i % mix.length]!;
  return { command, text, responseUrl: slack.newResponseUrl() };
}

async function sendMany(baseUrl: string, count: number, input: (i: number) => SlashCommand): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const response = await sendSlashCommand(baseUrl, SECRET, input(i));
      if (response.status !== 200) throw new Error(`${input(i).command} answered ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function startTimed(env: Record<string, string>): Promise<{ bot: BotProcess; readyMs: number }> {
  const started = performance.now();
  const bot = await startBotProcess({ ...env, NODE_OPTIONS: NODE_FLAGS.join(' ') }, 60_000, MAIN);
  return { bot, readyMs: performance.now() - started };
}

interface Figures {
  store: string;
  firstReadyMs: number;
  readyMs: number;
  startPeak: number;
  idle: number;
  afterLoad: number;
  peakUnderLoad: number;
  heap: { used: number; total: number; external: number };
  cli: CliFigures;
}

interface CliFigures {
  /** `health all` */
  all: number;
  /** `health <the first service>` */
  one: number;
}

/** The service `health <service>` is measured with: the example config's first, which configures every check kind. */
const ONE_SERVICE = 'rlhf-audit-trail';

async function cliFigures(env: Record<string, string>, cliConfigPath: string, kube: FakeKubernetes): Promise<CliFigures> {
  const cliEnv = { ...env, RUNBOOK_BOT_CONFIG: cliConfigPath, LOG_LEVEL: 'warn' };
  const figures: CliFigures = { all: 0, one: 0 };
  for (const [key, target] of [
    ['all', 'all'],
    ['one', ONE_SERVICE],
  ] as const) {
    const before = kube.requests.length;
    figures[key] = await cliPeak(cliEnv, ['health', target]);
    // The figure counts only when the Kubernetes checks did read the cluster.
    if (kube.requests.length === before) throw new Error(`runbook-bot health ${target} made no Kubernetes request`);
  }
  return figures;
}

/**
 * The example config's namespaces on a fake API server, every workload it names running with two ready pods behind a
 * service: the CLI's Kubernetes checks read real lists (pods, deployments, events…) instead of failing to connect.
 */
async function fakeClusterFor(file: {
  services?: Record<string, { kubernetes?: Record<string, unknown> }>;
}): Promise<FakeKubernetes> {
  const kube = await startFakeKubernetes();
  for (const spec of Object.values(file.services ?? {})) {
    const target = spec.kubernetes as { namespace: string; deployments?: string[]; statefulsets?: string[] } | undefined;
    if (!target) continue;
    const { namespace } = target;
    const owners = [
      ...(target.deployments ?? []).map((name) => ({ kind: 'Deployment' as const, name })),
      ...(target.statefulsets ?? []).map((name) => ({ kind: 'StatefulSet' as const, name })),
    ];
    for (const owner of owners) {
      kube.put(workload(owner.kind, owner.name, { namespace, replicas: 2, ready: 2 }));
      kube.put(service(owner.name, namespace, { app: owner.name }));
      for (const i of [0, 1]) kube.put(runningPod(`${owner.name}-${i}`, { namespace, labels: { app: owner.name }, owner }));
    }
  }
  return kube;
}

/**
 * Peak RSS of one CLI run, measured by GNU time (the process's own maxrss as the kernel counts it). Not spawnSync: the
 * fake Kubernetes API the CLI reads is served by this process.
 */
async function cliPeak(env: Record<string, string>, argv: string[]): Promise<number> {
  const child = spawn('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, CLI, ...argv], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  await new Promise((resolve) => child.on('close', resolve));
  const kb = /maxrss_kb=(\d+)/.exec(stderr)?.[1];
  if (!kb) throw new Error(`runbook-bot ${argv.join(' ')}: no figure from /usr/bin/time: ${stderr.slice(-500)}`);
  return Number(kb) * 1024;
}

async function measureStore(
  name: StoreUnderTest['name'],
  slack: FakeSlack,
  configPath: string,
  cliConfigPath: string,
  kube: FakeKubernetes,
): Promise<Figures> {
  const store = await storeUnderTest(name);
  const env = {
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.url,
    RUNBOOK_BOT_CONFIG: configPath,
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    ...store.env,
  };
  try {
    // First start: creates the store and applies every migration.
    const first = await startTimed(env);
    await first.bot.kill();
    await seedOpenIncidents(store.env, INCIDENTS);

    // Restart on existing data, as after a deploy: ready time, start-up peak, then idle after settling.
    const { bot, readyMs } = await startTimed(env);
    const pid = bot.child.pid!;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const settled = memoryOf(pid);

    await sendMany(bot.baseUrl, REQUESTS, (i) => mixedCommand(slack, i));
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const loaded = memoryOf(pid);
    // What the RSS after load is made of, from the bot's own /metrics: live JavaScript heap, the heap V8 holds, and
    // memory outside it (buffers); a leak shows as used heap that keeps growing, V8's reserve as total >> used.
    const metrics = await (await fetch(`${bot.baseUrl}/metrics`)).text();
    const gauge = (name: string) =>
      Number(new RegExp(`^runbook_bot_nodejs_${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
    const heap = {
      used: gauge('heap_size_used_bytes'),
      total: gauge('heap_size_total_bytes'),
      external: gauge('external_memory_bytes'),
    };
    await bot.kill();

    return {
      store: name,
      firstReadyMs: first.readyMs,
      readyMs,
      startPeak: settled.peak,
      idle: settled.rss,
      afterLoad: loaded.rss,
      peakUnderLoad: loaded.peak,
      heap,
      cli: await cliFigures(env, cliConfigPath, kube),
    };
  } finally {
    await store.close();
  }
}

/** Ack p99 of the bot on the embedded store against the minimal Bolt app, interleaved so machine noise hits both. */
async function ackOnEmbedded(slack: FakeSlack, configPath: string): Promise<Comparison> {
  const store = await storeUnderTest('embedded');
  const env = {
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: slack.url,
    RUNBOOK_BOT_CONFIG: configPath,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ...store.env,
  };
  // The bot starts as shipped (NODE_FLAGS, as for the memory figures); BENCH_NODE_OPTIONS (e.g. "--cpu-prof
  // --cpu-prof-dir=/tmp/prof") follows them, for the bot's process only, as in bench:ack.
  const nodeOptions = [...NODE_FLAGS, process.env.BENCH_NODE_OPTIONS ?? ''].join(' ').trim();
  const bot = await startBotProcess({ ...env, NODE_OPTIONS: nodeOptions, LOG_LEVEL: 'info' }, 60_000, MAIN);
  const minimal = await startBotProcess({ ...env, LOG_LEVEL: 'info' }, 30_000, MINIMAL_APP);
  try {
    // The command a minimal app can answer too; the bot answers it from its config after its full request path.
    const input = (): SlashCommand => ({ command: '/health', text: 'billing', responseUrl: slack.newResponseUrl() });
    return await compareAcks({
      secret: SECRET,
      botUrl: bot.baseUrl,
      minimalUrl: minimal.baseUrl,
      botPid: bot.child.pid,
      minimalPid: minimal.child.pid,
      input,
      requests: ACK_REQUESTS,
      concurrency: CONCURRENCY,
    });
  } finally {
    await Promise.all([bot.kill(), minimal.kill()]);
    await store.close();
  }
}

async function main(): Promise<void> {
  if (!existsSync('/usr/bin/time')) throw new Error('bench:footprint needs GNU time for the CLI figure: apt-get install time');
  ensureBuilt();
  const slack = await startFakeSlack();
  // The example config of the three runbook systems, every capability configured; secrets it names are not set, so
  // health checks answer "not configured" or fail to connect rather than reaching anything.
  const dir = mkdtempSync(join(tmpdir(), 'rb-bench-footprint-'));
  const configPath = join(dir, 'runbook-bot.yml');
  const example = parse(readFileSync(join(ROOT, 'config/runbook-bot.example.yml'), 'utf8')) as Parameters<
    typeof fakeClusterFor
  >[0];
  writeFileSync(configPath, stringify(example));
  // The CLI's config: the same, with a kubeconfig for the fake API server.
  const kube = await fakeClusterFor(example);
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kube.kubeConfigYaml());
  const cliConfigPath = join(dir, 'runbook-bot.cli.yml');
  writeFileSync(cliConfigPath, stringify({ ...example, kubernetes: { kubeconfig: kubeconfigPath } }));
  const cliLine = (figures: CliFigures) =>
    `  CLI \`runbook-bot health all\`: peak ${mb(figures.all)}; \`health ${ONE_SERVICE}\`: peak ${mb(figures.one)}`;

  if (args['cli-only']) {
    console.log(`bench:footprint --cli-only: the CLI with the example config and a fake Kubernetes API; Node ${process.version}`);
    const goals: Array<[string, boolean]> = [];
    for (const name of args.stores.split(',') as Array<StoreUnderTest['name']>) {
      const store = await storeUnderTest(name);
      try {
        const env = {
          SLACK_BOT_TOKEN: slack.token,
          SLACK_SIGNING_SECRET: SECRET,
          SLACK_API_URL: slack.url,
          NODE_ENV: 'production',
          ...store.env,
        };
        const figures = await cliFigures(env, cliConfigPath, kube);
        console.log(`\n== ${name} store ==\n${cliLine(figures)}`);
        goals.push([`CLI health all (${name}) ${mb(figures.all)} <= 100 MB`, figures.all <= 100 * MB]);
        goals.push([`CLI health ${ONE_SERVICE} (${name}) ${mb(figures.one)} <= 100 MB`, figures.one <= 100 * MB]);
      } finally {
        await store.close();
      }
    }
    await Promise.all([slack.close(), kube.close()]);
    for (const [goal, met] of goals) console.log(`  ${met ? 'met    ' : 'MISSED '} ${goal}`);
    console.log(goals.every(([, met]) => met) ? 'GOAL MET' : 'GOAL MISSED');
    return;
  }

  console.log(
    `bench:footprint: the built bot (node ${[...NODE_FLAGS, MAIN.replace(ROOT, '')].join(' ')}, as the Dockerfile starts it) ` +
      `with the example config; ${INCIDENTS} open incidents seeded, ` +
      `${REQUESTS} mixed commands at concurrency ${CONCURRENCY}; Node ${process.version}`,
  );
  const results: Figures[] = [];
  // --ack-only: the ack comparison alone (the memory figures take most of the run).
  for (const name of (args['ack-only'] ? [] : args.stores.split(',')) as Array<StoreUnderTest['name']>) {
    const figures = await measureStore(name, slack, configPath, cliConfigPath, kube);
    results.push(figures);
    console.log(`\n== ${name} store ==`);
    console.log(
      `  ready: first start ${figures.firstReadyMs.toFixed(0)} ms, restart on existing data ${figures.readyMs.toFixed(0)} ms`,
    );
    console.log(`  start-up peak ${mb(figures.startPeak)}; idle ${mb(figures.idle)}`);
    console.log(
      `  after ${REQUESTS} commands: ${mb(figures.afterLoad)} (peak ${mb(figures.peakUnderLoad)}); JavaScript heap ` +
        `${mb(figures.heap.used)} used of ${mb(figures.heap.total)} held, ${mb(figures.heap.external)} outside the heap`,
    );
    console.log(cliLine(figures.cli));
  }

  let ackLine = 'ack: not measured (embedded store not in --stores)';
  let ackMet = true;
  if (args.stores.includes('embedded')) {
    const { ours, baseline, cpu, rounds } = await ackOnEmbedded(slack, configPath);
    const ratio = percentile(ours, 99) / percentile(baseline, 99);
    ackMet = ratio <= 1.3 && percentile(ours, 99) < 50;
    ackLine =
      `ack on the embedded store, ${ACK_REQUESTS} commands at concurrency ${CONCURRENCY}: runbook-bot p50 ${percentile(ours, 50).toFixed(1)} ms ` +
      `p99 ${percentile(ours, 99).toFixed(1)} ms; minimal Bolt app p50 ${percentile(baseline, 50).toFixed(1)} ms p99 ` +
      `${percentile(baseline, 99).toFixed(1)} ms; p99 ratio ${ratio.toFixed(2)}x (goal <= 1.3x and < 50 ms)\n` +
      `  CPU per command: minimal ${(cpu.minimal / ACK_REQUESTS).toFixed(2)} ms, runbook-bot ${(cpu.bot / ACK_REQUESTS).toFixed(2)} ms ` +
      `(${(cpu.bot / cpu.minimal).toFixed(2)}x)\n` +
      `  p99 per round, runbook-bot/minimal (ms): ${rounds.map((round) => `${round.bot.toFixed(0)}/${round.minimal.toFixed(0)}`).join(' ')}`;
  }
  await Promise.all([slack.close(), kube.close()]);

  console.log(`\n${ackLine}`);
  const goals: Array<[string, boolean]> = [];
  for (const figures of results) {
    if (figures.store === 'embedded') {
      goals.push([`embedded idle ${mb(figures.idle)} <= 120 MB`, figures.idle <= 120 * MB]);
      goals.push([`embedded start-up peak ${mb(figures.startPeak)} <= 160 MB`, figures.startPeak <= 160 * MB]);
      goals.push([`embedded ready ${(figures.readyMs / 1000).toFixed(2)} s <= 1.5 s`, figures.readyMs <= 1_500]);
    } else {
      goals.push([`PostgreSQL idle ${mb(figures.idle)} <= 110 MB`, figures.idle <= 110 * MB]);
    }
    goals.push([`CLI health all (${figures.store}) ${mb(figures.cli.all)} <= 100 MB`, figures.cli.all <= 100 * MB]);
    goals.push([`CLI health ${ONE_SERVICE} (${figures.store}) ${mb(figures.cli.one)} <= 100 MB`, figures.cli.one <= 100 * MB]);
  }
  goals.push(['embedded ack p99 <= 1.3x and < 50 ms', ackMet]);
  for (const [goal, met] of goals) console.log(`  ${met ? 'met    ' : 'MISSED '} ${goal}`);
  console.log(goals.every(([, met]) => met) ? 'GOAL MET' : 'GOAL MISSED');
}

await main();
