// The health check's reads of one namespace: one paged list per kind, all at once, each on its own; a refusal is a gap, not the end.
import type { z } from 'zod';
import { getJson, listPages, type KubernetesClients } from '../../../clients/kubernetes.ts';
import { kubernetesError, kubernetesStatusCode } from '../../../clients/kubernetes-errors.ts';
import { READS, collectionPath, type Read, type ReadId } from './grants.ts';
import {
  certificateSchema,
  coreEventSchema,
  daemonSetSchema,
  deploymentSchema,
  endpointSliceSchema,
  eventsV1Schema,
  ingressSchema,
  namespaceSchema,
  parsedTime,
  podMetricsSchema,
  podSchema,
  pvSchema,
  pvcSchema,
  serviceSchema,
  statefulSetSchema,
  tlsSecretSchema,
} from './schemas.ts';

export type Deployment = z.infer<typeof deploymentSchema>;
export type StatefulSet = z.infer<typeof statefulSetSchema>;
export type DaemonSet = z.infer<typeof daemonSetSchema>;
export type EndpointSlice = z.infer<typeof endpointSliceSchema>;
export type PersistentVolumeClaim = z.infer<typeof pvcSchema>;
export type PersistentVolume = z.infer<typeof pvSchema>;
export type Certificate = z.infer<typeof certificateSchema>;
export type PodMetrics = z.infer<typeof podMetricsSchema>;
export type { Ingress, Pod, Service } from './schemas.ts';

/** A Warning event as both event APIs describe it, cut down to what a finding names. */
export interface WarningEvent {
  kind: string;
  name: string;
  reason: string;
  message: string;
  count: number;
  last: Date;
}

/** A read that did not succeed: what was refused or failed, and why. */
export interface Gap {
  read: Read;
  error: unknown;
  /** The HTTP status when the API answered (403 refused, 404 not served…), else undefined (unreachable, timed out). */
  status: number | undefined;
  /** For reads by name (secrets): which ones. */
  names?: string[];
}

export type TlsSecret =
  | { name: string; found: false }
  | { name: string; found: true; type: string | undefined; certificate: string | undefined; managedBy: string | undefined };

export interface Snapshot {
  /** undefined when the namespace could not be read. */
  namespace: { exists: boolean; phase: string | undefined } | undefined;
  pods?: z.infer<typeof podSchema>[];
  deployments?: Deployment[];
  statefulsets?: StatefulSet[];
  daemonsets?: DaemonSet[];
  services?: z.infer<typeof serviceSchema>[];
  endpointSlices?: EndpointSlice[];
  ingresses?: z.infer<typeof ingressSchema>[];
  pvcs?: PersistentVolumeClaim[];
  pvs?: PersistentVolume[];
  /** Warning events within the window, either API, one per object and reason (counts summed, the latest message). */
  events?: WarningEvent[];
  /** undefined when refused; 'absent' when cert-manager is not installed (its group answers 404). */
  certificates?: Certificate[] | 'absent';
  secrets: TlsSecret[];
  /** undefined when refused; a string saying why there are none when metrics-server does not answer. */
  podMetrics?: PodMetrics[] | string;
  gaps: Gap[];
  /** Objects of a kind the API answered in a shape the check does not understand, by kind. */
  unreadable: Record<string, number>;
  /** API requests made, pages included. */
  requests: number;
}

export interface ReadPlan {
  namespace: string;
  statefulsets: boolean;
  daemonsets: boolean;
  /** Warning events older than this are dropped as they arrive. */
  eventsSince: Date;
  /** TLS secrets the config names; those the ingresses name are added. */
  tlsSecrets: string[];
  signal: AbortSignal;
}

type Client = Pick<KubernetesClients, 'call'>;

