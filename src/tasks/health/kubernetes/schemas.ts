// What the Kubernetes health check reads, validated and cut down to the fields it uses (unknown keys are dropped as each object is parsed).
import { z } from 'zod';

const stringMap = z.record(z.string(), z.string());
const time = z.string().nullable().optional();
const ownerReference = z.object({ kind: z.string(), name: z.string(), controller: z.boolean().optional() });
const condition = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: time,
});
const metadata = z.object({
  name: z.string(),
  creationTimestamp: time,
  labels: stringMap.nullable().optional(),
  annotations: stringMap.nullable().optional(),
  ownerReferences: z.array(ownerReference).nullable().optional(),
  deletionTimestamp: time,
  generation: z.number().optional(),
});
export const labelSelectorSchema = z.object({
  matchLabels: stringMap.nullable().optional(),
  matchExpressions: z
    .array(z.object({ key: z.string(), operator: z.string(), values: z.array(z.string()).nullable().optional() }))
    .nullable()
    .optional(),
});
export type LabelSelector = z.infer<typeof labelSelectorSchema>;

export const namespaceSchema = z.object({ metadata, status: z.object({ phase: z.string().optional() }).optional() });

const terminated = z.object({
  reason: z.string().optional(),
  exitCode: z.number().optional(),
  signal: z.number().optional(),
  finishedAt: time,
});
const containerStatus = z.object({
  name: z.string(),
  ready: z.boolean().optional(),
  restartCount: z.number().default(0),
  state: z
    .object({
      waiting: z.object({ reason: z.string().optional(), message: z.string().optional() }).nullable().optional(),
      terminated: terminated.nullable().optional(),
    })
    .nullable()
    .optional(),
  lastState: z.object({ terminated: terminated.nullable().optional() }).nullable().optional(),
});
export type ContainerStatus = z.infer<typeof containerStatus>;

export const podSchema = z.object({
  metadata,
  spec: z
    .object({
      containers: z
        .array(
          z.object({
            name: z.string(),
            resources: z.object({ limits: stringMap.nullable().optional() }).nullable().optional(),
          }),
        )
        .default([]),
      volumes: z
        .array(z.object({ persistentVolumeClaim: z.object({ claimName: z.string() }).nullable().optional() }))
        .nullable()
        .optional(),
    })
    .optional(),
  status: z
    .object({
      phase: z.string().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      startTime: time,
      conditions: z.array(condition).nullable().optional(),
      containerStatuses: z.array(containerStatus).nullable().optional(),
      initContainerStatuses: z.array(containerStatus).nullable().optional(),
    })
    .optional(),
});
export type Pod = z.infer<typeof podSchema>;

const podTemplateLabels = z.object({ metadata: z.object({ labels: stringMap.nullable().optional() }).nullable().optional() });

export const deploymentSchema = z.object({
  metadata,
  spec: z.object({
    replicas: z.number().optional(),
    paused: z.boolean().optional(),
    selector: labelSelectorSchema.nullable().optional(),
    template: podTemplateLabels.optional(),
  }),
  status: z
    .object({
      readyReplicas: z.number().optional(),
      updatedReplicas: z.number().optional(),
      availableReplicas: z.number().optional(),
      conditions: z.array(condition).nullable().optional(),
    })
    .optional(),
});

export const statefulSetSchema = z.object({
  metadata,
  spec: z.object({
    replicas: z.number().optional(),
    selector: labelSelectorSchema.nullable().optional(),
    template: podTemplateLabels.optional(),
    volumeClaimTemplates: z
      .array(z.object({ metadata: z.object({ name: z.string() }) }))
      .nullable()
      .optional(),
  }),
  status: z.object({ readyReplicas: z.number().optional() }).optional(),
});

export const daemonSetSchema = z.object({
  metadata,
  spec: z.object({ selector: labelSelectorSchema.nullable().optional(), template: podTemplateLabels.optional() }),
  status: z.object({ desiredNumberScheduled: z.number().default(0), numberReady: z.number().default(0) }).optional(),
});

