// The one small interface every health check kind implements, and the typed results they produce.
import type { Clock } from '../../clock.ts';
import type { ServiceConfig, Timeouts } from '../../config/schema.ts';
import type { KubernetesClients } from '../../clients/kubernetes.ts';

export type HealthStatus = 'ok' | 'warn' | 'critical';
export type CheckKind = 'http' | 'postgres' | 'redis' | 'kubernetes' | 'prometheus';

const RANK: Record<HealthStatus, number> = { ok: 0, warn: 1, critical: 2 };

export interface CheckOutcome {
  status: HealthStatus;
  /** One line saying what was found. */
  reason: string;
  /** One line per finding, worst first, for whoever wants more than the reason. */
  details?: string[];
  /** The check did not run because a secret or prerequisite is missing: a gap in the setup, not a failing service. */
  notConfigured?: boolean;
  /** The objects behind the findings that are not ok, one row each (what `--details` shows as a table). */
  objects?: ObjectFinding[];
}

/** A finding about one named object, in the words of `kubectl get` (kind, name, reason, count, when). */
export interface ObjectFinding {
  status: HealthStatus;
  /** Kubernetes' kind: Pod, Deployment, PersistentVolumeClaim… */
  kind: string;
  name: string;
  /** As Kubernetes words it where it has a word: CrashLoopBackOff, Lost, FailedMount; else ours: NoReadyEndpoints. */
  reason: string;
  /** How often: an event's count, a container's restarts. */
  count?: number;
  /** When it last happened (an event last seen, the last restart) or since when it has been so (Pending since). */
  at?: Date;
  /** The rest, raw: it may quote the cluster's own text (an event's message), so builders escape it where they show it. */
  message?: string;
}

export interface CheckContext {
  /** Aborted when the check's timeout passes or the caller gives up; checks close their connections on it. */
  signal: AbortSignal;
  timeoutMs: number;
  /** Limits of single steps (connecting, one statement, one command), each shorter than or within `timeoutMs`. */
  timeouts: Timeouts;
  clock: Clock;
  /** Where the secrets named in the config (urlEnv, tokenEnv, headersFromEnv) are looked up. */
  env: Readonly<Record<string, string | undefined>>;
}

export interface HealthCheck {
  kind: CheckKind;
  /** Shown next to the kind: "api", "postgres", "rlhf-production"… */
  name: string;
  /** Graded findings as an outcome; a failure to reach the dependency as a thrown error (reported as critical). */
  run(context: CheckContext): Promise<CheckOutcome>;
}

export interface ServiceTarget {
  name: string;
  config: ServiceConfig;
}

/** Kubernetes clients for a context (a service's own, else the global one); throws ConfigError when none can be loaded. */
/** Clients for a context; may load the client library first (it loads when Kubernetes is first used). */
export type KubernetesClientFactory = (context: string | undefined) => KubernetesClients | Promise<KubernetesClients>;

export interface CheckFactoryDeps {
  kubernetes?: KubernetesClientFactory | undefined;
}

/** A check kind: which checks of its kind a service's config asks for (none when the section is absent). */
export type CheckFactory = (service: ServiceTarget, deps: CheckFactoryDeps) => HealthCheck[];

export function worstStatus(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus = 'ok';
  for (const status of statuses) if (RANK[status] > RANK[worst]) worst = status;
  return worst;
}

export function statusRank(status: HealthStatus): number {
  return RANK[status];
}

export function notConfigured(reason: string): CheckOutcome {
  return { status: 'warn', reason: `not configured: ${reason}`, notConfigured: true };
}

export interface Finding {
  status: HealthStatus;
  text: string;
  /** The object the finding is about, for the details table. */
  object?: ObjectFinding;
}

export interface OutcomeOptions {
  /** At most this many problems in the one-line reason, then "and N more" (every one stays in details and objects). */
  maxInReason?: number;
}

/** Findings → outcome: the reason names what is wrong (worst first), or sums up when all is well. */
export function outcomeFromFindings(findings: Finding[], okSummary: string, options: OutcomeOptions = {}): CheckOutcome {
  const sorted = [...findings].sort((a, b) => RANK[b.status] - RANK[a.status]);
  const problems = sorted.filter((finding) => finding.status !== 'ok');
  const max = options.maxInReason ?? Infinity;
  const shown = problems.slice(0, max).map((finding) => finding.text);
  if (problems.length > max) shown.push(`and ${problems.length - max} more`);
  const objects = problems.flatMap((finding) => (finding.object ? [finding.object] : []));
  return {
    status: worstStatus(findings.map((finding) => finding.status)),
    reason: problems.length > 0 ? shown.join('; ') : okSummary,
    details: sorted.map((finding) => finding.text),
    ...(objects.length > 0 ? { objects } : {}),
  };
}
