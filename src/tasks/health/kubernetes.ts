// Kubernetes health: deployments and statefulsets ready vs desired, crash-looping or unready pods, restarts, recent Warning events, expiring certificates.
import {
  Observable,
  type ConfigurationOptions,
  type CoreV1Event,
  type RequestContext,
  type ResponseContext,
  type V1Deployment,
  type V1LabelSelector,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { z } from 'zod';
import { describeIssues } from '../../clients/http.ts';
import { kubernetesError, kubernetesStatusCode, type KubernetesClients } from '../../clients/kubernetes.ts';
import { formatDuration } from '../../config/duration.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import { ConfigError } from '../../errors.ts';
import {
  notConfigured,
  outcomeFromFindings,
  type CheckContext,
  type CheckFactory,
  type CheckOutcome,
  type Finding,
  type KubernetesClientFactory,
} from './check.ts';

export type KubernetesCheckConfig = NonNullable<NonNullable<ServiceConfig['health']>['kubernetes']>;
type ServiceKubernetes = NonNullable<ServiceConfig['kubernetes']>;

// Waiting reasons that mean the pod will not come up by itself (kubectl shows them in STATUS).
const STUCK_REASONS = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'InvalidImageName',
  'RunContainerError',
]);
const MAX_NAMED = 3;

export const kubernetesChecks: CheckFactory = (service, deps) => {
  const spec = service.config.health?.kubernetes;
  if (!spec) return [];
  const target = service.config.kubernetes;
  return [
    {
      kind: 'kubernetes',
      name: target?.namespace ?? 'kubernetes',
      run: async (context) => {
        if (!target) return notConfigured(`services.${service.name}.kubernetes (namespace, deployments) is not set`);
        if (!deps.kubernetes) return notConfigured('no Kubernetes access was given to the health checks');
        return runKubernetesCheck(spec, target, deps.kubernetes, context);
      },
    },
  ];
};

export async function runKubernetesCheck(
  spec: KubernetesCheckConfig,
  target: ServiceKubernetes,
  factory: KubernetesClientFactory,
  context: CheckContext,
): Promise<CheckOutcome> {
  let clients: KubernetesClients;
  try {
    clients = factory(target.context);
  } catch (error) {
    if (error instanceof ConfigError) return notConfigured(error.issues.join('; '));
    throw error;
  }
  const { namespace } = target;
  const options = abortable(context.signal);
  const now = context.clock.now();

  const [deployments, statefulsets, pods, events, certificates] = await Promise.all([
    Promise.all(
      target.deployments.map((name) =>
        readOrMissing(
          clients.apps.readNamespacedDeployment({ name, namespace }, options),
          `reading deployment ${namespace}/${name}`,
        ),
      ),
    ),
    Promise.all(
      target.statefulsets.map((name) =>
        readOrMissing(
          clients.apps.readNamespacedStatefulSet({ name, namespace }, options),
          `reading statefulset ${namespace}/${name}`,
        ),
      ),
    ),
    call(clients.core.listNamespacedPod({ namespace }, options), `listing pods in ${namespace}`),
    call(
      clients.core.listNamespacedEvent({ namespace, fieldSelector: 'type=Warning' }, options),
      `listing events in ${namespace}`,
    ),
    listCertificates(clients, namespace, options),
  ]);

  const findings: Finding[] = [];
  target.deployments.forEach((name, i) => findings.push(workloadFinding('deployment', name, deployments[i])));
  target.statefulsets.forEach((name, i) => findings.push(workloadFinding('statefulset', name, statefulsets[i])));

  const workloads = [...target.deployments, ...target.statefulsets];
  const selectors = [...deployments, ...statefulsets].flatMap((workload) =>
    workload?.spec?.selector ? [workload.spec.selector] : [],
  );
  const ownPods = pods.items.filter((pod) => workloads.length === 0 || selectors.some((selector) => selects(selector, pod)));
  findings.push(...podFindings(ownPods, spec.restartsWarn));

  const ownEvents = events.items.filter(
    (event) =>
      now.getTime() - eventTime(event) <= spec.eventsWithin &&
      (workloads.length === 0 || belongsTo(event.involvedObject.name ?? '', workloads)),
  );
  findings.push(eventFinding(ownEvents, spec.eventsWithin));

  if (certificates) findings.push(...certificateFindings(certificates, now, spec.certificateWarn));

  return outcomeFromFindings(findings, findings.map((finding) => finding.text).join(', '));
}

