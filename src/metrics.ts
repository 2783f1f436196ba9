// Prometheus metrics: one registry per bot instance, so several can live in one test process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  commands: Counter<'command' | 'outcome'>;
  slackApiErrors: Counter<'method' | 'error'>;
  taskDuration: Histogram<'task' | 'outcome'>;
  /** Post-ack work by kind: running now, and waiting in line. */
  queueJobs: Gauge<'kind' | 'state'>;
  queueRefused: Counter<'kind'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'runbook_bot_' });
  return {
    registry,
    commands: new Counter({
      name: 'runbook_bot_commands_total',
      help: 'Slash commands and interactions handled, by command and outcome (ok, user_error, denied, error).',
      labelNames: ['command', 'outcome'],
      registers: [registry],
    }),
    slackApiErrors: new Counter({
      name: 'runbook_bot_slack_api_errors_total',
      help: 'Slack Web API calls that failed, by method and Slack error code.',
      labelNames: ['method', 'error'],
      registers: [registry],
    }),
    taskDuration: new Histogram({
      name: 'runbook_bot_task_duration_seconds',
      help: 'Duration of operations tasks (health, backup, restore, rollback, privacy-budget), by outcome.',
      labelNames: ['task', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    queueJobs: new Gauge({
      name: 'runbook_bot_queue_jobs',
      help: 'Work after a Slack ack, by kind (health, incident, backup, …) and state (running, waiting).',
      labelNames: ['kind', 'state'],
      registers: [registry],
    }),
    queueRefused: new Counter({
      name: 'runbook_bot_queue_refused_total',
      help: 'Requests refused because their kind already had queue.waiting requests in line.',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}
