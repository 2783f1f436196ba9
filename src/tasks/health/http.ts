// HTTP health checks: expected status, latency against a threshold, and JSON assertions such as "integrity_score >= 0.95".
import { z } from 'zod';
import { fetchFailure } from '../../clients/http.ts';
import { formatLatency } from '../../config/duration.ts';
import type { JsonAssertion, ServiceConfig } from '../../config/schema.ts';
import { ExternalError } from '../../errors.ts';
import {
  notConfigured,
  outcomeFromFindings,
  type CheckContext,
  type CheckFactory,
  type CheckOutcome,
  type Finding,
} from './check.ts';

export type HttpCheckConfig = NonNullable<ServiceConfig['health']>['http'][number];

export const httpChecks: CheckFactory = (service) =>
  (service.config.health?.http ?? []).map((spec) => ({
    kind: 'http' as const,
    name: spec.name,
    run: (context: CheckContext) => runHttpCheck(spec, context),
  }));

export async function runHttpCheck(spec: HttpCheckConfig, context: CheckContext): Promise<CheckOutcome> {
  const headers: Record<string, string> = { ...spec.headers };
  for (const [header, envName] of Object.entries(spec.headersFromEnv)) {
    const value = context.env[envName];
    if (!value) return notConfigured(`${envName} is not set (header ${header})`);
    headers[header] = value;
  }
  const started = performance.now();
  let status: number;
  let body: string;
  try {
    const response = await fetch(spec.url, { method: spec.method, headers, signal: context.signal });
    status = response.status;
    body = spec.method === 'HEAD' ? '' : await response.text();
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    throw new ExternalError('HTTP', `cannot reach ${new URL(spec.url).host}: ${fetchFailure(error)}`, { cause: error });
  }
  const latencyMs = performance.now() - started;
  const findings: Finding[] = [];
  if (!spec.expectStatus.includes(status)) {
    findings.push({ status: 'critical', text: `HTTP ${status} (expected ${spec.expectStatus.join(' or ')})` });
  } else {
    findings.push({ status: 'ok', text: `HTTP ${status}` });
    if (spec.assert.length > 0) findings.push(...assertJson(body, spec.assert));
  }
  findings.push(
    latencyMs > spec.latencyWarn
      ? { status: 'warn', text: `slow: ${formatLatency(latencyMs)} (over ${formatLatency(spec.latencyWarn)})` }
      : { status: 'ok', text: `answered in ${formatLatency(latencyMs)}` },
  );
  return outcomeFromFindings(findings, findings.map((finding) => finding.text).join(', '));
}

const jsonSchema = z.json();

/** Each assertion becomes a finding: held (ok), or failed / missing / not comparable (critical). */
export function assertJson(body: string, assertions: readonly JsonAssertion[]): Finding[] {
  let parsed: z.infer<typeof jsonSchema>;
  try {
    parsed = jsonSchema.parse(JSON.parse(body));
  } catch {
    const snippet = body.trim().replace(/\s+/g, ' ').slice(0, 40);
    return [
      {
        status: 'critical',
        text: `the answer is not JSON${snippet ? ` ("${snippet}")` : ''}, so ${assertions[0]!.text} cannot be checked`,
      },
    ];
  }
  return assertions.map((assertion) => {
    const actual = valueAt(parsed, assertion.path);
    if (actual === undefined) return { status: 'critical', text: `${assertion.path} is missing from the answer` };
    const shown = JSON.stringify(actual);
    const held = compare(actual, assertion.op, assertion.value);
    if (held === undefined) {
      return {
        status: 'critical',
        text: `${assertion.path} is ${shown}, which cannot be compared with ${assertion.op} ${JSON.stringify(assertion.value)}`,
      };
    }
    return held
      ? { status: 'ok', text: `${assertion.path} = ${shown}` }
      : {
          status: 'critical',
          text: `${assertion.path} = ${shown} (expected ${assertion.op} ${JSON.stringify(assertion.value)})`,
        };
  });
}

/** `a.b[0].c` into parsed JSON; undefined when any step is missing. */
function valueAt(root: unknown, path: string): unknown {
  let current: unknown = root;
  for (const [, key, index] of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (current === null || typeof current !== 'object') return undefined;
    const step = index !== undefined ? Number(index) : key!;
    if (Array.isArray(current) !== (index !== undefined)) return undefined;
    current = (current as Record<string | number, unknown>)[step];
    if (current === undefined) return undefined;
  }
  return current;
}

/** undefined when the operator does not apply to these values (an ordering on a non-number). */
function compare(actual: unknown, op: JsonAssertion['op'], expected: JsonAssertion['value']): boolean | undefined {
  if (op === '==') return actual === expected;
  if (op === '!=') return actual !== expected;
  if (typeof actual !== 'number' || typeof expected !== 'number') return undefined;
  switch (op) {
    case '>=':
      return actual >= expected;
    case '>':
      return actual > expected;
    case '<=':
      return actual <= expected;
    case '<':
      return actual < expected;
  }
}
