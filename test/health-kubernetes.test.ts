// The Kubernetes health check against the fake API server, laid out like RegulensAI's namespace: every finding names its object.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientsFor, DEFAULT_KUBERNETES_TIMEOUTS } from '../src/clients/kubernetes.ts';
import { parseConfig } from '../src/config/load.ts';
import { healthTargets, runHealthChecks, type CheckResult } from '../src/tasks/health/run.ts';
import {
  certificate,
  coreEvent,
  crashLoopingPod,
  eventsV1Event,
  ingress,
  pendingPod,
  podMetrics,
  pv,
  pvc,
  runningPod,
  selfSignedCertificate,
  service,
  tlsSecret,
  workload,
} from './fakes/kubernetes/fixtures.ts';
import { startFakeKubernetes, type FakeKubernetes } from './fakes/kubernetes/index.ts';
import { ManualClock, minutes } from './support/clock.ts';

const ns = 'regulensai';
const DAY = 86_400_000;

let fake: FakeKubernetes;
let clock: ManualClock;
let requestMs: number;

beforeEach(async () => {
  fake = await startFakeKubernetes();
  clock = new ManualClock(new Date());
  requestMs = DEFAULT_KUBERNETES_TIMEOUTS.requestMs;
});
afterEach(async () => {
  await fake.close();
});

const ago = (ms: number) => new Date(clock.now().getTime() - ms);

async function check(health: Record<string, unknown> = {}, kubernetes: Record<string, unknown> = {}): Promise<CheckResult> {
  const config = parseConfig(
    {},
    {
      services: {
        regulensai: {
          kubernetes: {
            namespace: ns,
            deployments: ['regulensai-api'],
            statefulsets: ['regulensai-postgres', 'regulensai-redis'],
            ...kubernetes,
          },
          health: { timeout: '5s', kubernetes: health },
        },
      },
    },
    'test.yml',
    'cli',
  );
  const report = await runHealthChecks(healthTargets(config, 'regulensai').services, {
    clock,
    env: {},
    kubernetes: () => clientsFor(fake.kubeConfig(), { ...DEFAULT_KUBERNETES_TIMEOUTS, requestMs }),
  });
  const [result] = report.services[0]!.checks;
  expect(result!.kind).toBe('kubernetes');
  return result!;
}

/** RegulensAI as the runbook lays it out: an API deployment, PostgreSQL and Redis statefulsets, their services and volumes. */
function regulensai() {
  fake.put(workload('Deployment', 'regulensai-api', { namespace: ns, replicas: 2, ready: 2 }));
  fake.put(workload('StatefulSet', 'regulensai-postgres', { namespace: ns, replicas: 1, ready: 1, claimTemplates: ['data'] }));
  fake.put(workload('StatefulSet', 'regulensai-redis', { namespace: ns, replicas: 1, ready: 1 }));
  fake.put(runningPod('regulensai-api-7d9f-abcde', { namespace: ns, labels: { app: 'regulensai-api' } }));
  fake.put(runningPod('regulensai-api-7d9f-fghij', { namespace: ns, labels: { app: 'regulensai-api' } }));
  fake.put(
    runningPod('regulensai-postgres-0', {
      namespace: ns,
      labels: { app: 'regulensai-postgres' },
      claims: ['data-regulensai-postgres-0'],
    }),
  );
  fake.put(runningPod('regulensai-redis-0', { namespace: ns, labels: { app: 'regulensai-redis' } }));
  fake.put(service('regulensai-api', ns, { app: 'regulensai-api' }));
  fake.put(service('regulensai-postgres', ns, { app: 'regulensai-postgres' }));
  fake.put(pvc('data-regulensai-postgres-0', ns, { phase: 'Bound', volumeName: 'pvc-0001' }));
  fake.put(pv('pvc-0001', { namespace: ns, name: 'data-regulensai-postgres-0' }, 'Bound'));
  fake.put(ingress('regulensai-api', ns, { backend: 'regulensai-api' }));
}

