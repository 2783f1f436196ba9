// A fake Kubernetes API server on loopback: an object store with get/list/watch/patch/put/post/delete, fault injection, and a deployment controller stepped by tests.
//
// Deliberate simplifications: no authentication or admission; one global resourceVersion counter; strategic merge
// patch merges the well-known keyed lists (containers by name, ports by containerPort, …) and otherwise acts as a
// merge patch; server-side apply is refused (415); the deployment controller manages ReplicaSets and deployment
// status but creates no Pod objects (tests that need pods put them); its rolling update is maxSurge 1 / maxUnavailable 0.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

// Plain JSON, the shape objects have on the wire.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any>;

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Writes to the main resource leave status alone; /status writes touch only status (as the real API server does). */
  statusSubresource: boolean;
}

export const RESOURCE_TYPES: ResourceType[] = [
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true, statusSubresource: true },
  { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true, statusSubresource: false },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true, statusSubresource: true },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true, statusSubresource: false },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true, statusSubresource: false },
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, statusSubresource: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true, statusSubresource: true },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true, statusSubresource: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true, statusSubresource: true },
  { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', plural: 'certificates', namespaced: true, statusSubresource: true },
];

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  /** Parsed JSON body, when there was one. */
  body: unknown;
  status: number;
}

export interface FailOptions {
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Overrides the Status message. */
  message?: string;
  /** Overrides the Status reason (Forbidden, NotFound, …). */
  reason?: string;
}

export interface SeedRevision {
  /** Full image of the deployment's one container ("repo/app:1.4.2"). */
  image?: string;
  /** Appended to the seed's `image` ("1.4.2" → "<image>:1.4.2"). */
  tag?: string;
  /** Several containers: name → image. */
  images?: Record<string, string>;
  changeCause?: string;
  /** Default: position in the list, starting at 1. Gaps model pruned history. */
  revision?: number;
  /** When this revision's ReplicaSet was created; default one hour apart, the last one an hour ago. */
  createdAt?: Date;
}

export interface SeedDeploymentOptions {
  namespace: string;
  name: string;
  /** The image of every revision given as a tag, or of the only revision when `revisions` is omitted. */
  image?: string;
  /** Oldest first; the last one is current. A string is a tag when `image` is set, else a full image. */
  revisions?: Array<string | SeedRevision>;
  /** Default 3. */
  replicas?: number;
  paused?: boolean;
  /** Default 600, as Kubernetes. */
  progressDeadlineSeconds?: number;
  /** Default 10, as Kubernetes: older ReplicaSets beyond this are not seeded. */
  revisionHistoryLimit?: number;
  /** Extra annotations on the deployment. */
  annotations?: Record<string, string>;
  /** Pod labels (and the selector); default { app: name }. */
  labels?: Record<string, string>;
}

export interface SeededDeployment {
  deployment: KubeObject;
  /** Oldest revision first. */
  replicaSets: KubeObject[];
}

export interface DeploymentController {
  /** One controller pass over every deployment; advances the controller's time by the tick. */
  step(): void;
  /** Steps until every deployment is complete, stuck, or `max` steps ran; returns the steps taken. */
  settle(max?: number): number;
  /** Steps every `intervalMs` of real time until stop(). */
  start(intervalMs?: number): void;
  stop(): void;
  /** Time each step represents (default 1000 ms); progress deadlines are measured in this time. */
  tickMs: number;
  /** The controller's time (starts at real time, moves only with steps). */
  now(): Date;
  /** From now on, the deployment's new pods never become ready (true) or do again (false). */
  failNewPods(namespace: string, name: string, fail?: boolean): void;
}

export interface FakeKubernetes {
  url: string;
  kubeConfig(): KubeConfig;
  /** The same config as kubeconfig file text (JSON, which is YAML), for a config file path. */
  kubeConfigYaml(): string;
  close(): Promise<void>;
  put(object: KubeObject): KubeObject;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean;
  /** Makes the next matching request(s) answer `status` with a Kubernetes Status object. `method` '*' matches any. */
  failNext(method: string, pathPattern: RegExp, status: number, options?: FailOptions): void;
  /** Cuts every open watch connection mid-stream; returns how many were cut. */
  dropWatches(): number;
  /** Open watch connections. */
  readonly openWatches: number;
  requests: RecordedRequest[];
  controller: DeploymentController;
  seedDeployment(options: SeedDeploymentOptions): SeededDeployment;
  /** Registers another resource type (e.g. a CRD) for the API and the store. */
  addResourceType(type: ResourceType): void;
}

