// Composition root: the only place that wires config, store, clients, Slack, HTTP and schedules together.
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { App, HTTPReceiver } from '@slack/bolt';
import type { Redis } from 'ioredis';
import type { WakeSignals } from './clients/wake-signals.ts';
import { createSlackClient, slackErrorCode, withSlackPriority, type GatedWebClient } from './clients/slack.ts';
import { memoryBudget, redisBudget, resilientBudget } from './clients/slack-limits.ts';
import { SlackOutbox, workErrorFor } from './clients/slack-outbox.ts';
import { PostOnce } from './clients/slack-post-once.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config/schema.ts';
import { ConfigError, UserError, type ExternalError } from './errors.ts';
import { Permissions } from './handlers/authorize.ts';
import { Confirmations, type ConfirmableAction } from './handlers/confirm.ts';
import { registerHandlers } from './handlers/register.ts';
import { responseUrlFetch } from './clients/response-url.ts';
import { incidentHealthMessage } from './handlers/health.ts';
import type { HandlerDeps } from './handlers/listener.ts';
import type { IncidentSlack } from './incidents/slack-port.ts';
import { createIncidentSlack } from './clients/incident-slack.ts';
import { Pager } from './incidents/escalation.ts';
import { ALERT_WORK, AlertIntake } from './incidents/alerts.ts';
import { IncidentViews } from './incidents/card.ts';
import { ChannelSetup } from './incidents/setup.ts';
import { UpdateReminders } from './incidents/update-reminders.ts';
import { IncidentReportPublisher } from './incidents/report-document.ts';
import { ChannelArchiver } from './incidents/archive.ts';
import { INCIDENT_WORK } from './incidents/timers.ts';
import { DueWorkPoller } from './work/due-work-poller.ts';
import { HealthWatch } from './incidents/health-watch.ts';
import { IncidentService } from './incidents/lifecycle.ts';
import { alertmanagerRoute } from './handlers/alertmanager.ts';
import { closeServer, createHttpServer, listen, readRawBody, sendJson, type Route } from './http-server.ts';
import { AckFirst } from './ack-first.ts';
import { InFlight } from './inflight.ts';
import { createLogger, slackLogger, type Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { opsRoutes } from './ops-routes.ts';
import { DeliverOnce } from './receiver/deliver-once.ts';
import { SlackSignature, sslCheckBody } from './receiver/slack-signature.ts';
import { SocketModeConnections, type SocketTiming } from './receiver/socket-mode-receiver.ts';
import type { Store } from './store/db.ts';
import { openMigratedStore, storeOptions } from './store/open.ts';
import { SharedReads } from './shared-reads.ts';
import { WorkQueue } from './work-queue.ts';
import { buildJobs, type JobWork } from './schedule/jobs.ts';
import { healthJobWork } from './schedule/health-jobs.ts';
import { backupJobWork } from './schedule/backup-jobs.ts';
import { auditJobWork } from './schedule/audit-jobs.ts';
import { Scheduler } from './schedule/scheduler.ts';
import { AuditWriter } from './store/audit.ts';

// Bolt's App and HTTPReceiver from their own modules: the package's index also loads the Express and AWS Lambda
// receivers (express, body-parser, router and their dependencies: 2-3 MB of an idle bot's memory) that the bot never
// uses. Through require, which returns the CommonJS exports the same way under Node and under the test runner.
const requireBolt = createRequire(import.meta.url);
const { default: BoltApp } = requireBolt('@slack/bolt/dist/App.js') as { default: typeof App };
const { default: BoltHTTPReceiver } = requireBolt('@slack/bolt/dist/receivers/HTTPReceiver.js') as {
  default: typeof HTTPReceiver;
};

/** How long work run at once for a request may wait for Slack's rate-limit budget before the poller takes it over. */
const RUN_NOW_MAX_WAIT_MS = 5_000;

export interface BotOptions {
  config: Config;
  logger?: Logger;
  clock?: Clock;
  /** Listen address; defaults to all interfaces. Tests use 127.0.0.1. */
  host?: string;
  /** Upper bound for SIGTERM draining; the whole stop stays under 10 s. */
  drainTimeoutMs?: number;
  /** Extra confirmable actions (tests and extensions); the built-in ones are registered by the handlers. */
  confirmableActions?: Array<ConfirmableAction<never>>;
  /** The work behind scheduled jobs that other modules provide (health, backups, privacy budget, restore tests). */
  jobWork?: JobWork;
  /** autoStart false: no node-cron and no catch-up; tests call scheduler.tick() with a moved clock. */
  schedules?: { autoStart?: boolean };
  /** Durable work tuning (tests compress time); autoStart false leaves polling to the caller (poller.tick()). */
  escalation?: { leaseMs?: number; lateAfterMs?: number; maxSleepMs?: number; autoStart?: boolean };
  /** Socket Mode connection timing (tests compress the hello, ping and backoff limits). */
  socketTiming?: Partial<SocketTiming>;
}

export interface Bot {
  readonly config: Config;
  readonly store: Store;
  readonly slack: GatedWebClient;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly mode: 'http' | 'socket';
  /** The HTTP port actually bound (PORT=0 picks a free one). */
  readonly port: number;
  readonly incidents: IncidentService;
  /** Runs durable work (escalations, alarms, setups, alert deliveries, queued Slack posts) on this replica. */
  readonly poller: DueWorkPoller;
  readonly confirmations: Confirmations;
  readonly scheduler: Scheduler;
  readonly healthWatch: HealthWatch;
  /**
   * Resolves when Slack refuses SLACK_APP_TOKEN for Socket Mode (invalid_auth, token_revoked…): the bot can never
   * receive again and should exit (main.ts: code 78). Never resolves otherwise.
   */
  readonly fatal: Promise<ExternalError>;
  /** Resolves when no acknowledged work is still running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Opens the store, applies migrations, and starts Slack and HTTP; resolves when the bot is ready. */
export async function startBot(options: BotOptions): Promise<Bot> {
  const { config } = options;
  const { env } = config;
  const logger = options.logger ?? createLogger({ level: env.LOG_LEVEL, pretty: env.NODE_ENV === 'development' });
  const clock = options.clock ?? systemClock;
  const metrics = createMetrics();
  const mode = env.SLACK_APP_TOKEN ? 'socket' : 'http';
  const botToken = env.SLACK_BOT_TOKEN;
  if (!botToken)
    throw new ConfigError(['SLACK_BOT_TOKEN (environment): is required: the bot token (xoxb-…) from your Slack app']);

  logger.info({
    event: 'config.loaded',
    source: config.source ?? 'built-in defaults (no config file found)',
    services: Object.keys(config.file.services),
    timezone: config.timezone,
    mode,
  });

  const store = await openBotStore(config, logger);
  // What stop() closes last, most recent first; a failed start also closes what `started` holds (server, Socket Mode).
  const cleanups: Cleanup[] = [() => store.close()];
  const started: Cleanup[] = [];
  try {
    const base: Base = { config, store, clock, logger, metrics };
    const redis = await connectRedis(base, cleanups);
    const slack = slackWayOut(base, botToken, redis);
    const services = handlerServices(base, slack, options.confirmableActions);
    const work = await workPoller(base, redis, options.escalation, cleanups);
    const incident = incidentWork(base, slack, services, work, options.escalation);
    const receivers = slackReceivers(base, slack, services, mode, botToken, options.socketTiming);
    registerHandlers(receivers.app, { ...services, incidents: incident.incidents });
    const routes = httpRoutes(base, redis, services, incident, receivers);

    const server: Server = createHttpServer({ routes, logger });
    const port = await listen(server, env.PORT, options.host);
    started.unshift(() => closeServer(server, 2_000));
    if (mode === 'socket') {
      // Connecting does not hold up start-up: ops endpoints, timers and schedules run while Slack is unreachable,
      // and the connections keep reconnecting by themselves (a refused token resolves `fatal`).
      await receivers.app.start();
      started.unshift(() => receivers.app.stop());
    }
    receivers.identity.warmUp();
    if (options.escalation?.autoStart ?? true) work.poller.start();
    const { healthWatch, scheduler } = schedules(base, slack, services, incident, options.jobWork);
    if (options.schedules?.autoStart ?? true) await scheduler.start();
    logger.info({ event: 'bot.started', port, mode });

    return {
      config,
      store,
      slack,
      metrics,
      logger,
      mode,
      port,
      incidents: incident.incidents,
      poller: work.poller,
      confirmations: services.confirmations,
      scheduler,
      healthWatch,
      fatal: receivers.fatal,
      idle: () => services.inflight.idle(),
      stop: stopper({ logger, mode, server, receivers, work, scheduler, services, cleanups }, options.drainTimeoutMs),
    };
  } catch (error) {
    await runCleanups([...started, ...cleanups], logger);
    throw error;
  }
}

// ---- the parts startBot wires, in the order it wires them ------------------------------------------------------

/** What every part is built from. */
interface Base {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
}

type Cleanup = () => Promise<unknown>;

/** The store, migrated (and older embedded data imported). */
async function openBotStore(config: Config, logger: Logger): Promise<Store> {
  const { store, migration } = await openMigratedStore(storeOptions(config, logger));
  logger.info({
    event: 'store.ready',
    dialect: store.dialect,
    applied: migration.applied.map((m) => `${m.version}_${m.name}`),
    schemaVersion: migration.latest,
  });
  return store;
}

/** Redis when REDIS_URL is set: the replicas share Slack's budgets and wake each other through it. */
async function connectRedis({ config, logger }: Base, cleanups: Cleanup[]): Promise<Redis | undefined> {
  const { env } = config;
  const redisLimitMs = config.file.timeouts.redis;
  // The Redis client (and its library) loads only when there is a Redis to coordinate through.
  const redisModule = env.REDIS_URL ? await import('./clients/redis.ts') : undefined;
  const redis: Redis | undefined =
    env.REDIS_URL && redisModule ? redisModule.createRedisClient(env.REDIS_URL, logger, redisLimitMs) : undefined;
  if (redis && redisModule) {
    cleanups.unshift(() => redis.quit().catch(() => redis.disconnect()));
    await redisModule.connectRedis(redis, logger, redisLimitMs);
  }
  return redis;
}

/** One way out to Slack: every call waits for its method's budget, shared by the replicas through Redis when there is one. */
function slackWayOut({ config, logger, metrics }: Base, botToken: string, redis: Redis | undefined): GatedWebClient {
  const budget = redis
    ? resilientBudget(redisBudget(redis), memoryBudget(), (error) =>
        logger.warn({ event: 'slack.budget_redis_failed', err: error }),
      )
    : memoryBudget();
  return createSlackClient({
    token: botToken,
    apiUrl: config.env.SLACK_API_URL,
    logger,
    metrics,
    budget,
    timeoutMs: config.file.timeouts.slack,
    postsPerMinute: config.file.slack.postsPerMinute,
  });
}

/** What every handler is given besides the incidents: work in flight, shared reads, the queue, permissions, audit, confirmations. */
function handlerServices(
  { config, store, clock, logger, metrics }: Base,
  slack: GatedWebClient,
  confirmableActions: Array<ConfirmableAction<never>> = [],
): HandlerDeps {
  const inflight = new InFlight();
  const reads = new SharedReads({ clock, freshForMs: config.file.reads.freshFor });
  const queue = new WorkQueue({
    concurrencyOf: (kind) => config.file.queue.kinds[kind] ?? config.file.queue.concurrency,
    maxWaiting: config.file.queue.waiting,
    onRefused: (kind) => metrics.queueRefused.inc({ kind }),
  });
  const acks = new AckFirst();
  // Read when /metrics is scraped rather than set at every change: a crowd's requests change them thousands of times a
  // second, and each set of a labelled gauge sorts and joins its labels.
  metrics.onCollect(() => {
    for (const [kind, { running, waiting }] of queue.depths()) {
      metrics.queueJobs.set({ kind, state: 'running' }, running);
      metrics.queueJobs.set({ kind, state: 'waiting' }, waiting);
    }
    metrics.queueJobs.set({ kind: 'all', state: 'after_acks' }, acks.waiting);
  });
  const permissions = new Permissions({ config, slack, clock, logger });
  for (const action of ['resolve', 'backup', 'restore', 'rollback', 'privacyReset'] as const) {
    const open = Object.keys(config.file.services).filter((service) => permissions.ruleFor(action, service) === undefined);
    if (open.length > 0)
      logger.warn({
        event: 'permissions.open',
        action,
        services: open,
        message: `anyone in the workspace may ${action} these services: set permissions.${action}`,
      });
  }
  const audit = new AuditWriter(store, {
    waitTurn: () => acks.turn(),
    track: (write) => inflight.track(write),
    onLost: (error, rows) => logger.error({ event: 'audit.append_failed', rows, err: error }),
  });
  const shared = { config, store, slack, logger, metrics, inflight, clock, permissions, audit, reads, queue, acks };
  const confirmations = new Confirmations(shared);
  for (const action of confirmableActions) confirmations.register(action);
  return { ...shared, confirmations };
}

interface WorkPoller {
  /** Runs durable work here; the modules add work and wake it (and, through Redis, the other replicas). */
  poller: DueWorkPoller;
  workAdded: () => void;
  /** Work run at once for a request (a declaration's setup) waits only briefly for Slack's budget, then is left to the poller. */
  runWorkNow: (key: string) => Promise<void>;
}

async function workPoller(
  { config, store, clock, logger, metrics }: Base,
  redis: Redis | undefined,
  tuning: BotOptions['escalation'],
  cleanups: Cleanup[],
): Promise<WorkPoller> {
  const { timers } = config.file;
  const poller = new DueWorkPoller({
    store,
    clock,
    logger,
    metrics,
    leaseMs: tuning?.leaseMs ?? timers.lease,
    maxSleepMs: tuning?.maxSleepMs ?? timers.pollEvery,
    retryAfterMs: timers.retryAfter,
    classify: workErrorFor,
  });
  const redisLimitMs = config.file.timeouts.redis;
  const signals: WakeSignals | undefined = redis
    ? await (await import('./clients/wake-signals.ts')).createWakeSignals(redis, () => poller.wake(), logger, redisLimitMs)
    : undefined;
  if (signals) cleanups.unshift(() => signals.close());
  return {
    poller,
    workAdded: () => {
      poller.wake();
      signals?.publish();
    },
    runWorkNow: (key) => withSlackPriority('interactive', () => poller.runNow(key), RUN_NOW_MAX_WAIT_MS),
  };
}

interface IncidentWork {
  incidents: IncidentService;
  incidentSlack: IncidentSlack;
  outbox: SlackOutbox;
  alerts: AlertIntake;
}

/** The incident domain and the durable work it does, each kind in its lane of the poller. */
function incidentWork(
  { config, store, clock, logger, metrics }: Base,
  slack: GatedWebClient,
  { inflight, reads }: HandlerDeps,
  { poller, workAdded, runWorkNow }: WorkPoller,
  tuning: BotOptions['escalation'],
): IncidentWork {
  const { timers } = config.file;
  const postOnce = new PostOnce(slack, metrics);
  const outbox = new SlackOutbox({ store, clock, slack, postOnce });
  outbox.attach(poller);
  const incidentSlack = createIncidentSlack(slack, postOnce, outbox, logger);
  const incidents = new IncidentService({
    store,
    slack: incidentSlack,
    config,
    clock,
    logger,
    healthCheck: (service) => incidentHealthMessage(config, clock, reads, service),
    onWorkAdded: workAdded,
    runWorkNow,
    background: (work) => {
      // During shutdown no new background work starts.
      if (!inflight.closed) inflight.run(work);
    },
  });
  const incidentModule = { store, slack: incidentSlack, config, clock, logger, incidents };
  const alerts = new AlertIntake({ ...incidentModule, onWorkAdded: workAdded, runWorkNow });
  if (!config.env.ALERTMANAGER_TOKEN)
    logger.warn({
      event: 'alertmanager.disabled',
      message: 'ALERTMANAGER_TOKEN is not set: /webhooks/alertmanager answers 401 to everything',
    });
  const pager = new Pager({ ...incidentModule, lateAfterMs: tuning?.lateAfterMs ?? timers.lateAfter });
  const setup = new ChannelSetup(incidentModule);
  const views = new IncidentViews(incidentModule);
  const reports = new IncidentReportPublisher(incidentModule);
  const archiver = new ChannelArchiver(incidentModule);
  const reminders = new UpdateReminders({ ...incidentModule, lateAfterMs: tuning?.lateAfterMs ?? timers.lateAfter });
  // Lanes: pages never queue behind setups, setups never behind alert deliveries or card updates. Setups mostly wait
  // for Slack's budgets, so many run at once: channels then get created as fast as Tier 2 allows.
  poller.addLane({
    name: 'pages',
    concurrency: 16,
    kinds: {
      [INCIDENT_WORK.escalation]: (lease) => pager.postLevel(lease),
      [INCIDENT_WORK.ackAlarm]: (lease) => pager.raiseAckAlarm(lease),
      [INCIDENT_WORK.updateReminder]: (lease) => reminders.remind(lease),
    },
  });
  poller.addLane({ name: 'setups', concurrency: 16, kinds: { [INCIDENT_WORK.setup]: (lease) => setup.run(lease) } });
  poller.addLane({ name: 'alerts', concurrency: 4, kinds: { [ALERT_WORK]: (lease) => alerts.process(lease) } });
  poller.addLane({
    name: 'slack',
    concurrency: 16,
    kinds: {
      ...outbox.handlers(),
      [INCIDENT_WORK.card]: (lease) => views.renderCard(lease),
      [INCIDENT_WORK.topic]: (lease) => views.renderTopic(lease),
      [INCIDENT_WORK.report]: (lease) => reports.publish(lease),
      [INCIDENT_WORK.archiveNotice]: (lease) => archiver.announce(lease),
      [INCIDENT_WORK.archive]: (lease) => archiver.archive(lease),
      [INCIDENT_WORK.pageInvite]: (lease) => pager.inviteAfterPage(lease),
    },
  });
  return { incidents, incidentSlack, outbox, alerts };
}

interface SlackReceivers {
  app: App;
  /** Set in Socket Mode: its connections; `http` otherwise. */
  socket: SocketModeConnections | undefined;
  http: HTTPReceiver | undefined;
  identity: ReturnType<typeof botIdentity>;
  /** Resolves when Slack refuses SLACK_APP_TOKEN (see Bot.fatal). */
  fatal: Promise<ExternalError>;
}

/** Slack's way in: Socket Mode connections or the HTTP receiver, re-deliveries dropped, and the Bolt app on top. */
function slackReceivers(
  { config, store, clock, logger, metrics }: Base,
  slack: GatedWebClient,
  { inflight, acks }: HandlerDeps,
  mode: Bot['mode'],
  botToken: string,
  socketTiming: BotOptions['socketTiming'],
): SlackReceivers {
  const { env } = config;
  const identity = botIdentity(slack, logger);
  const fatal = Promise.withResolvers<ExternalError>();
  const socket =
    mode === 'socket'
      ? new SocketModeConnections({
          appToken: env.SLACK_APP_TOKEN!,
          apiUrl: env.SLACK_API_URL,
          connections: config.file.socketMode.connections,
          staggerMs: config.file.socketMode.stagger,
          readinessGraceMs: config.file.socketMode.readinessGrace,
          requestTimeoutMs: config.file.timeouts.slack,
          logger,
          metrics,
          onFatal: (error) => fatal.resolve(error),
          ...(socketTiming ? { timing: socketTiming } : {}),
        })
      : undefined;
  const http = socket
    ? undefined
    : new BoltHTTPReceiver({
        signingSecret: env.SLACK_SIGNING_SECRET!,
        // Checked by the route in front of it (slackEventsRoute), which hands Bolt the body it has read.
        signatureVerification: false,
        logger: slackLogger(logger) as never,
        endpoints: '/slack/events',
        unhandledRequestTimeoutMillis: 3_001,
      });
  // Re-deliveries (Socket Mode retry_attempt, HTTP X-Slack-Retry-Num) are acked and dropped before any listener.
  const receiver = new DeliverOnce((socket ?? http)!, { store, clock, logger, metrics, mode, inflight, acks });
  const app = new BoltApp({
    receiver,
    // No listener keeps conversation state; Bolt's default store would look it up (and fail) on every request.
    convoStore: false,
    logger: slackLogger(logger) as never,
    clientOptions: {
      ...(env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {}),
      // What Bolt's respond() posts to a command's or a click's response_url with: under the same limit as every call
      // to Slack, so an answer that never comes cannot hold the request (and its place in the queue) for good.
      fetch: responseUrlFetch(config.file.timeouts.slack),
    },
    // Our own authorize: Bolt would otherwise call auth.test at construction and crash on an unreachable Slack.
    authorize: async () => ({ botToken, ...(await identity.get()) }),
  });
  app.error(async (error) => {
    logger.error({ event: 'slack.unhandled_error', err: error, code: slackErrorCode(error) });
  });
  return { app, socket, http, identity, fatal: fatal.promise };
}

/** The HTTP server's routes: ops endpoints, the Alertmanager webhook and, without Socket Mode, Slack's events. */
function httpRoutes(
  { config, store, logger, metrics }: Base,
  redis: Redis | undefined,
  { inflight }: HandlerDeps,
  { alerts }: IncidentWork,
  { socket, http }: SlackReceivers,
): Route[] {
  const routes: Route[] = [
    ...opsRoutes({
      store,
      redis,
      redisLimitMs: config.file.timeouts.redis,
      metrics,
      isDraining: () => inflight.closed,
      ...(socket ? { slackNotReady: () => socket.notReadyReason() } : {}),
    }),
    alertmanagerRoute({ token: config.env.ALERTMANAGER_TOKEN, intake: alerts, inflight, logger }),
  ];
  if (http) routes.push(slackEventsRoute(http, new SlackSignature(config.env.SLACK_SIGNING_SECRET!), logger));
  return routes;
}

// As Bolt's HTTP receiver allows.
const SLACK_BODY_LIMIT = 4 * 1024 * 1024;

/**
 * POST /slack/events: a request signed by Slack within five minutes of now, either way, reaches Bolt (with the body
 * read here); anything else is refused with 401 and runs nothing.
 */
function slackEventsRoute(http: HTTPReceiver, signature: SlackSignature, logger: Logger): Route {
  const listener = http.requestListener;
  return {
    method: 'POST',
    path: '/slack/events',
    async handle(req, res) {
      // Bolt refuses requests signed more than five minutes ago but takes any dated in the future, which a captured
      // request could then be replayed until. Slack's rule is five minutes either way. Wall time, not the injected
      // clock: it is compared with the time Slack signed at.
      const timestamp = req.headers['x-slack-request-timestamp'];
      const skewMs = slackTimestampSkewMs(timestamp, systemClock.now());
      if (skewMs === undefined || Math.abs(skewMs) > SLACK_TIMESTAMP_WINDOW_MS) {
        logger.warn({ event: 'slack.request_refused', reason: 'timestamp', skewMs });
        return sendJson(res, 401, { error: 'x-slack-request-timestamp is more than five minutes from now' });
      }
      const body = await readRawBody(req, SLACK_BODY_LIMIT);
      if (body === undefined) return sendJson(res, 413, { error: `body larger than ${SLACK_BODY_LIMIT} bytes` });
      let verified: Buffer | undefined = body;
      if (!signature.verifies(req.headers['x-slack-signature'], String(timestamp), body)) {
        verified = sslCheckBody(req, body);
        if (!verified) {
          logger.warn({ event: 'slack.request_refused', reason: 'signature' });
          return sendJson(res, 401, { error: "the request is not signed with this app's signing secret" });
        }
      }
      // Bolt reads a request's body from here instead of the stream (its bufferIncomingMessage).
      (req as typeof req & { rawBody: Buffer }).rawBody = verified;
      return listener(req, res);
    },
  };
}

/** The health watch and the scheduled jobs, each claimed once across replicas. */
function schedules(
  { config, store, clock, logger, metrics }: Base,
  slack: GatedWebClient,
  { inflight, reads, audit }: HandlerDeps,
  { incidents, incidentSlack, outbox }: IncidentWork,
  jobWork: JobWork | undefined,
): { healthWatch: HealthWatch; scheduler: Scheduler } {
  const healthWatch = new HealthWatch({ store, slack: incidentSlack, config, clock, logger, incidents });
  const scheduler = new Scheduler({
    store,
    clock,
    logger,
    jobs: buildJobs(
      { config, store, slack, outbox, clock, logger },
      {
        ...healthJobWork({ config, clock, store, healthWatch, reads }),
        ...backupJobWork({ config, store, clock, logger, inflight, audit }),
        ...auditJobWork({ config, store, clock, outbox, audit }),
        ...jobWork,
      },
    ),
    catchUpWithinMs: config.file.schedules.catchUpWithin,
    metrics,
  });
  return { healthWatch, scheduler };
}

/** Bot.stop: stop taking work, drain what runs, then close Redis and the store; once, however often it is called. */
function stopper(
  parts: {
    logger: Logger;
    mode: Bot['mode'];
    server: Server;
    receivers: SlackReceivers;
    work: WorkPoller;
    scheduler: Scheduler;
    services: HandlerDeps;
    cleanups: Cleanup[];
  },
  drainMs = 7_000,
): () => Promise<void> {
  const { logger, mode, server, receivers, work, scheduler, services, cleanups } = parts;
  const { inflight, queue, confirmations } = services;
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      const started = Date.now();
      logger.info({ event: 'bot.stopping', inFlight: inflight.size });
      // Stop taking new work: no new connections or socket events, no new escalation passes, and requests still
      // waiting in the queue are told to ask again rather than started now.
      queue.close(new UserError(SHUTTING_DOWN, 'shutting_down'));
      const serverClosed = closeServer(server, drainMs);
      if (mode === 'socket')
        await receivers.app.stop().catch((error: unknown) => logger.warn({ event: 'bot.socket_stop_failed', err: error }));
      await work.poller.stop();
      await scheduler.stop();
      // Let short work finish; then tell long work (backups, rollouts) to stop cleanly and give it the rest.
      let drained = await inflight.drain(drainMs * 0.6);
      if (!drained) {
        confirmations.abortRunning();
        drained = await inflight.drain(drainMs * 0.4);
      }
      if (!drained) logger.warn({ event: 'bot.drain_timeout', unfinished: inflight.size });
      await serverClosed;
      // What is left: Redis and the store.
      await runCleanups(cleanups, logger);
      logger.info({ event: 'bot.stopped', ms: Date.now() - started });
    })();
    return stopping;
  };
}

