// Wire objects as a cluster would hold them, for tests and benchmarks to put into the fake: pods in every state, services, volumes, ingresses, events of both APIs, TLS secrets.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from './types.ts';

const iso = (at: Date) => at.toISOString();
let ip = 0;
const nextIp = () => {
  ip += 1;
  return `10.0.${Math.floor(ip / 250) % 250}.${(ip % 250) + 1}`;
};

export interface PodOptions {
  namespace: string;
  labels?: Record<string, string>;
  /** Owner workload (kind/name) the pod names in its ownerReferences. */
  owner?: { kind: string; name: string };
  createdAt?: Date;
  container?: string;
  memoryLimit?: string;
  claims?: string[];
}

function basePod(name: string, options: PodOptions, status: KubeObject): KubeObject {
  const container = options.container ?? 'app';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: options.namespace,
      labels: options.labels ?? {},
      ...(options.createdAt ? { creationTimestamp: iso(options.createdAt) } : {}),
      ...(options.owner
        ? { ownerReferences: [{ apiVersion: 'apps/v1', ...options.owner, uid: 'owner-uid', controller: true }] }
        : {}),
    },
    spec: {
      containers: [
        {
          name: container,
          image: `${container}:1`,
          ...(options.memoryLimit ? { resources: { limits: { memory: options.memoryLimit } } } : {}),
        },
      ],
      ...(options.claims
        ? { volumes: options.claims.map((claimName, i) => ({ name: `data-${i}`, persistentVolumeClaim: { claimName } })) }
        : {}),
    },
    status,
  };
}

/** Running and ready; `restarts` with `lastTermination` when it restarted before. */
export function runningPod(
  name: string,
  options: PodOptions & { restarts?: number; lastTermination?: { reason: string; exitCode: number; finishedAt: Date } },
): KubeObject {
  const container = options.container ?? 'app';
  return basePod(name, options, {
    phase: 'Running',
    podIP: nextIp(),
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [
      {
        name: container,
        ready: true,
        restartCount: options.restarts ?? 0,
        image: `${container}:1`,
        imageID: '',
        state: { running: { startedAt: iso(new Date()) } },
        ...(options.lastTermination
          ? {
              lastState: {
                terminated: {
                  reason: options.lastTermination.reason,
                  exitCode: options.lastTermination.exitCode,
                  finishedAt: iso(options.lastTermination.finishedAt),
                },
              },
            }
          : {}),
      },
    ],
  });
}