interface Watcher {
  type: ResourceType;
  namespace: string | undefined;
  labelSelector: LabelRequirement[];
  fieldSelector: FieldRequirement[];
  res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

interface Fault {
  method: string;
  pattern: RegExp;
  status: number;
  remaining: number;
  options: FailOptions;
}

interface LoggedEvent {
  rv: number;
  type: WatchEventType;
  object: KubeObject;
  resource: ResourceType;
}

const EVENT_LOG_LIMIT = 2_000;

export async function startFakeKubernetes(): Promise<FakeKubernetes> {
  const types: ResourceType[] = [...RESOURCE_TYPES];
  const objects = new Map<string, KubeObject>();
  const watchers = new Set<Watcher>();
  const faults: Fault[] = [];
  const requests: RecordedRequest[] = [];
  const eventLog: LoggedEvent[] = [];
  let resourceVersion = 1000;
  let controllerTime = Date.now();

  const typeOf = (apiVersion: string, kind: string) => {
    const type = types.find((t) => t.apiVersion === apiVersion && t.kind === kind);
    if (!type) throw new Error(`fake-kubernetes: no resource type ${apiVersion} ${kind}; add it with addResourceType`);
    return type;
  };
  const keyOf = (type: ResourceType, namespace: string | undefined, name: string) =>
    `${type.apiVersion}|${type.kind}|${type.namespaced ? (namespace ?? '') : ''}|${name}`;

  function notify(type: WatchEventType, object: KubeObject, resource: ResourceType) {
    eventLog.push({ rv: Number(object.metadata.resourceVersion), type, object: clone(object), resource });
    if (eventLog.length > EVENT_LOG_LIMIT) eventLog.splice(0, eventLog.length - EVENT_LOG_LIMIT);
    for (const watcher of watchers) {
      if (watcher.type !== resource) continue;
      if (watcher.namespace !== undefined && object.metadata.namespace !== watcher.namespace) continue;
      if (!matches(object, watcher.labelSelector, watcher.fieldSelector)) continue;
      watcher.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  /** Stores an object as the API server would: fills metadata, bumps resourceVersion, and generation on spec changes. */
  function write(object: KubeObject, resource: ResourceType): KubeObject {
    const metadata = (object.metadata ??= {});
    if (!metadata.name) throw new Error('fake-kubernetes: metadata.name is required');
    if (resource.namespaced) metadata.namespace ??= 'default';
    else delete metadata.namespace;
    object.apiVersion = resource.apiVersion;
    object.kind = resource.kind;
    const key = keyOf(resource, metadata.namespace, metadata.name);
    const previous = objects.get(key);
    metadata.uid ??= previous?.metadata.uid ?? randomUUID();
    metadata.creationTimestamp ??= previous?.metadata.creationTimestamp ?? new Date(controllerTime).toISOString();
    if (previous && 'spec' in object) {
      const changed = !sameJson(previous.spec, object.spec);
      metadata.generation = (previous.metadata.generation ?? 1) + (changed ? 1 : 0);
    } else if ('spec' in object) {
      metadata.generation ??= 1;
    }
    resourceVersion += 1;
    metadata.resourceVersion = String(resourceVersion);
    const stored = clone(object);
    objects.set(key, stored);
    notify(previous ? 'MODIFIED' : 'ADDED', stored, resource);
    return clone(stored);
  }

  function removeObject(resource: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = keyOf(resource, namespace, name);
    const previous = objects.get(key);
    if (!previous) return undefined;
    objects.delete(key);
    resourceVersion += 1;
    previous.metadata.resourceVersion = String(resourceVersion);
    notify('DELETED', previous, resource);
    // Garbage collection: what this object controlled goes with it.
    for (const child of [...objects.values()]) {
      if ((child.metadata.ownerReferences ?? []).some((ref: KubeObject) => ref.uid === previous.metadata.uid)) {
        removeObject(typeOf(child.apiVersion, child.kind), child.metadata.namespace, child.metadata.name);
      }
    }
    return previous;
  }

  function listObjects(resource: ResourceType, namespace?: string): KubeObject[] {
    return [...objects.values()]
      .filter((o) => o.apiVersion === resource.apiVersion && o.kind === resource.kind)
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  }

  // ---------------------------------------------------------------- the deployment controller
  const failing = new Set<string>();
  let interval: NodeJS.Timeout | undefined;
  const deploymentType = typeOf('apps/v1', 'Deployment');
  const replicaSetType = typeOf('apps/v1', 'ReplicaSet');

  function ownedReplicaSets(deployment: KubeObject): KubeObject[] {
    return listObjects(replicaSetType, deployment.metadata.namespace).filter((rs) =>
      (rs.metadata.ownerReferences ?? []).some((ref: KubeObject) => ref.uid === deployment.metadata.uid && ref.controller),
    );
  }

  function newReplicaSetOf(deployment: KubeObject, owned: KubeObject[]): KubeObject | undefined {
    // As the controller's FindNewReplicaSet: the oldest ReplicaSet whose template equals the deployment's, ignoring the hash label.
    return [...owned]
      .sort(
        (a, b) =>
          a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) ||
          a.metadata.name.localeCompare(b.metadata.name),
      )
      .find((rs) => templatesEqual(rs.spec.template, deployment.spec.template));
  }

  function maxRevision(replicaSets: KubeObject[]): number {
    return Math.max(0, ...replicaSets.map((rs) => Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0)));
  }

  /** The annotations the controller copies from a deployment to its ReplicaSets (all but its own bookkeeping). */
  function copiedAnnotations(deployment: KubeObject): Record<string, string> {
    const skip = new Set([
      'kubectl.kubernetes.io/last-applied-configuration',
      REVISION_ANNOTATION,
      REVISION_HISTORY_ANNOTATION,
      DESIRED_REPLICAS_ANNOTATION,
      MAX_REPLICAS_ANNOTATION,
      'deprecated.deployment.rollback.to',
    ]);
    return Object.fromEntries(Object.entries(deployment.metadata.annotations ?? {}).filter(([key]) => !skip.has(key))) as Record<
      string,
      string
    >;
  }

  function replicaSetFor(deployment: KubeObject, revision: number, replicas: number, createdAt: Date): KubeObject {
    const hash = podTemplateHash(deployment.spec.template);
    const template = clone(deployment.spec.template);
    template.metadata ??= {};
    template.metadata.labels = { ...template.metadata.labels, [POD_TEMPLATE_HASH_LABEL]: hash };
    return {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${deployment.metadata.name}-${hash}`,
        namespace: deployment.metadata.namespace,
        labels: { ...template.metadata.labels },
        annotations: {
          ...copiedAnnotations(deployment),
          [REVISION_ANNOTATION]: String(revision),
          [DESIRED_REPLICAS_ANNOTATION]: String(deployment.spec.replicas ?? 1),
          [MAX_REPLICAS_ANNOTATION]: String((deployment.spec.replicas ?? 1) + 1),
        },
        creationTimestamp: createdAt.toISOString(),
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: deployment.metadata.name,
            uid: deployment.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas,
        selector: {
          ...deployment.spec.selector,
          matchLabels: { ...deployment.spec.selector?.matchLabels, [POD_TEMPLATE_HASH_LABEL]: hash },
        },
        template,
      },
      status: {
        replicas,
        readyReplicas: replicas,
        availableReplicas: replicas,
        fullyLabeledReplicas: replicas,
        observedGeneration: 1,
      },
    };
  }

  /** A condition as the controller writes it: lastUpdateTime moves on any change (or when touched), lastTransitionTime only when status flips. */
  function condition(
    type: string,
    status: string,
    reason: string,
    message: string,
    previous: KubeObject | undefined,
    now: string,
    touch = false,
  ): KubeObject {
    const transitioned = !previous || previous.status !== status;
    const same = previous && !transitioned && previous.reason === reason && previous.message === message;
    return {
      type,
      status,
      reason,
      message,
      lastUpdateTime: same && !touch ? previous.lastUpdateTime : now,
      lastTransitionTime: transitioned ? now : previous.lastTransitionTime,
    };
  }

  /** One pass for one deployment, as the real controller's sync: observe, then move the rollout one step. */
  function syncDeployment(deployment: KubeObject): boolean {
    const nowIso = new Date(controllerTime).toISOString();
    const key = `${deployment.metadata.namespace}/${deployment.metadata.name}`;
    const desired: number = deployment.spec.replicas ?? 1;
    const status: KubeObject = clone(deployment.status ?? {});
    const conditions: KubeObject[] = status.conditions ?? [];
    const progressing = conditions.find((c) => c.type === 'Progressing');
    const available = conditions.find((c) => c.type === 'Available');
    let owned = ownedReplicaSets(deployment);
    let changed = false;
    let progressed = false;

    if (deployment.spec.paused) {
      if (status.observedGeneration !== deployment.metadata.generation) {
        status.observedGeneration = deployment.metadata.generation;
        status.conditions = [
          ...conditions.filter((c) => c.type !== 'Progressing'),
          condition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', progressing, nowIso),
        ];
        deployment.status = status;
        write(deployment, deploymentType);
        return true;
      }
      return false;
    }

    let newRS = newReplicaSetOf(deployment, owned);
    if (status.observedGeneration !== deployment.metadata.generation || !newRS) {
      // The controller observes the new generation: find or create the new ReplicaSet and give it the next revision.
      const oldOwned = owned.filter((rs) => rs !== newRS);
      const nextRevision = maxRevision(oldOwned) + 1;
      let reason = 'FoundNewReplicaSet';
      if (!newRS) {
        newRS = write(replicaSetFor(deployment, nextRevision, 0, new Date(controllerTime)), replicaSetType);
        reason = 'NewReplicaSetCreated';
        progressed = true;
      } else {
        const current = Number(newRS.metadata.annotations?.[REVISION_ANNOTATION] ?? 0);
        const annotations = { ...newRS.metadata.annotations, ...copiedAnnotations(deployment) };
        if (current < nextRevision) {
          // A reused ReplicaSet moves to the top of the history, remembering the revision it had.
          annotations[REVISION_ANNOTATION] = String(nextRevision);
          if (current > 0) {
            const history = annotations[REVISION_HISTORY_ANNOTATION];
            annotations[REVISION_HISTORY_ANNOTATION] = history ? `${history},${current}` : String(current);
          }
          progressed = true;
        }
        newRS.metadata.annotations = annotations;
        newRS = write(newRS, replicaSetType);
      }
      deployment.metadata.annotations = {
        ...deployment.metadata.annotations,
        [REVISION_ANNOTATION]: newRS.metadata.annotations[REVISION_ANNOTATION],
      };
      status.observedGeneration = deployment.metadata.generation;
      if (progressed || !progressing || progressing.reason === 'ProgressDeadlineExceeded') {
        const message =
          reason === 'NewReplicaSetCreated'
            ? `Created new replica set "${newRS.metadata.name}"`
            : `Found new replica set "${newRS.metadata.name}"`;
        status.progressing = condition('Progressing', 'True', reason, message, progressing, nowIso, true);
      }
      changed = true;
      owned = ownedReplicaSets(deployment);
    } else {
      const oldReplicas = owned.filter((rs) => rs.metadata.uid !== newRS!.metadata.uid);
      const oldTotal = oldReplicas.reduce((sum, rs) => sum + (rs.spec.replicas ?? 0), 0);
      const newReady = newRS.status?.readyReplicas ?? 0;
      const newSpec = newRS.spec.replicas ?? 0;
      if (newReady < newSpec) {
        if (!failing.has(key)) {
          newRS.status = { ...newRS.status, replicas: newSpec, readyReplicas: newReady + 1, availableReplicas: newReady + 1 };
          write(newRS, replicaSetType);
          progressed = true;
        }
      } else if (oldTotal > 0 && oldTotal + newSpec > desired) {
        const victim = oldReplicas.find((rs) => (rs.spec.replicas ?? 0) > 0)!;
        victim.spec.replicas -= 1;
        victim.status = {
          ...victim.status,
          replicas: victim.spec.replicas,
          readyReplicas: victim.spec.replicas,
          availableReplicas: victim.spec.replicas,
        };
        write(victim, replicaSetType);
        progressed = true;
      } else if (newSpec < desired) {
        newRS.spec.replicas = newSpec + 1;
        newRS.status = { ...newRS.status, replicas: newSpec + 1 };
        write(newRS, replicaSetType);
        progressed = true;
      } else if (newSpec > desired) {
        newRS.spec.replicas = desired;
        newRS.status = {
          ...newRS.status,
          replicas: desired,
          readyReplicas: Math.min(newReady, desired),
          availableReplicas: Math.min(newReady, desired),
        };
        write(newRS, replicaSetType);
        progressed = true;
      }
      owned = ownedReplicaSets(deployment);
      newRS = owned.find((rs) => rs.metadata.uid === newRS!.metadata.uid)!;
    }

    // Status as the controller's calculateStatus, and the Progressing condition as its syncRolloutStatus.
    const totalReplicas = owned.reduce((sum, rs) => sum + (rs.spec.replicas ?? 0), 0);
    const ready = owned.reduce((sum, rs) => sum + (rs.status?.readyReplicas ?? 0), 0);
    const availableReplicas = owned.reduce((sum, rs) => sum + (rs.status?.availableReplicas ?? 0), 0);
    const updatedReplicas = newRS.spec.replicas ?? 0;
    const complete =
      updatedReplicas === desired &&
      totalReplicas === desired &&
      availableReplicas === desired &&
      (newRS.status?.availableReplicas ?? 0) === desired;
    const next: KubeObject = {
      observedGeneration: status.observedGeneration,
      replicas: totalReplicas,
      updatedReplicas,
      readyReplicas: ready,
      availableReplicas,
      unavailableReplicas: Math.max(0, totalReplicas - availableReplicas),
    };
    const maxUnavailable = Math.floor(desired * 0.25);
    const availableCondition =
      availableReplicas >= desired - maxUnavailable
        ? condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', available, nowIso)
        : condition(
            'Available',
            'False',
            'MinimumReplicasUnavailable',
            'Deployment does not have minimum availability.',
            available,
            nowIso,
          );
    let progressingCondition: KubeObject | undefined = status.progressing ?? progressing;
    const rsName = newRS.metadata.name;
    if (complete) {
      if (progressing?.reason !== 'NewReplicaSetAvailable' || status.progressing)
        progressingCondition = condition(
          'Progressing',
          'True',
          'NewReplicaSetAvailable',
          `ReplicaSet "${rsName}" has successfully progressed.`,
          progressing,
          nowIso,
        );
    } else if (progressed && !status.progressing) {
      progressingCondition = condition(
        'Progressing',
        'True',
        'ReplicaSetUpdated',
        `ReplicaSet "${rsName}" is progressing.`,
        progressing,
        nowIso,
        true,
      );
    } else if (!progressed && progressing && progressing.reason !== 'ProgressDeadlineExceeded') {
      const deadlineMs = (deployment.spec.progressDeadlineSeconds ?? 600) * 1000;
      if (controllerTime - Date.parse(progressing.lastUpdateTime) > deadlineMs)
        progressingCondition = condition(
          'Progressing',
          'False',
          'ProgressDeadlineExceeded',
          `ReplicaSet "${rsName}" has timed out progressing.`,
          progressing,
          nowIso,
        );
    }
    next.conditions = [availableCondition, ...(progressingCondition ? [progressingCondition] : [])];
    const before = deployment.status ?? {};
    if (changed || !sameJson(stripTimes(before), stripTimes(next)) || progressingCondition !== progressing) {
      deployment.status = next;
      const current = objects.get(keyOf(deploymentType, deployment.metadata.namespace, deployment.metadata.name))!;
      // Only status and the revision annotation change; a write in between from a client must not be undone.
      const merged = clone(current);
      merged.status = next;
      merged.metadata.annotations = {
        ...merged.metadata.annotations,
        ...pick(deployment.metadata.annotations, REVISION_ANNOTATION),
      };
      write(merged, deploymentType);
      return true;
    }
    return progressed;
  }

  const controller: DeploymentController = {
    tickMs: 1000,
    now: () => new Date(controllerTime),
    step() {
      controllerTime += controller.tickMs;
      for (const deployment of listObjects(deploymentType)) syncDeployment(clone(deployment));
    },
    settle(max = 200) {
      for (let steps = 1; steps <= max; steps += 1) {
        controller.step();
        const busy = listObjects(deploymentType).some((d) => {
          if (d.spec.paused) return false;
          const progressing = (d.status?.conditions ?? []).find((c: KubeObject) => c.type === 'Progressing');
          if (progressing?.reason === 'ProgressDeadlineExceeded') return false;
          return d.status?.observedGeneration !== d.metadata.generation || progressing?.reason !== 'NewReplicaSetAvailable';
        });
        if (!busy) return steps;
      }
      return max;
    },
    start(intervalMs = 50) {
      controller.stop();
      interval = setInterval(() => controller.step(), intervalMs);
      interval.unref();
    },
    stop() {
      if (interval) clearInterval(interval);
      interval = undefined;
    },
    failNewPods(namespace, name, fail = true) {
      if (fail) failing.add(`${namespace}/${name}`);
      else failing.delete(`${namespace}/${name}`);
    },
  };

  function seedDeployment(options: SeedDeploymentOptions): SeededDeployment {
    const replicas = options.replicas ?? 3;
    const labels = options.labels ?? { app: options.name };
    const entries: SeedRevision[] = (options.revisions ?? [{ image: options.image }]).map((entry) =>
      typeof entry === 'string' ? (options.image ? { tag: entry } : { image: entry }) : entry,
    );
    if (entries.length === 0) throw new Error('fake-kubernetes: seedDeployment needs at least one revision');
    const imagesOf = (entry: SeedRevision): Record<string, string> => {
      if (entry.images) return entry.images;
      const image = entry.image ?? (entry.tag !== undefined && options.image ? `${options.image}:${entry.tag}` : options.image);
      if (!image) throw new Error('fake-kubernetes: a seeded revision needs image, tag (with the seed image) or images');
      return { [options.name]: image };
    };
    const templateOf = (entry: SeedRevision) => ({
      metadata: { labels: { ...labels } },
      spec: {
        containers: Object.entries(imagesOf(entry)).map(([name, image]) => ({
          name,
          image,
          ports: [{ containerPort: 8000, protocol: 'TCP' }],
          imagePullPolicy: 'IfNotPresent',
        })),
        restartPolicy: 'Always',
      },
    });
    const last = entries.at(-1)!;
    const hourMs = 3_600_000;
    const annotations: Record<string, string> = { ...options.annotations };
    if (last.changeCause) annotations[CHANGE_CAUSE_ANNOTATION] = last.changeCause;
    const revisionOf = (entry: SeedRevision, index: number) => entry.revision ?? index + 1;
    const deployment = write(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: options.name,
          namespace: options.namespace,
          labels: { ...labels },
          annotations: { ...annotations, [REVISION_ANNOTATION]: String(revisionOf(last, entries.length - 1)) },
          generation: entries.length,
          creationTimestamp: new Date(controllerTime - (entries.length + 1) * hourMs).toISOString(),
        },
        spec: {
          replicas,
          selector: { matchLabels: { ...labels } },
          template: templateOf(last),
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
          revisionHistoryLimit: options.revisionHistoryLimit ?? 10,
          progressDeadlineSeconds: options.progressDeadlineSeconds ?? 600,
          ...(options.paused ? { paused: true } : {}),
        },
      },
      deploymentType,
    );
    const stored = clone(deployment);
    const keep = options.revisionHistoryLimit ?? 10;
    const replicaSets = entries
      .map((entry, index) => ({ entry, index }))
      .filter(({ index }) => index === entries.length - 1 || index >= entries.length - 1 - keep)
      .map(({ entry, index }) => {
        const createdAt = entry.createdAt ?? new Date(controllerTime - (entries.length - index) * hourMs);
        const rsAnnotations = entry.changeCause
          ? { ...options.annotations, [CHANGE_CAUSE_ANNOTATION]: entry.changeCause }
          : { ...options.annotations };
        const current = index === entries.length - 1;
        const rs = replicaSetFor(
          {
            ...deployment,
            metadata: { ...deployment.metadata, annotations: rsAnnotations },
            spec: { ...deployment.spec, template: templateOf(entry) },
          },
          revisionOf(entry, index),
          current ? replicas : 0,
          createdAt,
        );
        rs.metadata.generation = current ? 1 : 2;
        rs.status = {
          replicas: rs.spec.replicas,
          readyReplicas: rs.spec.replicas,
          availableReplicas: rs.spec.replicas,
          fullyLabeledReplicas: rs.spec.replicas,
          observedGeneration: rs.metadata.generation,
        };
        return write(rs, replicaSetType);
      });
    const nowIso = new Date(controllerTime).toISOString();
    stored.status = {
      observedGeneration: entries.length,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      conditions: [
        condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', undefined, nowIso),
        condition(
          'Progressing',
          'True',
          'NewReplicaSetAvailable',
          `ReplicaSet "${replicaSets.at(-1)!.metadata.name}" has successfully progressed.`,
          undefined,
          nowIso,
        ),
      ],
    };
    const final = write(stored, deploymentType);
    return { deployment: final, replicaSets };
  }

  // ---------------------------------------------------------------- HTTP
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      sendStatus(res, 500, 'InternalError', `fake-kubernetes: ${error instanceof Error ? error.message : String(error)}`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams);
    const raw = await readBody(req);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const record: RecordedRequest = { method, path: url.pathname, query, contentType, body, status: 200 };
    requests.push(record);
    const respond = (status: number, payload: unknown) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const fail = (status: number, reason: string, message: string, details?: KubeObject) => {
      record.status = status;
      sendStatus(res, status, reason, message, details);
    };

    const fault = faults.find((f) => (f.method === '*' || f.method === method) && f.pattern.test(`${url.pathname}${url.search}`));
    const route = parsePath(url.pathname, types);
    if (fault) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) faults.splice(faults.indexOf(fault), 1);
      const { reason, message } = faultStatus(fault, method, route, url.pathname);
      return fail(
        fault.status,
        reason,
        message,
        route?.type ? { name: route.name, group: group(route.type), kind: route.type.plural } : undefined,
      );
    }

    if (
      method === 'GET' &&
      (url.pathname === '/api' || url.pathname === '/apis' || url.pathname === '/version' || route?.discovery)
    ) {
      return respond(200, discovery(url.pathname, types));
    }
    if (!route?.type) return fail(404, 'NotFound', 'the server could not find the requested resource');
    const { type, namespace, name, subresource } = route;
    const what = `${type.plural}${group(type) ? `.${group(type)}` : ''}`;

    if (method === 'GET' && !name) {
      const labelSelector = parseLabelSelector(query.labelSelector ?? '');
      const fieldSelector = parseFieldSelector(query.fieldSelector ?? '');
      if (query.watch === 'true' || query.watch === '1')
        return startWatch(type, namespace, labelSelector, fieldSelector, query, res, record);
      const items = listObjects(type, namespace).filter((o) => matches(o, labelSelector, fieldSelector));
      return respond(200, {
        apiVersion: type.apiVersion,
        kind: `${type.kind}List`,
        metadata: { resourceVersion: String(resourceVersion) },
        items,
      });
    }
    if (!name && method !== 'POST')
      return fail(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);

    const existing = name ? objects.get(keyOf(type, namespace, name)) : undefined;
    const notFound = () => fail(404, 'NotFound', `${what} "${name}" not found`, { name, group: group(type), kind: type.plural });

    switch (method) {
      case 'GET':
        return existing ? respond(200, existing) : notFound();
      case 'POST': {
        const object = body as KubeObject;
        if (!object || typeof object !== 'object') return fail(400, 'BadRequest', 'the request body is not a JSON object');
        object.metadata ??= {};
        if (!object.metadata.name && object.metadata.generateName)
          object.metadata.name = `${object.metadata.generateName}${randomUUID().slice(0, 5)}`;
        if (type.namespaced) object.metadata.namespace = namespace ?? object.metadata.namespace;
        if (objects.has(keyOf(type, object.metadata.namespace, object.metadata.name)))
          return fail(409, 'AlreadyExists', `${what} "${object.metadata.name}" already exists`, {
            name: object.metadata.name,
            group: group(type),
            kind: type.plural,
          });
        delete object.metadata.resourceVersion;
        delete object.metadata.uid;
        delete object.metadata.generation;
        return respond(201, write(object, type));
      }
      case 'PUT': {
        if (!existing) return notFound();
        const object = body as KubeObject;
        const sent = object?.metadata?.resourceVersion;
        if (sent && sent !== existing.metadata.resourceVersion)
          return fail(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${what} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            { name, group: group(type), kind: type.plural },
          );
        return respond(200, write(mergeWrite(existing, object, type, subresource), type));
      }
      case 'PATCH': {
        if (!existing) return notFound();
        let patched: KubeObject;
        try {
          if (contentType === 'application/json-patch+json') patched = applyJsonPatch(existing, body as KubeObject[]);
          else if (contentType === 'application/merge-patch+json') patched = mergePatch(existing, body) as KubeObject;
          else if (contentType === 'application/strategic-merge-patch+json')
            patched = strategicMergePatch(existing, body) as KubeObject;
          else
            return fail(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
            );
        } catch (error) {
          return fail(422, 'Invalid', `${what} "${name}" is invalid: ${error instanceof Error ? error.message : String(error)}`);
        }
        const sent = patched.metadata?.resourceVersion;
        if (sent && sent !== existing.metadata.resourceVersion)
          return fail(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${what} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        if (query.dryRun === 'All') return respond(200, mergeWrite(existing, patched, type, subresource));
        return respond(200, write(mergeWrite(existing, patched, type, subresource), type));
      }
      case 'DELETE': {
        const removed = existing ? removeObject(type, namespace, name!) : undefined;
        if (!removed) return notFound();
        if (type.kind === 'Pod') return respond(200, removed);
        return respond(200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, group: group(type), kind: type.plural, uid: removed.metadata.uid },
        });
      }
      default:
        return fail(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  function startWatch(
    type: ResourceType,
    namespace: string | undefined,
    labelSelector: LabelRequirement[],
    fieldSelector: FieldRequirement[],
    query: Record<string, string>,
    res: ServerResponse,
    record: RecordedRequest,
  ) {
    const since = Number(query.resourceVersion ?? 0);
    const oldest = eventLog[0]?.rv ?? resourceVersion + 1;
    if (since > 0 && since < oldest - 1 && since < resourceVersion) {
      record.status = 410;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: statusObject(410, 'Expired', `too old resource version: ${since} (${oldest - 1})`) })}\n`,
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const watcher: Watcher = { type, namespace, labelSelector, fieldSelector, res, timer: undefined };
    const visible = (o: KubeObject) =>
      (namespace === undefined || o.metadata.namespace === namespace) && matches(o, labelSelector, fieldSelector);
    if (since > 0) {
      for (const event of eventLog)
        if (event.rv > since && event.resource === type && visible(event.object))
          res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
    } else {
      for (const object of listObjects(type, namespace))
        if (visible(object)) res.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
    }
    watchers.add(watcher);
    const timeout = Number(query.timeoutSeconds ?? 0);
    if (timeout > 0) watcher.timer = setTimeout(() => res.end(), timeout * 1000);
    res.on('close', () => {
      if (watcher.timer) clearTimeout(watcher.timer);
      watchers.delete(watcher);
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const kubeConfig = () => {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace: 'default' }],
      currentContext: 'fake',
    });
    return config;
  };

  return {
    url,
    kubeConfig,
    kubeConfigYaml: () => kubeConfig().exportConfig(),
    async close() {
      controller.stop();
      for (const watcher of watchers) watcher.res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    put(object) {
      return write(clone(object), typeOf(object.apiVersion, object.kind));
    },
    get(apiVersion, kind, namespace, name) {
      const object = objects.get(keyOf(typeOf(apiVersion, kind), namespace, name));
      return object ? clone(object) : undefined;
    },
    list(apiVersion, kind, namespace) {
      return listObjects(typeOf(apiVersion, kind), namespace).map(clone);
    },
    remove(apiVersion, kind, namespace, name) {
      return removeObject(typeOf(apiVersion, kind), namespace, name) !== undefined;
    },
    failNext(method, pathPattern, status, options = {}) {
      faults.push({ method: method.toUpperCase(), pattern: pathPattern, status, remaining: options.times ?? 1, options });
    },
    dropWatches() {
      const count = watchers.size;
      for (const watcher of [...watchers]) {
        watchers.delete(watcher);
        watcher.res.destroy();
      }
      return count;
    },
    get openWatches() {
      return watchers.size;
    },
    requests,
    controller,
    seedDeployment,
    addResourceType(type) {
      types.push(type);
    },
  };
}

// ---------------------------------------------------------------- paths, statuses, discovery

interface Route {
  type?: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  discovery?: boolean;
}

function parsePath(path: string, types: ResourceType[]): Route | undefined {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  let apiVersion: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1]) {
    apiVersion = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts[1] && parts[2]) {
    apiVersion = `${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  } else if (parts[0] === 'apis' && parts[1]) {
    return { discovery: true };
  } else return undefined;
  if (rest.length === 0) return { discovery: true };
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource] = rest;
  const type = types.find((t) => t.apiVersion === apiVersion && t.plural === plural);
  if (!type) return {};
  if (!type.namespaced && namespace !== undefined) return {};
  return { type, namespace, name, subresource };
}

function group(type: ResourceType): string {
  return type.apiVersion.includes('/') ? type.apiVersion.split('/')[0]! : '';
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const VERBS: Record<string, string> = { GET: 'get', PATCH: 'patch', PUT: 'update', POST: 'create', DELETE: 'delete' };

function faultStatus(fault: Fault, method: string, route: Route | undefined, path: string): { reason: string; message: string } {
  const reason = fault.options.reason ?? REASONS[fault.status] ?? 'Unknown';
  if (fault.options.message) return { reason, message: fault.options.message };
  const type = route?.type;
  const resource = type ? `${type.plural}${group(type) ? `.${group(type)}` : ''}` : path;
  const isWatch = /[?&]watch=(true|1)/.test(path);
  const verb = method === 'GET' && !route?.name ? (isWatch ? 'watch' : 'list') : (VERBS[method] ?? method.toLowerCase());
  switch (fault.status) {
    case 403:
      // The API server's RBAC denial, word for word.
      return {
        reason,
        message: `${resource}${route?.name ? ` "${route.name}"` : ''} is forbidden: User "system:serviceaccount:runbook-bot:runbook-bot" cannot ${verb} resource "${type?.plural ?? path}" in API group "${type ? group(type) : ''}"${route?.namespace ? ` in the namespace "${route.namespace}"` : ''}`,
      };
    case 401:
      return { reason, message: 'Unauthorized' };
    case 404:
      return { reason, message: `${resource} "${route?.name ?? ''}" not found` };
    case 409:
      return {
        reason,
        message: `Operation cannot be fulfilled on ${resource} "${route?.name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`,
      };
    case 429:
      return { reason, message: 'Too many requests, please try again later.' };
    case 503:
      return { reason, message: 'the server is currently unable to handle the request' };
    case 504:
      return {
        reason,
        message: 'the server was unable to return a response in the time allotted, but may still be processing the request',
      };
    default:
      return {
        reason,
        message: `an error on the server ("fake-kubernetes injected ${fault.status}") has prevented the request from succeeding`,
      };
  }
}

