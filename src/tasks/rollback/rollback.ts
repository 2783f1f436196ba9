// The rollback itself, as kubectl's polymorphichelpers/rollback.go decides it: which revision, whether to refuse, and the JSON patch.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type KubernetesClients } from '../../clients/kubernetes.ts';
import { kubernetesError } from '../../clients/kubernetes-errors.ts';
import { UserError } from '../../errors.ts';
import { readRevisionHistory, type Revision, type RevisionHistory } from './history.ts';
import { REVISION_ANNOTATION, deploymentSchema, parseAnswer, type Deployment } from './objects.ts';
import { equalIgnoreHash, formatImages, withoutHashLabel, type ContainerImage } from './template.ts';

// kubectl pkg/polymorphichelpers/rollback.go annotationsToSkip: kept from the deployment, never copied from the ReplicaSet.
const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

export interface RollbackPlan {
  namespace: string;
  deployment: string;
  from: { revision: number | undefined; images: ContainerImage[] };
  to: Revision;
  /** Why this needed --force (paused, mid-rollout); empty when it did not. */
  forced: string[];
}

export interface PlanOptions {
  /** The revision to go back to; kubectl's default (0) is the previous one. */
  toRevision?: number | undefined;
  force?: boolean | undefined;
}

/** Decides the target as kubectl's deploymentRevision and DeploymentRollbacker.Rollback do; refuses paused and mid-rollout deployments unless forced. */
export function planRollback(history: RevisionHistory, options: PlanOptions = {}): RollbackPlan {
  const { deployment, namespace } = history;
  const name = deployment.metadata.name;
  const known = history.revisions.map((entry) => entry.revision).join(', ') || 'none';
  let target: Revision | undefined;
  if (options.toRevision !== undefined) {
    // kubectl: "unable to find specified revision N in history".
    target = history.revisions.find((entry) => entry.revision === options.toRevision);
    if (!target)
      throw new UserError(
        `Revision ${options.toRevision} of \`${namespace}/${name}\` is not in its history (known revisions: ${known}).`,
        'revision_not_found',
      );
  } else {
    // kubectl's deploymentRevision with toRevision 0: the second-highest revision among the ReplicaSets.
    target = history.revisions[1];
    if (!target)
      throw new UserError(
        `\`${namespace}/${name}\` has no earlier revision to roll back to (its history: ${known}).`,
        'no_rollout_history',
      );
  }
  const forced: string[] = [];
  // kubectl refuses a paused deployment before comparing templates.
  if (deployment.spec.paused) {
    if (!options.force)
      throw new UserError(
        `\`${namespace}/${name}\` is paused: resume it first (\`kubectl rollout resume deployment/${name} -n ${namespace}\`), or add \`--force\` to restore the template anyway (it rolls out when resumed).`,
        'deployment_paused',
      );
    forced.push('the deployment is paused: the template is restored now and rolls out when it is resumed');
  }
  // kubectl: "skipped rollback (current template already matches revision N)".
  if (equalIgnoreHash(target.template, deployment.spec.template))
    throw new UserError(
      `\`${namespace}/${name}\` is already at revision ${target.revision} (${formatImages(target.images)}): nothing to roll back.`,
      'already_at_revision',
    );
  const rollout = history.rollout;
  // Not kubectl's (undo does not look): a rollout still in progress is someone's change in flight. A failed one is what rollbacks are for.
  if (!deployment.spec.paused && !rollout.done && !rollout.failed) {
    if (!options.force)
      throw new UserError(
        `\`${namespace}/${name}\` is mid-rollout (${rollout.message.replace(/\.\.\.$/, '')}). Wait for it to finish, or add \`--force\` to roll back anyway.`,
        'mid_rollout',
      );
    forced.push(`a rollout was in progress (${rollout.updated}/${rollout.desired} updated)`);
  }
  return {
    namespace,
    deployment: name,
    from: { revision: history.currentRevision, images: history.images },
    to: target,
    forced,
  };
}
export type JsonPatchOperation = { op: 'replace'; path: string; value: unknown };

/** kubectl's getDeploymentPatch: replace spec.template (hash label removed) and the annotations (the skip list kept from the deployment, the rest from the ReplicaSet). */
export function rollbackPatch(deployment: Deployment, target: Revision): JsonPatchOperation[] {
  const template = withoutHashLabel(target.template);
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(deployment.metadata.annotations ?? {}))
    if (ANNOTATIONS_TO_SKIP.has(key)) annotations[key] = value;
  for (const [key, value] of Object.entries(target.annotations)) if (!ANNOTATIONS_TO_SKIP.has(key)) annotations[key] = value;
  return [
    { op: 'replace', path: '/spec/template', value: template },
    { op: 'replace', path: '/metadata/annotations', value: annotations },
  ];
}

export interface RollbackResult {
  plan: RollbackPlan;
  patch: JsonPatchOperation[];
  dryRun: boolean;
  /** The deployment's generation after the patch (what the controller must observe). */
  generation: number | undefined;
  progressDeadlineSeconds: number;
}

export interface RollbackOptions {
  dryRun?: boolean;
  force?: boolean;
}

/**
 * Rolls back to `plan.to.revision` as `kubectl rollout undo --to-revision` does: reads the deployment and its ReplicaSets again,
 * decides again (so a change since the plan was shown is refused, not overwritten), and sends kubectl's JSON patch.
 */
export async function rollback(
  k8s: Pick<KubernetesClients, 'typed'>,
  plan: Pick<RollbackPlan, 'namespace' | 'deployment' | 'from'> & { to: Pick<Revision, 'revision'> },
  options: RollbackOptions = {},
): Promise<RollbackResult> {
  const history = await readRevisionHistory(k8s, { namespace: plan.namespace, deployment: plan.deployment });
  const fresh = planRollback(history, { toRevision: plan.to.revision, force: options.force });
  if (fresh.from.revision !== plan.from.revision || formatImages(fresh.from.images) !== formatImages(plan.from.images))
    throw new UserError(
      `\`${plan.namespace}/${plan.deployment}\` changed since the rollback was asked for: it is now at revision ${fresh.from.revision ?? '?'} (${formatImages(fresh.from.images)}), not ${plan.from.revision ?? '?'}. Nothing was changed; run the command again.`,
      'deployment_changed',
    );
  const patch = rollbackPatch(history.deployment, fresh.to);
  const progressDeadlineSeconds = history.deployment.spec.progressDeadlineSeconds ?? 600;
  if (options.dryRun)
    return { plan: fresh, patch, dryRun: true, generation: history.deployment.metadata.generation, progressDeadlineSeconds };
  const { apps } = await k8s.typed();
  const patched = await apps
    .patchNamespacedDeployment(
      { namespace: plan.namespace, name: plan.deployment, body: patch },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )
    .catch((error: unknown) => {
      // kubectl: "failed restoring revision N: <error>".
      throw kubernetesError(`failed restoring revision ${fresh.to.revision} of ${plan.namespace}/${plan.deployment}`, error);
    });
  const after = parseAnswer(deploymentSchema, patched, `patching ${plan.namespace}/${plan.deployment}`);
  return { plan: fresh, patch, dryRun: false, generation: after.metadata.generation, progressDeadlineSeconds };
}