const SHUTTING_DOWN = ':warning: The bot is restarting, so this request did not run. Run it again in a moment.';

async function runCleanups(cleanups: Array<() => Promise<unknown>>, logger: Logger): Promise<void> {
  for (const cleanup of cleanups) {
    await cleanup().catch((error: unknown) => logger.warn({ event: 'bot.cleanup_failed', err: error }));
  }
}

interface BotIdentity {
  botId: string;
  botUserId: string;
}

/** auth.test once it succeeds, retried on demand, so a Slack outage at start-up does not stop the bot. */
function botIdentity(slack: GatedWebClient, logger: Logger) {
  let pending: Promise<BotIdentity> | undefined;
  const get = (): Promise<BotIdentity> => {
    pending ??= slack.auth.test().then(
      (result) => {
        logger.info({ event: 'slack.identity', botUserId: result.user_id, team: result.team });
        return { botId: String(result.bot_id ?? ''), botUserId: String(result.user_id ?? '') };
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    );
    return pending;
  };
  return {
    get,
    warmUp: () => {
      get().catch((error: unknown) => logger.warn({ event: 'slack.auth_test_failed', code: slackErrorCode(error), err: error }));
    },
  };
}

const SLACK_TIMESTAMP_WINDOW_MS = 5 * 60_000;

/** How far a request's X-Slack-Request-Timestamp (epoch seconds) is from now; undefined when it is not a number. */
export function slackTimestampSkewMs(header: string | string[] | undefined, now: Date): number | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  if (!text || !/^\d{1,12}$/.test(text)) return undefined;
  return Number(text) * 1000 - now.getTime();
}
