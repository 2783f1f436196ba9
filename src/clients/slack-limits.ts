// Slack's rate limits as budgets: each Web API method's tier, the per-channel posting limit, shared across replicas.
//
// https://docs.slack.dev/apis/web-api/rate-limits: methods are rated per workspace in tiers (1: 1+/min, 2: 20+/min,
// 3: 50+/min, 4: 100+/min, with short bursts allowed); chat.postMessage is special: about one message per second per
// channel, with short bursts, under a workspace-wide budget. A 429 answer carries Retry-After and means the call was
// not processed. Each budget is a token bucket; a 429 also closes the bucket it hit until Retry-After has passed.
// With Redis the buckets live there (one Lua script takes tokens from every bucket a call needs, all or none, on the
// server's clock), so replicas share them; without it they live in this process.
import type { Redis } from 'ioredis';

export const SLACK_PRIORITIES = ['page', 'interactive', 'setup', 'update', 'summary'] as const;
export type SlackPriority = (typeof SLACK_PRIORITIES)[number];

/** Lower runs first: pages and people waiting on an answer, then incident setup, then updates, then summaries. */
export const PRIORITY_RANK: Record<SlackPriority, number> = { page: 0, interactive: 0, setup: 1, update: 2, summary: 3 };

const TIER_PER_MINUTE = { 1: 1, 2: 20, 3: 50, 4: 100 } as const;
type Tier = keyof typeof TIER_PER_MINUTE;

// The tier of each method the bot calls (Slack's method reference pages).
const METHOD_TIERS: Record<string, Tier> = {
  'apps.connections.open': 1,
  'conversations.create': 2,
  'conversations.canvases.create': 2,
  'canvases.create': 2,
  'conversations.list': 2,
  'usergroups.users.list': 2,
  'users.list': 2,
  'conversations.invite': 3,
  'conversations.setTopic': 3,
  'conversations.history': 3,
  'conversations.info': 3,
  'conversations.open': 3,
  'conversations.join': 3,
  'users.conversations': 3,
  'pins.add': 3,
  'chat.update': 3,
  'chat.delete': 3,
  'files.completeUploadExternal': 3,
  'users.info': 4,
  'chat.postEphemeral': 4,
  'views.open': 4,
  'views.update': 4,
  'views.push': 4,
  'files.getUploadURLExternal': 4,
  'auth.test': 4,
};

/** The workspace-wide budget for chat.postMessage (Slack: "several hundred messages per minute"); config slack.postsPerMinute. */
export const DEFAULT_POSTS_PER_MINUTE = 300;
/** Per channel: one message a second, with a burst of this many. */
const CHANNEL_BURST = 3;

export interface BucketSpec {
  key: string;
  /** Tokens per millisecond. */
  rate: number;
  capacity: number;
}

/** The buckets a call draws from: the method's, or for a post the channel's and the workspace's posting budgets. */
export function bucketsFor(method: string, channel: string | undefined, postsPerMinute = DEFAULT_POSTS_PER_MINUTE): BucketSpec[] {
  if (method === 'chat.postMessage' || method === 'chat.scheduleMessage') {
    return [
      { key: `post:${channel ?? 'unknown'}`, rate: 1 / 1000, capacity: CHANNEL_BURST },
      { key: 'post:workspace', rate: postsPerMinute / 60_000, capacity: Math.max(1, postsPerMinute / 10) },
    ];
  }
  const perMinute = TIER_PER_MINUTE[METHOD_TIERS[method] ?? 3];
  // Bursts up to a sixth of a minute's budget, at least one call.
  return [{ key: `method:${method}`, rate: perMinute / 60_000, capacity: Math.max(1, Math.floor(perMinute / 6)) }];
}

/** The bucket a 429 closes: for a post, the channel's (Slack does not say which budget it was). */
export function bucketHitBy(method: string, channel: string | undefined): string {
  return bucketsFor(method, channel)[0]!.key;
}

/**
 * Tokens a budget keeps for urgent calls (pages, people waiting on an answer). A call of lower priority takes a token
 * only while more than this is left. Each replica orders its own calls by priority, but the budget shared through Redis
 * is first come, first served: without a reserve, setups and summaries of one replica empty it under a page of another.
 * The rate left to the others is the same; only the last tokens of a burst are kept back. The reserve also keeps the
 * calls that are not urgent a token clear of Slack's own count, which sees each call a little after it took its token
 * (later still from a loaded replica): channel creation without it met 429s, each one a Tier 2 call spent for nothing.
 */
export function reserveOf(bucket: BucketSpec): number {
  return bucket.capacity >= 3 ? Math.max(1, Math.floor(bucket.capacity / 5)) : 0;
}

