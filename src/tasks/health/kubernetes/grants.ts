// Every read the Kubernetes health check makes, the RBAC grant it needs, and what the check does without it (the README's table, the gaps' words).

export type ReadId =
  | 'namespace'
  | 'pods'
  | 'deployments'
  | 'statefulsets'
  | 'daemonsets'
  | 'services'
  | 'endpointslices'
  | 'ingresses'
  | 'persistentvolumeclaims'
  | 'persistentvolumes'
  | 'events'
  | 'events.k8s.io'
  | 'certificates'
  | 'secrets'
  | 'podmetrics';

export interface Read {
  id: ReadId;
  verb: 'get' | 'list';
  /** The API group ('' is core). */
  group: string;
  version: string;
  resource: string;
  /** Granted by a ClusterRole rather than the namespace's Role. */
  cluster?: boolean;
  /** What the check says instead when the grant is missing. */
  without: string;
}

export const READS: Record<ReadId, Read> = {
  namespace: {
    id: 'namespace',
    verb: 'get',
    group: '',
    version: 'v1',
    resource: 'namespaces',
    without: 'a namespace that does not exist cannot be told from one the bot may not read',
  },
  pods: { id: 'pods', verb: 'list', group: '', version: 'v1', resource: 'pods', without: 'no pod is checked' },
  deployments: {
    id: 'deployments',
    verb: 'list',
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    without: 'no deployment is checked',
  },
  statefulsets: {
    id: 'statefulsets',
    verb: 'list',
    group: 'apps',
    version: 'v1',
    resource: 'statefulsets',
    without: 'no statefulset is checked',
  },
  daemonsets: {
    id: 'daemonsets',
    verb: 'list',
    group: 'apps',
    version: 'v1',
    resource: 'daemonsets',
    without: 'no daemonset is checked',
  },
  services: {
    id: 'services',
    verb: 'list',
    group: '',
    version: 'v1',
    resource: 'services',
    without: 'services and ingress backends are not checked',
  },
  endpointslices: {
    id: 'endpointslices',
    verb: 'list',
    group: 'discovery.k8s.io',
    version: 'v1',
    resource: 'endpointslices',
    without: 'services without ready endpoints are not seen',
  },
  ingresses: {
    id: 'ingresses',
    verb: 'list',
    group: 'networking.k8s.io',
    version: 'v1',
    resource: 'ingresses',
    without: 'ingresses are not checked, and their TLS secrets are not read',
  },
  persistentvolumeclaims: {
    id: 'persistentvolumeclaims',
    verb: 'list',
    group: '',
    version: 'v1',
    resource: 'persistentvolumeclaims',
    without: 'PVCs Pending or Lost are not seen',
  },
  persistentvolumes: {
    id: 'persistentvolumes',
    verb: 'list',
    group: '',
    version: 'v1',
    resource: 'persistentvolumes',
    cluster: true,
    without: 'a failed volume behind a bound PVC is not seen',
  },
  events: {
    id: 'events',
    verb: 'list',
    group: '',
    version: 'v1',
    resource: 'events',
    without: 'Warning events are not seen, unless `list` on `events.events.k8s.io` is granted, which is read instead',
  },
  'events.k8s.io': {
    id: 'events.k8s.io',
    verb: 'list',
    group: 'events.k8s.io',
    version: 'v1',
    resource: 'events',
    without: 'nothing changes while core events are readable (it is read only when they are refused)',
  },
  certificates: {
    id: 'certificates',
    verb: 'list',
    group: 'cert-manager.io',
    version: 'v1',
    resource: 'certificates',
    without: 'cert-manager certificates are not checked (ingress TLS secrets are read instead)',
  },
  secrets: {
    id: 'secrets',
    verb: 'get',
    group: '',
    version: 'v1',
    resource: 'secrets',
    without: 'TLS certificates not managed by cert-manager are not checked',
  },
  podmetrics: {
    id: 'podmetrics',
    verb: 'list',
    group: 'metrics.k8s.io',
    version: 'v1beta1',
    resource: 'pods',
    without: 'memory use against limits is not checked',
  },
};

/** "events", "deployments.apps", "pods.metrics.k8s.io": a resource as RBAC and kubectl name it. */
export function resourceName(read: Read): string {
  return read.group ? `${read.resource}.${read.group}` : read.resource;
}

/** The collection's path in a namespace (or the cluster's, for cluster-scoped reads). */
export function collectionPath(read: Read, namespace: string): string {
  const base = read.group ? `/apis/${read.group}/${read.version}` : `/api/${read.version}`;
  if (read.id === 'namespace') return `${base}/namespaces/${encodeURIComponent(namespace)}`;
  if (read.cluster) return `${base}/${read.resource}`;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/${read.resource}`;
}

/** The grant a refused read needs, in the words of an RBAC rule. */
export function missingGrant(read: Read, namespace: string, names?: string[]): string {
  const where = read.cluster ? 'in a ClusterRole' : `in the Role of namespace ${namespace}`;
  const restricted = names && names.length > 0 ? ` (resourceNames: ${names.join(', ')})` : '';
  return `\`${read.verb}\` on \`${resourceName(read)}\`${restricted} ${where}`;
}
