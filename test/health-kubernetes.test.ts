// The Kubernetes health check against the fake API server: workloads ready vs desired, pods, restarts, Warning events, certificates.
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubernetesClients } from '../src/clients/kubernetes.ts';
import { parseConfig } from '../src/config/load.ts';
import { healthTargets, runHealthChecks } from '../src/tasks/health/run.ts';
import { startFakeKubernetes, type FakeKubernetes, type KubeObject } from './fakes/kubernetes/index.ts';
import { ManualClock } from './support/clock.ts';

const NAMESPACE = 'rlhf-production';
const DAY = 86_400_000;

let fake: FakeKubernetes;
let clock: ManualClock;

beforeEach(async () => {
  fake = await startFakeKubernetes();
  clock = new ManualClock(new Date());
});
afterEach(async () => {
  await fake.close();
});

function clients(): KubernetesClients {
  const kubeConfig = fake.kubeConfig();
  return {
    kubeConfig,
    apps: kubeConfig.makeApiClient(AppsV1Api),
    core: kubeConfig.makeApiClient(CoreV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    context: 'fake',
  };
}

async function check(health: Record<string, unknown> = {}, kubernetes: Record<string, unknown> = {}) {
  const config = parseConfig(
    {},
    {
      services: {
        'rlhf-audit-trail': {
          kubernetes: { namespace: NAMESPACE, deployments: ['rlhf-audit-trail'], statefulsets: ['postgresql'], ...kubernetes },
          health: { timeout: '2s', kubernetes: health },
        },
      },
    },
    'test.yml',
    'cli',
  );
  const report = await runHealthChecks(healthTargets(config, 'rlhf-audit-trail').services, {
    clock,
    env: {},
    kubernetes: () => clients(),
  });
  const [result] = report.services[0]!.checks;
  expect(result!.kind).toBe('kubernetes');
  return result!;
}

function pod(name: string, app: string, status: KubeObject): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { app } },
    spec: { containers: [{ name: app, image: `${app}:1` }] },
    status,
  };
}

function runningPod(name: string, app: string, restarts = 0): KubeObject {
  return pod(name, app, {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [
      { name: app, ready: true, restartCount: restarts, image: `${app}:1`, imageID: '', state: { running: {} } },
    ],
  });
}

function statefulset(name: string, replicas: number, ready: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } } },
    },
    status: { replicas, readyReplicas: ready },
  };
}

function healthyCluster() {
  fake.seedDeployment({ namespace: NAMESPACE, name: 'rlhf-audit-trail', image: 'rlhf/api:1.4.2', replicas: 2 });
  fake.put(statefulset('postgresql', 1, 1));
  fake.put(runningPod('rlhf-audit-trail-7d9f-abcde', 'rlhf-audit-trail'));
  fake.put(runningPod('rlhf-audit-trail-7d9f-fghij', 'rlhf-audit-trail'));
  fake.put(runningPod('postgresql-0', 'postgresql'));
  // Another team's pod in the same namespace is none of this service's business.
  fake.put(pod('batch-job-1', 'batch', { phase: 'Failed' }));
}

function certificate(name: string, notAfter: Date): KubeObject {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name, namespace: NAMESPACE },
    spec: { secretName: name, dnsNames: ['audit.example.com'] },
    status: { notAfter: notAfter.toISOString(), conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function warningEvent(name: string, involved: string, reason: string, at: Date, count = 1): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: NAMESPACE },
    involvedObject: { kind: 'Pod', name: involved, namespace: NAMESPACE },
    reason,
    message: `${reason} happened`,
    type: 'Warning',
    count,
    lastTimestamp: at.toISOString(),
  };
}

