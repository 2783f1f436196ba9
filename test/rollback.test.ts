// Rollback does what `kubectl rollout undo` does and follows the rollout as `kubectl rollout status` does, against the fake API server with the real client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import { verifyAuditLog } from '../src/store/audit.ts';
import { openStore } from '../src/store/db.ts';
import { clientsFor, createKubernetesClients, type KubernetesClients } from '../src/clients/kubernetes.ts';
import { parseConfig } from '../src/config/load.ts';
import { ConfigError } from '../src/errors.ts';
import { systemClock } from '../src/clock.ts';
import { ExternalError, UserError } from '../src/errors.ts';
import { readRevisionHistory } from '../src/tasks/rollback/history.ts';
import { planRollback, rollback } from '../src/tasks/rollback/rollback.ts';
import { followRollout, type RolloutStatus } from '../src/tasks/rollback/status.ts';
import { listEvents } from '../src/store/incidents.ts';
import { startFakeSlack } from './fakes/fake-slack.ts';
import { startTestBot } from './support/bot.ts';
import { commandAnswer, sendBlockAction, sendSlashCommand } from './support/slack-requests.ts';
import {
  CHANGE_CAUSE_ANNOTATION,
  REVISION_ANNOTATION,
  startFakeKubernetes,
  type FakeKubernetes,
  type KubeObject,
} from './fakes/kubernetes/index.ts';

const ns = 'rlhf-production';
const name = 'rlhf-audit-trail';
const image = 'ghcr.io/example/rlhf-audit-trail';

let fake: FakeKubernetes;
let k8s: KubernetesClients;

beforeEach(async () => {
  fake = await startFakeKubernetes();
  k8s = clientsFor(fake.kubeConfig());
});
afterEach(async () => {
  await fake.close();
});

function seed(options: { paused?: boolean; progressDeadlineSeconds?: number } = {}) {
  return fake.seedDeployment({
    namespace: ns,
    name,
    image,
    revisions: [
      { tag: '2.3.0', changeCause: 'release 2.3.0' },
      { tag: '2.4.0', changeCause: 'release 2.4.0' },
      { tag: '2.5.0', changeCause: 'release 2.5.0: new audit schema' },
    ],
    annotations: { team: 'ml-platform' },
    ...options,
  });
}

const deployment = () => fake.get('apps/v1', 'Deployment', ns, name)!;
const deployedImage = () => deployment().spec.template.spec.containers[0].image as string;

async function setImage(tag: string) {
  await (
    await k8s.typed()
  ).apps.patchNamespacedDeployment(
    { namespace: ns, name, body: { spec: { template: { spec: { containers: [{ name, image: `${image}:${tag}` }] } } } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
}

async function rejection(promise: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function follow(extra: { timeoutMs?: number; onProgress?: (status: RolloutStatus) => void; signal?: AbortSignal } = {}) {
  return followRollout(k8s, {
    namespace: ns,
    deployment: name,
    clock: systemClock,
    timeoutMs: extra.timeoutMs ?? 10_000,
    retryDelayMs: 20,
    ...(extra.onProgress ? { onProgress: extra.onProgress } : {}),
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
}

describe('revision history', () => {
  it('lists the ReplicaSets the deployment controls, newest first, with images, change-cause, age and which is current', async () => {
    seed();
    // A ReplicaSet with matching labels that another owner controls is not part of the history (kubectl's ControllerRef filter).
    fake.put({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'stray',
        namespace: ns,
        labels: { app: name },
        annotations: { [REVISION_ANNOTATION]: '9' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'other', uid: 'someone-else', controller: true }],
      },
      spec: { replicas: 0, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: 'x' }] } } },
    });
    const history = await readRevisionHistory(k8s, { namespace: ns, deployment: name });
    expect(history.revisions.map((r) => [r.revision, r.images[0]!.image, r.changeCause, r.current])).toEqual([
      [3, `${image}:2.5.0`, 'release 2.5.0: new audit schema', true],
      [2, `${image}:2.4.0`, 'release 2.4.0', false],
      [1, `${image}:2.3.0`, 'release 2.3.0', false],
    ]);
    expect(history.revisions[0]!.createdAt!.getTime()).toBeGreaterThan(history.revisions[1]!.createdAt!.getTime());
    expect(history.currentRevision).toBe(3);
    expect(history.rollout).toMatchObject({ done: true, message: `deployment "${name}" successfully rolled out` });
  });
});

