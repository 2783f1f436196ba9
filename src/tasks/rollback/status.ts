// Following a rollout as `kubectl rollout status` does: the DeploymentStatusViewer's verdict on each version, list then watch until it is done or failed.
import { isDeadlineError } from '../../deadline.ts';
import { watchCollection, type KubernetesClients } from '../../clients/kubernetes.ts';
import { kubernetesError, kubernetesErrorMessage, kubernetesStatusCode } from '../../clients/kubernetes-errors.ts';
import type { Clock } from '../../clock.ts';
import { deploymentSchema, toWire, type Deployment } from './objects.ts';

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

/** `unreachable`: the Kubernetes API stopped answering within its limit while the rollout was being followed. */
export type RolloutResult = 'success' | 'failure' | 'timeout' | 'interrupted' | 'unreachable';

export interface RolloutOutcome {
  result: RolloutResult;
  /** kubectl's last status line, or what ended the watch. */
  message: string;
  status: RolloutStatus | undefined;
  /** How many times the watch was re-established after the connection dropped or went quiet. */
  reconnects: number;
}

export interface FollowOptions {
  namespace: string;
  deployment: string;
  clock: Clock;
  /** Give up (result "timeout") after this long; kubectl's --timeout. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Called with each new status line. */
  onProgress?: ((status: RolloutStatus) => void | Promise<void>) | undefined;
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
 * judging every version with rolloutStatus. A watch that drops is re-established where it left off; one that goes quiet
 * for `timeouts.kubernetes.watchIdle` is re-established from a fresh list, whose request deadline ends the follow when
 * the API no longer answers at all.
 */
export async function followRollout(
  k8s: Pick<KubernetesClients, 'typed' | 'open' | 'timeouts'>,
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
  const refusal = (doing: string, error: unknown): Decision => {
    const code = kubernetesStatusCode(error);
    if (code === 401 || code === 403 || code === 404)
      return { result: 'failure', message: `${doing} ${namespace}/${name}: ${kubernetesErrorMessage(error)}` };
    return undefined;
  };

  const session = async (): Promise<Decision> => {
    // kubectl's ListWatch with a field selector on the name.
    const fieldSelector = `metadata.name=${name}`;
    let resourceVersion = resumeFrom;
    if (resourceVersion === undefined) {
      let list;
      try {
        list = await (await k8s.typed()).apps.listNamespacedDeployment({ namespace, fieldSelector });
      } catch (error) {
        // A list is one small request: no answer within its deadline means the API is gone, not busy.
        if (isDeadlineError(error))
          return { result: 'unreachable', message: kubernetesError(`listing deployment ${namespace}/${name}`, error).message };
        return refusal('listing', error);
      }
      const item = (list.items ?? [])[0];
      if (!item) return { result: 'failure', message: `deployment "${name}" no longer exists in ${namespace}` };
      const first = judge(item);
      if (first) return first;
      resourceVersion = list.metadata?.resourceVersion;
      resumeFrom = resourceVersion;
    }
    let decision: Decision;
    const watching = new AbortController();
    const end = await watchCollection(k8s, `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`, {
      query: { fieldSelector, resourceVersion, allowWatchBookmarks: true },
      signal: AbortSignal.any([signal, watching.signal]),
      onEvent: (type, object) => {
        eventsThisSession += 1;
        const seen = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
        if (type === 'ADDED' || type === 'MODIFIED') {
          if (typeof seen === 'string') resumeFrom = seen;
          decision = judge(object);
        } else if (type === 'BOOKMARK') {
          if (typeof seen === 'string') resumeFrom = seen;
        } else if (type === 'DELETED') {
          // kubectl: abort rather than silently watch a re-created object.
          decision = { result: 'failure', message: 'object has been deleted' };
        } else if (type === 'ERROR') {
          // Typically 410 Expired: what we saw is too old to resume from; start again from a fresh list.
          resumeFrom = undefined;
          watching.abort();
        }
        if (decision) watching.abort();
      },
    });
    if (decision) return decision;
    if (end.reason === 'refused') return refusal('watching', end.error);
    if (end.reason === 'closed') reconnects += 1;
    if (end.reason === 'stalled') {
      // Quiet for the idle limit: the connection may be dead without knowing it. List again rather than resume.
      reconnects += 1;
      resumeFrom = undefined;
    }
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
