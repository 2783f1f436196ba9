// The apps/v1 area: a deployment controller stepped by tests (ReplicaSets, revisions, rollout status as the real one keeps them) and seeded histories.
import { createHash } from 'node:crypto';
import { canonical, clone, sameJson } from './json.ts';
import type { ObjectStore } from './store.ts';
import {
  CHANGE_CAUSE_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  type KubeObject,
} from './types.ts';

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

/** The fake's clock: starts at real time and moves only with controller steps. */
export interface FakeTime {
  now: number;
}

export function createDeploymentController(
  store: ObjectStore,
  time: FakeTime,
): { controller: DeploymentController; seedDeployment(options: SeedDeploymentOptions): SeededDeployment } {
  const failing = new Set<string>();
  let interval: NodeJS.Timeout | undefined;
  const deploymentType = store.typeOf('apps/v1', 'Deployment');
  const replicaSetType = store.typeOf('apps/v1', 'ReplicaSet');

  function ownedReplicaSets(deployment: KubeObject): KubeObject[] {
    return store
      .list(replicaSetType, deployment.metadata.namespace)
      .filter((rs) =>
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
    const nowIso = new Date(time.now).toISOString();
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
        store.write(deployment, deploymentType);
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
        newRS = store.write(replicaSetFor(deployment, nextRevision, 0, new Date(time.now)), replicaSetType);
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
        newRS = store.write(newRS, replicaSetType);
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
          store.write(newRS, replicaSetType);
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
        store.write(victim, replicaSetType);
        progressed = true;
      } else if (newSpec < desired) {
        newRS.spec.replicas = newSpec + 1;
        newRS.status = { ...newRS.status, replicas: newSpec + 1 };
        store.write(newRS, replicaSetType);
        progressed = true;
      } else if (newSpec > desired) {
        newRS.spec.replicas = desired;
        newRS.status = {
          ...newRS.status,
          replicas: desired,
          readyReplicas: Math.min(newReady, desired),
          availableReplicas: Math.min(newReady, desired),
        };
        store.write(newRS, replicaSetType);
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
      if (time.now - Date.parse(progressing.lastUpdateTime) > deadlineMs)
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
      const current = store.get(deploymentType, deployment.metadata.namespace, deployment.metadata.name)!;
      // Only status and the revision annotation change; a write in between from a client must not be undone.
      const merged = clone(current);
      merged.status = next;
      merged.metadata.annotations = {
        ...merged.metadata.annotations,
        ...pick(deployment.metadata.annotations, REVISION_ANNOTATION),
      };
      store.write(merged, deploymentType);
      return true;
    }
    return progressed;
  }

  const controller: DeploymentController = {
    tickMs: 1000,
    now: () => new Date(time.now),
    step() {
      time.now += controller.tickMs;
      for (const deployment of store.list(deploymentType)) syncDeployment(clone(deployment));
    },
    settle(max = 200) {
      for (let steps = 1; steps <= max; steps += 1) {
        controller.step();
        const busy = store.list(deploymentType).some((d) => {
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
    const deployment = store.write(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: options.name,
          namespace: options.namespace,
          labels: { ...labels },
          annotations: { ...annotations, [REVISION_ANNOTATION]: String(revisionOf(last, entries.length - 1)) },
          generation: entries.length,
          creationTimestamp: new Date(time.now - (entries.length + 1) * hourMs).toISOString(),
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
        const createdAt = entry.createdAt ?? new Date(time.now - (entries.length - index) * hourMs);
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
        return store.write(rs, replicaSetType);
      });
    const nowIso = new Date(time.now).toISOString();
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
    const final = store.write(stored, deploymentType);
    return { deployment: final, replicaSets };
  }

  return { controller, seedDeployment };
}

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

function stripTimes(status: KubeObject): unknown {
  return {
    ...status,
    conditions: (status.conditions ?? []).map(({ lastUpdateTime: _u, lastTransitionTime: _t, ...rest }: KubeObject) => rest),
  };
}

function pick(record: Record<string, string> | undefined, key: string): Record<string, string> {
  return record && key in record ? { [key]: record[key]! } : {};
}