/** CrashLoopBackOff after `restarts` restarts, the last one ended as `lastTermination` says. */
export function crashLoopingPod(
  name: string,
  options: PodOptions & { restarts: number; lastTermination: { reason: string; exitCode: number; finishedAt: Date } },
): KubeObject {
  const container = options.container ?? 'app';
  return basePod(name, options, {
    phase: 'Running',
    podIP: nextIp(),
    conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
    containerStatuses: [
      {
        name: container,
        ready: false,
        restartCount: options.restarts,
        image: `${container}:1`,
        imageID: '',
        state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 5m0s restarting failed container=${container}` } },
        lastState: {
          terminated: {
            reason: options.lastTermination.reason,
            exitCode: options.lastTermination.exitCode,
            finishedAt: iso(options.lastTermination.finishedAt),
          },
        },
      },
    ],
  });
}

export function pendingPod(name: string, options: PodOptions & { unschedulable?: string }): KubeObject {
  return basePod(name, options, {
    phase: 'Pending',
    conditions: options.unschedulable
      ? [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: options.unschedulable }]
      : [],
  });
}

export function workload(
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet',
  name: string,
  options: { namespace: string; replicas: number; ready: number; labels?: Record<string, string>; claimTemplates?: string[] },
): KubeObject {
  const labels = options.labels ?? { app: name };
  const spec: KubeObject = {
    selector: { matchLabels: labels },
    template: { metadata: { labels }, spec: { containers: [{ name, image: `${name}:1` }] } },
  };
  if (kind !== 'DaemonSet') spec.replicas = options.replicas;
  if (kind === 'StatefulSet') {
    spec.serviceName = name;
    if (options.claimTemplates)
      spec.volumeClaimTemplates = options.claimTemplates.map((claim) => ({ metadata: { name: claim } }));
  }
  const status =
    kind === 'DaemonSet'
      ? { desiredNumberScheduled: options.replicas, numberReady: options.ready }
      : {
          replicas: options.replicas,
          readyReplicas: options.ready,
          updatedReplicas: options.replicas,
          availableReplicas: options.ready,
        };
  return { apiVersion: 'apps/v1', kind, metadata: { name, namespace: options.namespace, labels }, spec, status };
}

export function service(name: string, namespace: string, selector: Record<string, string> | undefined): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { ...(selector ? { selector } : {}), ports: [{ name: 'http', port: 80, targetPort: 8000, protocol: 'TCP' }] },
  };
}

export function ingress(
  name: string,
  namespace: string,
  options: { backend: string; host?: string; tlsSecret?: string },
): KubeObject {
  const host = options.host ?? `${name}.example.com`;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace },
    spec: {
      rules: [
        {
          host,
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: options.backend, port: { number: 80 } } } }],
          },
        },
      ],
      ...(options.tlsSecret ? { tls: [{ hosts: [host], secretName: options.tlsSecret }] } : {}),
    },
  };
}

export function pvc(
  name: string,
  namespace: string,
  options: { phase: 'Pending' | 'Bound' | 'Lost'; volumeName?: string; createdAt?: Date; storageClass?: string },
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace, ...(options.createdAt ? { creationTimestamp: iso(options.createdAt) } : {}) },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '10Gi' } },
      ...(options.volumeName ? { volumeName: options.volumeName } : {}),
      ...(options.storageClass ? { storageClassName: options.storageClass } : {}),
    },
    status: { phase: options.phase },
  };
}

export function pv(name: string, claim: { namespace: string; name: string }, phase: string, message?: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: { capacity: { storage: '10Gi' }, claimRef: { kind: 'PersistentVolumeClaim', ...claim } },
    status: { phase, ...(message ? { message } : {}) },
  };
}

/** A Warning event as core/v1 writers (the kubelet, most controllers) write it: count and lastTimestamp. */
export function coreEvent(
  namespace: string,
  involved: { kind: string; name: string },
  reason: string,
  options: { count?: number; last: Date; message?: string; type?: string; name?: string },
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: options.name ?? `${involved.name}.${reason}.${options.last.getTime()}`.toLowerCase(), namespace },
    involvedObject: { ...involved, namespace },
    reason,
    message: options.message ?? `${reason} on ${involved.name}`,
    type: options.type ?? 'Warning',
    count: options.count ?? 1,
    firstTimestamp: iso(options.last),
    lastTimestamp: iso(options.last),
    source: { component: 'kubelet' },
  };
}

/** A Warning event as events.k8s.io/v1 writers (the external resizer, newer controllers) write it: eventTime and series, no lastTimestamp. */
export function eventsV1Event(
  namespace: string,
  regarding: { kind: string; name: string },
  reason: string,
  options: { eventTime: Date; series?: { count: number; last: Date }; note?: string; name?: string },
): KubeObject {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: options.name ?? `${regarding.name}.${reason}.${options.eventTime.getTime()}`.toLowerCase(), namespace },
    eventTime: iso(options.eventTime),
    regarding: { ...regarding, namespace },
    reason,
    note: options.note ?? `${reason} on ${regarding.name}`,
    type: 'Warning',
    action: reason,
    reportingController: 'example.io/controller',
    reportingInstance: 'controller-1',
    ...(options.series ? { series: { count: options.series.count, lastObservedTime: iso(options.series.last) } } : {}),
  };
}

export function certificate(
  name: string,
  namespace: string,
  options: { notAfter: Date; secretName?: string; ready?: boolean },
): KubeObject {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name, namespace },
    spec: { secretName: options.secretName ?? name, dnsNames: [`${name}.example.com`] },
    status: {
      notAfter: iso(options.notAfter),
      conditions: [
        {
          type: 'Ready',
          status: options.ready === false ? 'False' : 'True',
          reason: options.ready === false ? 'Issuing' : 'Ready',
        },
      ],
    },
  };
}

export function podMetrics(name: string, namespace: string, memory: Record<string, string>): KubeObject {
  return {
    apiVersion: 'metrics.k8s.io/v1beta1',
    kind: 'PodMetrics',
    metadata: { name, namespace },
    timestamp: iso(new Date()),
    window: '30s',
    containers: Object.entries(memory).map(([container, bytes]) => ({ name: container, usage: { cpu: '10m', memory: bytes } })),
  };
}

export interface TlsMaterial {
  /** PEM. */
  certificate: string;
  /** PEM of the private key: what must never leave the secret. */
  key: string;
}

/** A real self-signed certificate valid for `days` from now, made with the openssl CLI (node:crypto cannot sign one). */
export function selfSignedCertificate(commonName: string, days: number): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'fake-tls-'));
  try {
    const key = join(dir, 'tls.key');
    const cert = join(dir, 'tls.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        String(days),
        '-subj',
        `/CN=${commonName}`,
      ],
      { stdio: 'ignore' },
    );
    return { certificate: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function tlsSecret(
  name: string,
  namespace: string,
  material: TlsMaterial,
  annotations: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, annotations },
    type: 'kubernetes.io/tls',
    data: {
      'tls.crt': Buffer.from(material.certificate).toString('base64'),
      'tls.key': Buffer.from(material.key).toString('base64'),
    },
  };
}