export interface SlackBudget {
  /**
   * Takes one token from each bucket, all or none; returns 0, or how many ms to wait before asking again. With
   * `keepReserve` (calls that are not urgent), each bucket must keep its reserve (reserveOf) after the take.
   */
  take(buckets: readonly BucketSpec[], keepReserve?: boolean): Promise<number>;
  /** Closes a bucket until `ms` from now (a 429 with Retry-After). */
  block(bucket: string, ms: number): Promise<void>;
}

/** The budget of one process. */
export function memoryBudget(now: () => number = Date.now): SlackBudget {
  const tokens = new Map<string, { tokens: number; at: number }>();
  const blockedUntil = new Map<string, number>();
  return {
    async take(buckets, keepReserve = false) {
      const t = now();
      let wait = 0;
      const levels = buckets.map((bucket) => {
        const blocked = (blockedUntil.get(bucket.key) ?? 0) - t;
        if (blocked > 0) wait = Math.max(wait, blocked);
        const state = tokens.get(bucket.key) ?? { tokens: bucket.capacity, at: t };
        const level = Math.min(bucket.capacity, state.tokens + (t - state.at) * bucket.rate);
        const need = 1 + (keepReserve ? reserveOf(bucket) : 0);
        if (level < need) wait = Math.max(wait, Math.ceil((need - level) / bucket.rate));
        return level;
      });
      if (wait > 0) return wait;
      buckets.forEach((bucket, i) => tokens.set(bucket.key, { tokens: levels[i]! - 1, at: t }));
      return 0;
    },
    async block(bucket, ms) {
      blockedUntil.set(bucket, Math.max(blockedUntil.get(bucket) ?? 0, now() + ms));
      // A closed bucket opens with one call after Retry-After, then its rate: no burst into a limit just hit.
      tokens.set(bucket, { tokens: 1, at: now() + ms });
    },
  };
}

// KEYS: one hash per bucket, then one "blocked" key per bucket. ARGV: n, then rate, capacity and the tokens the take
// must leave (its reserve, or 0 for an urgent call) per bucket.
const TAKE_SCRIPT = `
local n = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local wait = 0
local levels = {}
for i = 1, n do
  local blocked = redis.call('PTTL', KEYS[n + i])
  if blocked > wait then wait = blocked end
  local rate = tonumber(ARGV[3 * i - 1])
  local capacity = tonumber(ARGV[3 * i])
  local need = 1 + tonumber(ARGV[3 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local tokens = tonumber(state[1]) or capacity
  local at = tonumber(state[2]) or now
  local level = math.min(capacity, tokens + math.max(0, now - at) * rate)
  if level < need then
    local until_enough = math.ceil((need - level) / rate)
    if until_enough > wait then wait = until_enough end
  end
  levels[i] = level
end
if wait > 0 then return wait end
for i = 1, n do
  redis.call('HSET', KEYS[i], 'tokens', tostring(levels[i] - 1), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[i], 120000)
end
return 0
`;

// KEYS: the bucket's "blocked" key and its hash. ARGV: Retry-After in ms. The bucket reopens with one token, as in
// memoryBudget: every replica's next calls after Retry-After come one at a time, not as a burst into the limit just hit.
const BLOCK_SCRIPT = `
local ms = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', KEYS[1], '1', 'PX', ms)
redis.call('HSET', KEYS[2], 'tokens', '1', 'at', tostring(now + ms))
redis.call('PEXPIRE', KEYS[2], 120000 + ms)
return 0
`;

/** The budget shared by every replica on one Redis. */
export function redisBudget(redis: Redis, prefix = 'runbook-bot:slack:'): SlackBudget {
  return {
    async take(buckets, keepReserve = false) {
      const keys = [...buckets.map((b) => `${prefix}bucket:${b.key}`), ...buckets.map((b) => `${prefix}blocked:${b.key}`)];
      const args = [buckets.length, ...buckets.flatMap((b) => [b.rate, b.capacity, keepReserve ? reserveOf(b) : 0])];
      const wait = await redis.eval(TAKE_SCRIPT, keys.length, ...keys, ...args);
      return Number(wait);
    },
    async block(bucket, ms) {
      await redis.eval(BLOCK_SCRIPT, 2, `${prefix}blocked:${bucket}`, `${prefix}bucket:${bucket}`, Math.max(1, Math.ceil(ms)));
    },
  };
}

/** Redis first; if Redis fails, this process's own budget, so Slack calls never wait on a broken Redis. */
export function resilientBudget(primary: SlackBudget, fallback: SlackBudget, onError: (error: unknown) => void): SlackBudget {
  return {
    async take(buckets, keepReserve) {
      try {
        return await primary.take(buckets, keepReserve);
      } catch (error) {
        onError(error);
        return fallback.take(buckets, keepReserve);
      }
    },
    async block(bucket, ms) {
      await fallback.block(bucket, ms);
      await primary.block(bucket, ms).catch(onError);
    },
  };
}
