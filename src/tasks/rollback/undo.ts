// The rollback use case, once, shaped like kubectl's rollout undo (pkg/cmd/rollout/rollout_undo.go): Options → Complete
// (gather the environment) → Validate → Run (which works from its struct alone). The Slack handler and the CLI both call it.
import { z } from 'zod';
import type { KubernetesClients } from '../../clients/kubernetes.ts';
import type { Clock } from '../../clock.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { UserError } from '../../errors.ts';
import type { SharedReads } from '../../shared-reads.ts';
import { readRevisionHistory, type RevisionHistory } from './history.ts';
import { planRollback, rollback, type RollbackPlan, type RollbackResult } from './rollback.ts';
import { followRollout, followTimeout, type RolloutOutcome, type RolloutStatus } from './status.ts';

/** Options: what the user asked for, before anything is read (kubectl's UndoOptions from its flags and arguments). */
export interface UndoOptions {
  service: string;
  namespace: string;
  deployment: string;
  /** The kubeconfig context of the service, when it has its own. */
  context: string | undefined;
  /** kubectl's --to-revision; undefined is its 0: the previous revision. */
  toRevision: number | undefined;
  /** Roll back a paused or mid-rollout deployment anyway. */
  force: boolean;
}

/** `[deployment] [revision]` after the service name: the deployment must be one the service lists; the first is the default. */
export function undoOptions(
  serviceName: string,
  service: ServiceConfig,
  args: string[],
  usage: string,
  force = false,
): UndoOptions {
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
  return { service: serviceName, namespace: kubernetes.namespace, deployment, context: kubernetes.context, toRevision, force };
}

/** Where a rollback runs: Kubernetes for a context, and time. */
export interface UndoEnv {
  kubernetes: (context: string | undefined) => KubernetesClients;
  clock: Clock;
  /** Histories read a moment ago (or being read right now) for someone else are served instead of reading again. */
  reads?: SharedReads | undefined;
}

/** Options after Complete: the clients of the service's context and the deployment's revision history. */
export interface CompletedUndo {
  options: UndoOptions;
  k8s: KubernetesClients;
  history: RevisionHistory;
  /** Set when the history was served again from a recent read: how old it was. */
  historyAgeMs?: number;
}

/** Complete: gather the environment (kubectl resolves its clients and the resource here; we also read the history). */
export async function completeUndo(options: UndoOptions, env: UndoEnv): Promise<CompletedUndo> {
  const k8s = env.kubernetes(options.context);
  const read = () => readRevisionHistory(k8s, { namespace: options.namespace, deployment: options.deployment });
  if (!env.reads) return { options, k8s, history: await read() };
  const shared = await env.reads.read(rolloutHistoryKey(options), read);
  return { options, k8s, history: shared.value, ...(shared.source === 'reused' ? { historyAgeMs: shared.ageMs } : {}) };
}

/** One deployment's history in one cluster context. */
function rolloutHistoryKey(target: { context?: string | undefined; namespace: string; deployment: string }): string {
  return `rollout-history:${target.context ?? ''}/${target.namespace}/${target.deployment}`;
}

const imagesSchema = z.array(z.object({ container: z.string(), image: z.string() }));

/**
 * What Run needs and nothing else: the change that was shown and agreed to. Stored with a Slack confirmation, it runs on
 * whichever replica takes the click; printed by the CLI, it is what runs next.
 */
export const undoRunSchema = z.object({
  namespace: z.string(),
  deployment: z.string(),
  context: z.string().optional(),
  fromRevision: z.number().int().positive().optional(),
  fromImages: imagesSchema,
  toRevision: z.number().int().positive(),
  toImages: imagesSchema,
  force: z.boolean(),
  /** How long following may take (from the deployment's progressDeadlineSeconds when it was asked). */
  followForMs: z.number().int().positive(),
});
export type UndoRun = z.infer<typeof undoRunSchema>;

export interface ValidatedUndo {
  plan: RollbackPlan;
  run: UndoRun;
}

/**
 * Validate: the target revision as kubectl decides it, and the refusals (a paused or mid-rollout deployment unless
 * forced, a revision not in the history, the revision already running). Throws a UserError saying why.
 */
export function validateUndo(completed: CompletedUndo, followAtMostMs?: number): ValidatedUndo {
  const { options, history } = completed;
  const plan = planRollback(history, { toRevision: options.toRevision, force: options.force });
  const run: UndoRun = {
    namespace: plan.namespace,
    deployment: plan.deployment,
    ...(options.context ? { context: options.context } : {}),
    ...(plan.from.revision !== undefined ? { fromRevision: plan.from.revision } : {}),
    fromImages: plan.from.images,
    toRevision: plan.to.revision,
    toImages: plan.to.images,
    force: options.force,
    followForMs: followTimeout(history.deployment.spec.progressDeadlineSeconds, followAtMostMs),
  };
  return { plan, run };
}

export interface UndoHooks {
  /** The caller's own end: a time limit, the user's Cancel, a shutdown. */
  signal?: AbortSignal | undefined;
  /** Send nothing; return the patch that would be sent (kubectl --dry-run=client). */
  dryRun?: boolean;
  /** The patch was accepted; following starts. */
  onPatched?: (result: RollbackResult) => void | Promise<void>;
  /** Each new status line while following. */
  onProgress?: (status: RolloutStatus) => void | Promise<void>;
}

export interface UndoOutcome {
  result: RollbackResult;
  /** Undefined for a dry run. */
  rollout: RolloutOutcome | undefined;
}

/**
 * Run, from the struct alone: reads the deployment again and decides again (a change since the plan was shown is
 * refused, never overwritten), sends kubectl's JSON patch, then follows the rollout as `kubectl rollout status` does.
 */
export async function runUndo(run: UndoRun, env: UndoEnv, hooks: UndoHooks = {}): Promise<UndoOutcome> {
  const k8s = env.kubernetes(run.context);
  const result = await rollback(
    k8s,
    {
      namespace: run.namespace,
      deployment: run.deployment,
      from: { revision: run.fromRevision, images: run.fromImages },
      to: { revision: run.toRevision },
    },
    { force: run.force, dryRun: hooks.dryRun === true },
  );
  if (result.dryRun) return { result, rollout: undefined };
  // The history just changed: the next /rollback reads it again.
  env.reads?.forget(rolloutHistoryKey(run));
  await hooks.onPatched?.(result);
  const rollout = await followRollout(k8s, {
    namespace: run.namespace,
    deployment: run.deployment,
    clock: env.clock,
    timeoutMs: run.followForMs,
    signal: hooks.signal,
    onProgress: hooks.onProgress,
  });
  return { result, rollout };
}
