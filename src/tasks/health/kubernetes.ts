// Kubernetes health as the runbooks' daily `kubectl get` checks read it: every finding names its object, a refused read is a gap beside the rest.
import { type KubernetesClients } from '../../clients/kubernetes.ts';
import { kubernetesError } from '../../clients/kubernetes-errors.ts';
import type { KubernetesCheckConfig, ServiceKubernetes } from '../../config/schema.ts';
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
import { certificateFindings } from './kubernetes/certificates.ts';
import { eventFindings } from './kubernetes/events.ts';
import { objectFinding, okFinding, plural, span } from './kubernetes/finding.ts';
import { missingGrant, resourceName } from './kubernetes/grants.ts';
import { ingressFindings, serviceFindings } from './kubernetes/network.ts';
import { readNamespace, unreachable, type Gap, type Snapshot } from './kubernetes/reads.ts';
import { scopeOf } from './kubernetes/scope.ts';
import { storageFindings } from './kubernetes/storage.ts';
import { podFindings, workloadFindings } from './kubernetes/workloads.ts';

/** Problems named in the one-line reason; the rest are counted there and listed in full by --details. */
const MAX_IN_REASON = 5;

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
    clients = await factory(target.context);
  } catch (error) {
    if (error instanceof ConfigError) return notConfigured(error.issues.join('; '));
    throw error;
  }
  const { namespace } = target;
  const now = context.clock.now();
  const snapshot = await readNamespace(clients, {
    namespace,
    statefulsets: spec.scope === 'namespace' || target.statefulsets.length > 0,
    daemonsets: spec.scope === 'namespace' || target.daemonsets.length > 0,
    eventsSince: new Date(now.getTime() - spec.eventsWithin),
    tlsSecrets: spec.tlsSecrets,
    signal: context.signal,
  });
  const down = unreachable(snapshot, namespace);
  if (down) throw down;
  return judge(spec, target, snapshot, now, clients.context);
}

/** Findings from what was read, worst first; exported for the benchmark, which times the reads and this apart. */
export function judge(
  spec: KubernetesCheckConfig,
  target: ServiceKubernetes,
  snapshot: Snapshot,
  now: Date,
  context: string,
): CheckOutcome {
  const { namespace } = target;
  if (snapshot.namespace?.exists === false)
    return outcomeFromFindings(
      [
        objectFinding({
          status: 'critical',
          kind: 'Namespace',
          name: namespace,
          reason: 'NotFound',
          message: `there is no namespace ${namespace} in context ${context}`,
          phrase: `does not exist (context ${context})`,
        }),
      ],
      '',
    );
  if (snapshot.namespace === undefined && nothingRead(snapshot) && snapshot.gaps.every((gap) => gap.status === 403))
    return outcomeFromFindings(
      [
        objectFinding({
          status: 'critical',
          kind: 'Namespace',
          name: namespace,
          reason: 'Forbidden',
          message: 'every read was refused',
          phrase: `every read was refused: the namespace does not exist, or the bot has no Role in it (deploy/kubernetes/rbac.yaml)`,
        }),
      ],
      '',
    );

  const findings: Finding[] = [];
  if (snapshot.namespace?.phase === 'Terminating')
    findings.push(
      objectFinding({
        status: 'critical',
        kind: 'Namespace',
        name: namespace,
        reason: 'Terminating',
        phrase: 'is being deleted',
      }),
    );
  const scope = scopeOf(spec, target, snapshot);
  const workloads = workloadFindings(target, snapshot, scope);
  const metrics = Array.isArray(snapshot.podMetrics) ? snapshot.podMetrics : undefined;
  const pods = snapshot.pods
    ? podFindings(
        snapshot.pods.filter((pod) => scope.pod(pod)),
        { spec, now, metrics },
      )
    : undefined;
  const services = serviceFindings(snapshot, scope);
  const storage = storageFindings(snapshot, scope, spec, now);
  const certificates = certificateFindings(snapshot, spec, now);
  findings.push(
    ...workloads.findings,
    ...(pods?.findings ?? []),
    ...services.findings,
    ...ingressFindings(snapshot, scope),
    ...storage.findings,
    ...eventFindings(snapshot.events, scope, spec.eventsWithin, now),
    ...certificates.findings,
    ...snapshot.gaps.map((gap) => gapFinding(gap, namespace)),
  );
  for (const [kind, count] of Object.entries(snapshot.unreadable))
    findings.push({
      status: 'warn',
      text: `${plural(count, kind.replace(/s$/, ''), kind)} skipped: the API answered a shape the check does not understand`,
    });
  if (typeof snapshot.podMetrics === 'string') findings.push(okFinding(snapshot.podMetrics));

  const fine = [workloads.okText, pods?.okText, services.okText, storage.okText, certificates.okText].filter(
    (part): part is string => part !== undefined,
  );
  // What is fine is part of the details too, so `--details` and the JSON show the whole picture.
  findings.push(...fine.map(okFinding));
  const okSummary = [
    workloads.okText,
    pods?.okText,
    services.okText,
    storage.okText,
    snapshot.events ? `no Warning events in the last ${span(spec.eventsWithin)}` : undefined,
    certificates.okText,
    typeof snapshot.podMetrics === 'string' ? 'memory not checked (no metrics-server)' : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  return outcomeFromFindings(findings, okSummary, { maxInReason: MAX_IN_REASON });
}

function nothingRead(snapshot: Snapshot): boolean {
  return [snapshot.pods, snapshot.deployments, snapshot.services, snapshot.pvcs, snapshot.events, snapshot.ingresses].every(
    (items) => items === undefined,
  );
}

/** A read that did not succeed, named with what it would have shown: a refusal names the grant, anything else its cause. */
function gapFinding(gap: Gap, namespace: string): Finding {
  const { read } = gap;
  const names = gap.names ? ` ${gap.names.join(', ')}` : '';
  const doing = `${read.verb === 'get' ? 'reading' : 'listing'} ${resourceName(read)}${names} in ${namespace}`;
  const refused = gap.status === 403 || gap.status === 401;
  // An ExternalError's message starts with "Kubernetes: <doing>: "; the check's label and our own words say that already.
  const cause = refused
    ? `the bot needs ${missingGrant(read, namespace, gap.names)} (without it ${read.without})`
    : kubernetesError(doing, gap.error).message.replace(/^Kubernetes: [^:]*: /, '');
  const status = refused ? 'warn' : 'critical';
  return {
    // A refusal is a gap in the setup; a read the API failed leaves that part of the namespace unknown.
    status,
    text: `cannot ${read.verb} ${resourceName(read)}${names} in ${namespace}: ${cause}`,
    object: {
      status,
      kind: 'Read',
      name: `${read.verb} ${resourceName(read)}${names}`,
      reason: refused ? 'Forbidden' : gap.status === undefined ? 'NoAnswer' : `HTTP ${gap.status}`,
      message: cause,
    },
  };
}