/** Per-request options that hand the check's signal to the client's fetch, so a timed-out check leaves no request behind. */
function abortable(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (request: RequestContext) => {
          request.setSignal(signal);
          return new Observable(Promise.resolve(request));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

async function call<T>(promise: Promise<T>, doing: string): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw kubernetesError(doing, error);
  }
}

async function readOrMissing<T>(promise: Promise<T>, doing: string): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (kubernetesStatusCode(error) === 404) return undefined;
    throw kubernetesError(doing, error);
  }
}

function workloadFinding(
  kind: 'deployment' | 'statefulset',
  name: string,
  workload: V1Deployment | V1StatefulSet | undefined,
): Finding {
  if (!workload) return { status: 'critical', text: `${kind} ${name} not found` };
  const desired = workload.spec?.replicas ?? 1;
  const ready = workload.status?.readyReplicas ?? 0;
  const stuck = (workload.status?.conditions ?? []).find(
    (condition) => condition.type === 'Progressing' && condition.reason === 'ProgressDeadlineExceeded',
  );
  if (stuck)
    return { status: 'critical', text: `${kind} ${name} ${ready}/${desired} ready, rollout stuck (progress deadline exceeded)` };
  if (desired === 0) return { status: 'ok', text: `${kind} ${name} scaled to 0` };
  if (ready >= desired) return { status: 'ok', text: `${kind} ${name} ${ready}/${desired} ready` };
  return { status: ready === 0 ? 'critical' : 'warn', text: `${kind} ${name} ${ready}/${desired} ready` };
}

