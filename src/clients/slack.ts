// The one way out to Slack's Web API: every call waits for its method's budget in priority order, has a deadline,
// and says whether a failure left its effect uncertain.
//
// A 429 means Slack did not process the call: the bucket it hit is closed until Retry-After and the call waits its
// turn again, delaying only what shares that budget. A 5xx, a timeout or a dropped connection after the request was
// sent leaves the effect unknown (Slack's own fatal_error "may have succeeded"): idempotent methods are retried;
// anything else is never re-sent blindly but raised as UncertainOutcomeError, and the caller looks for its earlier
// result before acting again (post-once.ts). Repeated chat.update calls of one message waiting for the budget
// collapse into the newest.
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
  type WebAPICallResult,
  type WebClientOptions,
} from '@slack/web-api';
import { UserError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { slackLogger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import {
  bucketHitBy,
  bucketsFor,
  DEFAULT_POSTS_PER_MINUTE,
  memoryBudget,
  PRIORITY_RANK,
  type BucketSpec,
  type SlackBudget,
  type SlackPriority,
} from './slack-limits.ts';

export interface SlackClientOptions {
  token: string;
  apiUrl?: string | undefined;
  logger: Logger;
  metrics: Metrics;
  /** Shared across replicas when Redis is there; this process's own otherwise. */
  budget?: SlackBudget;
  /** The deadline of one HTTP call (timeouts.slack). */
  timeoutMs?: number;
  /** The workspace-wide posting budget (slack.postsPerMinute). */
  postsPerMinute?: number;
}

interface CallContext {
  priority: SlackPriority;
  /** Give up waiting for the budget after this long (SlackBusyError), e.g. to queue a post durably instead. */
  maxWaitMs?: number;
}

const callContext = new AsyncLocalStorage<CallContext>();

/** Runs fn with its Slack calls at this priority (default for calls outside any: interactive). */
export function withSlackPriority<T>(priority: SlackPriority, fn: () => Promise<T>, maxWaitMs?: number): Promise<T> {
  // An enclosing limit on waiting (a post tried at once) still holds inside.
  const limit = maxWaitMs ?? callContext.getStore()?.maxWaitMs;
  return callContext.run({ priority, ...(limit === undefined ? {} : { maxWaitMs: limit }) }, fn);
}

/** Runs fn at the current priority, giving up (SlackBusyError) on any call that would wait longer than maxWaitMs. */
export function withSlackPriorityLimit<T>(maxWaitMs: number, fn: () => Promise<T>): Promise<T> {
  const current = callContext.getStore() ?? { priority: 'interactive' as const };
  return callContext.run({ ...current, maxWaitMs }, fn);
}

/** The call may or may not have taken effect at Slack; look for its result before trying again. */
export class UncertainOutcomeError extends Error {
  readonly method: string;
  constructor(method: string, cause: unknown) {
    super(`Slack ${method}: the outcome is unknown (${describe(cause)})`, { cause });
    this.name = 'UncertainOutcomeError';
    this.method = method;
  }
}

/** Slack's budget for this call would not allow it within the caller's maxWaitMs. */
export class SlackBusyError extends Error {
  readonly availableInMs: number;
  constructor(method: string, availableInMs: number) {
    super(`Slack ${method}: rate limited for another ${Math.ceil(availableInMs / 1000)} s`);
    this.name = 'SlackBusyError';
    this.availableInMs = availableInMs;
  }
}

// Calls that may be repeated without a second effect (reads, and writes that set a state).
const IDEMPOTENT = new Set([
  'auth.test',
  'conversations.history',
  'conversations.info',
  'conversations.list',
  'conversations.open',
  'conversations.setTopic',
  'conversations.invite',
  'users.conversations',
  'users.info',
  'usergroups.users.list',
  'chat.update',
  'pins.add',
  'apps.connections.open',
]);
// Answers in which Slack says the operation failed on its side, possibly after part of it happened.
const SLACK_SIDE_ERRORS = new Set(['fatal_error', 'internal_error', 'service_unavailable', 'request_timeout']);
const IDEMPOTENT_RETRIES = 3;
/** A call that waited this long for its budget is logged: which method, channel and priority Slack's limits held up. */
const LONG_BUDGET_WAIT_MS = 5_000;
/**
 * A trigger_id opens a form only within 3 s of the click (Slack: views.open): a call carrying one waits for its budget
 * at most this long (the rest is for the call itself). Past that the form could not open anyway, and a backlog of such
 * calls (each holding its request) would only grow while the budget drains at 100 a minute.
 */
const TRIGGER_BUDGET_WAIT_MS = 2_000;

type Turn = { kind: 'go'; heldBy?: string } | { kind: 'superseded' } | { kind: 'busy'; waitMs: number };

interface Waiter {
  rank: number;
  seq: number;
  since: number;
  priority: SlackPriority;
  maxWaitMs: number | undefined;
  /** Set for chat.update: a newer update of the same message replaces this one. */
  supersedeKey: string | undefined;
  resolve: (turn: Turn) => void;
}

/**
 * Waiting calls per budget, each served in priority order, then first come first served. A call that needs two
 * budgets (a post: its channel's, then the workspace's) waits in each queue in turn, so a page outranks a summary
 * for the shared workspace budget even when they go to different channels.
 */
class BudgetQueue {
  readonly #queues = new Map<string, Waiter[]>();
  // Per budget, ends its server's pause for the head's tokens: a new head (more urgent, or one that may wait only a
  // little) is asked for at once, not after the old head's pause of up to a second.
  readonly #wakers = new Map<string, () => void>();
  readonly #budget: SlackBudget;
  readonly #postsPerMinute: number;
  #seq = 0;

  constructor(budget: SlackBudget, postsPerMinute: number) {
    this.#budget = budget;
    this.#postsPerMinute = postsPerMinute;
  }

  /** A call's place in line among calls of its priority: taken once, so a call sent again after a 429 keeps it. */
  ticket(): number {
    return (this.#seq += 1);
  }

  /** Resolves when the call may go, when a newer update of the same message took its place, or when it would wait too long. */
  async turn(
    method: string,
    channel: string | undefined,
    context: CallContext,
    supersedeKey: string | undefined,
    ticket: number = this.ticket(),
  ): Promise<Turn> {
    const since = Date.now();
    const buckets = bucketsFor(method, channel, this.#postsPerMinute);
    // The budget that held the call longest, for the log of long waits.
    let heldBy: string | undefined;
    let longest = 0;
    for (const [i, bucket] of buckets.entries()) {
      const asked = Date.now();
      const turn = await this.#turnFor(bucket, context, since, ticket, i === 0 ? supersedeKey : undefined);
      if (turn.kind !== 'go') return turn;
      if (Date.now() - asked >= longest) [heldBy, longest] = [bucket.key, Date.now() - asked];
    }
    return { kind: 'go', ...(heldBy ? { heldBy } : {}) };
  }

  #turnFor(
    bucket: BucketSpec,
    context: CallContext,
    since: number,
    ticket: number,
    supersedeKey: string | undefined,
  ): Promise<Turn> {
    let queue = this.#queues.get(bucket.key);
    const idle = !queue;
    if (!queue) this.#queues.set(bucket.key, (queue = []));
    if (supersedeKey) {
      for (const waiting of queue.filter((w) => w.supersedeKey === supersedeKey)) {
        queue.splice(queue.indexOf(waiting), 1);
        waiting.resolve({ kind: 'superseded' });
      }
    }
    return new Promise<Turn>((resolve) => {
      const waiter: Waiter = {
        rank: PRIORITY_RANK[context.priority],
        seq: ticket,
        since,
        priority: context.priority,
        maxWaitMs: context.maxWaitMs,
        supersedeKey,
        resolve,
      };
      // In priority order, first come first served within one (by ticket: a call sent again after a 429 goes back to
      // where it stood, not behind everything that arrived while it was out).
      let low = 0;
      let high = queue.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        const other = queue[middle]!;
        if (other.rank < waiter.rank || (other.rank === waiter.rank && other.seq < waiter.seq)) low = middle + 1;
        else high = middle;
      }
      queue.splice(low, 0, waiter);
      if (idle) void this.#serve(bucket, queue);
      else if (low === 0) this.#wakers.get(bucket.key)?.();
    });
  }

  /** One server per budget: asks it for the head of the queue until the queue is empty. */
  async #serve(bucket: BucketSpec, queue: Waiter[]): Promise<void> {
    while (queue.length > 0) {
      const head = queue[0]!;
      let waitMs: number;
      try {
        // Only the most urgent calls may take a budget's last tokens (across replicas, the reserve is their priority).
        waitMs = await this.#budget.take([bucket], head.rank > 0);
      } catch {
        waitMs = 0;
      }
      if (queue[0] !== head) {
        // A more urgent call arrived, or this one was superseded, while asking: the token goes to the new head.
        if (waitMs === 0 && queue.length > 0) queue.shift()!.resolve({ kind: 'go' });
        continue;
      }
      if (waitMs === 0) {
        queue.shift();
        head.resolve({ kind: 'go' });
        continue;
      }
      if (head.maxWaitMs !== undefined && Date.now() - head.since + waitMs > head.maxWaitMs) {
        queue.shift();
        head.resolve({ kind: 'busy', waitMs });
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, Math.min(waitMs, 1_000));
        function wake(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wakers.set(bucket.key, wake);
      });
      this.#wakers.delete(bucket.key);
    }
    this.#queues.delete(bucket.key);
  }

  /** Waiting calls by priority, and how long the oldest of each has waited (for /metrics). */
  backlog(now = Date.now()): Map<SlackPriority, { depth: number; oldestMs: number }> {
    const byPriority = new Map<SlackPriority, { depth: number; oldestMs: number }>();
    for (const queue of this.#queues.values()) {
      for (const waiter of queue) {
        const entry = byPriority.get(waiter.priority) ?? { depth: 0, oldestMs: 0 };
        entry.depth += 1;
        entry.oldestMs = Math.max(entry.oldestMs, now - waiter.since);
        byPriority.set(waiter.priority, entry);
      }
    }
    return byPriority;
  }
}