function statusObject(code: number, reason: string, message: string, details?: KubeObject): KubeObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string, details?: KubeObject) {
  if (res.headersSent) return void res.destroy();
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(statusObject(code, reason, message, details)));
}

function discovery(path: string, types: ResourceType[]): KubeObject {
  if (path === '/version') return { major: '1', minor: '33', gitVersion: 'v1.33.0-fake', platform: 'linux/amd64' };
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  const groups = [...new Set(types.filter((t) => t.apiVersion.includes('/')).map((t) => t.apiVersion))];
  if (path === '/apis')
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((gv) => {
        const [name, version] = gv.split('/') as [string, string];
        return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } };
      }),
    };
  const groupVersion = path.replace(/^\/apis?\//, '');
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: types
      .filter((t) => t.apiVersion === groupVersion)
      .flatMap((t) => [
        {
          name: t.plural,
          singularName: t.kind.toLowerCase(),
          namespaced: t.namespaced,
          kind: t.kind,
          verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        },
        ...(t.statusSubresource
          ? [
              {
                name: `${t.plural}/status`,
                singularName: '',
                namespaced: t.namespaced,
                kind: t.kind,
                verbs: ['get', 'patch', 'update'],
              },
            ]
          : []),
      ]),
  };
}

// ---------------------------------------------------------------- writes and patches

