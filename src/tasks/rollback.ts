// Deployment rollback as kubectl does it: revision history from ReplicaSets, `rollout undo`'s patch, and `rollout status`'s verdict while following the rollout.
import { PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import { z } from 'zod';
import type { KubernetesClients } from '../clients/kubernetes.ts';
import { kubernetesError, kubernetesErrorMessage, kubernetesStatusCode } from '../clients/kubernetes.ts';
import type { Clock } from '../clock.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { UserError } from '../errors.ts';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

// kubectl pkg/polymorphichelpers/rollback.go annotationsToSkip: kept from the deployment, never copied from the ReplicaSet.
const ANNOTATIONS_TO_SKIP = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to',
]);

// --- what the API answers, validated (the client's typed objects, turned back into wire JSON first) ---
const stringMap = z.record(z.string(), z.string());
const containerSchema = z.looseObject({ name: z.string(), image: z.string().optional() });
const podTemplateSchema = z.looseObject({
  metadata: z.looseObject({ labels: stringMap.optional(), annotations: stringMap.optional() }).optional(),
  spec: z.looseObject({ containers: z.array(containerSchema), initContainers: z.array(containerSchema).optional() }),
});
export type PodTemplate = z.infer<typeof podTemplateSchema>;

const metadataSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  ownerReferences: z
    .array(z.object({ uid: z.string(), kind: z.string(), name: z.string(), controller: z.boolean().optional() }))
    .optional(),
});

const conditionSchema = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastUpdateTime: z.string().optional(),
});

const labelSelectorSchema = z.object({
  matchLabels: stringMap.optional(),
  matchExpressions: z
    .array(z.object({ key: z.string(), operator: z.string(), values: z.array(z.string()).optional() }))
    .optional(),
});

const deploymentSchema = z.object({
  metadata: metadataSchema,
  spec: z.object({
    replicas: z.number().int().optional(),
    paused: z.boolean().optional(),
    progressDeadlineSeconds: z.number().int().optional(),
    selector: labelSelectorSchema,
    template: podTemplateSchema,
  }),
  status: z
    .object({
      observedGeneration: z.number().int().optional(),
      replicas: z.number().int().optional(),
      updatedReplicas: z.number().int().optional(),
      readyReplicas: z.number().int().optional(),
      availableReplicas: z.number().int().optional(),
      unavailableReplicas: z.number().int().optional(),
      conditions: z.array(conditionSchema).optional(),
    })
    .optional(),
});
export type Deployment = z.infer<typeof deploymentSchema>;

const replicaSetSchema = z.object({
  metadata: metadataSchema,
  spec: z.object({ replicas: z.number().int().optional(), template: podTemplateSchema }),
  status: z.object({ replicas: z.number().int().optional(), readyReplicas: z.number().int().optional() }).optional(),
});
type ReplicaSet = z.infer<typeof replicaSetSchema>;

/** The client hands back typed objects with Dates; the API's own JSON is what kubectl compares and sends back. */
function toWire(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? null));
}

function parseAnswer<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(toWire(value));
  if (!parsed.success) throw kubernetesError(what, new Error(`unexpected answer: ${z.prettifyError(parsed.error)}`));
  return parsed.data;
}

// --- what to roll back ---
export interface RollbackTarget {
  service: string;
  namespace: string;
  deployment: string;
  /** The kubeconfig context of the service, when it has its own. */
  context: string | undefined;
  toRevision: number | undefined;
}

