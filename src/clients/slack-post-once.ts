// Exactly once at the boundary: every post the bot must not double carries its key in message metadata, and after
// an uncertain outcome the bot looks for that key in the conversation before it posts again.
import type { WebClient } from '@slack/web-api';
import type { SlackMessage } from '../incidents/slack-port.ts';
import type { Metrics } from '../metrics.ts';
import { UncertainOutcomeError } from './slack.ts';

/** The metadata event type of every keyed post; its payload's `key` names the post. */
export const POST_EVENT_TYPE = 'runbook_bot_post';

export interface PostOnceOptions {
  /** Unique for this post, stable across attempts: "escalation:42:2", "announce:42". */
  key: string;
  /** A previous attempt may have posted it: look first. */
  lookFirst: boolean;
  /** The earliest time an earlier attempt could have posted it. */
  since: Date;
  /** Labels the re-sends-avoided metric. */
  kind: string;
  /**
   * The caller's fence (its lease's hold): given, an uncertain outcome is resolved at once (look, then post again
   * if the post is not there) instead of by the work's next attempt seconds later; it throws when the work may no
   * longer act.
   */
  hold?: () => Promise<void>;
}

export interface Posted {
  channel: string;
  ts: string;
  /** The post was already there (an earlier attempt's), so nothing was sent. */
  found: boolean;
}

type HistoryMessage = { ts?: string; metadata?: { event_type?: string; event_payload?: Record<string, unknown> } };

/** After an uncertain outcome, the pause before looking: room for a post Slack stored as it failed to answer. */
const SETTLE_BEFORE_LOOK_MS = 250;

/**
 * Uncertain outcomes in a row a post resolves itself (look, then send again); after that Slack is taken to be down and
 * the work's next attempt, after its backoff, looks first. One was too few: with 10 % of writes failing (bench:slack-limits'
 * faults round) two in a row do happen, and the page then waited for the backoff (after a 10 s timeout, 12 s late).
 */
const UNCERTAIN_OUTCOMES_RESOLVED_HERE = 3;

/** At most this many posts go into one combined message (Slack allows 50 blocks; a page is one or two). */
const MAX_COMBINED = 10;

interface Pending {
  message: SlackMessage;
  key: string;
  since: Date;
  kind: string;
  hold: (() => Promise<void>) | undefined;
  /** Uncertain outcomes its messages met so far (see UNCERTAIN_OUTCOMES_RESOLVED_HERE). */
  uncertainOutcomes: number;
  resolve: (posted: Posted) => void;
  reject: (error: unknown) => void;
}

/** True when a message's metadata names this key (a combined message names several). */
function carriesKey(message: HistoryMessage, key: string): boolean {
  const payload = message.metadata?.event_payload;
  if (message.metadata?.event_type !== POST_EVENT_TYPE || !payload) return false;
  return payload.key === key || (typeof payload.keys === 'string' && payload.keys.split(' ').includes(key));
}

/** Finds where the bot posts in one conversation and whether it already posted there, by key. */
export class PostOnce {
  readonly #slack: WebClient;
  readonly #metrics: Metrics;
  // Channel names ("#incidents") and user ids (direct messages) resolve to conversation ids once.
  readonly #conversationIds = new Map<string, string>();
  // Posts waiting to be combined, per conversation (see combined()).
  readonly #waiting = new Map<string, Pending[]>();

  constructor(slack: WebClient, metrics: Metrics) {
    this.#slack = slack;
    this.#metrics = metrics;
  }

  async post(target: string, message: SlackMessage, options: PostOnceOptions): Promise<Posted> {
    if (options.lookFirst) {
      const earlier = await this.#lookFor(target, options);
      if (earlier) return earlier;
    }
    for (let outcomes = 1; ; outcomes += 1) {
      try {
        return await this.#send(target, message, options.key);
      } catch (error) {
        if (!(error instanceof UncertainOutcomeError) || !options.hold || outcomes >= UNCERTAIN_OUTCOMES_RESOLVED_HERE)
          throw error;
        // Looked for and sent again here: a page that met a 500 is out in a second, not after the work's backoff.
        await new Promise((resolve) => setTimeout(resolve, SETTLE_BEFORE_LOOK_MS));
        await options.hold();
        const earlier = await this.#lookFor(target, options);
        if (earlier) return earlier;
        await options.hold();
      }
    }
  }