/** A workload's matchLabels and matchExpressions against a pod's labels, as the API server's selector does. */
function selects(selector: V1LabelSelector, pod: V1Pod): boolean {
  const labels = pod.metadata?.labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const expression of selector.matchExpressions ?? []) {
    const has = expression.key in labels;
    const values = expression.values ?? [];
    if (expression.operator === 'In' && (!has || !values.includes(labels[expression.key]!))) return false;
    if (expression.operator === 'NotIn' && has && values.includes(labels[expression.key]!)) return false;
    if (expression.operator === 'Exists' && !has) return false;
    if (expression.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function podFindings(pods: V1Pod[], restartsWarn: number): Finding[] {
  const stuck: string[] = [];
  const unready: string[] = [];
  const restarting: string[] = [];
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '?';
    const phase = pod.status?.phase ?? 'Unknown';
    if (phase === 'Succeeded') continue;
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const restarts = statuses.reduce((sum, status) => sum + (status.restartCount ?? 0), 0);
    const waiting = statuses.map((status) => status.state?.waiting?.reason).find((reason) => reason && STUCK_REASONS.has(reason));
    if (waiting) {
      stuck.push(`${name} (${waiting}, ${restarts} restart${restarts === 1 ? '' : 's'})`);
      continue;
    }
    const ready = (pod.status?.conditions ?? []).some((condition) => condition.type === 'Ready' && condition.status === 'True');
    if (phase !== 'Running' || !ready) unready.push(`${name} (${phase === 'Running' ? 'not ready' : phase})`);
    if (restarts >= restartsWarn) restarting.push(`${name} (${restarts})`);
  }
  const findings: Finding[] = [];
  if (stuck.length + unready.length + restarting.length === 0) {
    const running = pods.filter((pod) => pod.status?.phase === 'Running').length;
    findings.push({ status: 'ok', text: `${plural(running, 'pod')} running and ready` });
  }
  if (stuck.length > 0)
    findings.push({ status: 'critical', text: `${plural(stuck.length, 'pod')} crash-looping or stuck: ${named(stuck)}` });
  if (unready.length > 0)
    findings.push({ status: 'warn', text: `${plural(unready.length, 'pod')} not ready: ${named(unready)}` });
  if (restarting.length > 0)
    findings.push({
      status: 'warn',
      text: `${plural(restarting.length, 'pod')} restarted ${restartsWarn}+ times: ${named(restarting)}`,
    });
  return findings;
}

function eventTime(event: CoreV1Event): number {
  const at = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata.creationTimestamp;
  return at ? new Date(at).getTime() : 0;
}

/** Events about a workload, its ReplicaSets or its pods (named "<workload>-…"). */
function belongsTo(objectName: string, workloads: string[]): boolean {
  return workloads.some((workload) => objectName === workload || objectName.startsWith(`${workload}-`));
}

function eventFinding(events: CoreV1Event[], withinMs: number): Finding {
  const within = formatDuration(withinMs);
  if (events.length === 0) return { status: 'ok', text: `no Warning events in the last ${within}` };
  const byReason = new Map<string, number>();
  for (const event of events) {
    const reason = event.reason ?? 'Unknown';
    byReason.set(reason, (byReason.get(reason) ?? 0) + (event.count ?? 1));
  }
  const reasons = [...byReason.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([reason, count]) => (count > 1 ? `${reason} ×${count}` : reason));
  return { status: 'warn', text: `${plural(events.length, 'Warning event')} in the last ${within}: ${named(reasons)}` };
}

const certificateListSchema = z.object({
  items: z.array(
    z.object({
      metadata: z.object({ name: z.string() }),
      status: z
        .object({
          notAfter: z.string().optional(),
          conditions: z.array(z.object({ type: z.string(), status: z.string(), message: z.string().optional() })).optional(),
        })
        .optional(),
    }),
  ),
});
type CertificateList = z.infer<typeof certificateListSchema>;

/** cert-manager Certificates; undefined when cert-manager is not installed in the cluster (404). */
async function listCertificates(
  clients: KubernetesClients,
  namespace: string,
  options: ConfigurationOptions,
): Promise<CertificateList | undefined> {
  let answer: unknown;
  try {
    answer = await clients.custom.listNamespacedCustomObject(
      { group: 'cert-manager.io', version: 'v1', namespace, plural: 'certificates' },
      options,
    );
  } catch (error) {
    if (kubernetesStatusCode(error) === 404) return undefined;
    throw kubernetesError(`listing certificates in ${namespace}`, error);
  }
  const parsed = certificateListSchema.safeParse(answer);
  if (!parsed.success) throw kubernetesError(`listing certificates in ${namespace}`, new Error(describeIssues(parsed.error)));
  return parsed.data;
}

function certificateFindings(list: CertificateList, now: Date, warnMs: number): Finding[] {
  const findings: Finding[] = [];
  let valid = 0;
  for (const certificate of list.items) {
    const name = certificate.metadata.name;
    const notReady = certificate.status?.conditions?.find(
      (condition) => condition.type === 'Ready' && condition.status !== 'True',
    );
    const notAfter = certificate.status?.notAfter ? new Date(certificate.status.notAfter) : undefined;
    const left = notAfter ? notAfter.getTime() - now.getTime() : undefined;
    if (left !== undefined && left <= 0) {
      findings.push({ status: 'critical', text: `certificate ${name} expired ${formatDuration(-left)} ago` });
    } else if (left !== undefined && left <= warnMs) {
      findings.push({
        status: 'warn',
        text: `certificate ${name} expires in ${formatDuration(left)} (${notAfter!.toISOString().slice(0, 10)})`,
      });
    } else if (notReady) {
      findings.push({ status: 'warn', text: `certificate ${name} not ready${notReady.message ? `: ${notReady.message}` : ''}` });
    } else valid += 1;
  }
  if (valid > 0) findings.push({ status: 'ok', text: `${plural(valid, 'certificate')} valid beyond ${formatDuration(warnMs)}` });
  return findings;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function named(items: string[]): string {
  return items.length > MAX_NAMED
    ? `${items.slice(0, MAX_NAMED).join(', ')} and ${items.length - MAX_NAMED} more`
    : items.join(', ');
}