export class GatedWebClient extends WebClient {
  readonly #metrics: Metrics;
  readonly #budget: SlackBudget;
  readonly #queue: BudgetQueue;
  readonly #log: Logger;

  constructor(
    token: string,
    options: WebClientOptions,
    metrics: Metrics,
    budget: SlackBudget,
    log: Logger,
    postsPerMinute: number,
  ) {
    super(token, options);
    this.#metrics = metrics;
    this.#budget = budget;
    this.#queue = new BudgetQueue(budget, postsPerMinute);
    this.#log = log;
    metrics.onCollect(() => {
      const backlog = this.#queue.backlog();
      for (const priority of Object.keys(PRIORITY_RANK) as SlackPriority[]) {
        const entry = backlog.get(priority);
        metrics.slackQueueDepth.set({ priority }, entry?.depth ?? 0);
        metrics.slackQueueOldest.set({ priority }, (entry?.oldestMs ?? 0) / 1000);
      }
    });
  }

  override async apiCall(method: string, options?: Record<string, unknown>): Promise<WebAPICallResult> {
    const context = callContext.getStore() ?? { priority: 'interactive' };
    const channel = typeof options?.channel === 'string' ? options.channel : undefined;
    const supersedeKey = method === 'chat.update' && channel ? `${channel}:${String(options?.ts)}` : undefined;
    const triggerDeadline = typeof options?.trigger_id === 'string' ? Date.now() + TRIGGER_BUDGET_WAIT_MS : undefined;
    const ticket = this.#queue.ticket();
    for (let attempt = 1; ; attempt += 1) {
      const asked = Date.now();
      const turn = await this.#queue.turn(method, channel, withinTrigger(context, triggerDeadline), supersedeKey, ticket);
      if (turn.kind === 'superseded') return { ok: true, superseded: true } as WebAPICallResult;
      if (turn.kind === 'busy' && triggerDeadline !== undefined)
        throw new UserError(
          `Slack is opening too many forms in this workspace right now (its limit for \`${method}\`); please try again in ${Math.ceil(turn.waitMs / 1000)} s.`,
          'slack_busy',
        );
      if (turn.kind === 'busy') throw new SlackBusyError(method, turn.waitMs);
      const waitedMs = Date.now() - asked;
      if (waitedMs >= LONG_BUDGET_WAIT_MS)
        this.#log.info({
          event: 'slack.budget_wait',
          method,
          channel,
          priority: context.priority,
          waitedMs,
          budget: turn.heldBy,
        });
      try {
        return await super.apiCall(method, options);
      } catch (error) {
        if (error instanceof WebAPIRateLimitedError) {
          this.#metrics.slackRateLimited.inc({ method });
          this.#log.info({ event: 'slack.rate_limited', method, retryAfterS: error.retryAfter });
          await this.#budget.block(bucketHitBy(method, channel), error.retryAfter * 1000);
          continue;
        }
        const code = slackErrorCode(error);
        this.#metrics.slackApiErrors.inc({ method, error: code });
        // Slack's answers (name_taken, channel_not_found…) are the caller's to judge; a failure on the way is logged here.
        if (!isTransient(error)) throw error;
        const uncertain = !IDEMPOTENT.has(method) && !neverSent(error);
        const next = uncertain ? 'uncertain' : attempt > IDEMPOTENT_RETRIES ? 'failed' : 'sent_again';
        this.#log.warn({
          event: 'slack.call_failed',
          method,
          channel,
          priority: context.priority,
          attempt,
          error: describe(error),
          next,
        });
        if (next === 'uncertain') throw new UncertainOutcomeError(method, error);
        if (next === 'failed') throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      }
    }
  }
}

