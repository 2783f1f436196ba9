// Workloads ready against desired, and their pods as `kubectl get pods` shows them: stuck, pending, not ready, restarted (with the last cause), near their memory limit.
import type { Finding } from '../check.ts';
import type { KubernetesCheckConfig, ServiceKubernetes } from '../../../config/schema.ts';
import { age, ago, objectFinding, okFinding, plural, span } from './finding.ts';
import { formatBytes } from '../../../config/units.ts';
import { memoryBytes } from './quantity.ts';
import type { PodMetrics, Pod, Snapshot } from './reads.ts';
import type { Scope } from './scope.ts';
import { parsedTime, type ContainerStatus } from './schemas.ts';

// Waiting reasons that mean the container will not come up by itself (kubectl shows them in STATUS).
const STUCK_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'InvalidImageName',
  'RunContainerError',
]);

type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

interface WorkloadState {
  kind: WorkloadKind;
  name: string;
  desired: number;
  ready: number;
  stuck: string | undefined;
}

export interface WorkloadSummary {
  findings: Finding[];
  /** "Deployment api 2/2 ready" for the configured ones, "3 more workloads ready" for the rest. */
  okText: string | undefined;
}

export function workloadFindings(target: ServiceKubernetes, snapshot: Snapshot, scope: Scope): WorkloadSummary {
  const states: WorkloadState[] = [];
  for (const d of snapshot.deployments ?? []) {
    const stuck = (d.status?.conditions ?? []).find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
    states.push({
      kind: 'Deployment',
      name: d.metadata.name,
      desired: d.spec.replicas ?? 1,
      ready: d.status?.readyReplicas ?? 0,
      stuck: stuck ? 'ProgressDeadlineExceeded' : undefined,
    });
  }
  for (const s of snapshot.statefulsets ?? [])
    states.push({
      kind: 'StatefulSet',
      name: s.metadata.name,
      desired: s.spec.replicas ?? 1,
      ready: s.status?.readyReplicas ?? 0,
      stuck: undefined,
    });
  for (const d of snapshot.daemonsets ?? [])
    states.push({
      kind: 'DaemonSet',
      name: d.metadata.name,
      desired: d.status?.desiredNumberScheduled ?? 0,
      ready: d.status?.numberReady ?? 0,
      stuck: undefined,
    });

  const findings: Finding[] = [];
  const configured: Array<[WorkloadKind, string[], boolean]> = [
    ['Deployment', target.deployments, snapshot.deployments !== undefined],
    ['StatefulSet', target.statefulsets, snapshot.statefulsets !== undefined],
    ['DaemonSet', target.daemonsets, snapshot.daemonsets !== undefined],
  ];
  const namespace = snapshot.namespace?.exists === false ? undefined : target.namespace;
  for (const [kind, names, read] of configured)
    for (const name of names)
      if (read && namespace && !states.some((s) => s.kind === kind && s.name === name))
        findings.push(
          objectFinding({ status: 'critical', kind, name, reason: 'NotFound', phrase: `not found in namespace ${namespace}` }),
        );

  const okNamed: string[] = [];
  let okOthers = 0;
  for (const state of states.filter((s) => scope.workload(s.kind, s.name))) {
    const counts = `${state.ready}/${state.desired} ready`;
    if (state.stuck) {
      findings.push(
        objectFinding({
          status: 'critical',
          kind: state.kind,
          name: state.name,
          reason: state.stuck,
          message: `rollout stuck: ${counts}`,
          phrase: `${counts}, rollout stuck (progress deadline exceeded)`,
        }),
      );
    } else if (state.ready < state.desired) {
      findings.push(
        objectFinding({
          status: state.ready === 0 ? 'critical' : 'warn',
          kind: state.kind,
          name: state.name,
          reason: state.ready === 0 ? 'Unavailable' : 'NotReady',
          message: counts,
          phrase: counts,
        }),
      );
    } else if (
      (state.kind === 'Deployment'
        ? target.deployments
        : state.kind === 'StatefulSet'
          ? target.statefulsets
          : target.daemonsets
      ).includes(state.name)
    ) {
      okNamed.push(state.desired === 0 ? `${state.kind} ${state.name} scaled to 0` : `${state.kind} ${state.name} ${counts}`);
    } else okOthers += 1;
  }
  const parts = [
    ...okNamed,
    ...(okOthers > 0 ? [`${plural(okOthers, okNamed.length > 0 ? 'other workload' : 'workload')} ready`] : []),
  ];
  return { findings, okText: parts.length > 0 ? parts.join(', ') : undefined };
}

