// Services' EndpointSlices as the endpointslice controller keeps them: one slice per selector-bearing Service, an endpoint per matching pod, ready as the pod is.
import { selectorMatches } from './selectors.ts';
import { sameJson } from './json.ts';
import type { ObjectStore } from './store.ts';
import { ENDPOINTSLICE_CONTROLLER, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, type KubeObject } from './types.ts';

/**
 * Brings a namespace's controller-managed EndpointSlices in line with its Services and Pods. The real controller does
 * this continuously; the fake does it when slices are read, so tests see what the cluster would show by then.
 * Slices a test puts itself (without the managed-by label) are left alone.
 */
export function syncEndpointSlices(store: ObjectStore, namespace: string): void {
  const sliceType = store.typeOf('discovery.k8s.io/v1', 'EndpointSlice');
  const pods = store.sorted(store.typeOf('v1', 'Pod')).filter((pod) => pod.metadata.namespace === namespace);
  const services = store.sorted(store.typeOf('v1', 'Service')).filter((service) => service.metadata.namespace === namespace);
  const wanted = new Map<string, KubeObject>();
  for (const service of services) {
    const selector = service.spec?.selector as Record<string, string> | undefined;
    if (!selector || Object.keys(selector).length === 0 || service.spec?.type === 'ExternalName') continue;
    const endpoints = pods
      .filter((pod) => selectorMatches(selector, pod.metadata.labels) && pod.status?.podIP && pod.status?.phase !== 'Succeeded')
      .map((pod) => {
        const ready = (pod.status?.conditions ?? []).some((c: KubeObject) => c.type === 'Ready' && c.status === 'True');
        const terminating = Boolean(pod.metadata.deletionTimestamp);
        return {
          addresses: [pod.status.podIP],
          conditions: { ready: ready && !terminating, serving: ready, terminating },
          targetRef: { kind: 'Pod', namespace, name: pod.metadata.name, uid: pod.metadata.uid },
          ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
        };
      });
    const name = `${service.metadata.name}-fake`;
    wanted.set(name, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name,
        namespace,
        labels: { [SERVICE_NAME_LABEL]: service.metadata.name, [MANAGED_BY_LABEL]: ENDPOINTSLICE_CONTROLLER },
        ownerReferences: [
          { apiVersion: 'v1', kind: 'Service', name: service.metadata.name, uid: service.metadata.uid, controller: true },
        ],
      },
      addressType: 'IPv4',
      endpoints,
      ports: (service.spec?.ports ?? []).map((port: KubeObject) => ({
        name: port.name ?? '',
        port: typeof port.targetPort === 'number' ? port.targetPort : port.port,
        protocol: port.protocol ?? 'TCP',
      })),
    });
  }
  const existing = store
    .sorted(sliceType)
    .filter(
      (slice) => slice.metadata.namespace === namespace && slice.metadata.labels?.[MANAGED_BY_LABEL] === ENDPOINTSLICE_CONTROLLER,
    );
  for (const slice of existing) if (!wanted.has(slice.metadata.name)) store.remove(sliceType, namespace, slice.metadata.name);
  for (const [name, slice] of wanted) {
    const current = existing.find((s) => s.metadata.name === name);
    if (current && sameJson(current.endpoints, slice.endpoints) && sameJson(current.ports, slice.ports)) continue;
    store.write(current ? { ...current, endpoints: slice.endpoints, ports: slice.ports } : slice, sliceType);
  }
}