/** Reads everything the check looks at in one namespace: every list at once, then the TLS secrets the lists named. */
export async function readNamespace(k8s: Client, plan: ReadPlan): Promise<Snapshot> {
  const snapshot: Snapshot = { namespace: undefined, secrets: [], gaps: [], unreadable: {}, requests: 0 };
  const { namespace, signal } = plan;
  const gap = (read: Read, error: unknown, names?: string[]) =>
    snapshot.gaps.push({ read, error, status: kubernetesStatusCode(error), ...(names ? { names } : {}) });

  /** One paged list; items that parse are kept (`keep` may drop or reshape them as they arrive). */
  const list = async <S extends z.ZodType, T = z.infer<S>>(
    id: ReadId,
    schema: S,
    options: {
      query?: Record<string, string>;
      keep?: (item: z.infer<S>) => T | undefined;
      raw?: (item: unknown) => boolean;
      /** Forget what `keep` gathered elsewhere (the list starts again). */
      reset?: () => void;
    } = {},
  ): Promise<T[]> => {
    const read = READS[id];
    const items: T[] = [];
    snapshot.requests += await listPages(k8s, collectionPath(read, namespace), {
      query: options.query,
      signal,
      onRestart: () => {
        items.splice(0);
        options.reset?.();
      },
      onPage: (page) => {
        for (const raw of page) {
          if (options.raw && !options.raw(raw)) continue;
          const parsed = schema.safeParse(raw);
          if (!parsed.success) {
            snapshot.unreadable[read.resource] = (snapshot.unreadable[read.resource] ?? 0) + 1;
            continue;
          }
          const kept = options.keep ? options.keep(parsed.data) : (parsed.data as T);
          if (kept !== undefined) items.push(kept);
        }
      },
    });
    return items;
  };
  const attempt = async <T>(id: ReadId, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (error) {
      gap(READS[id], error);
      return undefined;
    }
  };

  const since = plan.eventsSince.getTime();
  const isWarning = (raw: unknown) => (raw as { type?: unknown } | null)?.type === 'Warning';
  // Events are folded as they arrive, one entry per object and reason, as `kubectl get events` groups repeats into a
  // count: 20,000 events of 2,000 pods are not all held at once.
  const tally = new Map<string, WarningEvent>();
  const fromCore = (event: CoreEvent): undefined => {
    const last = lastSeen(
      event.series?.lastObservedTime,
      event.lastTimestamp,
      event.eventTime,
      event.firstTimestamp,
      event.metadata.creationTimestamp,
    );
    if (last.getTime() < since) return undefined;
    const kind = event.involvedObject.kind ?? 'Object';
    const name = event.involvedObject.name ?? '?';
    const reason = event.reason ?? 'Unknown';
    const count = event.series?.count ?? event.count ?? 1;
    const key = `${kind}\u0000${name}\u0000${reason}`;
    const seen = tally.get(key);
    if (!seen) tally.set(key, { kind, name, reason, message: event.message ?? '', count, last });
    else {
      seen.count += count;
      if (last > seen.last) {
        seen.last = last;
        seen.message = event.message ?? '';
      }
    }
    return undefined;
  };
  const reset = () => tally.clear();

  await Promise.all([
    (async () => {
      try {
        snapshot.requests += 1;
        const parsed = namespaceSchema.safeParse(await getJson(k8s, collectionPath(READS.namespace, namespace), {}, signal));
        snapshot.namespace = { exists: true, phase: parsed.success ? parsed.data.status?.phase : undefined };
      } catch (error) {
        if (kubernetesStatusCode(error) === 404) snapshot.namespace = { exists: false, phase: undefined };
        else gap(READS.namespace, error);
      }
    })(),
    attempt('pods', () => list('pods', podSchema)).then((items) => void (snapshot.pods = items)),
    attempt('deployments', () => list('deployments', deploymentSchema)).then((items) => void (snapshot.deployments = items)),
    plan.statefulsets
      ? attempt('statefulsets', () => list('statefulsets', statefulSetSchema)).then(
          (items) => void (snapshot.statefulsets = items),
        )
      : (snapshot.statefulsets = []),
    plan.daemonsets
      ? attempt('daemonsets', () => list('daemonsets', daemonSetSchema)).then((items) => void (snapshot.daemonsets = items))
      : (snapshot.daemonsets = []),
    attempt('services', () => list('services', serviceSchema)).then((items) => void (snapshot.services = items)),
    attempt('endpointslices', () => list('endpointslices', endpointSliceSchema)).then(
      (items) => void (snapshot.endpointSlices = items),
    ),
    attempt('persistentvolumeclaims', () => list('persistentvolumeclaims', pvcSchema)).then(
      (items) => void (snapshot.pvcs = items),
    ),
    attempt('persistentvolumes', () =>
      list('persistentvolumes', pvSchema, {
        // PersistentVolumes are cluster-wide: keep those claimed from this namespace.
        keep: (pv) => (pv.spec?.claimRef?.namespace === namespace ? pv : undefined),
      }),
    ).then((items) => void (snapshot.pvs = items)),
    // Events: core/v1 as `kubectl get events` reads it, which also serves events written through events.k8s.io/v1;
    // events.k8s.io/v1 when core events are refused. One store behind both, so one of them is enough.
    (async () => {
      try {
        await list('events', coreEventSchema, {
          query: { fieldSelector: 'type=Warning' },
          raw: isWarning,
          keep: fromCore,
          reset,
        });
        snapshot.events = [...tally.values()];
        return;
      } catch (error) {
        const status = kubernetesStatusCode(error);
        if (status !== 403 && status !== 404) return void gap(READS.events, error);
        try {
          reset();
          await list('events.k8s.io', eventsV1Schema, { raw: isWarning, keep: (event) => fromCore(asCoreEvent(event)), reset });
          snapshot.events = [...tally.values()];
        } catch {
          // Both refused (or not served): one gap, named after the read `kubectl get events` makes.
          gap(READS.events, error);
        }
      }
    })(),
    (async () => {
      try {
        snapshot.podMetrics = await list('podmetrics', podMetricsSchema);
      } catch (error) {
        const status = kubernetesStatusCode(error);
        // An aggregated API that is not registered (404) or whose server is down (503): a note, not a failure.
        if (status === 404) snapshot.podMetrics = 'metrics.k8s.io is not served (no metrics-server): memory use not checked';
        else if (status === 503)
          snapshot.podMetrics = 'metrics-server is not answering (503 from metrics.k8s.io): memory use not checked';
        else gap(READS.podmetrics, error);
      }
    })(),
    // Ingresses and cert-manager's Certificates decide which TLS secrets are read, so secrets come after both.
    Promise.all([
      attempt('ingresses', () => list('ingresses', ingressSchema)).then((items) => void (snapshot.ingresses = items)),
      (async () => {
        try {
          snapshot.certificates = await list('certificates', certificateSchema);
        } catch (error) {
          // The group answers 404 where the CRD is not installed: TLS secrets are read instead.
          if (kubernetesStatusCode(error) === 404) snapshot.certificates = 'absent';
          else gap(READS.certificates, error);
        }
      })(),
    ]).then(() => readTlsSecrets(k8s, plan, snapshot, gap)),
  ]);
  return snapshot;
}