  async #lookFor(target: string, options: PostOnceOptions): Promise<Posted | undefined> {
    const earlier = await this.find(target, options.key, options.since);
    if (!earlier) return undefined;
    this.#metrics.slackResendsAvoided.inc({ kind: options.kind });
    return { ...earlier, found: true };
  }

  async #send(target: string, message: SlackMessage, key: string): Promise<Posted> {
    const result = await this.#slack.chat.postMessage({
      channel: target,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      metadata: {
        event_type: POST_EVENT_TYPE,
        event_payload: { ...message.metadata?.event_payload, key },
      },
      unfurl_links: false,
      unfurl_media: false,
    });
    if (result.channel) this.#conversationIds.set(target, result.channel);
    return { channel: result.channel!, ts: result.ts!, found: false };
  }

  /**
   * Like post, but posts that wait for the same conversation's budget go out together as one message (each keyed):
   * fifty pages due within ten seconds into one announcement channel, which takes one message a second, become a
   * few messages on time instead of fifty spread over a minute. The first goes at once.
   */
  async combined(target: string, message: SlackMessage, options: PostOnceOptions): Promise<Posted> {
    if (options.lookFirst) {
      const earlier = await this.#lookFor(target, options);
      if (earlier) return earlier;
    }
    return new Promise<Posted>((resolve, reject) => {
      const waiting = this.#waiting.get(target);
      const item: Pending = {
        message,
        key: options.key,
        since: options.since,
        kind: options.kind,
        hold: options.hold,
        uncertainOutcomes: 0,
        resolve,
        reject,
      };
      if (waiting) {
        waiting.push(item);
        return;
      }
      const queue = [item];
      this.#waiting.set(target, queue);
      void this.#sendCombined(target, queue);
    });
  }

  async #sendCombined(target: string, queue: Pending[]): Promise<void> {
    while (queue.length > 0) {
      // Whatever arrived while the previous message waited for its turn goes into this one.
      const items = queue.splice(0, MAX_COMBINED);
      const keys = items.map((item) => item.key);
      try {
        const result = await this.#slack.chat.postMessage({
          channel: target,
          text: items.map((item) => item.message.text).join('\n'),
          blocks: items.flatMap(
            (item) =>
              item.message.blocks ?? [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: item.message.text } }],
          ),
          metadata: {
            event_type: POST_EVENT_TYPE,
            event_payload: { key: keys[0]!, ...(keys.length > 1 ? { keys: keys.join(' ') } : {}) },
          },
          unfurl_links: false,
          unfurl_media: false,
        });
        if (result.channel) this.#conversationIds.set(target, result.channel);
        for (const item of items) item.resolve({ channel: result.channel!, ts: result.ts!, found: false });
      } catch (error) {
        queue.unshift(...(await this.#afterUncertainCombined(target, items, error)));
      }
    }
    this.#waiting.delete(target);
  }

  /**
   * A combined message failed. After an uncertain outcome its posts are looked for at once, with one read of the
   * channel, and those not there go again in the next message (returned), as a single post would: a 500 or a dropped
   * connection would otherwise send every page in the message to its work's backoff and a look of its own, seconds
   * late (the announcement-channel pages of bench:slack-limits' faults round started up to 14 s late, and a page whose
   * incident channel was made meanwhile then went there instead, 8 s late). Anything else fails them all.
   */
  async #afterUncertainCombined(target: string, items: Pending[], error: unknown): Promise<Pending[]> {
    if (!(error instanceof UncertainOutcomeError)) {
      for (const item of items) item.reject(error);
      return [];
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_BEFORE_LOOK_MS));
    const since = new Date(Math.min(...items.map((item) => item.since.getTime())));
    let found: Map<string, { channel: string; ts: string }>;
    try {
      found = await this.#findKeys(target, new Set(items.map((item) => item.key)), since);
    } catch (lookError) {
      for (const item of items) item.reject(lookError);
      return [];
    }
    const resend: Pending[] = [];
    for (const item of items) {
      const earlier = found.get(item.key);
      if (earlier) {
        this.#metrics.slackResendsAvoided.inc({ kind: item.kind });
        item.resolve({ ...earlier, found: true });
        continue;
      }
      const outcomes = item.uncertainOutcomes + 1;
      // Sent again only by a holder that may still act (its lease held); others are left to their works.
      if (!item.hold || outcomes >= UNCERTAIN_OUTCOMES_RESOLVED_HERE) {
        item.reject(error);
        continue;
      }
      try {
        await item.hold();
        resend.push({ ...item, uncertainOutcomes: outcomes });
      } catch (holdError) {
        item.reject(holdError);
      }
    }
    return resend;
  }

  /** The bot's post with this key in the conversation since `since`, if any. */
  async find(target: string, key: string, since: Date): Promise<{ channel: string; ts: string } | undefined> {
    return (await this.#findKeys(target, new Set([key]), since)).get(key);
  }

  /** The bot's posts with these keys in the conversation since `since`, by key: one read for them all. */
  async #findKeys(target: string, keys: Set<string>, since: Date): Promise<Map<string, { channel: string; ts: string }>> {
    const found = new Map<string, { channel: string; ts: string }>();
    const channel = await this.conversationId(target);
    if (!channel) return found;
    let cursor: string | undefined;
    for (let page = 0; page < 5 && found.size < keys.size; page += 1) {
      const result = await this.#slack.conversations.history({
        channel,
        oldest: String(Math.floor(since.getTime() / 1000) - 60),
        include_all_metadata: true,
        limit: 200,
        ...(cursor ? { cursor } : {}),
      });
      for (const message of (result.messages ?? []) as HistoryMessage[]) {
        if (!message.ts) continue;
        for (const key of keys) if (!found.has(key) && carriesKey(message, key)) found.set(key, { channel, ts: message.ts });
      }
      cursor = result.response_metadata?.next_cursor || undefined;
      if (!cursor) break;
    }
    return found;
  }

  /** A conversation id for a channel id, a "#name" or a user id (their direct messages with the bot). */
  async conversationId(target: string): Promise<string | undefined> {
    if (/^[CGD][A-Z0-9]+$/.test(target)) return target;
    const known = this.#conversationIds.get(target);
    if (known) return known;
    if (/^[UW][A-Z0-9]+$/.test(target)) {
      const opened = await this.#slack.conversations.open({ users: target });
      const id = opened.channel?.id;
      if (id) this.#conversationIds.set(target, id);
      return id;
    }
    const name = target.replace(/^#/, '');
    // Only the bot's own conversations: it can read the history of no others anyway.
    let cursor: string | undefined;
    do {
      const result = await this.#slack.users.conversations({
        types: 'public_channel,private_channel',
        exclude_archived: true,
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      });
      for (const channel of result.channels ?? []) {
        if (channel.id && channel.name) this.#conversationIds.set(`#${channel.name}`, channel.id);
      }
      cursor = result.response_metadata?.next_cursor || undefined;
    } while (cursor && !this.#conversationIds.has(`#${name}`));
    return this.#conversationIds.get(`#${name}`);
  }
}
