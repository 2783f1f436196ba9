// A Kubernetes API that accepts the connection and never answers: /rollback, `runbook-bot rollback` and `health` end at
// their limit naming Kubernetes and the setting; a quiet watch is re-established; a confirmed rollback ends and is recorded.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { clientsFor, DEFAULT_KUBERNETES_TIMEOUTS } from '../src/clients/kubernetes.ts';
import { runCli } from '../src/cli.ts';
import { systemClock } from '../src/clock.ts';
import { readRevisionHistory } from '../src/tasks/rollback/history.ts';
import { planRollback, rollback } from '../src/tasks/rollback/rollback.ts';
import { followRollout } from '../src/tasks/rollback/status.ts';
import { listEvents } from '../src/store/incidents.ts';
import { startFakeSlack } from './fakes/fake-slack.ts';
import { startFakeKubernetes, type FakeKubernetes } from './fakes/kubernetes/index.ts';
import { startTestBot } from './support/bot.ts';
import { sendBlockAction, sendSlashCommand } from './support/slack-requests.ts';

const ns = 'rlhf-production';
const name = 'rlhf-audit-trail';
const image = 'ghcr.io/example/rlhf-audit-trail';
const limitText = (ms: string) => `no answer within ${ms} (the limit is timeouts.kubernetes.request in the config file)`;