describe('the Kubernetes health check', () => {
  it('is ok for ready workloads, running pods and a certificate far from expiry', async () => {
    healthyCluster();
    fake.put(certificate('rlhf-audit-trail-tls', new Date(clock.now().getTime() + 80 * DAY)));
    // An old warning, outside the last hour.
    fake.put(warningEvent('old', 'rlhf-audit-trail-7d9f-abcde', 'BackOff', new Date(clock.now().getTime() - 3 * 3_600_000)));
    const result = await check();
    expect(result.status).toBe('ok');
    expect(result.reason).toBe(
      'deployment rlhf-audit-trail 2/2 ready, statefulset postgresql 1/1 ready, 3 pods running and ready, ' +
        'no Warning events in the last 1h, 1 certificate valid beyond 30d',
    );
  });

  it('is critical for crash-looping pods and names them with their restarts', async () => {
    healthyCluster();
    fake.put(
      pod('rlhf-audit-trail-7d9f-fghij', 'rlhf-audit-trail', {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'False' }],
        containerStatuses: [
          {
            name: 'rlhf-audit-trail',
            ready: false,
            restartCount: 14,
            image: 'rlhf/api:1.4.2',
            imageID: '',
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container' } },
          },
        ],
      }),
    );
    fake.put(warningEvent('backoff', 'rlhf-audit-trail-7d9f-fghij', 'BackOff', new Date(clock.now().getTime() - 5 * 60_000), 14));
    fake.put(warningEvent('unrelated', 'batch-job-1', 'FailedScheduling', new Date(clock.now().getTime() - 60_000)));
    const result = await check();
    expect(result.status).toBe('critical');
    expect(result.reason).toBe(
      '1 pod crash-looping or stuck: rlhf-audit-trail-7d9f-fghij (CrashLoopBackOff, 14 restarts); ' +
        '1 Warning event in the last 1h: BackOff ×14',
    );
  });

  it('warns about unready workloads, unready pods, restarts and a certificate expiring within 30 days', async () => {
    fake.seedDeployment({ namespace: NAMESPACE, name: 'rlhf-audit-trail', image: 'rlhf/api:1.4.2', replicas: 2 });
    const deployment = fake.get('apps/v1', 'Deployment', NAMESPACE, 'rlhf-audit-trail')!;
    fake.put({ ...deployment, status: { ...deployment.status, readyReplicas: 1 } });
    fake.put(statefulset('postgresql', 1, 1));
    fake.put(runningPod('rlhf-audit-trail-7d9f-abcde', 'rlhf-audit-trail', 7));
    fake.put(pod('rlhf-audit-trail-7d9f-fghij', 'rlhf-audit-trail', { phase: 'Pending', conditions: [] }));
    fake.put(runningPod('postgresql-0', 'postgresql'));
    const expires = new Date(clock.now().getTime() + 12 * DAY + 3_600_000);
    fake.put(certificate('rlhf-audit-trail-tls', expires));
    const result = await check();
    expect(result.status).toBe('warn');
    expect(result.details).toEqual(
      expect.arrayContaining([
        'deployment rlhf-audit-trail 1/2 ready',
        '1 pod not ready: rlhf-audit-trail-7d9f-fghij (Pending)',
        '1 pod restarted 5+ times: rlhf-audit-trail-7d9f-abcde (7)',
        `certificate rlhf-audit-trail-tls expires in 12d 1h (${expires.toISOString().slice(0, 10)})`,
      ]),
    );
  });

  it('is critical for a missing deployment, a workload with nothing ready and an expired certificate', async () => {
    fake.put(statefulset('postgresql', 1, 0));
    fake.put(certificate('rlhf-audit-trail-tls', new Date(clock.now().getTime() - 2 * DAY)));
    const result = await check();
    expect(result.status).toBe('critical');
    expect(result.reason).toBe(
      'deployment rlhf-audit-trail not found; statefulset postgresql 0/1 ready; certificate rlhf-audit-trail-tls expired 2d ago',
    );
  });

  it('follows the configured thresholds', async () => {
    healthyCluster();
    fake.put(runningPod('postgresql-0', 'postgresql', 2));
    fake.put(certificate('rlhf-audit-trail-tls', new Date(clock.now().getTime() + 45 * DAY)));
    const result = await check({ restartsWarn: 2, certificateWarn: '60d' });
    expect(result.status).toBe('warn');
    expect(result.reason).toMatch(
      /^1 pod restarted 2\+ times: postgresql-0 \(2\); certificate rlhf-audit-trail-tls expires in 45d/,
    );
  });

  it('reports what the API server refused, and a cluster it cannot reach', async () => {
    healthyCluster();
    fake.failNext('GET', /\/pods$/, 403, {
      message: 'pods is forbidden: User "system:serviceaccount:ops:runbook-bot" cannot list',
    });
    const refused = await check();
    expect(refused.status).toBe('critical');
    expect(refused.reason).toContain(`listing pods in ${NAMESPACE}: pods is forbidden`);
    expect(refused.reason).toContain("the bot's ServiceAccount lacks this permission");

    await fake.close();
    const unreachable = await check();
    expect(unreachable.status).toBe('critical');
    expect(unreachable.reason).toContain('ECONNREFUSED');
  });

  it('says "not configured" when the service has no Kubernetes section', async () => {
    const config = parseConfig({}, { services: { svc: { health: { kubernetes: {} } } } }, 'test.yml', 'cli');
    const report = await runHealthChecks(healthTargets(config, 'svc').services, { clock, env: {}, kubernetes: () => clients() });
    expect(report.services[0]!.checks[0]).toMatchObject({
      status: 'warn',
      notConfigured: true,
      reason: 'not configured: services.svc.kubernetes (namespace, deployments) is not set',
    });
  });
});
