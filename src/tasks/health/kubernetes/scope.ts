// Which objects of the namespace a service's check is about: all of them by default, or its configured workloads and what belongs to them.
import type { KubernetesCheckConfig, ServiceKubernetes } from '../../../config/schema.ts';
import type { Ingress, Pod, Service, Snapshot } from './reads.ts';
import type { LabelSelector } from './schemas.ts';

export interface Scope {
  /** Everything in the namespace. */
  all: boolean;
  pod(pod: Pod): boolean;
  service(service: Service): boolean;
  ingress(ingress: Ingress): boolean;
  pvc(name: string): boolean;
  /** Whether an event about this object concerns the service. */
  event(kind: string, name: string): boolean;
  /** Whether a workload of this kind and name is in scope. */
  workload(kind: 'Deployment' | 'StatefulSet' | 'DaemonSet', name: string): boolean;
}

/** A label selector against labels, as the API server matches it (matchLabels and matchExpressions). */
export function selects(selector: LabelSelector | null | undefined, labels: Record<string, string> | null | undefined): boolean {
  if (!selector) return false;
  const own = labels ?? {};
  const matchLabels = Object.entries(selector.matchLabels ?? {});
  const expressions = selector.matchExpressions ?? [];
  // An empty selector selects nothing for workloads (the API refuses one), so do not let it claim every pod.
  if (matchLabels.length === 0 && expressions.length === 0) return false;
  for (const [key, value] of matchLabels) if (own[key] !== value) return false;
  for (const expression of expressions) {
    const has = expression.key in own;
    const values = expression.values ?? [];
    if (expression.operator === 'In' && (!has || !values.includes(own[expression.key]!))) return false;
    if (expression.operator === 'NotIn' && has && values.includes(own[expression.key]!)) return false;
    if (expression.operator === 'Exists' && !has) return false;
    if (expression.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** A Service's selector (a plain map) against labels; an empty one selects nothing (such a service has manual endpoints). */
export function serviceSelects(
  selector: Record<string, string> | null | undefined,
  labels: Record<string, string> | null | undefined,
) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels?.[key] === value);
}

export function scopeOf(spec: KubernetesCheckConfig, target: ServiceKubernetes, snapshot: Snapshot): Scope {
  const configured = {
    Deployment: new Set(target.deployments),
    StatefulSet: new Set(target.statefulsets),
    DaemonSet: new Set(target.daemonsets),
  };
  const workloadNames = [...target.deployments, ...target.statefulsets, ...target.daemonsets];
  if (spec.scope === 'namespace' || workloadNames.length === 0) {
    const yes = () => true;
    return { all: true, pod: yes, service: yes, ingress: yes, pvc: yes, event: yes, workload: yes };
  }
  const workloads = [
    ...(snapshot.deployments ?? []).filter((w) => configured.Deployment.has(w.metadata.name)),
    ...(snapshot.statefulsets ?? []).filter((w) => configured.StatefulSet.has(w.metadata.name)),
    ...(snapshot.daemonsets ?? []).filter((w) => configured.DaemonSet.has(w.metadata.name)),
  ];
  const pods = new Set(
    (snapshot.pods ?? [])
      .filter((pod) => workloads.some((w) => selects(w.spec.selector, pod.metadata.labels)))
      .map((p) => p.metadata.name),
  );
  const templateLabels = workloads.map((w) => w.spec.template?.metadata?.labels ?? {});
  const services = new Set(
    (snapshot.services ?? [])
      .filter(
        (service) =>
          templateLabels.some((labels) => serviceSelects(service.spec?.selector, labels)) ||
          (snapshot.pods ?? []).some(
            (pod) => pods.has(pod.metadata.name) && serviceSelects(service.spec?.selector, pod.metadata.labels),
          ),
      )
      .map((s) => s.metadata.name),
  );
  const ingresses = new Set(
    (snapshot.ingresses ?? [])
      .filter((ingress) => backendServices(ingress).some((name) => services.has(name)))
      .map((i) => i.metadata.name),
  );
  const claimPatterns = (snapshot.statefulsets ?? [])
    .filter((sts) => configured.StatefulSet.has(sts.metadata.name))
    .flatMap((sts) =>
      (sts.spec.volumeClaimTemplates ?? []).map((t) => new RegExp(`^${escape(`${t.metadata.name}-${sts.metadata.name}-`)}\\d+$`)),
    );
  const claims = new Set(
    (snapshot.pods ?? [])
      .filter((pod) => pods.has(pod.metadata.name))
      .flatMap((pod) =>
        (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [])),
      ),
  );
  const pvc = (name: string) => claims.has(name) || claimPatterns.some((pattern) => pattern.test(name));
  // Pods and ReplicaSets that are gone by now still name their workload: "<deployment>-<hash>[-<suffix>]", "<statefulset>-<n>".
  const ownName = (name: string) => workloadNames.some((workload) => name === workload || name.startsWith(`${workload}-`));
  return {
    all: false,
    pod: (pod) => pods.has(pod.metadata.name),
    service: (service) => services.has(service.metadata.name),
    ingress: (ingress) => ingresses.has(ingress.metadata.name),
    pvc,
    workload: (kind, name) => configured[kind].has(name),
    event: (kind, name) => {
      switch (kind) {
        case 'Pod':
          return pods.has(name) || ownName(name);
        case 'ReplicaSet':
          return ownName(name);
        case 'Deployment':
        case 'StatefulSet':
        case 'DaemonSet':
          return configured[kind].has(name);
        case 'Service':
          return services.has(name);
        case 'Ingress':
          return ingresses.has(name);
        case 'PersistentVolumeClaim':
          return pvc(name);
        default:
          return false;
      }
    },
  };
}

export function backendServices(ingress: Ingress): string[] {
  const names = new Set<string>();
  const fallback = ingress.spec?.defaultBackend?.service?.name;
  if (fallback) names.add(fallback);
  for (const rule of ingress.spec?.rules ?? [])
    for (const path of rule.http?.paths ?? []) if (path.backend?.service?.name) names.add(path.backend.service.name);
  return [...names];
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
