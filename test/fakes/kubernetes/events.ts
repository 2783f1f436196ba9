// The two event APIs over one store: events.k8s.io/v1 Events are core/v1 Events converted field by field, as the API server stores them.
import type { KubeObject, ResourceType } from './types.ts';

// events.k8s.io/v1 field → core/v1 field (k8s.io/kubernetes pkg/apis/events/v1/conversion.go); the rest keep their names.
const RENAMED: Array<[string, string]> = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
  ['reportingController', 'reportingComponent'],
];

function rename(object: KubeObject, pairs: Array<[string, string]>): KubeObject {
  const out: KubeObject = { ...object };
  for (const [from, to] of pairs) {
    if (from in out) {
      out[to] = out[from];
      delete out[from];
    }
  }
  return out;
}

export const EVENTS_V1_TYPE: ResourceType = {
  apiVersion: 'events.k8s.io/v1',
  kind: 'Event',
  plural: 'events',
  namespaced: true,
  statusSubresource: false,
  view: {
    storedAs: { apiVersion: 'v1', kind: 'Event' },
    toStored: (object) => ({ ...rename(object, RENAMED), apiVersion: 'v1', kind: 'Event' }),
    fromStored: (object) => ({
      ...rename(
        object,
        RENAMED.map(([a, b]) => [b, a]),
      ),
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
    }),
  },
};
