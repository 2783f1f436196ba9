// Prometheus health: the service's firing alerts, from the HTTP API's /api/v1/alerts.
import { z } from 'zod';
import { fetchJson } from '../../clients/http.ts';
import type { ServiceConfig } from '../../config/schema.ts';
import type { CheckContext, CheckFactory, CheckOutcome } from './check.ts';

export type PrometheusCheckConfig = NonNullable<NonNullable<ServiceConfig['health']>['prometheus']>;

const MAX_NAMED = 3;

// https://prometheus.io/docs/prometheus/latest/querying/api/#alerts
const alertsSchema = z.object({
  status: z.literal('success'),
  data: z.object({
    alerts: z.array(
      z.object({
        labels: z.record(z.string(), z.string()),
        annotations: z.record(z.string(), z.string()).optional(),
        state: z.string(),
        activeAt: z.string().optional(),
      }),
    ),
  }),
});

export const prometheusChecks: CheckFactory = (service) => {
  const spec = service.config.health?.prometheus;
  if (!spec) return [];
  return [{ kind: 'prometheus', name: 'alerts', run: (context) => runPrometheusCheck(spec, context) }];
};

export async function runPrometheusCheck(spec: PrometheusCheckConfig, context: CheckContext): Promise<CheckOutcome> {
  const answer = await fetchJson(new URL('api/v1/alerts', withSlash(spec.url)).toString(), {
    what: 'Prometheus',
    schema: alertsSchema,
    limitMs: context.timeouts.http,
    setting: 'timeouts.http',
    signal: context.signal,
  });
  const ours = answer.data.alerts.filter((alert) =>
    Object.entries(spec.matchLabels).every(([label, value]) => alert.labels[label] === value),
  );
  const firing = ours.filter((alert) => alert.state === 'firing');
  const pending = ours.length - firing.length;
  const pendingNote = pending > 0 ? ` (${pending} pending)` : '';
  if (firing.length === 0) return { status: 'ok', reason: `no firing alerts${pendingNote}`, details: [] };
  // Firing alerts labelled critical make the check critical; any other firing alert is a warning.
  const critical = firing.filter((alert) => alert.labels.severity === 'critical');
  const names = firing
    .sort((a, b) => Number(b.labels.severity === 'critical') - Number(a.labels.severity === 'critical'))
    .map((alert) => `${alert.labels.alertname ?? 'unnamed'}${alert.labels.severity ? ` (${alert.labels.severity})` : ''}`);
  const shown =
    names.length > MAX_NAMED ? `${names.slice(0, MAX_NAMED).join(', ')} and ${names.length - MAX_NAMED} more` : names.join(', ');
  return {
    status: critical.length > 0 ? 'critical' : 'warn',
    reason: `${firing.length} firing alert${firing.length === 1 ? '' : 's'}: ${shown}${pendingNote}`,
    details: firing.map(
      (alert) =>
        `${alert.labels.alertname ?? 'unnamed'}: ${alert.annotations?.summary ?? alert.annotations?.description ?? 'no summary'}`,
    ),
  };
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
