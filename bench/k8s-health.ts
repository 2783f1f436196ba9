// bench:k8s-health — the Kubernetes health check of a namespace of 2,000 pods and 20,000 Warning events behind an API
// answering every request in 20 ms: wall time, API calls per check and RSS growth, against a baseline measured in the
// same run that pages the same lists with plain fetch and JSON.parse (what any client must at least do).
// Goals (issue #20): one list call per kind per 500 objects; the check done within 150 ms of the baseline; RSS growth
// under 40 MB. The fake API runs in its own process and each side is measured in a fresh one, so neither's memory or CPU
// is counted in the other's.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { clientsFor, LIST_PAGE_SIZE } from '../src/clients/kubernetes.ts';
import { parseConfig } from '../src/config/load.ts';
import type { ServiceConfig } from '../src/config/schema.ts';
import { READS, collectionPath, type ReadId } from '../src/tasks/health/kubernetes/grants.ts';
import { readNamespace } from '../src/tasks/health/kubernetes/reads.ts';
import { judge } from '../src/tasks/health/kubernetes.ts';
import {
  coreEvent,
  crashLoopingPod,
  ingress,
  pv,
  pvc,
  runningPod,
  service,
  workload,
} from '../test/fakes/kubernetes/fixtures.ts';
import { startFakeKubernetes } from '../test/fakes/kubernetes/index.ts';

const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    url: { type: 'string' },
    pods: { type: 'string', default: '2000' },
    events: { type: 'string', default: '20000' },
    latency: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '5' },
  },
});
const PODS = Number(args.pods);
const EVENTS = Number(args.events);
const LATENCY_MS = Number(args.latency);
const ROUNDS = Number(args.rounds);
const NAMESPACE = 'bench';
const WARM = 'warm';
const DEPLOYMENTS = 10;
const STATEFULSETS = 5;
const REASONS = ['BackOff', 'Unhealthy', 'FailedMount', 'FailedScheduling', 'ProbeWarning'];

/** What the check reads in this namespace (no cert-manager, no metrics-server: both answer 404 once). */
const LISTS: ReadId[] = [
  'pods',
  'deployments',
  'statefulsets',
  'daemonsets',
  'services',
  'endpointslices',
  'ingresses',
  'persistentvolumeclaims',
  'persistentvolumes',
  'events',
  'certificates',
  'podmetrics',
];

type Message =
  | { type: 'ready'; url?: string; rss?: number }
  | {
      type: 'result';
      wallMs: number;
      requests: number;
      objects: number;
      /** Peak RSS during the round less RSS just before it. */
      peakRssGrowth: number;
      /** CPU time of the measuring process (user + system): its own work, whatever else the machine is doing. */
      cpuMs: number;
      status?: string;
    }
  | { type: 'count'; requests: number; byPath: Record<string, number> };

// ---------------------------------------------------------------- the API process
async function serve(): Promise<void> {
  const fake = await startFakeKubernetes();
  const now = Date.now();
  seed(fake, NAMESPACE, PODS, EVENTS, now);
  seed(fake, WARM, 40, 200, now);
  fake.latencyMs = LATENCY_MS;
  process.on('message', (message: { cmd: string }) => {
    if (message.cmd === 'reset') fake.requests.length = 0;
    if (message.cmd === 'count') {
      const byPath: Record<string, number> = {};
      for (const request of fake.requests) byPath[request.path] = (byPath[request.path] ?? 0) + 1;
      process.send!({ type: 'count', requests: fake.requests.length, byPath } satisfies Message);
    }
  });
  process.send!({ type: 'ready', url: fake.url } satisfies Message);
}

