// The differential-privacy budget: read it from the service's API, grade it, snapshot it, project exhaustion; and reset it.
import { z } from 'zod';
import { fetchJson } from '../clients/http.ts';
import type { Clock } from '../clock.ts';
import type { Config, ServiceConfig } from '../config/schema.ts';
import { ExternalError, UserError, errorMessage } from '../errors.ts';
import type { SharedReads } from '../shared-reads.ts';
import { escapeText } from '../slack/escape.ts';
import type { Queryable } from '../store/db.ts';
import { budgetSnapshotsSince, insertBudgetSnapshot, type BudgetSnapshot } from '../store/privacy-budget.ts';
import type { HealthStatus } from './health/check.ts';

export type PrivacyBudgetConfig = NonNullable<ServiceConfig['privacyBudget']>;

const DAY_MS = 86_400_000;
/** How far back the projection looks: recent behaviour, not last quarter's. */
const PROJECTION_WINDOW_MS = 30 * DAY_MS;
/** Readings closer together than this say nothing about a rate. */
const MIN_PROJECTION_SPAN_MS = 60 * 60_000;

// GET /api/v1/privacy/budget, as the RLHF Audit Trail runbook reads it (other fields are ignored).
export const budgetAnswerSchema = z.object({
  total_epsilon: z.number().positive(),
  consumed_epsilon: z.number().nonnegative(),
  remaining_epsilon: z.number(),
  days_until_reset: z.number().nonnegative(),
});

export interface PrivacyBudgetTarget {
  name: string;
  displayName: string;
  budget: PrivacyBudgetConfig;
}

export type Projection =
  | { kind: 'exhausts'; at: Date; ratePerDay: number; snapshots: number }
  | { kind: 'resets-first'; at: Date; ratePerDay: number; snapshots: number }
  | { kind: 'not-consuming'; ratePerDay: number; snapshots: number }
  | { kind: 'exhausted' }
  | { kind: 'too-little-history'; snapshots: number };

export interface PrivacyBudgetReading {
  service: string;
  displayName: string;
  readAt: Date;
  total: number;
  consumed: number;
  remaining: number;
  daysUntilReset: number;
  resetsAt: Date;
  usedPercent: number;
  status: HealthStatus;
  /** The thresholds it was graded against (percent consumed). */
  warnPercent: number;
  criticalPercent: number;
  bar: string;
  projection: Projection;
  /** Set when this reading was served again from a recent one instead of asking the API: how old it was. */
  ageMs?: number;
}

export interface PrivacyBudgetDeps {
  store: Queryable;
  clock: Clock;
  env: Readonly<Record<string, string | undefined>>;
  /** Limit of one call to the budget API (`timeouts.http`). */
  httpTimeoutMs: number;
  signal?: AbortSignal | undefined;
  /** A reading taken a moment ago (or being taken right now) for someone else is served instead of asking again. */
  shared?: SharedReads | undefined;
}

/** `name` (which must have a budget), or every service with one when undefined. */
export function privacyBudgetTargets(config: Config, name: string | undefined): PrivacyBudgetTarget[] {
  const entries = Object.entries(config.file.services);
  const withBudget = entries.filter(([, service]) => service.privacyBudget);
  if (name === undefined) {
    if (withBudget.length === 0)
      throw new UserError('No service has a privacy budget configured (`services.<name>.privacyBudget`).', 'no_budget');
    return withBudget.map(([serviceName, service]) => target(serviceName, service));
  }
  const service = config.file.services[name];
  if (!service) {
    const known = withBudget.map(([serviceName]) => `\`${serviceName}\``).join(', ') || 'none';
    throw new UserError(
      `I don't know a service called \`${escapeText(name)}\`. Services with a privacy budget: ${known}.`,
      'service_unknown',
    );
  }
  if (!service.privacyBudget)
    throw new UserError(`\`${name}\` has no privacy budget configured (\`services.${name}.privacyBudget\`).`, 'no_budget');
  return [target(name, service)];
}

function target(name: string, service: ServiceConfig): PrivacyBudgetTarget {
  return { name, displayName: service.displayName ?? name, budget: service.privacyBudget! };
}

/** Reads the budget, stores a snapshot, and grades and projects it from the stored history; shared when `deps.shared`. */
export async function readPrivacyBudget(target: PrivacyBudgetTarget, deps: PrivacyBudgetDeps): Promise<PrivacyBudgetReading> {
  if (!deps.shared) return takeReading(target, deps);
  // The reading belongs to everyone who joins it: one caller giving up must not stop it for the others.
  const read = await deps.shared.read(budgetKey(target.name), () => takeReading(target, { ...deps, signal: undefined }), {
    signal: deps.signal,
  });
  return read.source === 'reused' ? { ...read.value, ageMs: read.ageMs } : read.value;
}

