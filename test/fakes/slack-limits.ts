// How the fake Slack says no: its documented rate limits (429 + Retry-After) and the faults of a real network.
//
// Limits (docs.slack.dev/apis/web-api/rate-limits): every method is rated per workspace in tiers (1: 1/min, 2: 20/min,
// 3: 50/min, 4: 100/min, with bursts); chat.postMessage allows about one message per second per channel, with short
// bursts, under a workspace-wide budget. Faults: a 500 before or after the call took effect (Slack's fatal_error
// "may have succeeded"), a connection dropped before or after, an answer that never comes.

export interface RateLimitOptions {
  /** Calls per minute by method; defaults follow Slack's tiers for the methods the bot uses. */
  perMinute?: Record<string, number>;
  /** How many calls of a method may come at once before the per-minute rate applies; default a sixth of a minute's. */
  burstFraction?: number;
  /** chat.postMessage per channel: one a second, with this burst; default 3. */
  channelBurst?: number;
  /** chat.postMessage per minute for the whole workspace; default 300. */
  workspacePostsPerMinute?: number;
}

export type FaultKind = 'http500_before' | 'http500_after' | 'drop_before' | 'drop_after' | 'no_answer_after';
export const FAULT_KINDS: readonly FaultKind[] = [
  'http500_before',
  'http500_after',
  'drop_before',
  'drop_after',
  'no_answer_after',
];

export interface FaultOptions {
  /** Share of calls that meet a fault, 0–1. */
  rate: number;
  kinds?: readonly FaultKind[];
  /** Only these methods (default: every write the bot makes). */
  methods?: readonly string[];
  /** A seed, so a run can be repeated. */
  seed?: number;
}

const TIERS: Record<string, number> = {
  'conversations.create': 20,
  'conversations.list': 20,
  'usergroups.users.list': 20,
  'users.list': 20,
  'conversations.invite': 50,
  'conversations.setTopic': 50,
  'conversations.history': 50,
  'conversations.info': 50,
  'conversations.open': 50,
  'conversations.join': 50,
  'conversations.archive': 50,
  'users.conversations': 50,
  'pins.add': 50,
  'chat.update': 50,
  'chat.delete': 50,
  'files.completeUploadExternal': 50,
  'chat.postEphemeral': 100,
  'views.open': 100,
  'views.update': 100,
  'views.push': 100,
  'files.getUploadURLExternal': 100,
  'users.info': 100,
  'auth.test': 600,
  'apps.connections.open': 1,
};
const DEFAULT_FAULT_METHODS = [
  'chat.postMessage',
  'chat.update',
  'conversations.create',
  'conversations.invite',
  'conversations.setTopic',
  'pins.add',
];

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets as Slack keeps them; `take` answers 0 or the seconds to put in Retry-After. */
export class FakeRateLimits {
  readonly #options: Required<RateLimitOptions>;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = {}) {
    this.#options = {
      perMinute: { ...TIERS, ...options.perMinute },
      burstFraction: options.burstFraction ?? 1 / 6,
      channelBurst: options.channelBurst ?? 3,
      workspacePostsPerMinute: options.workspacePostsPerMinute ?? 300,
    };
  }

  /** Takes the call's tokens, or returns the Retry-After (seconds) when a budget is spent. */
  take(method: string, channel: string | undefined, now = Date.now()): number {
    const buckets: Array<{ key: string; rate: number; capacity: number }> = [];
    if (method === 'chat.postMessage') {
      const workspace = this.#options.workspacePostsPerMinute;
      buckets.push({ key: `post:${channel ?? ''}`, rate: 1 / 1000, capacity: this.#options.channelBurst });
      buckets.push({ key: 'post:*', rate: workspace / 60_000, capacity: Math.max(1, workspace * this.#options.burstFraction) });
    } else {
      const perMinute = this.#options.perMinute[method];
      if (perMinute === undefined) return 0;
      buckets.push({
        key: method,
        rate: perMinute / 60_000,
        capacity: Math.max(1, Math.floor(perMinute * this.#options.burstFraction)),
      });
    }
    let waitMs = 0;
    const levels = buckets.map((bucket) => {
      const state = this.#buckets.get(bucket.key) ?? { tokens: bucket.capacity, at: now };
      const level = Math.min(bucket.capacity, state.tokens + (now - state.at) * bucket.rate);
      if (level < 1) waitMs = Math.max(waitMs, (1 - level) / bucket.rate);
      return level;
    });
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    buckets.forEach((bucket, i) => this.#buckets.set(bucket.key, { tokens: levels[i]! - 1, at: now }));
    return 0;
  }
}

/** Decides which calls meet a fault: explicitly queued ones first, then at random at the configured rate. */
export class FakeFaults {
  #random: () => number = Math.random;
  #options: FaultOptions | undefined;
  readonly #queued = new Map<string, FaultKind[]>();

  configure(options: FaultOptions | undefined): void {
    this.#options = options;
    if (options?.seed !== undefined) this.#random = seeded(options.seed);
  }

  queue(method: string, kind: FaultKind, times = 1): void {
    const queue = this.#queued.get(method) ?? [];
    for (let i = 0; i < times; i += 1) queue.push(kind);
    this.#queued.set(method, queue);
  }

  next(method: string): FaultKind | undefined {
    const queued = this.#queued.get(method)?.shift();
    if (queued) return queued;
    const options = this.#options;
    if (!options || options.rate <= 0) return undefined;
    if (!(options.methods ?? DEFAULT_FAULT_METHODS).includes(method)) return undefined;
    if (this.#random() >= options.rate) return undefined;
    const kinds = options.kinds ?? FAULT_KINDS;
    return kinds[Math.floor(this.#random() * kinds.length)];
  }

  reset(): void {
    this.#options = undefined;
    this.#queued.clear();
  }
}

/** mulberry32: small, good enough to repeat a run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
