// The deployment and ReplicaSet shapes a rollback reads, validated from the client's answers turned back into the API's own JSON.
import { z } from 'zod';
import { kubernetesError } from '../../clients/kubernetes-errors.ts';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

const stringMap = z.record(z.string(), z.string());
const containerSchema = z.looseObject({ name: z.string(), image: z.string().optional() });
const podTemplateSchema = z.looseObject({
  metadata: z.looseObject({ labels: stringMap.optional(), annotations: stringMap.optional() }).optional(),
  spec: z.looseObject({ containers: z.array(containerSchema), initContainers: z.array(containerSchema).optional() }),
});
export type PodTemplate = z.infer<typeof podTemplateSchema>;

const metadataSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  ownerReferences: z
    .array(z.object({ uid: z.string(), kind: z.string(), name: z.string(), controller: z.boolean().optional() }))
    .optional(),
});

const conditionSchema = z.object({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastUpdateTime: z.string().optional(),
});

export const labelSelectorSchema = z.object({
  matchLabels: stringMap.optional(),
  matchExpressions: z
    .array(z.object({ key: z.string(), operator: z.string(), values: z.array(z.string()).optional() }))
    .optional(),
});

export const deploymentSchema = z.object({
  metadata: metadataSchema,
  spec: z.object({
    replicas: z.number().int().optional(),
    paused: z.boolean().optional(),
    progressDeadlineSeconds: z.number().int().optional(),
    selector: labelSelectorSchema,
    template: podTemplateSchema,
  }),
  status: z
    .object({
      observedGeneration: z.number().int().optional(),
      replicas: z.number().int().optional(),
      updatedReplicas: z.number().int().optional(),
      readyReplicas: z.number().int().optional(),
      availableReplicas: z.number().int().optional(),
      unavailableReplicas: z.number().int().optional(),
      conditions: z.array(conditionSchema).optional(),
    })
    .optional(),
});
export type Deployment = z.infer<typeof deploymentSchema>;

export const replicaSetSchema = z.object({
  metadata: metadataSchema,
  spec: z.object({ replicas: z.number().int().optional(), template: podTemplateSchema }),
  status: z.object({ replicas: z.number().int().optional(), readyReplicas: z.number().int().optional() }).optional(),
});
export type ReplicaSet = z.infer<typeof replicaSetSchema>;

/** The client hands back typed objects with Dates; the API's own JSON is what kubectl compares and sends back. */
export function toWire(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? null));
}

export function parseAnswer<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(toWire(value));
  if (!parsed.success) throw kubernetesError(what, new Error(`unexpected answer: ${z.prettifyError(parsed.error)}`));
  return parsed.data;
}
