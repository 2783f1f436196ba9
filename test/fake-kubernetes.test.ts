// The fake Kubernetes API server answers the real @kubernetes/client-node as the API server would, and its controller keeps revisions as the real one.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  EventsV1Api,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1Deployment,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHANGE_CAUSE_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  startFakeKubernetes,
  type FakeKubernetes,
  type KubeObject,
} from './fakes/kubernetes/index.ts';

let fake: FakeKubernetes;
let apps: AppsV1Api;
let core: CoreV1Api;

beforeEach(async () => {
  fake = await startFakeKubernetes();
  apps = fake.kubeConfig().makeApiClient(AppsV1Api);
  core = fake.kubeConfig().makeApiClient(CoreV1Api);
});
afterEach(async () => {
  await fake.close();
});

function pod(name: string, labels: Record<string, string>, phase = 'Running'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'prod', labels },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
    status: { phase },
  };
}

function revisions(namespace: string, name: string) {
  return fake
    .list('apps/v1', 'ReplicaSet', namespace)
    .filter((rs) => rs.metadata.ownerReferences?.[0]?.name === name)
    .map((rs) => ({
      revision: Number(rs.metadata.annotations[REVISION_ANNOTATION]),
      image: rs.spec.template.spec.containers[0].image as string,
      replicas: rs.spec.replicas as number,
      history: rs.metadata.annotations[REVISION_HISTORY_ANNOTATION] as string | undefined,
    }))
    .sort((a, b) => a.revision - b.revision);
}