export interface PodCheckOptions {
  spec: KubernetesCheckConfig;
  now: Date;
  metrics: PodMetrics[] | undefined;
}

interface LastTermination {
  container: string;
  reason: string | undefined;
  exitCode: number | undefined;
  signal: number | undefined;
  at: Date | undefined;
}

export function podFindings(pods: Pod[], options: PodCheckOptions): { findings: Finding[]; okText: string } {
  const { spec, now } = options;
  const findings: Finding[] = [];
  const usage = new Map((options.metrics ?? []).map((m) => [m.metadata.name, m]));
  let running = 0;
  for (const pod of pods) {
    const name = pod.metadata.name;
    const phase = pod.status?.phase ?? 'Unknown';
    if (phase === 'Succeeded') continue;
    if (phase === 'Running') running += 1;
    const init = pod.status?.initContainerStatuses ?? [];
    const main = pod.status?.containerStatuses ?? [];
    const restarts = [...init, ...main].reduce((sum, status) => sum + status.restartCount, 0);
    const last = lastTermination([...init, ...main]);
    const lastWords = last ? terminationWords(last) : undefined;
    const restartWords = `${plural(restarts, 'restart')}${lastWords ? `, last ${lastWords}${last?.at ? ` ${ago(now, last.at)}` : ''}` : ''}`;

    const stuckInit = init.find((s) => STUCK_REASONS.has(s.state?.waiting?.reason ?? ''));
    const stuckMain = main.find((s) => STUCK_REASONS.has(s.state?.waiting?.reason ?? ''));
    const stuck = stuckInit ?? stuckMain;
    if (stuck) {
      // As kubectl's STATUS column: an init container's reason is shown as Init:<reason>.
      const reason = `${stuckInit ? 'Init:' : ''}${stuck.state!.waiting!.reason}`;
      findings.push(
        objectFinding({
          status: 'critical',
          kind: 'Pod',
          name,
          reason,
          count: restarts,
          ...(last?.at ? { at: last.at } : {}),
          message: [restartWords, stuck.state?.waiting?.message].filter(Boolean).join('; '),
          phrase: `${reason}, ${restartWords}`,
        }),
      );
    } else if (phase === 'Failed') {
      const at = parsedTime(pod.status?.startTime) ?? parsedTime(pod.metadata.creationTimestamp);
      const recent = at !== undefined && now.getTime() - at.getTime() <= spec.restartWindow;
      if (recent) {
        const reason = pod.status?.reason ?? 'Failed';
        findings.push(
          objectFinding({
            status: 'warn',
            kind: 'Pod',
            name,
            reason,
            ...(at ? { at } : {}),
            ...(pod.status?.message ? { message: pod.status.message } : {}),
            phrase: `${reason}${lastWords ? ` (${lastWords})` : ''}`,
          }),
        );
      }
    } else if (phase === 'Pending' || phase === 'Unknown') {
      const since = parsedTime(pod.metadata.creationTimestamp);
      if (!since || now.getTime() - since.getTime() > spec.pendingGrace) {
        const unschedulable = (pod.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
        const waiting = main.map((s) => s.state?.waiting?.reason).find(Boolean);
        const why = unschedulable?.reason ?? waiting;
        findings.push(
          objectFinding({
            status: 'warn',
            kind: 'Pod',
            name,
            reason: phase,
            ...(since ? { at: since } : {}),
            ...(unschedulable?.message ? { message: unschedulable.message } : {}),
            phrase: `${phase}${why ? ` (${why})` : ''}${since ? ` for ${age(now.getTime() - since.getTime())}` : ''}`,
          }),
        );
      }
    } else {
      const readyCondition = (pod.status?.conditions ?? []).find((c) => c.type === 'Ready');
      if (readyCondition && readyCondition.status !== 'True') {
        const since = parsedTime(readyCondition.lastTransitionTime) ?? parsedTime(pod.metadata.creationTimestamp);
        if (!since || now.getTime() - since.getTime() > spec.pendingGrace) {
          const unready = main.filter((s) => s.ready === false).map((s) => s.name);
          findings.push(
            objectFinding({
              status: 'warn',
              kind: 'Pod',
              name,
              reason: 'NotReady',
              ...(since ? { at: since } : {}),
              message:
                unready.length > 0 ? `containers not ready: ${unready.join(', ')}` : (readyCondition.reason ?? 'not ready'),
              phrase: `not ready${since ? ` for ${age(now.getTime() - since.getTime())}` : ''}${unready.length > 0 ? ` (${unready.join(', ')})` : ''}`,
            }),
          );
        }
      }
    }

    // Restarts count only when recent: 12 restarts over 40 days is history, 3 in the last 10 minutes is a problem.
    if (!stuck && restarts > 0 && last) {
      const recent = last.at !== undefined && now.getTime() - last.at.getTime() <= spec.restartWindow;
      if (recent && restarts >= spec.restartsWarn) {
        findings.push(
          objectFinding({
            status: 'warn',
            kind: 'Pod',
            name,
            reason: last.reason ?? 'Restarted',
            count: restarts,
            ...(last.at ? { at: last.at } : {}),
            message: restartWords,
            phrase: `restarted (${restartWords})`,
          }),
        );
      } else {
        findings.push(okFinding(`Pod ${name}: ${restartWords} (outside the last ${span(spec.restartWindow)})`));
      }
    }

    findings.push(...memoryFindings(pod, usage.get(name), spec.memoryWarnPercent));
  }
  return { findings, okText: `${plural(running, 'pod')} running and ready` };
}

/** The most recent termination among the containers: the cause of the last restart (kubectl describe's Last State). */
function lastTermination(statuses: ContainerStatus[]): LastTermination | undefined {
  let latest: LastTermination | undefined;
  for (const status of statuses) {
    const terminated = status.lastState?.terminated ?? (status.restartCount > 0 ? status.state?.terminated : undefined);
    if (!terminated) continue;
    const candidate: LastTermination = {
      container: status.name,
      reason: terminated.reason,
      exitCode: terminated.exitCode,
      signal: terminated.signal,
      at: parsedTime(terminated.finishedAt),
    };
    if (!latest || (candidate.at?.getTime() ?? 0) > (latest.at?.getTime() ?? 0)) latest = candidate;
  }
  return latest;
}

function terminationWords(last: LastTermination): string {
  const code =
    last.exitCode !== undefined ? `exit ${last.exitCode}` : last.signal !== undefined ? `signal ${last.signal}` : undefined;
  return `${last.reason ?? 'terminated'}${code ? ` (${code})` : ''} in ${last.container}`;
}

function memoryFindings(pod: Pod, metrics: PodMetrics | undefined, warnPercent: number): Finding[] {
  if (!metrics) return [];
  const findings: Finding[] = [];
  for (const container of pod.spec?.containers ?? []) {
    const limit = memoryBytes(container.resources?.limits?.memory);
    const used = memoryBytes(metrics.containers.find((c) => c.name === container.name)?.usage.memory);
    if (!limit || used === undefined) continue;
    const percent = (used / limit) * 100;
    if (percent < warnPercent) continue;
    const words = `${formatBytes(used)} of its ${formatBytes(limit)} memory limit (${Math.round(percent)}%) in ${container.name}`;
    findings.push(
      objectFinding({
        status: 'warn',
        kind: 'Pod',
        name: pod.metadata.name,
        reason: 'MemoryNearLimit',
        message: words,
        phrase: `using ${words}`,
      }),
    );
  }
  return findings;
}
