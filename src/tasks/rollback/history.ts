// A deployment's revision history as `kubectl rollout history` reads it: the ReplicaSets it controls, newest revision first.
import { z } from 'zod';
import { type KubernetesClients } from '../../clients/kubernetes.ts';
import { kubernetesError, kubernetesStatusCode } from '../../clients/kubernetes-errors.ts';
import { UserError } from '../../errors.ts';
import {
  CHANGE_CAUSE_ANNOTATION,
  REVISION_ANNOTATION,
  deploymentSchema,
  parseAnswer,
  replicaSetSchema,
  type Deployment,
  type PodTemplate,
  type ReplicaSet,
  type labelSelectorSchema,
} from './objects.ts';
import { rolloutStatus, type RolloutStatus } from './status.ts';
import { equalIgnoreHash, imagesOf, type ContainerImage } from './template.ts';

export interface Revision {
  revision: number;
  replicaSet: string;
  images: ContainerImage[];
  changeCause: string | undefined;
  createdAt: Date | undefined;
  /** The ReplicaSet whose template is the deployment's (kubectl's "new" ReplicaSet). */
  current: boolean;
  replicas: number;
  readyReplicas: number;
  template: PodTemplate;
  annotations: Record<string, string>;
}

export interface RevisionHistory {
  namespace: string;
  deployment: Deployment;
  /** Newest first. */
  revisions: Revision[];
  /** The deployment's current revision: its ReplicaSet's, else its own annotation (before the controller has caught up). */
  currentRevision: number | undefined;
  images: ContainerImage[];
  rollout: RolloutStatus;
}

export interface DeploymentRef {
  namespace: string;
  deployment: string;
}

export async function readRevisionHistory(k8s: Pick<KubernetesClients, 'typed'>, ref: DeploymentRef): Promise<RevisionHistory> {
  const { namespace } = ref;
  const { apps } = await k8s.typed();
  const deployment = parseAnswer(
    deploymentSchema,
    await apps.readNamespacedDeployment({ namespace, name: ref.deployment }).catch((error: unknown) => {
      if (kubernetesStatusCode(error) === 404)
        throw new UserError(
          `There is no deployment \`${ref.deployment}\` in namespace \`${namespace}\`.`,
          'deployment_not_found',
        );
      throw kubernetesError(`reading deployment ${namespace}/${ref.deployment}`, error);
    }),
    `reading deployment ${namespace}/${ref.deployment}`,
  );
  // kubectl pkg/util/deployment GetAllReplicaSets: list by the deployment's selector, keep those it controls.
  const listed = await apps
    .listNamespacedReplicaSet({ namespace, labelSelector: selectorString(deployment.spec.selector) })
    .catch((error: unknown) => {
      throw kubernetesError(`listing the ReplicaSets of ${namespace}/${ref.deployment}`, error);
    });
  const replicaSets = parseAnswer(
    z.object({ items: z.array(replicaSetSchema) }),
    listed,
    `listing the ReplicaSets of ${namespace}/${ref.deployment}`,
  ).items.filter((rs) =>
    (rs.metadata.ownerReferences ?? []).some((owner) => owner.controller && owner.uid === deployment.metadata.uid),
  );
  const current = findNewReplicaSet(deployment, replicaSets);
  const revisions = replicaSets
    .map((rs): Revision => ({
      revision: revisionOf(rs.metadata.annotations),
      replicaSet: rs.metadata.name,
      images: imagesOf(rs.spec.template),
      changeCause: rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION],
      createdAt: rs.metadata.creationTimestamp ? new Date(rs.metadata.creationTimestamp) : undefined,
      current: rs === current,
      replicas: rs.spec.replicas ?? 0,
      readyReplicas: rs.status?.readyReplicas ?? 0,
      template: rs.spec.template,
      annotations: rs.metadata.annotations ?? {},
    }))
    .filter((entry) => entry.revision > 0)
    .sort((a, b) => b.revision - a.revision);
  const annotated = revisionOf(deployment.metadata.annotations);
  return {
    namespace,
    deployment,
    revisions,
    currentRevision: revisions.find((entry) => entry.current)?.revision ?? (annotated > 0 ? annotated : undefined),
    images: imagesOf(deployment.spec.template),
    rollout: rolloutStatus(deployment),
  };
}

function revisionOf(annotations: Record<string, string> | undefined): number {
  const value = Number(annotations?.[REVISION_ANNOTATION] ?? 0);
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/** kubectl's findNewReplicaSet: the oldest ReplicaSet whose template equals the deployment's, ignoring the hash label. */
function findNewReplicaSet(deployment: Deployment, replicaSets: ReplicaSet[]): ReplicaSet | undefined {
  return [...replicaSets]
    .sort(
      (a, b) =>
        (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
        a.metadata.name.localeCompare(b.metadata.name),
    )
    .find((rs) => equalIgnoreHash(rs.spec.template, deployment.spec.template));
}

/** A LabelSelector as the `labelSelector` query parameter writes it (metav1.FormatLabelSelector). */
export function selectorString(selector: z.infer<typeof labelSelectorSchema>): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const expression of selector.matchExpressions ?? []) {
    const values = (expression.values ?? []).join(',');
    if (expression.operator === 'In') parts.push(`${expression.key} in (${values})`);
    else if (expression.operator === 'NotIn') parts.push(`${expression.key} notin (${values})`);
    else if (expression.operator === 'Exists') parts.push(expression.key);
    else if (expression.operator === 'DoesNotExist') parts.push(`!${expression.key}`);
  }
  return parts.join(',');
}