function budgetKey(service: string): string {
  return `privacy-budget:${service}`;
}

async function takeReading(target: PrivacyBudgetTarget, deps: PrivacyBudgetDeps): Promise<PrivacyBudgetReading> {
  const answer = await fetchJson(target.budget.url, {
    what: `the privacy budget API of ${target.name}`,
    schema: budgetAnswerSchema,
    headers: authorization(target, deps.env),
    limitMs: deps.httpTimeoutMs,
    setting: 'timeouts.http',
    signal: deps.signal,
  });
  const readAt = deps.clock.now();
  const snapshot: BudgetSnapshot = {
    service: target.name,
    taken_at: readAt,
    total_epsilon: answer.total_epsilon,
    consumed_epsilon: answer.consumed_epsilon,
    remaining_epsilon: answer.remaining_epsilon,
    days_until_reset: answer.days_until_reset,
  };
  await insertBudgetSnapshot(deps.store, snapshot);
  const history = await budgetSnapshotsSince(deps.store, target.name, new Date(readAt.getTime() - PROJECTION_WINDOW_MS));
  return gradeBudget(target, snapshot, history);
}

export interface BudgetFailure {
  service: string;
  /** Safe to show: what the API or the configuration said. */
  message: string;
  /** Set for errors that are not the API's or the config's (bugs): the caller logs it. */
  unexpected?: unknown;
}

/** Reads several budgets at once; one that fails does not hide the others. */
export async function readPrivacyBudgets(
  targets: PrivacyBudgetTarget[],
  deps: PrivacyBudgetDeps,
): Promise<{ readings: PrivacyBudgetReading[]; failures: BudgetFailure[] }> {
  const results = await Promise.allSettled(targets.map((target) => readPrivacyBudget(target, deps)));
  const readings: PrivacyBudgetReading[] = [];
  const failures: BudgetFailure[] = [];
  results.forEach((result, i) => {
    const service = targets[i]!.name;
    if (result.status === 'fulfilled') readings.push(result.value);
    else if (result.reason instanceof UserError || result.reason instanceof ExternalError)
      failures.push({ service, message: result.reason.message });
    else failures.push({ service, message: `unexpected error: ${errorMessage(result.reason)}`, unexpected: result.reason });
  });
  return { readings, failures };
}

/** POSTs to the service's reset endpoint, then reads the budget again so the answer shows the result. */
export async function resetPrivacyBudget(target: PrivacyBudgetTarget, deps: PrivacyBudgetDeps): Promise<PrivacyBudgetReading> {
  const resetUrl = target.budget.resetUrl;
  if (!resetUrl) throw new UserError(resetNotConfigured(target.name), 'reset_not_configured');
  await fetchJson(resetUrl, {
    what: `the privacy budget reset API of ${target.name}`,
    // Whatever the service answers, as long as it is JSON (or empty with 204) and a 2xx.
    schema: z.unknown(),
    method: 'POST',
    body: {},
    headers: authorization(target, deps.env),
    limitMs: deps.httpTimeoutMs,
    setting: 'timeouts.http',
    signal: deps.signal,
  });
  // Whatever was read before the reset is out of date now.
  deps.shared?.forget(budgetKey(target.name));
  return readPrivacyBudget(target, deps);
}

export function resetNotConfigured(service: string): string {
  return `The privacy budget of \`${service}\` cannot be reset from here: no reset endpoint is configured (\`services.${service}.privacyBudget.resetUrl\`). The runbooks define no reset API, so an admin has to add the service's own.`;
}

export function gradeBudget(
  target: PrivacyBudgetTarget,
  latest: BudgetSnapshot,
  history: BudgetSnapshot[],
): PrivacyBudgetReading {
  const { warnPercent, criticalPercent } = target.budget;
  const usedPercent = (latest.consumed_epsilon / latest.total_epsilon) * 100;
  const status: HealthStatus =
    usedPercent >= criticalPercent || latest.remaining_epsilon <= 0 ? 'critical' : usedPercent >= warnPercent ? 'warn' : 'ok';
  return {
    service: target.name,
    displayName: target.displayName,
    readAt: latest.taken_at,
    total: latest.total_epsilon,
    consumed: latest.consumed_epsilon,
    remaining: latest.remaining_epsilon,
    daysUntilReset: latest.days_until_reset,
    resetsAt: new Date(latest.taken_at.getTime() + latest.days_until_reset * DAY_MS),
    usedPercent,
    status,
    warnPercent,
    criticalPercent,
    bar: usageBar(usedPercent),
    projection: projectExhaustion(history, latest),
  };
}