/** The call's context with its budget wait cut to what is left of a trigger's window, if it carries a trigger_id. */
function withinTrigger(context: CallContext, deadline: number | undefined): CallContext {
  if (deadline === undefined) return context;
  const left = Math.max(0, deadline - Date.now());
  return { ...context, maxWaitMs: Math.min(context.maxWaitMs ?? left, left) };
}

function isTransient(error: unknown): boolean {
  if (error instanceof WebAPIRequestError) return true;
  if (error instanceof WebAPIHTTPError) return error.statusCode >= 500;
  if (error instanceof WebAPIPlatformError) return SLACK_SIDE_ERRORS.has(error.data.error);
  return false;
}

/** Errors that happen before the request leaves this host: Slack cannot have acted, so any method may be sent again. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

function neverSent(error: unknown): boolean {
  if (!(error instanceof WebAPIRequestError)) return false;
  let cause: unknown = error.original;
  for (let depth = 0; cause && depth < 4; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

function describe(error: unknown): string {
  if (error instanceof WebAPIHTTPError) return `HTTP ${error.statusCode}`;
  if (error instanceof WebAPIRequestError) return error.original.message;
  if (error instanceof WebAPIPlatformError) return error.data.error;
  return error instanceof Error ? error.message : String(error);
}

export function createSlackClient(options: SlackClientOptions): GatedWebClient {
  const clientOptions: WebClientOptions = {
    // Its "http request failed" lines are slack.call_failed here, with the method and what happens next.
    logger: slackLogger(options.logger, {
      loggedByCaller: (message) => message.startsWith('http request failed'),
    }) as unknown as WebClientOptions['logger'],
    // This client waits for budgets and retries itself; the SDK's own queue pausing on a 429 would hold every method.
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: options.timeoutMs ?? 10_000,
  };
  if (options.apiUrl) clientOptions.slackApiUrl = options.apiUrl;
  return new GatedWebClient(
    options.token,
    clientOptions,
    options.metrics,
    options.budget ?? memoryBudget(),
    options.logger.child({ component: 'slack' }),
    options.postsPerMinute ?? DEFAULT_POSTS_PER_MINUTE,
  );
}

/** Slack's error code ("channel_not_found", "ratelimited", …) or the SDK's own code. */
export function slackErrorCode(error: unknown): string {
  if (error instanceof UncertainOutcomeError) return 'uncertain_outcome';
  if (error instanceof SlackBusyError) return 'rate_limited';
  if (error instanceof WebAPIHTTPError) return `http_${error.statusCode}`;
  const data = (error as { data?: { error?: unknown } }).data;
  if (typeof data?.error === 'string') return data.error;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'unknown';
}