/** `[deployment] [revision]` after the service name: the deployment must be one the service lists; the first is the default. */
export function rollbackTarget(serviceName: string, service: ServiceConfig, args: string[], usage: string): RollbackTarget {
  const kubernetes = service.kubernetes;
  if (!kubernetes || kubernetes.deployments.length === 0)
    throw new UserError(
      `\`${serviceName}\` has no Kubernetes deployments configured (\`services.${serviceName}.kubernetes.deployments\`), so there is nothing to roll back.`,
      'no_deployments',
    );
  if (args.length > 2) throw new UserError(usage, 'usage');
  const last = args.at(-1);
  const revisionWord = last !== undefined && /^\d+$/.test(last) ? last : undefined;
  const names = revisionWord === undefined ? args : args.slice(0, -1);
  if (names.length > 1) throw new UserError(`The revision must be a number.\n${usage}`, 'usage');
  const deployment = names[0] ?? kubernetes.deployments[0]!;
  if (!kubernetes.deployments.includes(deployment))
    throw new UserError(
      `\`${deployment}\` is not one of \`${serviceName}\`'s deployments (${kubernetes.deployments.map((d) => `\`${d}\``).join(', ')}).`,
      'deployment_unknown',
    );
  const toRevision = revisionWord === undefined ? undefined : Number(revisionWord);
  if (toRevision !== undefined && (!Number.isSafeInteger(toRevision) || toRevision < 1))
    throw new UserError(`Revisions start at 1.\n${usage}`, 'usage');
  return { service: serviceName, namespace: kubernetes.namespace, deployment, context: kubernetes.context, toRevision };
}

// --- revision history ---
export interface ContainerImage {
  container: string;
  image: string;
}

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

export async function readRevisionHistory(k8s: Pick<KubernetesClients, 'apps'>, ref: DeploymentRef): Promise<RevisionHistory> {
  const { namespace } = ref;
  const deployment = parseAnswer(
    deploymentSchema,
    await k8s.apps.readNamespacedDeployment({ namespace, name: ref.deployment }).catch((error: unknown) => {
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
  const listed = await k8s.apps
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

function imagesOf(template: PodTemplate): ContainerImage[] {
  return template.spec.containers.map((container) => ({ container: container.name, image: container.image ?? '' }));
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

/** kubectl's equalIgnoreHash: templates equal apart from the pod-template-hash label (nil and empty count as equal, as Semantic.DeepEqual). */
export function equalIgnoreHash(a: PodTemplate, b: PodTemplate): boolean {
  return canonicalJson(withoutHashLabel(a)) === canonicalJson(withoutHashLabel(b));
}

function withoutHashLabel(template: PodTemplate): PodTemplate {
  const copy = toWire(template) as PodTemplate;
  if (copy.metadata?.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  return copy;
}

function canonicalJson(value: unknown): string {
  const normalize = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(normalize);
    if (item === null || typeof item !== 'object') return item;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort()) {
      const inner = normalize((item as Record<string, unknown>)[key]);
      const empty =
        inner === null ||
        inner === undefined ||
        (Array.isArray(inner) && inner.length === 0) ||
        (typeof inner === 'object' && !Array.isArray(inner) && Object.keys(inner as object).length === 0);
      if (!empty) out[key] = inner;
    }
    return out;
  };
  return JSON.stringify(normalize(value));
}

function selectorString(selector: z.infer<typeof labelSelectorSchema>): string {
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

// --- rollout status, as kubectl's DeploymentStatusViewer decides it ---
export interface RolloutStatus {
  done: boolean;
  /** Set when the rollout has failed (its progress deadline passed). */
  failed: string | undefined;
  message: string;
  desired: number;
  updated: number;
  available: number;
}

/** kubectl pkg/polymorphichelpers/rollout_status.go DeploymentStatusViewer.Status, without the revision pin. */
export function rolloutStatus(deployment: Deployment): RolloutStatus {
  const name = deployment.metadata.name;
  const status = deployment.status ?? {};
  const desired = deployment.spec.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  const available = status.availableReplicas ?? 0;
  const base = { desired, updated, available, failed: undefined };
  if ((deployment.metadata.generation ?? 0) <= (status.observedGeneration ?? 0)) {
    const progressing = status.conditions?.find((condition) => condition.type === 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded') {
      const message = `deployment "${name}" exceeded its progress deadline`;
      return { ...base, done: false, failed: message, message };
    }
    if (deployment.spec.replicas !== undefined && updated < deployment.spec.replicas)
      return {
        ...base,
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${desired} new replicas have been updated...`,
      };
    if ((status.replicas ?? 0) > updated)
      return {
        ...base,
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${(status.replicas ?? 0) - updated} old replicas are pending termination...`,
      };
    if (available < updated)
      return {
        ...base,
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...`,
      };
    return { ...base, done: true, message: `deployment "${name}" successfully rolled out` };
  }
  return { ...base, done: false, message: 'Waiting for deployment spec update to be observed...' };
}

// --- the plan ---
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

export function formatImages(images: ContainerImage[]): string {
  if (images.length === 1) return images[0]!.image;
  return images.map((entry) => `${entry.container}=${entry.image}`).join(', ');
}

// --- the rollback ---
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
  k8s: Pick<KubernetesClients, 'apps'>,
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
  const patched = await k8s.apps
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

// --- following the rollout ---
export type RolloutResult = 'success' | 'failure' | 'timeout' | 'interrupted';

export interface RolloutOutcome {
  result: RolloutResult;
  /** kubectl's last status line, or what ended the watch. */
  message: string;
  status: RolloutStatus | undefined;
  /** How many times the watch was re-established after the connection dropped. */
  reconnects: number;
}

export interface FollowOptions {
  namespace: string;
  deployment: string;
  clock: Clock;
  /** Give up (result "timeout") after this long; kubectl's --timeout. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with each new status line. */
  onProgress?: (status: RolloutStatus) => void | Promise<void>;
  /** First wait before trying again after a watch or list that failed before any event; doubles up to 16x. Default 500 ms. */
  retryDelayMs?: number;
}

/** kubectl has no default timeout and lets the progress deadline decide failure, so follow a minute longer than it (at most `maxMs`). */
export function followTimeout(progressDeadlineSeconds: number | undefined, maxMs = 19 * 60_000): number {
  return Math.min((progressDeadlineSeconds ?? 600) * 1000 + 60_000, maxMs);
}

type Decision = { result: RolloutResult; message: string } | undefined;

/**
 * Follows a deployment's rollout to its end as `kubectl rollout status` does: list, then watch from that resourceVersion,
 * judging every version with rolloutStatus; a watch that drops is re-established from a fresh list.
 */