function seed(
  fake: Awaited<ReturnType<typeof startFakeKubernetes>>,
  namespace: string,
  pods: number,
  events: number,
  now: number,
) {
  const owners = [
    ...Array.from({ length: DEPLOYMENTS }, (_, i) => ({ kind: 'Deployment' as const, name: `api-${i}` })),
    ...Array.from({ length: STATEFULSETS }, (_, i) => ({ kind: 'StatefulSet' as const, name: `db-${i}` })),
  ];
  const perOwner = Math.ceil(pods / owners.length);
  const podNames: string[] = [];
  for (const owner of owners) {
    fake.put(workload(owner.kind, owner.name, { namespace, replicas: perOwner, ready: perOwner - 1, claimTemplates: ['data'] }));
    fake.put(service(owner.name, namespace, { app: owner.name }));
  }
  for (let i = 0; i < pods; i += 1) {
    const owner = owners[i % owners.length]!;
    const ordinal = Math.floor(i / owners.length);
    const name =
      owner.kind === 'StatefulSet' ? `${owner.name}-${ordinal}` : `${owner.name}-6d4f-${String(ordinal).padStart(5, '0')}`;
    podNames.push(name);
    const base = { namespace, labels: { app: owner.name }, owner };
    // One pod in a hundred crash-loops, one in twenty restarted in the last hour: findings, not just reads.
    if (i % 100 === 7)
      fake.put(
        crashLoopingPod(name, {
          ...base,
          restarts: 9,
          lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt: new Date(now - 120_000) },
        }),
      );
    else if (i % 20 === 3)
      fake.put(
        runningPod(name, {
          ...base,
          restarts: 2,
          lastTermination: { reason: 'Error', exitCode: 1, finishedAt: new Date(now - 600_000) },
        }),
      );
    else fake.put(runningPod(name, base));
    if (owner.kind === 'StatefulSet') {
      fake.put(pvc(`data-${name}`, namespace, { phase: 'Bound', volumeName: `pv-${namespace}-${i}` }));
      fake.put(pv(`pv-${namespace}-${i}`, { namespace, name: `data-${name}` }, 'Bound'));
    }
  }
  for (let i = 0; i < 5; i += 1) fake.put(ingress(`web-${i}`, namespace, { backend: `api-${i}` }));
  for (let i = 0; i < events; i += 1) {
    const pod = podNames[i % podNames.length]!;
    fake.put(
      coreEvent(namespace, { kind: 'Pod', name: pod }, REASONS[i % REASONS.length]!, {
        count: 1 + (i % 7),
        last: new Date(now - (i % 3000) * 1000),
        message: `readiness probe failed for ${pod}: connection refused (${i})`,
        name: `${pod}.${i.toString(16)}`,
      }),
    );
  }
}

// ---------------------------------------------------------------- the measured processes
function kubeConfigFor(url: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'bench', server: url, skipTLSVerify: true }],
    users: [{ name: 'bench', token: 'bench-token' }],
    contexts: [{ name: 'bench', cluster: 'bench', user: 'bench' }],
    currentContext: 'bench',
  });
  return config;
}

/** The health check as the bot runs it: readNamespace's concurrent paged lists, then the findings. */
const benchConfig = (namespace: string) =>
  parseConfig(
    {},
    {
      services: {
        bench: { kubernetes: { namespace, deployments: ['api-0', 'api-1'], statefulsets: ['db-0'] }, health: { kubernetes: {} } },
      },
    },
    'bench.yml',
    'cli',
  ).file.services.bench!;
const configs: Record<string, ServiceConfig> = { [NAMESPACE]: benchConfig(NAMESPACE), [WARM]: benchConfig(WARM) };

async function checkOnce(url: string, namespace: string): Promise<{ requests: number; objects: number; status: string }> {
  const service = configs[namespace]!;
  const spec = service.health!.kubernetes!;
  const now = new Date();
  const snapshot = await readNamespace(clientsFor(kubeConfigFor(url)), {
    namespace,
    statefulsets: true,
    daemonsets: true,
    eventsSince: new Date(now.getTime() - spec.eventsWithin),
    tlsSecrets: [],
    signal: new AbortController().signal,
  });
  const outcome = judge(spec, service.kubernetes!, snapshot, now, 'bench');
  const objects = (snapshot.pods?.length ?? 0) + (snapshot.events?.length ?? 0);
  return { requests: snapshot.requests, objects, status: outcome.status };
}