/** What a PUT or PATCH may change: the main resource leaves status alone, /status touches only status. */
function mergeWrite(existing: KubeObject, incoming: KubeObject, type: ResourceType, subresource: string | undefined): KubeObject {
  const next = clone(incoming);
  next.metadata = {
    ...next.metadata,
    uid: existing.metadata.uid,
    creationTimestamp: existing.metadata.creationTimestamp,
    name: existing.metadata.name,
    namespace: existing.metadata.namespace,
  };
  delete next.metadata.generation;
  if (subresource === 'status') {
    const only = clone(existing);
    only.status = next.status;
    return only;
  }
  if (type.statusSubresource) {
    if (existing.status === undefined) delete next.status;
    else next.status = clone(existing.status);
  }
  return next;
}

function applyJsonPatch(target: KubeObject, operations: KubeObject[]): KubeObject {
  if (!Array.isArray(operations)) throw new Error('a JSON patch must be an array of operations');
  let doc: unknown = clone(target);
  for (const op of operations) {
    const path = pointer(op.path);
    switch (op.op) {
      case 'add':
        doc = setAt(doc, path, clone(op.value), 'add');
        break;
      case 'replace':
        getAt(doc, path);
        doc = setAt(doc, path, clone(op.value), 'replace');
        break;
      case 'remove':
        getAt(doc, path);
        doc = removeAt(doc, path);
        break;
      case 'move': {
        const value = getAt(doc, pointer(op.from));
        doc = setAt(removeAt(doc, pointer(op.from)), path, value, 'add');
        break;
      }
      case 'copy':
        doc = setAt(doc, path, clone(getAt(doc, pointer(op.from))), 'add');
        break;
      case 'test':
        if (!sameJson(getAt(doc, path), op.value)) throw new Error(`test operation failed at ${op.path}`);
        break;
      default:
        throw new Error(`unknown JSON patch operation "${String(op.op)}"`);
    }
  }
  return doc as KubeObject;
}

