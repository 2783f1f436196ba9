// The rollback use case, once, shaped like kubectl's rollout undo (pkg/cmd/rollout/rollout_undo.go): Options → Complete
// (gather the environment) → Validate → Run (which works from its struct alone). The Slack handler and the CLI both call it.
import type { KubernetesClients } from '../../clients/kubernetes.ts';
import type { Clock } from '../../clock.ts';
import type { SharedReads } from '../../shared-reads.ts';
import { readRevisionHistory, type RevisionHistory } from './history.ts';
import { planRollback, rollback, type RollbackPlan, type RollbackResult } from './rollback.ts';
import { followRollout, followTimeout, type RolloutOutcome, type RolloutStatus } from './status.ts';
import type { UndoOptions, UndoRun } from './options.ts';

/** Where a rollback runs: Kubernetes for a context, and time. */
export interface UndoEnv {
  /** Clients for a context; may load the client library first (it is loaded when Kubernetes is first used). */
  kubernetes: (context: string | undefined) => KubernetesClients | Promise<KubernetesClients>;
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
  const k8s = await env.kubernetes(options.context);
  const read = () => readRevisionHistory(k8s, { namespace: options.namespace, deployment: options.deployment });
  if (!env.reads) return { options, k8s, history: await read() };
  const shared = await env.reads.read(rolloutHistoryKey(options), read);
  return { options, k8s, history: shared.value, ...(shared.source === 'reused' ? { historyAgeMs: shared.ageMs } : {}) };
}

/** One deployment's history in one cluster context. */
function rolloutHistoryKey(target: { context?: string | undefined; namespace: string; deployment: string }): string {
  return `rollout-history:${target.context ?? ''}/${target.namespace}/${target.deployment}`;
}

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
  const k8s = await env.kubernetes(run.context);
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