/**
 * A least-squares line through consumed epsilon over time, using only the snapshots since the last reset (consumption
 * going down), extrapolated from the latest reading's remaining epsilon.
 */
export function projectExhaustion(history: BudgetSnapshot[], latest: BudgetSnapshot): Projection {
  if (latest.remaining_epsilon <= 0) return { kind: 'exhausted' };
  let start = 0;
  for (let i = 1; i < history.length; i += 1) {
    if (history[i]!.consumed_epsilon < history[i - 1]!.consumed_epsilon) start = i;
  }
  const points = history.slice(start);
  const span = points.length > 1 ? points.at(-1)!.taken_at.getTime() - points[0]!.taken_at.getTime() : 0;
  if (points.length < 2 || span < MIN_PROJECTION_SPAN_MS) return { kind: 'too-little-history', snapshots: points.length };
  const origin = points[0]!.taken_at.getTime();
  const xs = points.map((point) => (point.taken_at.getTime() - origin) / DAY_MS);
  const ys = points.map((point) => point.consumed_epsilon);
  const meanX = xs.reduce((sum, x) => sum + x, 0) / xs.length;
  const meanY = ys.reduce((sum, y) => sum + y, 0) / ys.length;
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < xs.length; i += 1) {
    covariance += (xs[i]! - meanX) * (ys[i]! - meanY);
    variance += (xs[i]! - meanX) ** 2;
  }
  const ratePerDay = covariance / variance;
  // Below a millionth of the budget a day, it is not being spent in any sense that matters.
  if (!(ratePerDay > latest.total_epsilon * 1e-6))
    return { kind: 'not-consuming', ratePerDay: Math.max(0, ratePerDay), snapshots: points.length };
  const at = new Date(latest.taken_at.getTime() + (latest.remaining_epsilon / ratePerDay) * DAY_MS);
  const resetsAt = latest.taken_at.getTime() + latest.days_until_reset * DAY_MS;
  return { kind: at.getTime() > resetsAt ? 'resets-first' : 'exhausts', at, ratePerDay, snapshots: points.length };
}

/** "rlhf-audit-trail 82% consumed (8.2 of 10 ε), warn" */
export function budgetSummaryLine(reading: PrivacyBudgetReading): string {
  return `${reading.service} ${formatPercent(reading.usedPercent)} consumed (${formatEpsilon(reading.consumed)} of ${formatEpsilon(reading.total)} ε), ${reading.status}`;
}

/** The projection in one sentence, for Slack and the terminal alike. */
export function describeProjection(projection: Projection, now: Date): string {
  switch (projection.kind) {
    case 'exhausted':
      return 'The budget is exhausted: queries that spend privacy budget are refused until it resets.';
    case 'too-little-history':
      return `Projection: not enough history yet (${projection.snapshots} reading${projection.snapshots === 1 ? '' : 's'} since the last reset, spanning under an hour).`;
    case 'not-consuming':
      return `Projection: not being consumed over the last ${projection.snapshots} readings.`;
    case 'exhausts':
      return `Projection: exhausted around ${day(projection.at)} (in ${formatDays((projection.at.getTime() - now.getTime()) / DAY_MS)}), before the reset, at ${formatEpsilon(projection.ratePerDay)} ε/day over ${projection.snapshots} readings.`;
    case 'resets-first':
      return `Projection: resets before it runs out (at ${formatEpsilon(projection.ratePerDay)} ε/day it would last until ${day(projection.at)}; ${projection.snapshots} readings).`;
  }
}

export function formatPercent(value: number): string {
  return `${value >= 10 || Number.isInteger(value) ? Math.round(value) : value.toFixed(1)}%`;
}

export function formatEpsilon(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(3)));
}

export function formatDays(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return `${rounded} day${rounded === 1 ? '' : 's'}`;
}

function day(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** `▓▓▓▓▓▓▓▓░░░░` for the consumed share, capped at full. */
export function usageBar(percent: number, width = 20): string {
  const filled = Math.min(width, Math.max(0, Math.round((percent / 100) * width)));
  return `${'▓'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

function authorization(target: PrivacyBudgetTarget, env: PrivacyBudgetDeps['env']): Record<string, string> {
  const { tokenEnv } = target.budget;
  if (!tokenEnv) return {};
  const token = env[tokenEnv];
  if (!token)
    throw new UserError(
      `The privacy budget of \`${target.name}\` is not configured: ${tokenEnv} (its API token) is not set.`,
      'not_configured',
    );
  return { authorization: `Bearer ${token}` };
}