function pointer(path: unknown): string[] {
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/')))
    throw new Error(`"${String(path)}" is not a JSON pointer`);
  return path === ''
    ? []
    : path
        .slice(1)
        .split('/')
        .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: unknown, path: string[]): unknown {
  let current: unknown = doc;
  for (const part of path) {
    if (current === null || typeof current !== 'object' || !(part in current))
      throw new Error(`doc is missing path: /${path.join('/')}`);
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function setAt(doc: unknown, path: string[], value: unknown, mode: 'add' | 'replace'): unknown {
  if (path.length === 0) return value;
  const parent = getAt(doc, path.slice(0, -1));
  const last = path.at(-1)!;
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`index ${last} is out of range`);
    if (mode === 'add') parent.splice(index, 0, value);
    else parent[index] = value;
  } else if (parent !== null && typeof parent === 'object') {
    (parent as Record<string, unknown>)[last] = value;
  } else throw new Error(`doc is missing path: /${path.join('/')}`);
  return doc;
}

function removeAt(doc: unknown, path: string[]): unknown {
  const parent = getAt(doc, path.slice(0, -1));
  const last = path.at(-1)!;
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete (parent as Record<string, unknown>)[last];
  return doc;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? clone(target as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

// The keyed lists of the core types (patchMergeKey in the Kubernetes API types).
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  conditions: 'type',
  ownerReferences: 'uid',
  tolerations: 'key',
  hostAliases: 'ip',
};

/** Strategic merge patch for the fields above; other lists are replaced, as for types without a merge key. */
function strategicMergePatch(target: unknown, patch: unknown, field?: string): unknown {
  if (Array.isArray(patch)) {
    const key = field ? MERGE_KEYS[field] : undefined;
    if (!key || !Array.isArray(target)) return clone(patch).filter((item: unknown) => !isDirective(item));
    const result = clone(target) as KubeObject[];
    for (const item of patch as KubeObject[]) {
      const index = result.findIndex((existing) => existing?.[key] === item?.[key]);
      if (item?.$patch === 'delete') {
        if (index >= 0) result.splice(index, 1);
      } else if (index >= 0) result[index] = strategicMergePatch(result[index], item) as KubeObject;
      else result.push(strategicMergePatch(undefined, item) as KubeObject);
    }
    return result;
  }
  if (patch === null || typeof patch !== 'object') return clone(patch);
  const patchObject = patch as KubeObject;
  if (patchObject.$patch === 'replace') {
    const { $patch: _directive, ...rest } = patchObject;
    return clone(rest);
  }
  if (patchObject.$patch === 'delete') return undefined;
  const result: KubeObject =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? clone(target as KubeObject) : {};
  for (const [key, value] of Object.entries(patchObject)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else {
      const merged = strategicMergePatch(result[key], value, key);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
  }
  return result;
}

function isDirective(item: unknown): boolean {
  return item !== null && typeof item === 'object' && '$patch' in item;
}

// ---------------------------------------------------------------- selectors

interface LabelRequirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!exists';
  values: string[];
}

interface FieldRequirement {
  path: string;
  op: '=' | '!=';
  value: string;
}

function parseLabelSelector(selector: string): LabelRequirement[] {
  const requirements: LabelRequirement[] = [];
  // Split on commas outside parentheses.
  const parts = selector.match(/([^,(]+(\([^)]*\))?)+/g) ?? [];
  for (const rawPart of parts) {
    const part = rawPart.trim();
    if (!part) continue;
    let match: RegExpExecArray | null;
    if ((match = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part)))
      requirements.push({ key: match[1]!, op: match[2] as 'in' | 'notin', values: match[3]!.split(',').map((v) => v.trim()) });
    else if ((match = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(part)))
      requirements.push({ key: match[1]!, op: match[2] === '!=' ? 'notin' : 'in', values: [match[3]!] });
    else if ((match = /^!(\S+)$/.exec(part))) requirements.push({ key: match[1]!, op: '!exists', values: [] });
    else requirements.push({ key: part, op: 'exists', values: [] });
  }
  return requirements;
}

