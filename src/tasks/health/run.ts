// Runs every check of every requested service at once, each under its own timeout, into one typed report.
import type { Clock } from '../../clock.ts';
import { formatDuration } from '../../config/duration.ts';
import { fileSchema, type Config, type ServiceConfig, type Timeouts } from '../../config/schema.ts';
import { DeadlineError, withDeadline } from '../../deadline.ts';
import { ExternalError, UserError, errorMessage } from '../../errors.ts';
import type { SharedReads } from '../../shared-reads.ts';
import { escapeText } from '../../slack/escape.ts';
import {
  worstStatus,
  type CheckFactory,
  type CheckOutcome,
  type HealthCheck,
  type HealthStatus,
  type KubernetesClientFactory,
  type ServiceTarget,
} from './check.ts';

type HealthSection = NonNullable<ServiceConfig['health']>;

/**
 * Every check kind the bot knows, by the part of `services.<name>.health` that asks for it; adding one is a file and a
 * line here. A kind's module loads when a service first uses it, not at start-up; its client library (pg, ioredis) when
 * a check has something to connect to.
 */
const CHECK_KINDS: ReadonlyArray<{ uses: (health: HealthSection) => boolean; load: () => Promise<CheckFactory> }> = [
  { uses: (health) => health.http.length > 0, load: async () => (await import('./http.ts')).httpChecks },
  { uses: (health) => health.postgres !== undefined, load: async () => (await import('./postgres.ts')).postgresChecks },
  { uses: (health) => health.redis !== undefined, load: async () => (await import('./redis.ts')).redisChecks },
  { uses: (health) => health.kubernetes !== undefined, load: async () => (await import('./kubernetes.ts')).kubernetesChecks },
  { uses: (health) => health.prometheus !== undefined, load: async () => (await import('./prometheus.ts')).prometheusChecks },
];

function checkKindsOf(service: ServiceTarget): Promise<CheckFactory[]> {
  const { health } = service.config;
  if (!health) return Promise.resolve([]);
  return Promise.all(CHECK_KINDS.filter((kind) => kind.uses(health)).map((kind) => kind.load()));
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** The config's defaults, for callers (tests, benchmarks) that run checks without a config. */
const DEFAULT_TIMEOUTS: Timeouts = fileSchema.shape.timeouts.parse(undefined);

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
  /** Set when this result was served again from a recent run instead of running the checks: how old it was. */
  ageMs?: number;
}

export interface HealthReport {
  status: HealthStatus;
  services: ServiceHealth[];
  /** Services left out of "all" because they configure no health checks. */
  unchecked: readonly string[];
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
  /** Limits of the single steps inside a check (connecting, one statement, one Redis command); default the config's. */
  timeouts?: Timeouts | undefined;
  /** Stops every check early (shutdown); they report as stopped. With `shared`, only this caller stops waiting. */
  signal?: AbortSignal | undefined;
  kinds?: readonly CheckFactory[];
  /** Services checked a moment ago (or being checked right now) for someone else are not checked again. */
  shared?: SharedReads | undefined;
}

/** What the bot, the CLI and the schedules run checks with: secrets from `env`, Kubernetes as the config says. */
export function healthRunOptions(
  config: Config,
  clock: Clock,
  env: Readonly<Record<string, string | undefined>> = process.env,
): HealthRunOptions {
  return {
    clock,
    env,
    timeouts: config.file.timeouts,
    kubernetes: async (context) =>
      (await import('../../clients/kubernetes.ts')).createKubernetesClients(config, { context, env }),
  };
}

export interface HealthTargets {
  readonly services: readonly ServiceTarget[];
  readonly unchecked: readonly string[];
}

// The targets of a config's services, worked out once per config and target: a crowd typing `/health all` asks again
// and again, and a reloaded config is a new object (its entries here go with the old one).
const targetsByConfig = new WeakMap<Config['file']['services'], Map<string, HealthTargets>>();

/** `all` (services with a health section; the rest are named as unchecked) or one service by name. */
export function healthTargets(config: Config, target: string): HealthTargets {
  let known = targetsByConfig.get(config.file.services);
  if (!known) targetsByConfig.set(config.file.services, (known = new Map()));
  let targets = known.get(target);
  if (!targets) known.set(target, (targets = findTargets(config, target)));
  return targets;
}

function findTargets(config: Config, target: string): HealthTargets {
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
    throw new UserError(`I don't know a service called \`${escapeText(target)}\`. Known services: ${known}.`, 'service_unknown');
  }
  return { services: [{ name: target, config: service }], unchecked: [] };
}

export async function runHealthChecks(
  services: readonly ServiceTarget[],
  options: HealthRunOptions,
  unchecked: readonly string[] = [],
): Promise<HealthReport> {
  const startedAt = options.clock.now();
  const started = performance.now();
  const results = await Promise.all(services.map((service) => serviceHealth(service, options)));
  return {
    status: worstStatus(results.map((service) => service.status)),
    services: results,
    unchecked,
    startedAt,
    durationMs: performance.now() - started,
  };
}

// Longer than work after an ack waits for the acks before it (src/ack-first.ts); an announced run nobody starts expires.
const ANNOUNCED_FOR_MS = 2_000;

function sharedKey(service: ServiceTarget, options: Pick<HealthRunOptions, 'timeoutMs'>): string {
  return `health:${service.name}${options.timeoutMs === undefined ? '' : `@${options.timeoutMs}`}`;
}

/** True when every service's checks are running already or have a fresh result: asking costs no check at all. */
export function healthAlreadyShared(
  services: readonly ServiceTarget[],
  shared: SharedReads,
  options: Pick<HealthRunOptions, 'timeoutMs'> = {},
): boolean {
  return services.every((service) => shared.covers(sharedKey(service, options)));
}