let fake: FakeKubernetes;
let dir: string;
beforeEach(async () => {
  fake = await startFakeKubernetes();
  fake.seedDeployment({ namespace: ns, name, image, revisions: ['2.4.0', '2.5.0'] });
  dir = mkdtempSync(join(tmpdir(), 'rb-deadline-'));
});
afterEach(async () => {
  fake.controller.stop();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

async function rolledBack() {
  const k8s = clientsFor(fake.kubeConfig());
  await rollback(k8s, planRollback(await readRevisionHistory(k8s, { namespace: ns, deployment: name })));
}

describe('following a rollout', () => {
  it('re-establishes a watch on which nothing arrived for timeouts.kubernetes.watchIdle, and still sees the rollout through', async () => {
    await rolledBack();
    const k8s = clientsFor(fake.kubeConfig(), { requestMs: 5_000, watchIdleMs: 300 });
    const following = followRollout(k8s, { namespace: ns, deployment: name, clock: systemClock, timeoutMs: 20_000 });
    // The controller is idle: nothing changes, so the watch is quiet and is cut and opened again.
    const watches = () => fake.requests.filter((r) => r.query.watch === 'true').length;
    await expect.poll(watches, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    fake.controller.start(5);
    const outcome = await following;
    expect(outcome.result).toBe('success');
    expect(outcome.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('ends with a message naming Kubernetes and the limit when the API stops answering after the patch', async () => {
    await rolledBack();
    const k8s = clientsFor(fake.kubeConfig(), { requestMs: 300, watchIdleMs: 300 });
    fake.stall();
    const started = Date.now();
    const outcome = await followRollout(k8s, { namespace: ns, deployment: name, clock: systemClock, timeoutMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(outcome).toMatchObject({
      result: 'unreachable',
      message: `Kubernetes: listing deployment ${ns}/${name}: ${limitText('300ms')}`,
    });
    // Nothing is left waiting on the wedged server.
    await expect.poll(() => fake.openWatches).toBe(0);
  });
});

describe('the CLI against an API that never answers', () => {
  function configFile(extra: Record<string, unknown> = {}) {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, fake.kubeConfigYaml());
    const path = join(dir, 'runbook-bot.yml');
    writeFileSync(
      path,
      stringify({
        kubernetes: { kubeconfig },
        timeouts: { kubernetes: { request: '400ms' } },
        services: {
          'rlhf-audit-trail': { kubernetes: { namespace: ns, deployments: [name] }, health: { timeout: '5s', kubernetes: {} } },
        },
        ...extra,
      }),
    );
    return path;
  }

  async function cli(...args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const started = Date.now();
    const code = await runCli(
      args,
      { out: (l) => out.push(l), err: (l) => err.push(l) },
      {
        RUNBOOK_BOT_CONFIG: configFile(),
        DATA_DIR: join(dir, 'data'),
        LOG_LEVEL: 'silent',
      },
    );
    return { code, out: out.join('\n'), err: err.join('\n'), ms: Date.now() - started };
  }

  it('`rollback` exits 1 at the request limit, naming Kubernetes, what it was doing and the setting', async () => {
    fake.stall();
    const result = await cli('rollback', 'rlhf-audit-trail');
    expect(result.code).toBe(1);
    expect(result.err).toBe(`runbook-bot: Kubernetes: reading deployment ${ns}/${name}: ${limitText('400ms')}`);
    expect(result.ms).toBeLessThan(5_000);
  });

  it('`health` reports the Kubernetes check critical at the request limit, beside the other checks', async () => {
    fake.stall();
    const result = await cli('health', 'rlhf-audit-trail');
    expect(result.code).toBe(2);
    expect(result.out).toContain(`kubernetes ${ns}  reading namespace ${ns}: ${limitText('400ms')}`);
    expect(result.ms).toBeLessThan(5_000);
  });
});

describe('/rollback against an API that never answers', () => {
  it('answers the requester at the limit, and a confirmed rollback that hits it ends, is recorded and frees the way for the next', async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, fake.kubeConfigYaml());
    const slack = await startFakeSlack();
    slack.addUser({ id: 'U0ALICE' });
    const t = await startTestBot({
      slack,
      file: {
        kubernetes: { kubeconfig },
        timeouts: { kubernetes: { request: '1s', watchIdle: '1s' } },
        services: { 'rlhf-audit-trail': { kubernetes: { namespace: ns, deployments: [name] } } },
      },
      extra: { escalation: { autoStart: false } },
    });
    try {
      const { incident } = await t.bot.incidents.declare({
        key: 'stall',
        title: 'API 500s',
        severity: 'P1',
        declaredBy: 'U0ALICE',
      });
      const channelId = incident.channel_id!;
      const ask = async () => {
        const responseUrl = slack.newResponseUrl();
        await sendSlashCommand(t.baseUrl, t.secret, {
          command: '/rollback',
          text: 'rlhf-audit-trail',
          userId: 'U0ALICE',
          channelId,
          responseUrl,
        });
        await t.bot.idle();
        // An error is answered after the handler settles (by the listener's wrapper), so wait for the answer itself.
        const id = responseUrl.split('/').pop();
        await expect.poll(() => slack.responses(id).length).toBeGreaterThan(0);
        return slack.responses(id).at(-1)!.body;
      };

      // Reading the history stalls: the requester is told, nothing is asked or stored.
      fake.stall();
      const started = Date.now();
      const refused = await ask();
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(refused.text).toBe(`:x: Kubernetes: reading deployment ${ns}/${name}: ${limitText('1s')}`);
      const none = await t.bot.store.query<{ n: number }>('SELECT COUNT(*) AS n FROM confirmations');
      expect(Number(none.rows[0]!.n)).toBe(0);

      // The API comes back for the question, then wedges before the click.
      fake.unstall();
      const question = await ask();
      const confirmationId = /"block_id":"confirmation:([^"]+)"/.exec(JSON.stringify(question.blocks))![1]!;
      fake.stall();
      await sendBlockAction(t.baseUrl, t.secret, {
        actionId: 'confirmation:confirm',
        value: confirmationId,
        userId: 'U0ALICE',
        channelId,
        ephemeral: true,
        responseUrl: slack.newResponseUrl(),
      });
      await t.bot.idle();
      const outcome = slack.messages(channelId).at(-1)!;
      expect(outcome.text).toMatch(
        new RegExp(
          `^:x: \\*Roll back ${ns}/${name} to revision 1\\* failed after .*: failed: Kubernetes: reading deployment ${ns}/${name}: no answer within 1s`,
        ),
      );
      const row = await t.bot.store.query<{ state: string; outcome: string | null; finished_at: unknown }>(
        'SELECT state, outcome, finished_at FROM confirmations WHERE id = $1',
        [confirmationId],
      );
      expect(row.rows[0]).toMatchObject({ state: 'confirmed', outcome: 'failed' });
      expect(row.rows[0]!.finished_at).toBeTruthy();
      const timeline = await listEvents(t.bot.store, incident.id);
      expect(timeline.map((event) => event.kind)).toContain('rollback_failed');

      // Nothing is held: once the API answers again, the next rollback is asked for as usual.
      fake.unstall();
      expect((await ask()).text).toBe(`Roll back ${ns}/${name} to revision 1: confirm or cancel`);
    } finally {
      await t.stop();
      await slack.close();
    }
  });
});

it('keeps the schema defaults for clients made from a bare kubeconfig', () => {
  expect(clientsFor(fake.kubeConfig()).timeouts).toEqual(DEFAULT_KUBERNETES_TIMEOUTS);
});