describe('rollback', () => {
  it('goes back to the previous revision with kubectl’s JSON patch, and the rollout completes', async () => {
    seed();
    const plan = planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name }));
    expect(plan).toMatchObject({ from: { revision: 3 }, to: { revision: 2 }, forced: [] });
    expect(plan.from.images[0]!.image).toBe(`${image}:2.5.0`);
    expect(plan.to.images[0]!.image).toBe(`${image}:2.4.0`);

    const result = await rollback(k8s, plan);
    const sent = fake.requests.find((r) => r.method === 'PATCH')!;
    expect(sent.contentType).toBe('application/json-patch+json');
    const operations = sent.body as KubeObject[];
    expect(operations.map((op) => [op.op, op.path])).toEqual([
      ['replace', '/spec/template'],
      ['replace', '/metadata/annotations'],
    ]);
    // The template comes without the ReplicaSet's pod-template-hash label.
    expect(operations[0]!.value.metadata.labels).toEqual({ app: name });
    // Annotations: the deployment's revision kept, the ReplicaSet's change-cause (and other annotations) carried over.
    expect(operations[1]!.value).toEqual({
      [REVISION_ANNOTATION]: '3',
      [CHANGE_CAUSE_ANNOTATION]: 'release 2.4.0',
      team: 'ml-platform',
    });
    expect(result.generation).toBe(deployment().metadata.generation);
    expect(deployedImage()).toBe(`${image}:2.4.0`);

    const progress: string[] = [];
    fake.controller.start(5);
    const outcome = await follow({ onProgress: (status) => progress.push(status.message) });
    expect(outcome).toMatchObject({ result: 'success', message: `deployment "${name}" successfully rolled out` });
    expect(progress.some((line) => line.includes('new replicas have been updated'))).toBe(true);

    // The controller reused revision 2's ReplicaSet and made it revision 4, as the real one does.
    const history = await readRevisionHistory(k8s, { namespace: ns, deployment: name });
    expect(history.revisions.map((r) => [r.revision, r.images[0]!.image, r.current])).toEqual([
      [4, `${image}:2.4.0`, true],
      [3, `${image}:2.5.0`, false],
      [1, `${image}:2.3.0`, false],
    ]);
    expect(deployment().metadata.annotations[CHANGE_CAUSE_ANNOTATION]).toBe('release 2.4.0');
  });

  it('goes to a given revision', async () => {
    seed();
    const plan = planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name }), { toRevision: 1 });
    await rollback(k8s, plan);
    expect(deployedImage()).toBe(`${image}:2.3.0`);
    expect(deployment().metadata.annotations[CHANGE_CAUSE_ANNOTATION]).toBe('release 2.3.0');
    fake.controller.start(5);
    expect((await follow()).result).toBe('success');
    expect(fake.get('apps/v1', 'Deployment', ns, name)!.metadata.annotations[REVISION_ANNOTATION]).toBe('4');
  });

  it('answers "already at that revision" and "revision not found" clearly, and changes nothing', async () => {
    seed();
    const history = await readRevisionHistory(k8s, { namespace: ns, deployment: name });
    const already = await rejection(() => planRollback(history, { toRevision: 3 }));
    expect(already).toBeInstanceOf(UserError);
    expect(already).toMatchObject({ code: 'already_at_revision' });
    expect((already as Error).message).toBe(`\`${ns}/${name}\` is already at revision 3 (${image}:2.5.0): nothing to roll back.`);
    const missing = await rejection(() => planRollback(history, { toRevision: 7 }));
    expect(missing).toMatchObject({ code: 'revision_not_found' });
    expect((missing as Error).message).toBe(`Revision 7 of \`${ns}/${name}\` is not in its history (known revisions: 3, 2, 1).`);

    fake.seedDeployment({ namespace: ns, name: 'fresh', image: `${image}:1.0.0` });
    const lonely = await readRevisionHistory(k8s, { namespace: ns, deployment: 'fresh' });
    expect(await rejection(() => planRollback(lonely))).toMatchObject({ code: 'no_rollout_history' });
    expect(await rejection(readRevisionHistory(k8s, { namespace: ns, deployment: 'nope' }))).toMatchObject({
      code: 'deployment_not_found',
    });
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('refuses a paused deployment unless forced; forced, it restores the template for when it is resumed', async () => {
    seed({ paused: true });
    const history = await readRevisionHistory(k8s, { namespace: ns, deployment: name });
    const refused = await rejection(() => planRollback(history));
    expect(refused).toMatchObject({ code: 'deployment_paused' });
    expect((refused as Error).message).toContain(`kubectl rollout resume deployment/${name} -n ${ns}`);

    const plan = planRollback(history, { force: true });
    expect(plan.forced).toEqual(['the deployment is paused: the template is restored now and rolls out when it is resumed']);
    await rollback(k8s, plan, { force: true });
    expect(deployedImage()).toBe(`${image}:2.4.0`);
    fake.controller.settle(20);
    expect(deployment().status.updatedReplicas).toBe(3);
    expect(deployment().metadata.annotations[REVISION_ANNOTATION]).toBe('3');
  });

  it('refuses a deployment mid-rollout unless forced, and a forced rollback completes', async () => {
    seed();
    await setImage('2.6.0-rc1');
    fake.controller.step();
    fake.controller.step();
    const history = await readRevisionHistory(k8s, { namespace: ns, deployment: name });
    expect(history.currentRevision).toBe(4);
    const refused = await rejection(() => planRollback(history));
    expect(refused).toMatchObject({ code: 'mid_rollout' });
    expect((refused as Error).message).toBe(
      `\`${ns}/${name}\` is mid-rollout (Waiting for deployment "${name}" rollout to finish: 1 out of 3 new replicas have been updated). Wait for it to finish, or add \`--force\` to roll back anyway.`,
    );

    const plan = planRollback(history, { force: true });
    expect(plan.to.revision).toBe(3);
    expect(plan.forced).toEqual(['a rollout was in progress (1/3 updated)']);
    await rollback(k8s, plan, { force: true });
    fake.controller.start(5);
    expect((await follow()).result).toBe('success');
    expect(deployment().status).toMatchObject({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
    expect(deployedImage()).toBe(`${image}:2.5.0`);
  });

  it('allows rolling back a rollout that failed its progress deadline without --force', async () => {
    seed({ progressDeadlineSeconds: 5 });
    fake.controller.failNewPods(ns, name);
    await setImage('2.6.0-broken');
    fake.controller.settle(30);
    const history = await readRevisionHistory(k8s, { namespace: ns, deployment: name });
    expect(history.rollout.failed).toBe(`deployment "${name}" exceeded its progress deadline`);
    fake.controller.failNewPods(ns, name, false);
    const plan = planRollback(history);
    expect(plan.to.images[0]!.image).toBe(`${image}:2.5.0`);
    await rollback(k8s, plan);
    fake.controller.start(5);
    expect((await follow()).result).toBe('success');
  });

  it('reports a rollback whose new pods never become ready as failed once the progress deadline passes', async () => {
    seed({ progressDeadlineSeconds: 5 });
    const plan = planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name }));
    fake.controller.failNewPods(ns, name);
    await rollback(k8s, plan);
    fake.controller.start(5);
    const outcome = await follow();
    expect(outcome).toMatchObject({ result: 'failure', message: `deployment "${name}" exceeded its progress deadline` });
    expect(outcome.status).toMatchObject({ desired: 3, updated: 1 });
  });

  it('times out when the rollout neither finishes nor fails in time', async () => {
    seed();
    await rollback(k8s, planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name })));
    const outcome = await follow({ timeoutMs: 300 });
    expect(outcome.result).toBe('timeout');
    expect(outcome.message).toBe('timed out waiting for the rollout: Waiting for deployment spec update to be observed...');
    await expect.poll(() => fake.openWatches).toBe(0);
  });

  it('stops when told to, closing its watch', async () => {
    seed();
    await rollback(k8s, planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name })));
    const controller = new AbortController();
    const following = follow({ signal: controller.signal });
    await expect.poll(() => fake.openWatches).toBe(1);
    controller.abort();
    expect((await following).result).toBe('interrupted');
    await expect.poll(() => fake.openWatches).toBe(0);
  });

  it('refuses to overwrite a change made after the rollback was planned', async () => {
    seed();
    const plan = planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name }));
    await setImage('2.6.0');
    fake.controller.settle();
    const changed = await rejection(rollback(k8s, plan));
    expect(changed).toMatchObject({ code: 'deployment_changed' });
    expect((changed as Error).message).toContain(`it is now at revision 4 (${image}:2.6.0), not 3`);
    expect(deployedImage()).toBe(`${image}:2.6.0`);
  });

  it('prints the plan without changing anything on a dry run', async () => {
    seed();
    const plan = planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name }));
    const result = await rollback(k8s, plan, { dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.patch[0]!.value).toMatchObject({ spec: { containers: [{ image: `${image}:2.4.0` }] } });
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(deployedImage()).toBe(`${image}:2.5.0`);
  });
});