function parseFieldSelector(selector: string): FieldRequirement[] {
  return selector
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
      if (!match) throw new Error(`invalid field selector "${part}"`);
      return { path: match[1]!, op: match[2] === '!=' ? '!=' : '=', value: match[3]! };
    });
}

function matches(object: KubeObject, labels: LabelRequirement[], fields: FieldRequirement[]): boolean {
  const own: Record<string, string> = object.metadata?.labels ?? {};
  for (const requirement of labels) {
    const has = requirement.key in own;
    const value = own[requirement.key];
    if (requirement.op === 'exists' && !has) return false;
    if (requirement.op === '!exists' && has) return false;
    if (requirement.op === 'in' && (!has || !requirement.values.includes(value!))) return false;
    if (requirement.op === 'notin' && has && requirement.values.includes(value!)) return false;
  }
  for (const requirement of fields) {
    let current: unknown = object;
    for (const part of requirement.path.split('.'))
      current = current && typeof current === 'object' ? (current as KubeObject)[part] : undefined;
    const value = current === undefined || current === null ? '' : String(current);
    if (requirement.op === '=' && value !== requirement.value) return false;
    if (requirement.op === '!=' && value === requirement.value) return false;
  }
  return true;
}

// ---------------------------------------------------------------- templates and JSON