export async function followRollout(
  k8s: Pick<KubernetesClients, 'apps' | 'kubeConfig'>,
  options: FollowOptions,
): Promise<RolloutOutcome> {
  const { namespace, deployment: name, clock } = options;
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const baseDelay = options.retryDelayMs ?? 500;
  let last: RolloutStatus | undefined;
  let reconnects = 0;
  let failures = 0;

  const judge = (object: unknown): Decision => {
    const parsed = deploymentSchema.safeParse(toWire(object));
    if (!parsed.success) return undefined;
    const status = rolloutStatus(parsed.data);
    if (status.message !== last?.message) void Promise.resolve(options.onProgress?.(status)).catch(() => undefined);
    last = status;
    if (status.failed) return { result: 'failure', message: status.failed };
    if (status.done) return { result: 'success', message: status.message };
    return undefined;
  };

  const interruptedDecision = { result: 'interrupted', message: 'stopped before the rollout finished' } as const;
  // Settles only with a decision: the time limit passing, or the caller's signal.
  const ended = new Promise<Decision>((resolve) => {
    void clock.sleep(options.timeoutMs, signal).then(() => {
      if (!signal.aborted)
        resolve({ result: 'timeout', message: `timed out waiting for the rollout: ${last?.message ?? 'no status seen'}` });
    });
    if (options.signal?.aborted) resolve(interruptedDecision);
    options.signal?.addEventListener('abort', () => resolve(interruptedDecision), { once: true });
  });

  // Where a dropped watch resumes without listing again (client-go's reflector re-watches from the last resourceVersion it saw).
  let resumeFrom: string | undefined;
  let eventsThisSession = 0;

  const session = async (): Promise<Decision> => {
    // kubectl's ListWatch with a field selector on the name.
    const fieldSelector = `metadata.name=${name}`;
    let resourceVersion = resumeFrom;
    if (resourceVersion === undefined) {
      let list;
      try {
        list = await k8s.apps.listNamespacedDeployment({ namespace, fieldSelector });
      } catch (error) {
        return failUnlessTransient(error, 'listing');
      }
      const item = (list.items ?? [])[0];
      if (!item) return { result: 'failure', message: `deployment "${name}" no longer exists in ${namespace}` };
      const first = judge(item);
      if (first) return first;
      resourceVersion = list.metadata?.resourceVersion;
      resumeFrom = resourceVersion;
    }
    return new Promise<Decision>((resolve) => {
      let settled = false;
      let request: AbortController | undefined;
      const finish = (decision: Decision) => {
        if (settled) return;
        settled = true;
        request?.abort();
        signal.removeEventListener('abort', onAbort);
        resolve(decision);
      };
      const onAbort = () => finish(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      new Watch(k8s.kubeConfig)
        .watch(
          `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`,
          { fieldSelector, resourceVersion, allowWatchBookmarks: true },
          (type: string, object: unknown) => {
            eventsThisSession += 1;
            const seen = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
            if (type === 'ADDED' || type === 'MODIFIED') {
              if (typeof seen === 'string') resumeFrom = seen;
              const decision = judge(object);
              if (decision) finish(decision);
            } else if (type === 'BOOKMARK') {
              if (typeof seen === 'string') resumeFrom = seen;
            } else if (type === 'DELETED') {
              // kubectl: abort rather than silently watch a re-created object.
              finish({ result: 'failure', message: 'object has been deleted' });
            } else if (type === 'ERROR') {
              // Typically 410 Expired: what we saw is too old to resume from; start again from a fresh list.
              resumeFrom = undefined;
              finish(undefined);
            }
          },
          (error: unknown) => {
            if (settled) return;
            const code = kubernetesStatusCode(error);
            if (code === 401 || code === 403 || code === 404) {
              finish({ result: 'failure', message: `watching ${namespace}/${name}: ${kubernetesErrorMessage(error)}` });
              return;
            }
            // An HTTP error answer means the watch never started; anything else is an established watch going away.
            if (code === undefined) reconnects += 1;
            finish(undefined);
          },
        )
        .then(
          (controller) => {
            request = controller;
            if (settled) controller.abort();
          },
          () => finish(undefined),
        );
    });
  };

  const failUnlessTransient = (error: unknown, doing: string): Decision => {
    const code = kubernetesStatusCode(error);
    if (code === 401 || code === 403 || code === 404)
      return { result: 'failure', message: `${doing} ${namespace}/${name}: ${kubernetesErrorMessage(error)}` };
    return undefined;
  };

  try {
    for (;;) {
      if (signal.aborted) break;
      eventsThisSession = 0;
      const decision = await Promise.race([session(), ended]);
      if (decision) return { ...decision, status: last, reconnects };
      if (signal.aborted) break;
      // A watch that delivered events and then dropped resumes at once; one that failed before any event waits,
      // longer each time in a row (so a flapping or unreachable API is not hammered).
      failures = eventsThisSession > 0 ? 0 : failures + 1;
      if (failures > 0) {
        const pause = clock.sleep(baseDelay * 2 ** Math.min(failures - 1, 4), signal).then(() => undefined);
        const during = await Promise.race([pause, ended]);
        if (during) return { ...during, status: last, reconnects };
      }
    }
    return { ...interruptedDecision, status: last, reconnects };
  } finally {
    stop.abort();
  }
}