describe('when the API refuses or goes away', () => {
  it('reports a 403 on the patch with the API server’s words, and nothing changes', async () => {
    seed();
    const plan = planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name }));
    fake.failNext('PATCH', /deployments\/rlhf-audit-trail/, 403);
    const error = await rejection(rollback(k8s, plan));
    expect(error).toBeInstanceOf(ExternalError);
    expect(error).toMatchObject({ code: 'k8s_denied', service: 'Kubernetes' });
    expect((error as Error).message).toBe(
      `Kubernetes: failed restoring revision 2 of ${ns}/${name}: deployments.apps "${name}" is forbidden: User "system:serviceaccount:runbook-bot:runbook-bot" cannot patch resource "deployments" in API group "apps" in the namespace "${ns}" (the bot's ServiceAccount lacks this permission: see deploy/kubernetes/rbac.yaml)`,
    );
    expect(deployedImage()).toBe(`${image}:2.5.0`);
  });

  it('reports a 403 on reading the history', async () => {
    seed();
    fake.failNext('GET', /replicasets/, 403);
    const error = await rejection(readRevisionHistory(k8s, { namespace: ns, deployment: name }));
    expect(error).toMatchObject({ code: 'k8s_denied' });
    expect((error as Error).message).toContain('cannot list resource "replicasets" in API group "apps"');
  });

  it('fails the follow at once when watching is forbidden', async () => {
    seed();
    await rollback(k8s, planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name })));
    fake.failNext('GET', /watch=true/, 403);
    const outcome = await follow();
    expect(outcome.result).toBe('failure');
    expect(outcome.message).toMatch(/^watching rlhf-production\/rlhf-audit-trail: /);
  });

  it('re-establishes the watch when the API goes away mid-watch, and still sees the rollout through', async () => {
    seed();
    await rollback(k8s, planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name })));
    const progress: string[] = [];
    const following = follow({ onProgress: (status) => progress.push(status.message) });
    await expect.poll(() => fake.openWatches).toBe(1);
    fake.controller.step();
    fake.controller.step();
    await expect.poll(() => progress.length).toBeGreaterThanOrEqual(2);

    // The API server goes away: the watch is cut and the next list fails twice before it answers again.
    fake.failNext('GET', /fieldSelector=metadata.name/, 503, { times: 2 });
    fake.dropWatches();
    fake.controller.step();
    fake.controller.step();
    await expect.poll(() => fake.openWatches, { timeout: 5_000 }).toBe(1);
    fake.dropWatches();
    await expect.poll(() => fake.openWatches, { timeout: 5_000 }).toBe(1);
    fake.controller.settle();
    const outcome = await following;
    expect(outcome).toMatchObject({ result: 'success' });
    expect(outcome.reconnects).toBe(2);
    expect(fake.requests.filter((r) => r.status === 503)).toHaveLength(2);
  });
});

