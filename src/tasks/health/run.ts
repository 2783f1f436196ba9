// Runs every check of every requested service at once, each under its own timeout, into one typed report.
import { raceAbort } from '../../abort.ts';
import { createKubernetesClients } from '../../clients/kubernetes.ts';
import type { Clock } from '../../clock.ts';
import { formatDuration } from '../../config/duration.ts';
import type { Config } from '../../config/schema.ts';
import { ExternalError, UserError, errorMessage } from '../../errors.ts';
import {
  worstStatus,
  type CheckFactory,
  type CheckOutcome,
  type HealthCheck,
  type HealthStatus,
  type KubernetesClientFactory,
  type ServiceTarget,
} from './check.ts';
import { httpChecks } from './http.ts';
import { kubernetesChecks } from './kubernetes.ts';
import { postgresChecks } from './postgres.ts';
import { prometheusChecks } from './prometheus.ts';
import { redisChecks } from './redis.ts';

/** Every check kind the bot knows; adding one is a file and a line here. */
export const CHECK_KINDS: readonly CheckFactory[] = [httpChecks, postgresChecks, redisChecks, kubernetesChecks, prometheusChecks];

const DEFAULT_TIMEOUT_MS = 10_000;

export interface CheckResult extends CheckOutcome {
  kind: HealthCheck['kind'];
  name: string;
  durationMs: number;
  timedOut?: boolean;
}

export interface ServiceHealth {
  service: string;
  displayName: string;
  status: HealthStatus;
  checks: CheckResult[];
  /** Set when the service has no checks at all. */
  note?: string;
}

export interface HealthReport {
  status: HealthStatus;
  services: ServiceHealth[];
  /** Services left out of "all" because they configure no health checks. */
  unchecked: string[];
  startedAt: Date;
  durationMs: number;
}

export interface HealthRunOptions {
  clock: Clock;
  /** Where urlEnv / headersFromEnv secrets are looked up (process.env in the bot and the CLI). */
  env: Readonly<Record<string, string | undefined>>;
  kubernetes?: KubernetesClientFactory | undefined;
  /** Overrides every service's `health.timeout`. */
  timeoutMs?: number | undefined;
  /** Stops every check early (shutdown); they report as stopped. */
  signal?: AbortSignal | undefined;
  kinds?: readonly CheckFactory[];
}

/** What the bot, the CLI and the schedules run checks with: secrets from `env`, Kubernetes as the config says. */
export function healthRunOptions(
  config: Config,
  clock: Clock,
  env: Readonly<Record<string, string | undefined>> = process.env,
): HealthRunOptions {
  return { clock, env, kubernetes: (context) => createKubernetesClients(config, { context, env }) };
}

/** `all` (services with a health section; the rest are named as unchecked) or one service by name. */
export function healthTargets(config: Config, target: string): { services: ServiceTarget[]; unchecked: string[] } {
  const entries = Object.entries(config.file.services);
  if (target === 'all') {
    return {
      services: entries.filter(([, service]) => service.health).map(([name, service]) => ({ name, config: service })),
      unchecked: entries.filter(([, service]) => !service.health).map(([name]) => name),
    };
  }
  const service = config.file.services[target];
  if (!service) {
    const known = entries.map(([name]) => `\`${name}\``).join(', ') || 'none';
    throw new UserError(`I don't know a service called \`${target}\`. Known services: ${known}.`, 'service_unknown');
  }
  return { services: [{ name: target, config: service }], unchecked: [] };
}

export async function runHealthChecks(
  services: readonly ServiceTarget[],
  options: HealthRunOptions,
  unchecked: string[] = [],
): Promise<HealthReport> {
  const startedAt = options.clock.now();
  const started = performance.now();
  const kinds = options.kinds ?? CHECK_KINDS;
  const results = await Promise.all(
    services.map(async (service): Promise<ServiceHealth> => {
      const checks = kinds.flatMap((kind) => kind(service, { kubernetes: options.kubernetes }));
      const timeoutMs = options.timeoutMs ?? service.config.health?.timeout ?? DEFAULT_TIMEOUT_MS;
      const displayName = service.config.displayName ?? service.name;
      if (checks.length === 0) {
        return {
          service: service.name,
          displayName,
          status: 'warn',
          checks: [],
          note: `no health checks configured (services.${service.name}.health)`,
        };
      }
      const done = await Promise.all(checks.map((check) => runOne(check, timeoutMs, options)));
      return { service: service.name, displayName, status: worstStatus(done.map((r) => r.status)), checks: done };
    }),
  );
  return {
    status: worstStatus(results.map((service) => service.status)),
    services: results,
    unchecked,
    startedAt,
    durationMs: performance.now() - started,
  };
}

/** One check under its own timeout. Wall-clock time on purpose: it bounds waiting on real sockets, which an injected test clock cannot move. */
async function runOne(check: HealthCheck, timeoutMs: number, options: HealthRunOptions): Promise<CheckResult> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const started = performance.now();
  const finish = (outcome: CheckOutcome, timedOut = false): CheckResult => ({
    kind: check.kind,
    name: check.name,
    ...outcome,
    durationMs: performance.now() - started,
    ...(timedOut ? { timedOut } : {}),
  });
  try {
    const outcome = await raceAbort(check.run({ signal, timeoutMs, clock: options.clock, env: options.env }), signal);
    return finish(outcome);
  } catch (error) {
    if (timeout.aborted) return finish({ status: 'critical', reason: `timed out after ${formatDuration(timeoutMs)}` }, true);
    if (options.signal?.aborted) return finish({ status: 'critical', reason: `stopped: ${errorMessage(options.signal.reason)}` });
    // The kind is shown beside the reason already: "cannot connect: ECONNREFUSED", not "PostgreSQL: cannot connect…".
    const reason = error instanceof ExternalError ? error.message.slice(error.service.length + 2) : errorMessage(error);
    return finish({ status: 'critical', reason });
  }
}