/** The least any client does: page the same lists with fetch and JSON.parse, one chain per kind, all at once. */
async function baselineOnce(url: string, namespace: string): Promise<{ requests: number; objects: number }> {
  let requests = 1;
  let objects = 0;
  const headers = { authorization: 'Bearer bench-token', accept: 'application/json' };
  await fetch(`${url}${collectionPath(READS.namespace, namespace)}`, { headers }).then((r) => r.text());
  await Promise.all(
    LISTS.map(async (id) => {
      let token: string | undefined;
      do {
        const query = new URLSearchParams({ limit: String(LIST_PAGE_SIZE) });
        if (id === 'events') query.set('fieldSelector', 'type=Warning');
        if (token) query.set('continue', token);
        requests += 1;
        const response = await fetch(`${url}${collectionPath(READS[id], namespace)}?${query}`, { headers });
        const page = JSON.parse(await response.text()) as { items?: unknown[]; metadata?: { continue?: string } };
        objects += id === 'pods' || id === 'events' ? (page.items?.length ?? 0) : 0;
        token = page.metadata?.continue || undefined;
      } while (token);
    }),
  );
  return { requests, objects };
}

async function measure(role: 'check' | 'baseline', url: string): Promise<void> {
  const once = role === 'check' ? checkOnce : baselineOnce;
  // Warm-up on a small namespace: modules loaded, code compiled, sockets open.
  for (let i = 0; i < 3; i += 1) await once(url, WARM);
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  process.send!({ type: 'ready', rss: before } satisfies Message);
  let round = 0;
  process.on('message', (message: { cmd: string }) => {
    if (message.cmd !== 'run') return;
    void (async () => {
      round += 1;
      // Each later round starts, like the first, from a collected heap: what it adds is its own.
      if (round > 1) globalThis.gc?.();
      const rssBefore = round === 1 ? before : process.memoryUsage().rss;
      // The first round's peak is exact (maxRSS is the process's peak so far); later rounds sample every 2 ms.
      let sampled = rssBefore;
      const sampler = setInterval(() => (sampled = Math.max(sampled, process.memoryUsage().rss)), 2);
      const started = performance.now();
      const cpu = process.cpuUsage();
      const result = await once(url, NAMESPACE);
      const wallMs = performance.now() - started;
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1000;
      clearInterval(sampler);
      const peak = round === 1 ? process.resourceUsage().maxRSS * 1024 : Math.max(sampled, process.memoryUsage().rss);
      process.send!({ type: 'result', wallMs, cpuMs, peakRssGrowth: peak - rssBefore, ...result } satisfies Message);
    })();
  });
}