/** The TLS secrets to check: those the config and the ingresses name, less those a cert-manager Certificate keeps. */
async function readTlsSecrets(
  k8s: Client,
  plan: ReadPlan,
  snapshot: Snapshot,
  gap: (read: Read, error: unknown, names?: string[]) => void,
): Promise<void> {
  const managed = new Set(
    Array.isArray(snapshot.certificates)
      ? snapshot.certificates.flatMap((c) => (c.spec?.secretName ? [c.spec.secretName] : []))
      : [],
  );
  const fromIngresses = (snapshot.ingresses ?? []).flatMap((ingress) =>
    (ingress.spec?.tls ?? []).flatMap((tls) => (tls.secretName ? [tls.secretName] : [])),
  );
  const names = [...new Set([...plan.tlsSecrets, ...fromIngresses])].filter((name) => !managed.has(name)).sort();
  const refused: string[] = [];
  let refusal: unknown;
  const read = READS.secrets;
  await Promise.all(
    names.map(async (name) => {
      try {
        snapshot.requests += 1;
        const answer = await getJson(k8s, `${collectionPath(read, plan.namespace)}/${encodeURIComponent(name)}`, {}, plan.signal);
        // Parsed at once into the certificate alone: the key never goes further than the client's answer.
        const parsed = tlsSecretSchema.safeParse(answer);
        if (!parsed.success) {
          snapshot.unreadable.secrets = (snapshot.unreadable.secrets ?? 0) + 1;
          return;
        }
        snapshot.secrets.push({
          name,
          found: true,
          type: parsed.data.type,
          certificate: parsed.data.data?.['tls.crt'],
          managedBy: parsed.data.metadata.annotations?.['cert-manager.io/certificate-name'],
        });
      } catch (error) {
        const status = kubernetesStatusCode(error);
        if (status === 404) snapshot.secrets.push({ name, found: false });
        else if (status === 403) {
          refused.push(name);
          refusal = error;
        } else gap(read, error, [name]);
      }
    }),
  );
  if (refused.length > 0) gap(read, refusal, refused.sort());
  snapshot.secrets.sort((a, b) => a.name.localeCompare(b.name));
}

type CoreEvent = z.infer<typeof coreEventSchema>;

/** An events.k8s.io/v1 Event in core/v1's words, as the API server converts them (pkg/apis/events/v1 conversion). */
function asCoreEvent(event: z.infer<typeof eventsV1Schema>): CoreEvent {
  return {
    metadata: event.metadata,
    involvedObject: event.regarding ?? {},
    reason: event.reason,
    message: event.note,
    type: event.type,
    count: event.deprecatedCount,
    firstTimestamp: event.deprecatedFirstTimestamp,
    lastTimestamp: event.deprecatedLastTimestamp,
    eventTime: event.eventTime,
    series: event.series,
  };
}

function lastSeen(...candidates: Array<string | null | undefined>): Date {
  for (const candidate of candidates) {
    const at = parsedTime(candidate);
    if (at) return at;
  }
  return new Date(0);
}

/** When every read failed the same way without an answer (unreachable, timed out), that is the check's one result. */
export function unreachable(snapshot: Snapshot, namespace: string): Error | undefined {
  const total = snapshot.gaps.length;
  if (total === 0 || snapshot.namespace !== undefined) return undefined;
  const answered = [
    snapshot.pods,
    snapshot.deployments,
    snapshot.services,
    snapshot.pvcs,
    snapshot.events,
    snapshot.ingresses,
  ].some((items) => items !== undefined);
  if (answered) return undefined;
  const first = snapshot.gaps.find((gap) => gap.status === undefined);
  if (!first || snapshot.gaps.some((gap) => gap.status !== undefined)) return undefined;
  return kubernetesError(`reading namespace ${namespace}`, first.error);
}