describe('/rollback through the bot', () => {
  it('shows the history, asks with the image change, and after Confirm rolls back, follows the rollout and reports it in the incident channel', async () => {
    seed();
    const dir = mkdtempSync(join(tmpdir(), 'rb-kube-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, fake.kubeConfigYaml());
    const slack = await startFakeSlack();
    for (const id of ['U0ALICE', 'U0MALLORY']) slack.addUser({ id });
    slack.addUsergroup({ id: 'S0SRE', users: ['U0ALICE'] });
    const t = await startTestBot({
      slack,
      file: {
        kubernetes: { kubeconfig },
        permissions: { rollback: ['S0SRE'] },
        services: { 'rlhf-audit-trail': { kubernetes: { namespace: ns, deployments: [name] } } },
      },
      extra: { escalation: { autoStart: false } },
    });
    try {
      const { incident } = await t.bot.incidents.declare({
        key: 'rollback-test',
        title: 'Audit API answers 500',
        severity: 'P1',
        declaredBy: 'U0ALICE',
      });
      const channelId = incident.channel_id!;

      // Someone outside the rollback group is refused before anything is read (after the ack: the group is looked up).
      const refusedAt = slack.newResponseUrl();
      const denied = await sendSlashCommand(t.baseUrl, t.secret, {
        command: '/rollback',
        text: 'rlhf-audit-trail',
        userId: 'U0MALLORY',
        channelId,
        responseUrl: refusedAt,
      });
      await t.bot.idle();
      const refusal = commandAnswer(
        denied.body as { text: string },
        slack.responses(refusedAt.split('/').pop()).map((r) => r.body as { text: string }),
      ).answer;
      expect(refusal.text).toContain('<!subteam^S0SRE>');
      expect(fake.requests).toEqual([]);

      const asked = slack.newResponseUrl();
      const ack = await sendSlashCommand(t.baseUrl, t.secret, {
        command: '/rollback',
        text: 'rlhf-audit-trail',
        userId: 'U0ALICE',
        channelId,
        responseUrl: asked,
      });
      expect(ack.body).toMatchObject({ response_type: 'ephemeral' });
      expect((ack.body as { text: string }).text).toContain(`Reading the revision history of \`${ns}/${name}\``);
      await t.bot.idle();
      const question = slack.responses(asked.split('/').pop()).at(-1)!.body;
      const shown = JSON.stringify(question.blocks);
      expect(shown).toContain(`Revision history of \`${ns}/${name}\``);
      expect(shown).toContain(`*3* (current) · \`${image}:2.5.0\` · release 2.5.0: new audit schema`);
      expect(shown).toContain(`Namespace \`${ns}\`, deployment \`${name}\``);
      expect(shown).toContain(`Revision 3 → 2: \`${image}:2.5.0\` → \`${image}:2.4.0\``);
      expect(question.text).toBe(`Roll back ${ns}/${name} to revision 2: confirm or cancel`);
      const confirmationId = /"block_id":"confirmation:([^"]+)"/.exec(shown)![1]!;
      expect(deployedImage()).toBe(`${image}:2.5.0`);

      fake.controller.start(20);
      const click = await sendBlockAction(t.baseUrl, t.secret, {
        actionId: 'confirmation:confirm',
        value: confirmationId,
        userId: 'U0ALICE',
        channelId,
        ephemeral: true,
        responseUrl: slack.newResponseUrl(),
      });
      expect(click.status).toBe(200);
      await t.bot.idle();

      expect(deployedImage()).toBe(`${image}:2.4.0`);
      expect(deployment().status).toMatchObject({ updatedReplicas: 3, availableReplicas: 3, replicas: 3 });
      const updates = slack.calls('chat.update').map((call) => String(call.args.text));
      expect(updates.some((text) => /\d\/3 updated/.test(text))).toBe(true);
      const outcome = slack.messages(channelId).at(-1)!;
      expect(outcome.text).toMatch(
        new RegExp(
          `^:white_check_mark: \\*Roll back ${ns}/${name} to revision 2\\* finished after .* \\(confirmed by <@U0ALICE>\\): rolled back to revision 2 \\(\`${image}:2.4.0\`\\); deployment "${name}" successfully rolled out$`,
        ),
      );
      const timeline = await listEvents(t.bot.store, incident.id);
      expect(timeline.filter((e) => e.kind.startsWith('rollback')).map((e) => [e.kind, e.actor])).toEqual([
        ['rollback', 'U0ALICE'],
        ['rollback_completed', 'U0ALICE'],
      ]);
      expect(timeline.find((e) => e.kind === 'rollback')!.text).toBe(
        `Rolled back \`${ns}/${name}\`: revision 3 → 2 (\`${image}:2.5.0\` → \`${image}:2.4.0\`)`,
      );

      // Asking again for the revision it is now at is answered with the history and the reason, and nothing to confirm.
      const again = slack.newResponseUrl();
      await sendSlashCommand(t.baseUrl, t.secret, {
        command: '/rollback',
        text: `rlhf-audit-trail ${name} 4`,
        userId: 'U0ALICE',
        channelId,
        responseUrl: again,
      });
      await t.bot.idle();
      const refused = slack.responses(again.split('/').pop()).at(-1)!.body;
      expect(refused.text).toBe(`\`${ns}/${name}\` is already at revision 4 (${image}:2.4.0): nothing to roll back.`);
      expect(JSON.stringify(refused.blocks)).not.toContain('confirmation:confirm');
    } finally {
      fake.controller.stop();
      await t.stop();
      await slack.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runbook-bot rollback (CLI)', () => {
  it('prints the history and the patch on --dry-run, rolls back and follows otherwise, and exits 64 for what cannot be done', async () => {
    seed();
    const dir = mkdtempSync(join(tmpdir(), 'rb-cli-'));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, fake.kubeConfigYaml());
      const configPath = join(dir, 'runbook-bot.yml');
      writeFileSync(
        configPath,
        `kubernetes: { kubeconfig: ${JSON.stringify(kubeconfig)} }\nservices:\n  rlhf-audit-trail:\n    kubernetes: { namespace: ${ns}, deployments: [${name}] }\n`,
      );
      const dataDir = join(dir, 'data');
      const env = { RUNBOOK_BOT_CONFIG: configPath, LOG_LEVEL: 'silent', DATA_DIR: dataDir };
      const run = async (...args: string[]) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await runCli(['rollback', ...args], { out: (line) => out.push(line), err: (line) => err.push(line) }, env);
        return { code, out: out.join('\n'), err: err.join('\n') };
      };

      const dry = await run('rlhf-audit-trail', '--dry-run');
      expect(dry.code).toBe(0);
      expect(dry.out).toContain(`3*        ${image}:2.5.0  release 2.5.0: new audit schema`);
      expect(dry.out).toContain(`rollback: revision 3 -> 2 (${image}:2.5.0 -> ${image}:2.4.0)`);
      expect(dry.out).toContain('"path": "/spec/template"');
      expect(deployedImage()).toBe(`${image}:2.5.0`);

      expect(await run('rlhf-audit-trail', name, '3')).toMatchObject({
        code: 64,
        err: `runbook-bot: \`${ns}/${name}\` is already at revision 3 (${image}:2.5.0): nothing to roll back.`,
      });
      expect((await run('rlhf-audit-trail', '--yes')).code).toBe(64);

      fake.controller.start(5);
      const real = await run('rlhf-audit-trail', '1');
      expect(real.code).toBe(0);
      expect(real.out).toContain(`deployment.apps/${name} rolled back`);
      expect(real.out).toContain(`success: deployment "${name}" successfully rolled out`);
      expect(deployedImage()).toBe(`${image}:2.3.0`);
      // The change from the terminal is in the audit log; the dry run and the refusals are not.
      const store = await openStore({ dataDir });
      try {
        const { rows } = await store.query<{ actor: string; action: string; result: string }>(
          'SELECT actor, action, result FROM audit_log ORDER BY seq',
        );
        expect(rows.map((row) => row.action)).toEqual(['command', 'task.outcome']);
        expect(rows[0]!.actor).toMatch(/^cli:/);
        expect(rows[1]!.result).toBe(`success: deployment "${name}" successfully rolled out`);
        expect((await verifyAuditLog(store)).ok).toBe(true);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Kubernetes client factory', () => {
  it('uses the configured kubeconfig and context (a service’s own context first), and names a context that does not exist', async () => {
    seed();
    const dir = mkdtempSync(join(tmpdir(), 'rb-kubeconfig-'));
    try {
      // Two contexts: "fake" reaches the fake API server, "elsewhere" a port nothing listens on.
      const kubeconfig = JSON.parse(fake.kubeConfigYaml()) as Record<string, Array<Record<string, unknown>>>;
      kubeconfig.clusters!.push({ name: 'nowhere', cluster: { server: 'http://127.0.0.1:9', 'insecure-skip-tls-verify': true } });
      kubeconfig.contexts!.push({ name: 'elsewhere', context: { cluster: 'nowhere', user: 'fake' } });
      const path = join(dir, 'kubeconfig');
      writeFileSync(path, JSON.stringify(kubeconfig));
      const config = parseConfig({}, { kubernetes: { kubeconfig: path, context: 'elsewhere' } }, 'test.yml', 'cli');

      expect(createKubernetesClients(config).context).toBe('elsewhere');
      const viaService = createKubernetesClients(config, { context: 'fake' });
      expect(viaService.context).toBe('fake');
      const history = await readRevisionHistory(viaService, { namespace: ns, deployment: name });
      expect(history.currentRevision).toBe(3);
      const unreachable = await rejection(
        readRevisionHistory(createKubernetesClients(config), { namespace: ns, deployment: name }),
      );
      expect(unreachable).toMatchObject({ code: 'k8s_unreachable' });

      const missing = await rejection(() => createKubernetesClients(config, { context: 'staging' }));
      expect(missing).toBeInstanceOf(ConfigError);
      expect((missing as ConfigError).issues).toEqual([
        `kubernetes.context: no context "staging" in ${path} (it has: fake, elsewhere)`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