/** Equal as the controller's EqualIgnoreHash: the pod-template-hash label and empty-vs-missing fields do not count. */
export function templatesEqual(a: KubeObject | undefined, b: KubeObject | undefined): boolean {
  return sameJson(withoutHash(a), withoutHash(b));
}

function withoutHash(template: KubeObject | undefined): unknown {
  const copy = clone(template ?? {});
  if (copy.metadata?.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  return copy;
}

/** A stable 10-character hash of a pod template, the shape of the controller's pod-template-hash. */
export function podTemplateHash(template: KubeObject): string {
  const digest = createHash('sha256')
    .update(canonical(withoutHash(template)))
    .digest();
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...digest.subarray(0, 10)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

function canonical(value: unknown): string {
  return JSON.stringify(normalize(value));
}

/** Sorted keys; null, empty objects and empty arrays dropped (the semantic equality Kubernetes uses treats nil and empty alike). */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const item = normalize((value as Record<string, unknown>)[key]);
    if (item === null || item === undefined) continue;
    if (Array.isArray(item) && item.length === 0) continue;
    if (typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length === 0) continue;
    out[key] = item;
  }
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function stripTimes(status: KubeObject): unknown {
  return {
    ...status,
    conditions: (status.conditions ?? []).map(({ lastUpdateTime: _u, lastTransitionTime: _t, ...rest }: KubeObject) => rest),
  };
}

function pick(record: Record<string, string> | undefined, key: string): Record<string, string> {
  return record && key in record ? { [key]: record[key]! } : {};
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