// ---------------------------------------------------------------- the orchestrator
function next<T extends Message['type']>(child: ChildProcess, type: T): Promise<Extract<Message, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Message) => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as Extract<Message, { type: T }>);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`waiting for "${type}": the child process exited (${code})`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function main(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const common = ['--pods', String(PODS), '--events', String(EVENTS), '--latency', String(LATENCY_MS)];
  const api = fork(self, ['--role', 'serve', ...common], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { url } = await next(api, 'ready');
    type Round = Extract<Message, { type: 'result' }> & { served: number; byPath: Record<string, number> };
    const results: Record<'baseline' | 'check', Round[]> = { baseline: [], check: [] };
    const children = {} as Record<'baseline' | 'check', ChildProcess>;
    for (const role of ['baseline', 'check'] as const) {
      children[role] = fork(self, ['--role', role, '--url', url!, ...common], {
        execArgv: [...process.execArgv, '--expose-gc'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      await next(children[role], 'ready');
    }
    try {
      // Rounds alternate between the two, in turn going first, so load from elsewhere on the machine falls on both alike.
      for (let round = 0; round < ROUNDS; round += 1) {
        for (const role of round % 2 === 0 ? (['baseline', 'check'] as const) : (['check', 'baseline'] as const)) {
          api.send({ cmd: 'reset' });
          children[role].send({ cmd: 'run' });
          const result = await next(children[role], 'result');
          api.send({ cmd: 'count' });
          const { requests: served, byPath } = await next(api, 'count');
          results[role].push({ ...result, served, byPath });
        }
      }
    } finally {
      for (const child of Object.values(children)) child.kill();
    }
    report(results.baseline!, results.check!);
  } finally {
    api.kill();
  }
}

function report(
  baseline: Array<{ wallMs: number; cpuMs: number; served: number; peakRssGrowth: number }>,
  check: Array<{
    wallMs: number;
    cpuMs: number;
    served: number;
    peakRssGrowth: number;
    objects: number;
    status?: string;
    byPath: Record<string, number>;
  }>,
): void {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const later = (rounds: Array<{ peakRssGrowth: number }>) => Math.max(...rounds.slice(1).map((r) => r.peakRssGrowth));
  const baseMs = median(baseline.map((r) => r.wallMs));
  const checkMs = median(check.map((r) => r.wallMs));
  const overhead = checkMs - baseMs;
  const baseCpu = median(baseline.map((r) => r.cpuMs));
  const checkCpu = median(check.map((r) => r.cpuMs));
  const calls = check[0]!.served;
  // One list call per kind per 500 objects (at least one per kind), plus the namespace's own GET.
  const volumes = Math.ceil(PODS / (DEPLOYMENTS + STATEFULSETS)) * STATEFULSETS;
  const sizes: Record<string, number> = {
    pods: PODS,
    events: EVENTS,
    persistentvolumeclaims: volumes,
    persistentvolumes: volumes,
  };
  const allowed = 1 + LISTS.reduce((sum, id) => sum + Math.max(1, Math.ceil((sizes[id] ?? 1) / LIST_PAGE_SIZE)), 0);
  const chain = Math.ceil(EVENTS / LIST_PAGE_SIZE);
  const first = check[0]!.peakRssGrowth;
  const steady = later(check);
  console.log(
    `bench:k8s-health — ${PODS} pods, ${EVENTS} Warning events, API answering in ${LATENCY_MS} ms, ${ROUNDS} rounds each (medians)`,
  );
  console.log(
    `  baseline (fetch + JSON.parse of the same pages): ${baseMs.toFixed(0)} ms wall, ${baseCpu.toFixed(0)} ms CPU, ${baseline[0]!.served} API calls, RSS growth first ${mb(baseline[0]!.peakRssGrowth)}, later ${mb(later(baseline))}`,
  );
  console.log(
    `  health check (readNamespace + findings):         ${checkMs.toFixed(0)} ms wall, ${checkCpu.toFixed(0)} ms CPU, ${calls} API calls, RSS growth first ${mb(first)}, later ${mb(steady)}; status ${check[0]!.status}`,
  );
  console.log(`  API latency floor: the longest chain of pages, ${chain} x ${LATENCY_MS} ms = ${chain * LATENCY_MS} ms`);
  const pages = Object.entries(check[0]!.byPath)
    .filter(([, count]) => count > 1)
    .map(([path, count]) => `${path.split('/').at(-1)} ${count}`)
    .join(', ');
  console.log(`  paged kinds (requests): ${pages}`);
  console.log(
    '  RSS "first" is the first big check in a fresh process, where V8 touches its young generation (64 MB by default) for the first time, as the baseline does; "later" is every check after it, as the health watch runs them.',
  );
  const results = [
    [
      `API calls per check ${calls} <= ${allowed} (one per kind per ${LIST_PAGE_SIZE} objects, + the namespace)`,
      calls <= allowed,
    ],
    [
      `check beyond the baseline ${overhead.toFixed(0)} ms wall <= 150 ms (ratio ${(checkMs / baseMs).toFixed(2)}x; its own CPU beyond the baseline's: ${(checkCpu - baseCpu).toFixed(0)} ms)`,
      overhead <= 150,
    ],
    [
      `RSS growth of a check ${mb(steady)} < 40 MB (first check ${mb(first)}, baseline's ${mb(baseline[0]!.peakRssGrowth)})`,
      steady < 40 * 1024 * 1024 && first <= baseline[0]!.peakRssGrowth,
    ],
  ] as const;
  for (const [text, ok] of results) console.log(`  ${ok ? 'ok  ' : 'MISS'} ${text}`);
  process.exitCode = results.every(([, ok]) => ok) ? 0 : 1;
}

if (args.role === 'serve') await serve();
else if (args.role === 'check' || args.role === 'baseline') await measure(args.role, args.url!);
else await main();
