// bench:rollback — how fast followRollout (list + watch, as kubectl rollout status) sees a rollout end, against a baseline
// measured in the same run that polls the deployment every 500 ms; plus API requests per rollback for each.
// Each round rolls back against the fake Kubernetes API, steps its controller every 20 ms to completion, and measures
// the delay from the controller's final status write to the follower's verdict. Half the watch rounds cut the watch
// mid-rollout once (the API going away), to price in reconnecting. Goal: watch p95 detection <= 0.2x the polling baseline's.
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { clientsFor } from '../src/clients/kubernetes.ts';
import { systemClock } from '../src/clock.ts';
import { readRevisionHistory } from '../src/tasks/rollback/history.ts';
import type { Deployment } from '../src/tasks/rollback/objects.ts';
import { planRollback, rollback } from '../src/tasks/rollback/rollback.ts';
import { followRollout, rolloutStatus } from '../src/tasks/rollback/status.ts';
import { startFakeKubernetes, type FakeKubernetes } from '../test/fakes/kubernetes/index.ts';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '20' } } });
const ROUNDS = Number(args.rounds);
const STEP_MS = 20;
const POLL_MS = 500;
const ns = 'bench';
const name = 'api';

type Follower = (fake: FakeKubernetes) => Promise<unknown>;

const watchFollower: Follower = (fake) =>
  followRollout(clientsFor(fake.kubeConfig()), { namespace: ns, deployment: name, clock: systemClock, timeoutMs: 60_000 });

// What a bot without watches would do: read the deployment every POLL_MS and judge it the same way.
const pollingFollower: Follower = async (fake) => {
  const { apps } = await clientsFor(fake.kubeConfig()).typed();
  for (;;) {
    const deployment = JSON.parse(JSON.stringify(await apps.readNamespacedDeployment({ namespace: ns, name }))) as Deployment;
    const status = rolloutStatus(deployment);
    if (status.done || status.failed) return status;
    await sleep(POLL_MS);
  }
};

async function round(
  fake: FakeKubernetes,
  follower: Follower,
  dropOnce: boolean,
): Promise<{ detectMs: number; requests: number }> {
  const k8s = clientsFor(fake.kubeConfig());
  await rollback(k8s, planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name })));
  const before = fake.requests.length;
  let verdictAt = 0;
  const following = follower(fake).then(() => {
    verdictAt = performance.now();
  });
  let completedAt = 0;
  for (let step = 0; !completedAt; step += 1) {
    await sleep(STEP_MS);
    fake.controller.step();
    if (dropOnce && step === 3) fake.dropWatches();
    const deployment = fake.get('apps/v1', 'Deployment', ns, name)!;
    if (rolloutStatus(deployment as Deployment).done) completedAt = performance.now();
  }
  await following;
  return { detectMs: Math.max(0, verdictAt - completedAt), requests: fake.requests.length - before };
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

async function run(follower: Follower, withDrops: boolean) {
  const fake = await startFakeKubernetes();
  try {
    fake.seedDeployment({ namespace: ns, name, image: 'registry/api', revisions: ['1.0.0', '1.1.0'], replicas: 3 });
    const results = [];
    for (let i = 0; i < ROUNDS; i += 1) results.push(await round(fake, follower, withDrops && i % 2 === 1));
    return {
      p50: pct(
        results.map((r) => r.detectMs),
        50,
      ),
      p95: pct(
        results.map((r) => r.detectMs),
        95,
      ),
      requests: results.reduce((sum, r) => sum + r.requests, 0) / results.length,
    };
  } finally {
    await fake.close();
  }
}

const polling = await run(pollingFollower, false);
const watching = await run(watchFollower, true);
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
console.log(`bench:rollback — ${ROUNDS} rollbacks each, controller step every ${STEP_MS} ms`);
console.log(
  `  polling every ${POLL_MS} ms (baseline): detection p50 ${fmt(polling.p50)}, p95 ${fmt(polling.p95)}, ${polling.requests.toFixed(1)} requests/rollback`,
);
console.log(
  `  list + watch (followRollout):        detection p50 ${fmt(watching.p50)}, p95 ${fmt(watching.p95)}, ${watching.requests.toFixed(1)} requests/rollback (every other round with a dropped watch)`,
);
const ratio = watching.p95 / Math.max(polling.p95, 0.001);
console.log(
  `  ratio watch/poll: p50 ${(watching.p50 / Math.max(polling.p50, 0.001)).toFixed(3)}x, p95 ${ratio.toFixed(3)}x (goal <= 0.2x)`,
);
process.exitCode = ratio <= 0.2 ? 0 : 1;