/** Every service's kept result, fresh enough to be served again: a report needs no check and no waiting. */
export class FreshHealth {
  /** The kept results: the same objects for as long as they are served again. */
  readonly kept: readonly ServiceHealth[];
  /** How old each one is now. */
  readonly agesMs: readonly number[];
  /** Services left out because they configure no checks (the same list for as long as the config is). */
  readonly unchecked: readonly string[];
  readonly #clock: Clock;

  constructor(kept: readonly ServiceHealth[], agesMs: readonly number[], unchecked: readonly string[], clock: Clock) {
    this.kept = kept;
    this.agesMs = agesMs;
    this.unchecked = unchecked;
    this.#clock = clock;
  }

  /** The report, each result with its age; made when asked for (an answer rendered a moment ago needs none). */
  report(): HealthReport {
    const results = this.kept.map((result, index) => ({ ...result, ageMs: this.agesMs[index] }));
    return {
      status: worstStatus(results.map((service) => service.status)),
      services: results,
      unchecked: this.unchecked,
      startedAt: this.#clock.now(),
      durationMs: 0,
    };
  }
}

/**
 * The kept results of every service, when each has a fresh one: a command can be answered with them in its ack.
 * Undefined when any service would have to be checked.
 */
export function freshHealthReport(
  services: readonly ServiceTarget[],
  shared: SharedReads,
  clock: Clock,
  unchecked: readonly string[] = [],
  options: Pick<HealthRunOptions, 'timeoutMs'> = {},
): FreshHealth | undefined {
  const kept: ServiceHealth[] = [];
  const agesMs: number[] = [];
  for (const service of services) {
    const read = shared.fresh<ServiceHealth>(sharedKey(service, options));
    if (!read) return undefined;
    kept.push(read.value);
    agesMs.push(read.ageMs);
  }
  return new FreshHealth(kept, agesMs, unchecked, clock);
}

/**
 * Says these services are checked in a moment (the caller's work starts after its ack, and acks go first): the same
 * request arriving meanwhile joins that run rather than waiting in line for one of its own.
 */
export function announceHealthRun(
  services: readonly ServiceTarget[],
  shared: SharedReads,
  options: Pick<HealthRunOptions, 'timeoutMs'> = {},
): void {
  for (const service of services) shared.announce(sharedKey(service, options), ANNOUNCED_FOR_MS);
}

/** One service's checks, shared with whoever asks for the same service while they run or shortly after. */
async function serviceHealth(service: ServiceTarget, options: HealthRunOptions): Promise<ServiceHealth> {
  const { shared } = options;
  if (!shared) return checkService(service, options);
  // The run belongs to everyone who joins it: one caller giving up must not stop it for the others.
  const key = sharedKey(service, options);
  const read = await shared.read(key, () => checkService(service, { ...options, signal: undefined }), {
    signal: options.signal,
  });
  return read.source === 'reused' ? { ...read.value, ageMs: read.ageMs } : read.value;
}

async function checkService(service: ServiceTarget, options: HealthRunOptions): Promise<ServiceHealth> {
  const kinds = options.kinds ?? (await checkKindsOf(service));
  const checks = kinds.flatMap((kind) => kind(service, { kubernetes: options.kubernetes }));
  const ownTimeout = service.config.health?.timeout;
  const limit: Limit =
    options.timeoutMs !== undefined
      ? { ms: options.timeoutMs }
      : { ms: ownTimeout ?? DEFAULT_TIMEOUT_MS, setting: `services.${service.name}.health.timeout` };
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
  const done = await Promise.all(checks.map((check) => runOne(check, limit, options)));
  return { service: service.name, displayName, status: worstStatus(done.map((r) => r.status)), checks: done };
}

interface Limit {
  ms: number;
  /** The config key, when the limit came from the config file. */
  setting?: string;
}

/**
 * One check under its own deadline. Wall-clock time on purpose: it bounds waiting on real sockets, which an injected
 * test clock cannot move. A check that ignores its signal still ends at the deadline.
 */
async function runOne(check: HealthCheck, limit: Limit, options: HealthRunOptions): Promise<CheckResult> {
  const started = performance.now();
  const finish = (outcome: CheckOutcome, timedOut = false): CheckResult => ({
    kind: check.kind,
    name: check.name,
    ...outcome,
    durationMs: performance.now() - started,
    ...(timedOut ? { timedOut } : {}),
  });
  const deadline = { dependency: check.kind, doing: `the ${check.name} check`, limitMs: limit.ms, setting: limit.setting };
  try {
    const outcome = await withDeadline({ ...deadline, signal: options.signal }, (signal) =>
      check.run({
        signal,
        timeoutMs: limit.ms,
        timeouts: options.timeouts ?? DEFAULT_TIMEOUTS,
        clock: options.clock,
        env: options.env,
      }),
    );
    return finish(outcome);
  } catch (error) {
    if (options.signal?.aborted) return finish({ status: 'critical', reason: `stopped: ${errorMessage(options.signal.reason)}` });
    // The kind is shown beside the reason already: "cannot connect: ECONNREFUSED", not "PostgreSQL: cannot connect…".
    const reason =
      error instanceof DeadlineError && error.service === check.kind
        ? deadlineReason(error)
        : error instanceof ExternalError
          ? error.message.slice(error.service.length + 2)
          : errorMessage(error);
    return finish({ status: 'critical', reason }, error instanceof DeadlineError);
  }
}

/** The check's own deadline: which limit, and where it is set ("no answer within 1s (services.x.health.timeout)"). */
function deadlineReason(error: DeadlineError): string {
  return `no answer within ${formatDuration(error.limitMs)}${error.setting ? ` (the limit is ${error.setting} in the config file)` : ''}`;
}
