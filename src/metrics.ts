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
  /** 429 answers from Slack, by method. */
  slackRateLimited: Counter<'method'>;
  /** Calls waiting for their Slack budget, and how long the oldest has waited, by priority. */
  slackQueueDepth: Gauge<'priority'>;
  slackQueueOldest: Gauge<'priority'>;
  /** Posts not sent again because the earlier attempt was found in the channel after an uncertain outcome. */
  slackResendsAvoided: Counter<'kind'>;
  /** Durable work that is due and not finished, and the age of the oldest, by kind and priority. */
  workDue: Gauge<'kind' | 'priority'>;
  workOldest: Gauge<'kind' | 'priority'>;
  /** Socket Mode connections open now (greeted by Slack's hello and not closed). */
  socketConnections: Gauge;
  /** Socket Mode connections replaced, by why (refresh_requested, warning, dropped, failed, too_many_websockets, …). */
  socketReconnects: Counter<'reason'>;
  /** Seconds since the last Socket Mode envelope arrived (since start when none has). */
  socketLastEnvelope: Gauge;
  /** Deliveries from Slack seen before and not acted on again, by what was done (acked_again, in_progress). */
  slackRedeliveries: Counter<'outcome'>;
  /** Runs `collect` before each scrape (at most once per scrape), to set gauges from state. */
  onCollect(collect: () => void | Promise<void>): void;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'runbook_bot_' });
  const collectors: Array<() => void | Promise<void>> = [];
  let refreshed: Promise<void> | undefined;
  // Every gauge set by a collector asks for one refresh per scrape, whichever of them prom-client collects first.
  // prom-client starts collecting every metric of a scrape in the same turn, so the refresh is shared within that turn
  // and the next scrape, however soon, gets one of its own (never the numbers of the scrape before).
  const refresh = (): Promise<void> => {
    if (refreshed) return refreshed;
    refreshed = Promise.all(collectors.map(async (collect) => collect())).then(
      () => undefined,
      () => undefined,
    );
    queueMicrotask(() => {
      refreshed = undefined;
    });
    return refreshed;
  };
  const collected = {
    async collect() {
      await refresh();
    },
  };
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
      ...collected,
    }),
    queueRefused: new Counter({
      name: 'runbook_bot_queue_refused_total',
      help: 'Requests refused because their kind already had queue.waiting requests in line.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    slackRateLimited: new Counter({
      name: 'runbook_bot_slack_rate_limited_total',
      help: 'Slack answers of 429 (rate limited), by method; the call waited Retry-After and went again.',
      labelNames: ['method'],
      registers: [registry],
    }),
    slackQueueDepth: new Gauge({
      name: 'runbook_bot_slack_queue_depth',
      help: 'Slack calls waiting for their rate-limit budget in this process, by priority (page, interactive, setup, update, summary).',
      labelNames: ['priority'],
      registers: [registry],
      ...collected,
    }),
    slackQueueOldest: new Gauge({
      name: 'runbook_bot_slack_queue_oldest_seconds',
      help: 'How long the oldest Slack call waiting for its budget has waited, by priority.',
      labelNames: ['priority'],
      registers: [registry],
      ...collected,
    }),
    slackResendsAvoided: new Counter({
      name: 'runbook_bot_slack_resends_avoided_total',
      help: 'Posts whose earlier attempt had an unknown outcome and was found in Slack, so they were not sent again.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    workDue: new Gauge({
      name: 'runbook_bot_work_due',
      help: 'Durable work that is due and unfinished (escalations, alarms, setups, alert deliveries, queued Slack posts), by kind and priority.',
      labelNames: ['kind', 'priority'],
      registers: [registry],
      ...collected,
    }),
    workOldest: new Gauge({
      name: 'runbook_bot_work_oldest_seconds',
      help: 'Age of the oldest due, unfinished durable work, by kind and priority.',
      labelNames: ['kind', 'priority'],
      registers: [registry],
      ...collected,
    }),
    socketConnections: new Gauge({
      name: 'runbook_bot_socket_connections',
      help: 'Socket Mode connections open now in this process (Slack sent hello and the connection is not closed).',
      registers: [registry],
    }),
    socketReconnects: new Counter({
      name: 'runbook_bot_socket_reconnects_total',
      help: 'Socket Mode connections replaced, by reason (refresh_requested, warning, dropped, silent, failed, rate_limited, too_many_websockets).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    socketLastEnvelope: new Gauge({
      name: 'runbook_bot_socket_last_envelope_seconds',
      help: 'Seconds since the last Socket Mode envelope (command, interaction, event) arrived; since start when none has.',
      registers: [registry],
      ...collected,
    }),
    slackRedeliveries: new Counter({
      name: 'runbook_bot_slack_redeliveries_total',
      help: 'Deliveries from Slack seen before (Socket Mode re-deliveries, HTTP retries) and not acted on again, by outcome (acked_again, in_progress).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    onCollect(collect) {
      collectors.push(collect);
    },
  };
}