describe('the Kubernetes health check', () => {
  it('is ok for a healthy namespace, and reads each kind with one list call', async () => {
    regulensai();
    // An old warning, outside the last hour, is not a finding.
    fake.put(coreEvent(ns, { kind: 'Pod', name: 'regulensai-api-7d9f-abcde' }, 'BackOff', { last: ago(3 * 3_600_000) }));
    const result = await check();
    expect(result.status).toBe('ok');
    expect(result.reason).toBe(
      'Deployment regulensai-api 2/2 ready, StatefulSet regulensai-postgres 1/1 ready, StatefulSet regulensai-redis 1/1 ready, ' +
        '4 pods running and ready, 2 services with ready endpoints, 1 PVC bound, no Warning events in the last 1h, ' +
        'memory not checked (no metrics-server)',
    );
    const lists = fake.requests.filter((r) => r.method === 'GET' && r.query.limit);
    expect(new Set(lists.map((r) => r.path))).toEqual(
      new Set([
        `/api/v1/namespaces/${ns}/pods`,
        `/apis/apps/v1/namespaces/${ns}/deployments`,
        `/apis/apps/v1/namespaces/${ns}/statefulsets`,
        `/apis/apps/v1/namespaces/${ns}/daemonsets`,
        `/api/v1/namespaces/${ns}/services`,
        `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
        `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses`,
        `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
        '/api/v1/persistentvolumes',
        `/api/v1/namespaces/${ns}/events`,
        `/apis/cert-manager.io/v1/namespaces/${ns}/certificates`,
        `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`,
      ]),
    );
    expect(lists).toHaveLength(12);
    expect(lists.every((r) => r.query.limit === '500')).toBe(true);
  });

  it('names the object, count and age of every Warning event, written through either event API', async () => {
    regulensai();
    fake.put(
      coreEvent(ns, { kind: 'Pod', name: 'regulensai-postgres-0' }, 'FailedMount', {
        count: 3,
        last: ago(minutes(10)),
        message: 'MountVolume.SetUp failed for volume "data": <timeout>',
      }),
    );
    // events.k8s.io/v1 writes eventTime and a series, never lastTimestamp or count.
    fake.put(
      eventsV1Event(ns, { kind: 'PersistentVolumeClaim', name: 'data-regulensai-postgres-0' }, 'VolumeResizeFailed', {
        eventTime: ago(minutes(30)),
        series: { count: 2, last: ago(minutes(4)) },
        note: 'resize volume "pvc-0001" by resizer "ebs.csi.aws.com" failed',
      }),
    );
    const result = await check();
    expect(result.status).toBe('warn');
    expect(result.reason).toBe(
      'PersistentVolumeClaim data-regulensai-postgres-0: VolumeResizeFailed ×2, last 4m ago; Pod regulensai-postgres-0: FailedMount ×3, last 10m ago',
    );
    // The raw message is kept for the details table (escaped where Slack shows it).
    expect(result.objects).toContainEqual(
      expect.objectContaining({
        kind: 'Pod',
        name: 'regulensai-postgres-0',
        reason: 'FailedMount',
        count: 3,
        message: 'MountVolume.SetUp failed for volume "data": <timeout>',
      }),
    );
  });

  it('reads events through events.k8s.io/v1 when core events are refused', async () => {
    regulensai();
    fake.put(coreEvent(ns, { kind: 'Pod', name: 'regulensai-redis-0' }, 'Unhealthy', { count: 5, last: ago(minutes(2)) }));
    fake.forbid('list', 'events');
    const result = await check();
    expect(result.reason).toBe('Pod regulensai-redis-0: Unhealthy ×5, last 2m ago');
    fake.forbid('list', 'events.events.k8s.io');
    const neither = await check();
    expect(neither.reason).toBe(
      `cannot list events in ${ns}: the bot needs \`list\` on \`events\` in the Role of namespace ${ns} (without it Warning events are not seen, unless \`list\` on \`events.events.k8s.io\` is granted, which is read instead)`,
    );
  });

  it('reports a crash loop in a workload the config does not list, with the last termination reason, exit code and time', async () => {
    regulensai();
    fake.put(workload('Deployment', 'regulensai-worker', { namespace: ns, replicas: 1, ready: 0 }));
    fake.put(
      crashLoopingPod('regulensai-worker-5c8d-x2x9q', {
        namespace: ns,
        labels: { app: 'regulensai-worker' },
        container: 'worker',
        restarts: 12,
        lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt: ago(minutes(3)) },
      }),
    );
    const result = await check();
    expect(result.status).toBe('critical');
    expect(result.reason).toBe(
      'Deployment regulensai-worker: 0/1 ready; Pod regulensai-worker-5c8d-x2x9q: CrashLoopBackOff, 12 restarts, last OOMKilled (exit 137) in worker 3m ago',
    );
    // Opting out of the namespace-wide scope leaves the unlisted worker to its own team.
    expect((await check({ scope: 'workloads' })).status).toBe('ok');
  });

  it('raises the state only for restarts within the window, and says when the last one was', async () => {
    regulensai();
    fake.put(
      runningPod('regulensai-api-7d9f-abcde', {
        namespace: ns,
        labels: { app: 'regulensai-api' },
        restarts: 12,
        lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt: ago(40 * DAY) },
      }),
    );
    const old = await check();
    expect(old.status).toBe('ok');
    expect(old.details).toContain(
      'Pod regulensai-api-7d9f-abcde: 12 restarts, last OOMKilled (exit 137) in app 40d ago (outside the last 1h)',
    );

    fake.put(
      runningPod('regulensai-api-7d9f-fghij', {
        namespace: ns,
        labels: { app: 'regulensai-api' },
        restarts: 3,
        lastTermination: { reason: 'Error', exitCode: 1, finishedAt: ago(minutes(8)) },
      }),
    );
    const recent = await check();
    expect(recent.status).toBe('warn');
    expect(recent.reason).toBe('Pod regulensai-api-7d9f-fghij: restarted (3 restarts, last Error (exit 1) in app 8m ago)');
    expect((await check({ restartWindow: '5m' })).status).toBe('ok');
  });

  it('warns about a PVC Pending past the grace period, not before, and is critical for a Lost one', async () => {
    regulensai();
    fake.put(pvc('scratch', ns, { phase: 'Pending', createdAt: ago(minutes(2)), storageClass: 'fast' }));
    expect((await check()).status).toBe('ok');
    clock.advance(minutes(10));
    const pending = await check();
    expect(pending.status).toBe('warn');
    expect(pending.reason).toBe('PersistentVolumeClaim scratch: Pending for 12m (storage class fast)');

    fake.put(pvc('data-regulensai-postgres-0', ns, { phase: 'Lost', volumeName: 'pvc-0001' }));
    const lost = await check();
    expect(lost.status).toBe('critical');
    expect(lost.reason).toMatch(
      /^PersistentVolumeClaim data-regulensai-postgres-0: Lost \(volume pvc-0001 no longer exists\); PersistentVolumeClaim scratch: Pending/,
    );
  });

  it('is critical for a bound claim whose volume failed', async () => {
    regulensai();
    fake.put(
      pv('pvc-0001', { namespace: ns, name: 'data-regulensai-postgres-0' }, 'Failed', 'the EBS volume vol-0abc was deleted'),
    );
    const result = await check();
    expect(result.status).toBe('critical');
    expect(result.reason).toBe(
      'PersistentVolume pvc-0001: Failed (claim data-regulensai-postgres-0): the EBS volume vol-0abc was deleted',
    );
  });

  it('is critical for a service whose selector matches no ready pod, and warns about an ingress whose backend or TLS secret is missing', async () => {
    regulensai();
    fake.put(
      crashLoopingPod('regulensai-redis-0', {
        namespace: ns,
        labels: { app: 'regulensai-redis' },
        restarts: 1,
        lastTermination: { reason: 'Error', exitCode: 1, finishedAt: ago(minutes(1)) },
      }),
    );
    fake.put(service('regulensai-redis', ns, { app: 'regulensai-redis' }));
    fake.put(service('regulensai-metrics', ns, { app: 'regulensai-metrics' }));
    fake.put(ingress('regulensai-admin', ns, { backend: 'regulensai-admin', tlsSecret: 'admin-tls' }));
    const result = await check();
    expect(result.status).toBe('critical');
    expect(result.details).toEqual(
      expect.arrayContaining([
        'Service regulensai-metrics: no ready endpoints (selector app=regulensai-metrics: it selects no pod)',
        'Service regulensai-redis: no ready endpoints (selector app=regulensai-redis: none of the 1 pod it selects is ready)',
        'Ingress regulensai-admin: backend service regulensai-admin does not exist',
        'Ingress regulensai-admin: TLS secret admin-tls does not exist',
      ]),
    );
  });

  it('reads the x509 certificate of kubernetes.io/tls secrets where cert-manager is absent, and never the key', async () => {
    regulensai();
    const soon = selfSignedCertificate('api.regulensai.com', 10);
    const later = selfSignedCertificate('admin.regulensai.com', 365);
    fake.put(tlsSecret('regulensai-api-tls', ns, soon));
    fake.put(tlsSecret('regulensai-admin-tls', ns, later));
    // One named by an ingress, one only by the config.
    fake.put(ingress('regulensai-admin', ns, { backend: 'regulensai-api', tlsSecret: 'regulensai-admin-tls' }));
    const result = await check({ tlsSecrets: ['regulensai-api-tls'] });
    expect(result.status).toBe('warn');
    expect(result.reason).toMatch(/^Secret regulensai-api-tls: expires in (9d|10d) \(\d{4}-\d\d-\d\d\)$/);
    expect(result.details).toContain('1 certificate valid beyond 30d');
    // Only the secrets named were read, each by name; the key is nowhere in the result.
    expect(
      fake.requests
        .filter((r) => r.path.includes('/secrets'))
        .map((r) => r.path)
        .sort(),
    ).toEqual([`/api/v1/namespaces/${ns}/secrets/regulensai-admin-tls`, `/api/v1/namespaces/${ns}/secrets/regulensai-api-tls`]);
    const keyBody = soon.key.split('\n')[1]!;
    expect(JSON.stringify(result)).not.toContain(keyBody);
    expect(JSON.stringify(result)).not.toContain(Buffer.from(soon.key).toString('base64').slice(0, 40));

    clock.advance(8 * DAY);
    expect((await check({ tlsSecrets: ['regulensai-api-tls'] })).status).toBe('critical');
    clock.advance(3 * DAY);
    expect((await check({ tlsSecrets: ['regulensai-api-tls'] })).reason).toMatch(
      /^Secret regulensai-api-tls: expired (24h|23h) ago/,
    );
  });

  it('reads cert-manager Certificates where the CRD exists, and then leaves the secrets they keep alone', async () => {
    fake.installCertManager();
    regulensai();
    fake.put(ingress('regulensai-api', ns, { backend: 'regulensai-api', tlsSecret: 'regulensai-api-tls' }));
    fake.put(tlsSecret('regulensai-api-tls', ns, selfSignedCertificate('api.regulensai.com', 90)));
    fake.put(certificate('regulensai-api-tls', ns, { notAfter: new Date(clock.now().getTime() + 12 * DAY + 3_600_000) }));
    const result = await check();
    expect(result.status).toBe('warn');
    expect(result.reason).toMatch(/^Certificate regulensai-api-tls: expires in 12d \(\d{4}-\d\d-\d\d\)$/);
    expect(fake.requests.some((r) => r.path.includes('/secrets'))).toBe(false);
    fake.put(certificate('regulensai-api-tls', ns, { notAfter: new Date(clock.now().getTime() + 5 * DAY) }));
    expect((await check()).status).toBe('critical');
  });

  it('warns about a pod near its memory limit when metrics-server answers; without it, that is a note', async () => {
    regulensai();
    fake.put(runningPod('regulensai-api-7d9f-abcde', { namespace: ns, labels: { app: 'regulensai-api' }, memoryLimit: '1Gi' }));
    fake.installMetricsServer();
    fake.put(podMetrics('regulensai-api-7d9f-abcde', ns, { app: '972Mi' }));
    const result = await check();
    expect(result.status).toBe('warn');
    expect(result.reason).toBe('Pod regulensai-api-7d9f-abcde: using 972.0 MB of its 1.0 GB memory limit (95%) in app');

    fake.failNext('GET', /metrics\.k8s\.io/, 503);
    const down = await check();
    expect(down.status).toBe('ok');
    expect(down.details).toContain('metrics-server is not answering (503 from metrics.k8s.io): memory use not checked');
  });

  it('reports a refused read as a gap naming the grant, beside the crash-looping pod the other reads found', async () => {
    regulensai();
    fake.put(
      crashLoopingPod('regulensai-api-7d9f-abcde', {
        namespace: ns,
        labels: { app: 'regulensai-api' },
        restarts: 7,
        lastTermination: { reason: 'Error', exitCode: 2, finishedAt: ago(minutes(1)) },
      }),
    );
    fake.forbid('list', 'events');
    fake.forbid('list', 'events.events.k8s.io');
    fake.forbid('list', 'persistentvolumes');
    const result = await check();
    expect(result.status).toBe('critical');
    expect(result.details).toEqual(
      expect.arrayContaining([
        'Pod regulensai-api-7d9f-abcde: CrashLoopBackOff, 7 restarts, last Error (exit 2) in app 60s ago',
        expect.stringMatching(
          /^cannot list events in regulensai: the bot needs `list` on `events` in the Role of namespace regulensai/,
        ),
        'cannot list persistentvolumes in regulensai: the bot needs `list` on `persistentvolumes` in a ClusterRole (without it a failed volume behind a bound PVC is not seen)',
      ]),
    );
    expect(result.objects).toContainEqual(
      expect.objectContaining({ kind: 'Read', name: 'list persistentvolumes', reason: 'Forbidden' }),
    );
  });

  it('names a namespace that does not exist as such', async () => {
    const result = await check();
    expect(result.status).toBe('critical');
    expect(result.reason).toBe('Namespace regulensai: does not exist (context fake)');
  });

  it('pages large namespaces 500 objects a request, and starts a list again in one request when its continue token expires', async () => {
    regulensai();
    for (let i = 0; i < 1_100; i += 1)
      fake.put(runningPod(`regulensai-batch-${String(i).padStart(4, '0')}`, { namespace: ns, labels: { app: 'batch' } }));
    const paged = await check();
    expect(paged.reason).toContain('1104 pods running and ready');
    expect(fake.requests.filter((r) => r.path === `/api/v1/namespaces/${ns}/pods`)).toHaveLength(3);

    fake.requests.length = 0;
    // The second page's token is refused as too old: the list is read again, whole, and nothing is counted twice.
    fake.failNext('GET', /\/pods\?.*continue=/, 410, {
      reason: 'Expired',
      message: 'The provided continue parameter is too old',
    });
    const restarted = await check();
    expect(restarted.reason).toContain('1104 pods running and ready');
    expect(fake.requests.filter((r) => r.path === `/api/v1/namespaces/${ns}/pods`).map((r) => r.query.limit ?? 'all')).toEqual([
      '500',
      '500',
      'all',
    ]);
  });

  it('ends at the request limit when the API accepts the connection and never answers, naming Kubernetes and the limit', async () => {
    regulensai();
    requestMs = 300;
    fake.stall();
    const started = Date.now();
    const result = await check();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result.status).toBe('critical');
    expect(result.reason).toBe(
      `reading namespace ${ns}: no answer within 300ms (the limit is timeouts.kubernetes.request in the config file)`,
    );
  });

  it('reports a cluster it cannot reach', async () => {
    await fake.close();
    const unreachable = await check();
    expect(unreachable.status).toBe('critical');
    expect(unreachable.reason).toContain('ECONNREFUSED');
  });

  it('says "not configured" when the service has no Kubernetes section', async () => {
    const config = parseConfig({}, { services: { svc: { health: { kubernetes: {} } } } }, 'test.yml', 'cli');
    const report = await runHealthChecks(healthTargets(config, 'svc').services, {
      clock,
      env: {},
      kubernetes: () => clientsFor(fake.kubeConfig()),
    });
    expect(report.services[0]!.checks[0]).toMatchObject({
      status: 'warn',
      notConfigured: true,
      reason: 'not configured: services.svc.kubernetes (namespace, deployments) is not set',
    });
  });
});

describe('pending pods', () => {
  it('warns about a pod that cannot be scheduled once past the grace period, naming why', async () => {
    regulensai();
    fake.put(
      pendingPod('regulensai-api-7d9f-zzzzz', {
        namespace: ns,
        labels: { app: 'regulensai-api' },
        createdAt: ago(minutes(20)),
        unschedulable: '0/3 nodes are available: 3 Insufficient memory.',
      }),
    );
    const result = await check();
    expect(result.reason).toBe('Pod regulensai-api-7d9f-zzzzz: Pending (Unschedulable) for 20m');
    expect(result.objects?.[0]?.message).toBe('0/3 nodes are available: 3 Insufficient memory.');
  });
});