describe('the API', () => {
  it('gets and lists with label and field selectors, and stamps metadata', async () => {
    fake.put(pod('api-1', { app: 'api', tier: 'web' }));
    fake.put(pod('api-2', { app: 'api', tier: 'worker' }, 'Pending'));
    fake.put(pod('db-1', { app: 'db' }));
    fake.put({
      ...pod('elsewhere', { app: 'api' }),
      metadata: { name: 'elsewhere', namespace: 'staging', labels: { app: 'api' } },
    });

    const all = await core.listNamespacedPod({ namespace: 'prod' });
    expect(all.items.map((p) => p.metadata?.name)).toEqual(['api-1', 'api-2', 'db-1']);
    expect(all.items[0]!.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(all.items[0]!.metadata?.creationTimestamp).toBeInstanceOf(Date);

    const byLabel = await core.listNamespacedPod({ namespace: 'prod', labelSelector: 'app=api,tier in (web, batch)' });
    expect(byLabel.items.map((p) => p.metadata?.name)).toEqual(['api-1']);
    const notDb = await core.listNamespacedPod({ namespace: 'prod', labelSelector: 'app!=db,!missing' });
    expect(notDb.items.map((p) => p.metadata?.name)).toEqual(['api-1', 'api-2']);
    const pending = await core.listNamespacedPod({ namespace: 'prod', fieldSelector: 'status.phase!=Running' });
    expect(pending.items.map((p) => p.metadata?.name)).toEqual(['api-2']);
    const everywhere = await core.listPodForAllNamespaces({ labelSelector: 'app=api' });
    expect(everywhere.items).toHaveLength(3);

    const one = await core.readNamespacedPod({ namespace: 'prod', name: 'db-1' });
    expect(one.status?.phase).toBe('Running');
    await expect(core.readNamespacedPod({ namespace: 'prod', name: 'nope' })).rejects.toMatchObject({ code: 404 });
  });

  it('applies JSON, merge and strategic merge patches as the client sends them, bumping generation on spec changes', async () => {
    fake.seedDeployment({ namespace: 'prod', name: 'api', image: 'registry/api:1.0.0' });
    const before = fake.get('apps/v1', 'Deployment', 'prod', 'api')!;

    // The client's default patch content type is a JSON patch.
    await apps.patchNamespacedDeployment({
      namespace: 'prod',
      name: 'api',
      body: [{ op: 'replace', path: '/spec/replicas', value: 5 }],
    });
    expect(fake.requests.at(-1)!.contentType).toBe('application/json-patch+json');
    let stored = fake.get('apps/v1', 'Deployment', 'prod', 'api')!;
    expect(stored.spec.replicas).toBe(5);
    expect(stored.metadata.generation).toBe(before.metadata.generation + 1);

    await apps.patchNamespacedDeployment(
      { namespace: 'prod', name: 'api', body: { metadata: { annotations: { team: 'sre' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    stored = fake.get('apps/v1', 'Deployment', 'prod', 'api')!;
    expect(stored.metadata.annotations.team).toBe('sre');
    expect(stored.metadata.generation).toBe(before.metadata.generation + 1);

    // Strategic merge: the container list merges by name, so the port survives.
    const patched = await apps.patchNamespacedDeployment(
      {
        namespace: 'prod',
        name: 'api',
        body: { spec: { template: { spec: { containers: [{ name: 'api', image: 'registry/api:1.1.0' }] } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(patched.spec?.template.spec?.containers).toHaveLength(1);
    expect(patched.spec?.template.spec?.containers[0]).toMatchObject({
      image: 'registry/api:1.1.0',
      ports: [{ containerPort: 8000 }],
    });
    expect(patched.metadata?.generation).toBe(before.metadata.generation + 2);

    // A write to the main resource leaves status alone.
    await apps.patchNamespacedDeployment(
      { namespace: 'prod', name: 'api', body: { status: { replicas: 99 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(fake.get('apps/v1', 'Deployment', 'prod', 'api')!.status.replicas).toBe(3);
  });

  it('creates, replaces with conflict detection, and deletes; nothing is created in a namespace that does not exist', async () => {
    await expect(
      core.createNamespacedConfigMap({ namespace: 'prod', body: { metadata: { name: 'settings' } } }),
    ).rejects.toMatchObject({ code: 404, body: expect.stringContaining('namespaces \\"prod\\" not found') });
    await core.createNamespace({ body: { metadata: { name: 'prod' } } });
    const created = await core.createNamespacedConfigMap({
      namespace: 'prod',
      body: { metadata: { name: 'settings' }, data: { level: 'info' } },
    });
    expect(created.metadata?.resourceVersion).toBeDefined();
    await expect(
      core.createNamespacedConfigMap({ namespace: 'prod', body: { metadata: { name: 'settings' } } }),
    ).rejects.toMatchObject({ code: 409 });
    await core.replaceNamespacedConfigMap({
      namespace: 'prod',
      name: 'settings',
      body: { metadata: { name: 'settings', resourceVersion: created.metadata!.resourceVersion! }, data: { level: 'debug' } },
    });
    await expect(
      core.replaceNamespacedConfigMap({
        namespace: 'prod',
        name: 'settings',
        body: { metadata: { name: 'settings', resourceVersion: created.metadata!.resourceVersion! }, data: {} },
      }),
    ).rejects.toMatchObject({ code: 409 });
    expect(fake.get('v1', 'ConfigMap', 'prod', 'settings')!.data).toEqual({ level: 'debug' });
    await core.deleteNamespacedConfigMap({ namespace: 'prod', name: 'settings' });
    expect(fake.get('v1', 'ConfigMap', 'prod', 'settings')).toBeUndefined();
  });

  it('serves cert-manager certificates through the custom objects API once the CRD is installed, and 404 on the group before', async () => {
    const custom = fake.kubeConfig().makeApiClient(CustomObjectsApi);
    const certificates = { group: 'cert-manager.io', version: 'v1', namespace: 'prod', plural: 'certificates' };
    await expect(custom.listNamespacedCustomObject(certificates)).rejects.toMatchObject({ code: 404 });
    fake.installCertManager();
    fake.put({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: 'api-tls', namespace: 'prod' },
      spec: { secretName: 'api-tls', dnsNames: ['api.example.com'] },
      status: { notAfter: '2030-01-01T00:00:00Z', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    const list = (await custom.listNamespacedCustomObject(certificates)) as { items: KubeObject[] };
    expect(list.items.map((c) => [c.metadata.name, c.status.notAfter])).toEqual([['api-tls', '2030-01-01T00:00:00Z']]);
  });

  it('answers injected faults with a Kubernetes Status, as often as asked', async () => {
    fake.seedDeployment({ namespace: 'prod', name: 'api', image: 'registry/api:1.0.0' });
    fake.failNext('PATCH', /\/deployments\/api$/, 403, { times: 2 });
    const attempt = () =>
      apps.patchNamespacedDeployment({
        namespace: 'prod',
        name: 'api',
        body: [{ op: 'replace', path: '/spec/replicas', value: 1 }],
      });
    for (let i = 0; i < 2; i += 1) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiException);
      const status = JSON.parse((error as ApiException<string>).body) as KubeObject;
      expect(status).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403 });
      expect(status.message).toBe(
        'deployments.apps "api" is forbidden: User "system:serviceaccount:runbook-bot:runbook-bot" cannot patch resource "deployments" in API group "apps" in the namespace "prod"',
      );
    }
    await expect(attempt()).resolves.toBeDefined();
    // Reads were never affected.
    await expect(apps.readNamespacedDeployment({ namespace: 'prod', name: 'api' })).resolves.toBeDefined();
  });
});

describe('what a health check reads', () => {
  it('pages a list with limit and continue, in a stable order, and answers 410 for an expired token', async () => {
    for (let i = 0; i < 5; i += 1) fake.put(pod(`api-${i}`, { app: 'api' }));
    const first = await core.listNamespacedPod({ namespace: 'prod', limit: 2 });
    expect(first.items.map((p) => p.metadata?.name)).toEqual(['api-0', 'api-1']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    const second = await core.listNamespacedPod({ namespace: 'prod', limit: 2, _continue: first.metadata!._continue! });
    expect(second.items.map((p) => p.metadata?.name)).toEqual(['api-2', 'api-3']);
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    const last = await core.listNamespacedPod({ namespace: 'prod', limit: 2, _continue: second.metadata!._continue! });
    expect(last.items.map((p) => p.metadata?.name)).toEqual(['api-4']);
    expect(last.metadata?._continue).toBeUndefined();

    fake.expireContinueTokens();
    const expired = await core
      .listNamespacedPod({ namespace: 'prod', limit: 2, _continue: first.metadata!._continue! })
      .catch((error: unknown) => error);
    expect(expired).toMatchObject({ code: 410 });
    expect(JSON.parse((expired as ApiException<string>).body)).toMatchObject({ reason: 'Expired' });
  });

  it('forbids one resource as RBAC does, naming the verb, the resource and the namespace, and leaves the others readable', async () => {
    fake.put(pod('api-1', { app: 'api' }));
    fake.forbid('list', 'events');
    const error = await core.listNamespacedEvent({ namespace: 'prod' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 403 });
    expect(JSON.parse((error as ApiException<string>).body).message).toBe(
      'events is forbidden: User "system:serviceaccount:runbook-bot:runbook-bot" cannot list resource "events" in API group "" in the namespace "prod"',
    );
    // The other event API is another resource to RBAC, and pods were never affected.
    await expect(fake.kubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: 'prod' })).resolves.toBeDefined();
    expect((await core.listNamespacedPod({ namespace: 'prod' })).items).toHaveLength(1);
    fake.allow('list', 'events');
    await expect(core.listNamespacedEvent({ namespace: 'prod' })).resolves.toBeDefined();
  });

  it('answers 404 for a namespace that does not exist, and an empty list inside it, as the real API server does', async () => {
    await expect(core.readNamespace({ name: 'nowhere' })).rejects.toMatchObject({ code: 404 });
    expect((await core.listNamespacedPod({ namespace: 'nowhere' })).items).toEqual([]);
    fake.put(pod('api-1', { app: 'api' }));
    expect((await core.readNamespace({ name: 'prod' })).status?.phase).toBe('Active');
  });

  it('serves one store of events through core/v1 and events.k8s.io/v1, each in its own shape', async () => {
    const events = fake.kubeConfig().makeApiClient(EventsV1Api);
    await core.createNamespace({ body: { metadata: { name: 'prod' } } });
    await core.createNamespacedEvent({
      namespace: 'prod',
      body: {
        metadata: { name: 'old-style' },
        involvedObject: { kind: 'Pod', name: 'db-0', namespace: 'prod' },
        reason: 'FailedMount',
        message: 'MountVolume.SetUp failed',
        type: 'Warning',
        count: 3,
        lastTimestamp: new Date('2030-01-01T00:00:00Z'),
      },
    });
    await events.createNamespacedEvent({
      namespace: 'prod',
      body: {
        metadata: { name: 'new-style' },
        eventTime: new Date('2030-01-01T00:05:00Z'),
        regarding: { kind: 'PersistentVolumeClaim', name: 'data-db-0', namespace: 'prod' },
        reason: 'VolumeResizeFailed',
        note: 'resize failed',
        type: 'Warning',
        action: 'Resize',
        reportingController: 'external-resizer',
        reportingInstance: 'resizer-1',
        series: { count: 2, lastObservedTime: new Date('2030-01-01T00:09:00Z') },
      },
    });
    const asCore = await core.listNamespacedEvent({ namespace: 'prod' });
    expect(asCore.items.map((e) => [e.involvedObject.name, e.reason, e.count, e.message])).toEqual([
      ['data-db-0', 'VolumeResizeFailed', undefined, 'resize failed'],
      ['db-0', 'FailedMount', 3, 'MountVolume.SetUp failed'],
    ]);
    const asEvents = await events.listNamespacedEvent({ namespace: 'prod' });
    expect(asEvents.items.map((e) => [e.regarding?.name, e.deprecatedCount, e.series?.count, e.note])).toEqual([
      ['data-db-0', undefined, 2, 'resize failed'],
      ['db-0', 3, undefined, 'MountVolume.SetUp failed'],
    ]);
  });

  it('keeps EndpointSlices in line with Services and ready pods, as the endpointslice controller does', async () => {
    const discovery = fake.kubeConfig().makeApiClient(DiscoveryV1Api);
    fake.put({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'api', namespace: 'prod' },
      spec: { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8000 }] },
    });
    const ready = (name: string, isReady: boolean, ip: string) => ({
      ...pod(name, { app: 'api' }),
      status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: isReady ? 'True' : 'False' }] },
    });
    fake.put(ready('api-1', false, '10.0.0.1'));
    const endpoints = async () =>
      (
        await discovery.listNamespacedEndpointSlice({ namespace: 'prod', labelSelector: 'kubernetes.io/service-name=api' })
      ).items.flatMap((slice) => (slice.endpoints ?? []).map((e) => [e.targetRef?.name, e.conditions?.ready]));
    expect(await endpoints()).toEqual([['api-1', false]]);
    fake.put(ready('api-2', true, '10.0.0.2'));
    expect(await endpoints()).toEqual([
      ['api-1', false],
      ['api-2', true],
    ]);
  });

  it('can accept a request and never answer it, until told otherwise', async () => {
    fake.put(pod('api-1', { app: 'api' }));
    fake.stall(/\/pods/);
    const pending = core.listNamespacedPod({ namespace: 'prod' });
    await expect.poll(() => fake.stalledRequests).toBe(1);
    fake.unstall();
    await expect(pending).rejects.toBeDefined();
    expect((await core.listNamespacedPod({ namespace: 'prod' })).items).toHaveLength(1);
  });
});

describe('watches', () => {
  it('streams ADDED, MODIFIED and DELETED for matching objects, and can be cut mid-stream', async () => {
    fake.put(pod('api-1', { app: 'api' }));
    const events: string[] = [];
    let ended: unknown = 'open';
    const done = new Promise<void>((resolve) => {
      void new Watch(fake.kubeConfig()).watch(
        '/api/v1/namespaces/prod/pods',
        { labelSelector: 'app=api' },
        (type: string, object: KubeObject) => events.push(`${type} ${object.metadata.name}`),
        (error: unknown) => {
          ended = error;
          resolve();
        },
      );
    });
    await expect.poll(() => events).toEqual(['ADDED api-1']);
    fake.put(pod('db-1', { app: 'db' }));
    fake.put(pod('api-1', { app: 'api' }, 'Failed'));
    fake.put(pod('api-2', { app: 'api' }));
    fake.remove('v1', 'Pod', 'prod', 'api-1');
    await expect.poll(() => events).toEqual(['ADDED api-1', 'MODIFIED api-1', 'ADDED api-2', 'DELETED api-1']);
    expect(fake.openWatches).toBe(1);
    expect(fake.dropWatches()).toBe(1);
    await done;
    expect(ended).not.toBe('open');
    expect(fake.openWatches).toBe(0);
  });

  it('resumes from a resourceVersion, replaying only what happened after it', async () => {
    const seeded = fake.seedDeployment({ namespace: 'prod', name: 'api', image: 'registry/api:1.0.0' });
    fake.put({ ...seeded.deployment, spec: { ...seeded.deployment.spec, replicas: 4 } });
    const events: Array<[string, number]> = [];
    await new Watch(fake.kubeConfig()).watch(
      '/apis/apps/v1/namespaces/prod/deployments',
      { fieldSelector: 'metadata.name=api', resourceVersion: seeded.deployment.metadata.resourceVersion },
      (type: string, object: V1Deployment) => events.push([type, object.spec!.replicas!]),
      () => undefined,
    );
    await expect.poll(() => events).toEqual([['MODIFIED', 4]]);
    fake.dropWatches();
  });
});

describe('the deployment controller', () => {
  it('seeds a history of ReplicaSets, one per revision, the last one current', () => {
    const { deployment, replicaSets } = fake.seedDeployment({
      namespace: 'prod',
      name: 'api',
      image: 'registry/api',
      revisions: [{ tag: '1.0.0', changeCause: 'first' }, '1.1.0', { tag: '1.2.0', changeCause: 'hotfix' }],
    });
    expect(revisions('prod', 'api')).toEqual([
      { revision: 1, image: 'registry/api:1.0.0', replicas: 0, history: undefined },
      { revision: 2, image: 'registry/api:1.1.0', replicas: 0, history: undefined },
      { revision: 3, image: 'registry/api:1.2.0', replicas: 3, history: undefined },
    ]);
    expect(replicaSets[0]!.metadata.annotations[CHANGE_CAUSE_ANNOTATION]).toBe('first');
    expect(replicaSets[1]!.metadata.annotations[CHANGE_CAUSE_ANNOTATION]).toBeUndefined();
    expect(replicaSets[2]!.spec.template.metadata.labels['pod-template-hash']).toMatch(/^[a-z0-9]{10}$/);
    expect(deployment.metadata.annotations).toMatchObject({ [REVISION_ANNOTATION]: '3', [CHANGE_CAUSE_ANNOTATION]: 'hotfix' });
    expect(deployment.status).toMatchObject({ observedGeneration: 3, updatedReplicas: 3, availableReplicas: 3 });
    expect(fake.controller.settle()).toBe(1);
  });

  it('creates a ReplicaSet for a new template, reuses the one with the same template, and bumps the revision each time', async () => {
    fake.seedDeployment({ namespace: 'prod', name: 'api', image: 'registry/api', revisions: ['1.0.0', '1.1.0'] });
    const setImage = (image: string) =>
      apps.patchNamespacedDeployment(
        { namespace: 'prod', name: 'api', body: { spec: { template: { spec: { containers: [{ name: 'api', image }] } } } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );

    await setImage('registry/api:1.2.0');
    let deployment = fake.get('apps/v1', 'Deployment', 'prod', 'api')!;
    expect(deployment.status.observedGeneration).toBe(deployment.metadata.generation - 1);
    fake.controller.step();
    deployment = fake.get('apps/v1', 'Deployment', 'prod', 'api')!;
    expect(deployment.status.observedGeneration).toBe(deployment.metadata.generation);
    expect(deployment.metadata.annotations[REVISION_ANNOTATION]).toBe('3');
    expect(deployment.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Progressing', reason: 'NewReplicaSetCreated' }),
    );

    // Mid-rollout: some replicas updated, not all.
    fake.controller.step();
    fake.controller.step();
    deployment = fake.get('apps/v1', 'Deployment', 'prod', 'api')!;
    expect(deployment.status.updatedReplicas).toBeGreaterThan(0);
    expect(deployment.status.updatedReplicas).toBeLessThan(3);
    expect(deployment.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Progressing', reason: 'ReplicaSetUpdated' }),
    );

    fake.controller.settle();
    deployment = fake.get('apps/v1', 'Deployment', 'prod', 'api')!;
    expect(deployment.status).toMatchObject({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    expect(deployment.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }),
    );
    expect(revisions('prod', 'api').map((r) => [r.revision, r.image, r.replicas])).toEqual([
      [1, 'registry/api:1.0.0', 0],
      [2, 'registry/api:1.1.0', 0],
      [3, 'registry/api:1.2.0', 3],
    ]);

    // Back to 1.0.0: its ReplicaSet is reused and becomes revision 4, remembering it was 1.
    await setImage('registry/api:1.0.0');
    fake.controller.settle();
    expect(revisions('prod', 'api')).toEqual([
      { revision: 2, image: 'registry/api:1.1.0', replicas: 0, history: undefined },
      { revision: 3, image: 'registry/api:1.2.0', replicas: 0, history: undefined },
      { revision: 4, image: 'registry/api:1.0.0', replicas: 3, history: '1' },
    ]);
    expect(fake.get('apps/v1', 'Deployment', 'prod', 'api')!.metadata.annotations[REVISION_ANNOTATION]).toBe('4');
  });

  it('does not progress a paused deployment', async () => {
    fake.seedDeployment({ namespace: 'prod', name: 'api', image: 'registry/api', revisions: ['1.0.0'], paused: true });
    await apps.patchNamespacedDeployment(
      {
        namespace: 'prod',
        name: 'api',
        body: { spec: { template: { spec: { containers: [{ name: 'api', image: 'registry/api:2' }] } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    fake.controller.settle(20);
    const deployment = fake.get('apps/v1', 'Deployment', 'prod', 'api')!;
    expect(deployment.status.updatedReplicas).toBe(3);
    expect(revisions('prod', 'api')).toHaveLength(1);
    expect(deployment.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Progressing', reason: 'DeploymentPaused' }),
    );
  });

  it('marks a rollout whose new pods never become ready as ProgressDeadlineExceeded after the deadline', async () => {
    fake.seedDeployment({
      namespace: 'prod',
      name: 'api',
      image: 'registry/api',
      revisions: ['1.0.0'],
      progressDeadlineSeconds: 5,
    });
    fake.controller.failNewPods('prod', 'api');
    await apps.patchNamespacedDeployment(
      {
        namespace: 'prod',
        name: 'api',
        body: { spec: { template: { spec: { containers: [{ name: 'api', image: 'registry/api:broken' }] } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const progressingOf = () =>
      (fake.get('apps/v1', 'Deployment', 'prod', 'api')!.status.conditions as KubeObject[]).find(
        (c) => c.type === 'Progressing',
      )!;
    fake.controller.step();
    fake.controller.step();
    for (let i = 0; i < 5; i += 1) {
      fake.controller.step();
      expect(progressingOf().status).toBe('True');
    }
    fake.controller.step();
    expect(progressingOf()).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    const deployment = fake.get('apps/v1', 'Deployment', 'prod', 'api')!;
    expect(deployment.status).toMatchObject({ updatedReplicas: 1, availableReplicas: 3 });
  });
});
