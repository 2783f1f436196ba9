// The fake Kubernetes API's vocabulary: wire objects, the resource types it serves (built in and optional), and what tests inspect.

// Plain JSON, the shape objects have on the wire.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any>;

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** Writes to the main resource leave status alone; /status writes touch only status (as the real API server does). */
  statusSubresource: boolean;
  /**
   * Another API's view of objects stored as a different type, as events.k8s.io/v1 Events are core/v1 Events in etcd:
   * objects are stored converted with `toStored` and served converted with `fromStored`.
   */
  view?: {
    storedAs: { apiVersion: string; kind: string };
    toStored(object: KubeObject): KubeObject;
    fromStored(object: KubeObject): KubeObject;
  };
}

export const CORE_TYPES: ResourceType[] = [
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, statusSubresource: true },
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true, statusSubresource: true },
  { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true, statusSubresource: false },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true, statusSubresource: true },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true, statusSubresource: false },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true, statusSubresource: false },
  {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    namespaced: true,
    statusSubresource: true,
  },
  { apiVersion: 'v1', kind: 'PersistentVolume', plural: 'persistentvolumes', namespaced: false, statusSubresource: true },
];

export const APPS_TYPES: ResourceType[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true, statusSubresource: true },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets', namespaced: true, statusSubresource: true },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true, statusSubresource: true },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', plural: 'daemonsets', namespaced: true, statusSubresource: true },
];

export const NETWORKING_TYPES: ResourceType[] = [
  {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    plural: 'endpointslices',
    namespaced: true,
    statusSubresource: false,
  },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', plural: 'ingresses', namespaced: true, statusSubresource: true },
];

/** cert-manager's Certificate CRD: absent unless a test installs it, so its group answers 404 as in a cluster without cert-manager. */
export const CERT_MANAGER_TYPES: ResourceType[] = [
  { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', plural: 'certificates', namespaced: true, statusSubresource: true },
];

/** metrics-server's API (an aggregated API, read only in a real cluster): absent unless a test installs it. */
export const METRICS_TYPES: ResourceType[] = [
  { apiVersion: 'metrics.k8s.io/v1beta1', kind: 'PodMetrics', plural: 'pods', namespaced: true, statusSubresource: false },
];

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const ENDPOINTSLICE_CONTROLLER = 'endpointslice-controller.k8s.io';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  /** Parsed JSON body, when there was one. */
  body: unknown;
  status: number;
}

export interface FailOptions {
  /** How many matching requests fail (default 1; Infinity for every one). */
  times?: number;
  /** Overrides the Status message. */
  message?: string;
  /** Overrides the Status reason (Forbidden, NotFound, …). */
  reason?: string;
}