export const serviceSchema = z.object({
  metadata,
  spec: z
    .object({ selector: stringMap.nullable().optional(), type: z.string().optional(), clusterIP: z.string().optional() })
    .optional(),
});
export type Service = z.infer<typeof serviceSchema>;

export const endpointSliceSchema = z.object({
  metadata,
  endpoints: z
    .array(z.object({ conditions: z.object({ ready: z.boolean().nullable().optional() }).nullable().optional() }))
    .nullable()
    .optional(),
});

const backend = z
  .object({ service: z.object({ name: z.string() }).nullable().optional() })
  .nullable()
  .optional();
export const ingressSchema = z.object({
  metadata,
  spec: z
    .object({
      defaultBackend: backend,
      rules: z
        .array(
          z.object({
            host: z.string().optional(),
            http: z
              .object({ paths: z.array(z.object({ path: z.string().optional(), backend })) })
              .nullable()
              .optional(),
          }),
        )
        .nullable()
        .optional(),
      tls: z
        .array(z.object({ hosts: z.array(z.string()).nullable().optional(), secretName: z.string().optional() }))
        .nullable()
        .optional(),
    })
    .optional(),
});
export type Ingress = z.infer<typeof ingressSchema>;

export const pvcSchema = z.object({
  metadata,
  spec: z.object({ volumeName: z.string().optional(), storageClassName: z.string().nullable().optional() }).optional(),
  status: z.object({ phase: z.string().optional() }).optional(),
});

export const pvSchema = z.object({
  metadata,
  spec: z.object({ claimRef: z.object({ namespace: z.string().optional(), name: z.string() }).nullable().optional() }).optional(),
  status: z.object({ phase: z.string().optional(), reason: z.string().optional(), message: z.string().optional() }).optional(),
});

const objectReference = z.object({ kind: z.string().optional(), name: z.string().optional() });
// Events are the most numerous objects read: only the two metadata fields a finding uses are kept.
const eventMetadata = z.object({ name: z.string(), creationTimestamp: time });
const series = z.object({ count: z.number().optional(), lastObservedTime: time }).nullable().optional();

/** A core/v1 Event (what `kubectl get events` reads); events.k8s.io/v1-written ones come with eventTime and series only. */
export const coreEventSchema = z.object({
  metadata: eventMetadata,
  involvedObject: objectReference,
  reason: z.string().optional(),
  message: z.string().optional(),
  type: z.string().optional(),
  count: z.number().nullable().optional(),
  firstTimestamp: time,
  lastTimestamp: time,
  eventTime: time,
  series,
});

/** An events.k8s.io/v1 Event; core/v1-written ones come with the deprecated* fields. */
export const eventsV1Schema = z.object({
  metadata: eventMetadata,
  regarding: objectReference.nullable().optional(),
  reason: z.string().optional(),
  note: z.string().optional(),
  type: z.string().optional(),
  deprecatedCount: z.number().nullable().optional(),
  deprecatedFirstTimestamp: time,
  deprecatedLastTimestamp: time,
  eventTime: time,
  series,
});

export const certificateSchema = z.object({
  metadata,
  spec: z.object({ secretName: z.string().optional() }).optional(),
  status: z.object({ notAfter: time, conditions: z.array(condition).nullable().optional() }).optional(),
});

/** Only the certificate of a TLS secret: `tls.key` is not in the schema, so it is dropped as the answer is parsed. */
export const tlsSecretSchema = z.object({
  metadata: z.object({ name: z.string(), annotations: stringMap.nullable().optional() }),
  type: z.string().optional(),
  data: z.object({ 'tls.crt': z.string().optional() }).nullable().optional(),
});

export const podMetricsSchema = z.object({
  metadata: z.object({ name: z.string() }),
  containers: z.array(z.object({ name: z.string(), usage: z.object({ memory: z.string().optional() }) })).default([]),
});

export function parsedTime(value: string | null | undefined): Date | undefined {
  if (!value) return undefined;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? undefined : at;
}
