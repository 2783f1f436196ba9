// The fake Kubernetes API for tests and benchmarks: start it, seed it, make it say no. Split by API area in this folder.
export { startFakeKubernetes, type FakeKubernetes, type FakeKubernetesOptions } from './server.ts';
export type { DeploymentController, SeedDeploymentOptions, SeedRevision, SeededDeployment } from './apps.ts';
export { podTemplateHash, templatesEqual } from './apps.ts';
export { EVENTS_V1_TYPE } from './events.ts';
export {
  CERT_MANAGER_TYPES,
  CHANGE_CAUSE_ANNOTATION,
  METRICS_TYPES,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  type FailOptions,
  type KubeObject,
  type RecordedRequest,
  type ResourceType,
  type WatchEventType,
} from './types.ts';
