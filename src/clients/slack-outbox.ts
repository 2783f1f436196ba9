// The outgoing Slack queue: posts the bot has accepted (notes, announcements, alert posts, reports) are durable work
// rows, posted once, as soon as Slack's limits allow, on whichever replica gets to them; also after an outage.
//
// A post is tried at once on the replica that accepted it, waiting briefly for its budget; if Slack refuses or is
// slow, it stays queued and the poller's Slack lane sends it later. Every post carries its key in metadata, so a try
// whose outcome was unknown is looked for before it is sent again. "Rolling" posts gather bursts into one channel
// (an alert storm) into one message that is edited as lines arrive, instead of a flood of messages.
import { WebAPIPlatformError } from '@slack/web-api';
import { z } from 'zod';
import type { Clock } from '../clock.ts';
import type { SlackMessage } from '../incidents/slack-port.ts';
import type { Store } from '../store/db.ts';
import { LOCK_IDS } from '../store/locks.ts';
import { enqueueWork, getWork, upsertWork } from '../store/work.ts';
import { DeferWork, PermanentWorkError, UncertainWorkError, type DueWorkPoller, type Lease } from '../work/due-work-poller.ts';
import { PRIORITY_RANK, SLACK_PRIORITIES, type SlackPriority } from './slack-limits.ts';
import type { PostOnce } from './slack-post-once.ts';
import { SlackBusyError, UncertainOutcomeError, withSlackPriority, type GatedWebClient } from './slack.ts';

export const OUTBOX_KINDS = { post: 'slack_post', rolling: 'slack_rolling' } as const;

// Slack answers that no retry can change.
const PERMANENT_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'msg_too_long',
  'invalid_blocks',
  'invalid_blocks_format',
  'no_text',
  'restricted_action',
  'user_not_found',
  'cannot_dm_bot',
  'invalid_metadata_format',
]);

/** How long a post tried at once may wait for its budget before it is left to the queue. */
const IMMEDIATE_WAIT_MS = 3_000;
/** A rolling message takes new entries for this long, up to this much text, then the next one starts. */
const ROLLING_WINDOW_MS = 10 * 60_000;
const ROLLING_MAX_CHARS = 3_500;

// Payloads are read back from the store: parsed, not trusted.
const prioritySchema = z.enum(SLACK_PRIORITIES);
const postPayloadSchema = z.object({
  channel: z.string().min(1),
  message: z.object({
    text: z.string(),
    blocks: z.array(z.any()).optional(),
    metadata: z.object({ event_type: z.string(), event_payload: z.record(z.string(), z.any()) }).optional(),
  }),
  priority: prioritySchema,
});
type PostPayload = z.infer<typeof postPayloadSchema>;
const rollingPayloadSchema = z.object({
  channel: z.string().min(1),
  title: z.string(),
  entries: z.array(z.object({ key: z.string(), text: z.string(), order: z.number().optional() })),
  priority: prioritySchema,
});
type RollingPayload = z.infer<typeof rollingPayloadSchema>;

export interface OutboxOptions {
  store: Store;
  clock: Clock;
  slack: GatedWebClient;
  postOnce: PostOnce;
}

export type PublishOutcome = 'posted' | 'queued';

/** Where a published post landed, once it has. */
export interface Published {
  outcome: PublishOutcome;
  channel?: string;
  ts?: string;
}

export class SlackOutbox {
  readonly #o: OutboxOptions;
  #poller: DueWorkPoller | undefined;

  constructor(options: OutboxOptions) {
    this.#o = options;
  }

  /** The poller that runs queued posts (set once the app has built it). */
  attach(poller: DueWorkPoller): void {
    this.#poller = poller;
  }

  /**
   * Accepts a post for the channel, once per key (a second publish with the same key changes nothing), and tries it
   * at once. 'queued' means Slack did not take it yet; it will be posted when Slack allows.
   */
  async publish(
    channel: string,
    message: SlackMessage,
    options: { key: string; priority: SlackPriority; incidentId?: number | null },
  ): Promise<PublishOutcome> {
    return (await this.publishAt(channel, message, options)).outcome;
  }

  /** publish, and where the post landed (to thread a chart under a report). */
  async publishAt(
    channel: string,
    message: SlackMessage,
    options: { key: string; priority: SlackPriority; incidentId?: number | null },
  ): Promise<Published> {
    const payload: PostPayload = { channel, message, priority: options.priority };
    const key = `post:${options.key}`;
    await enqueueWork(
      this.#o.store,
      {
        kind: OUTBOX_KINDS.post,
        key,
        incidentId: options.incidentId ?? null,
        priority: PRIORITY_RANK[options.priority],
        runAt: this.#o.clock.now(),
        payload: { ...payload },
      },
      this.#o.clock.now(),
    );
    const outcome = await this.#tryNow(key);
    const result =
      outcome === 'posted' ? ((await getWork(this.#o.store, key))?.result as { channel?: string; ts?: string } | null) : null;
    return { outcome, ...(result?.channel ? { channel: result.channel } : {}), ...(result?.ts ? { ts: result.ts } : {}) };
  }

  /** Adds an entry to the channel's rolling message for `topic` (alert posts): one message edited, not one per entry. */
  async roll(
    channel: string,
    topic: string,
    title: string,
    text: string,
    options: { priority: SlackPriority; incidentId?: number | null; lineKey: string; order?: number },
  ): Promise<PublishOutcome> {
    const now = this.#o.clock.now();
    const window = Math.floor(now.getTime() / ROLLING_WINDOW_MS);
    // Appends are read-modify-write: serialised across replicas, so no entry is lost to a concurrent one.
    const key = await this.#o.store.transaction(async (tx) => {
      await tx.lock(LOCK_IDS.rollingPosts);
      for (let part = 0; ; part += 1) {
        const rowKey = `rolling:${channel}:${topic}:${window}:${part}`;
        const existing = await getWork(tx, rowKey);
        const entries = existing ? parsePayload(rollingPayloadSchema, existing.payload).entries : [];
        if (entries.some((entry) => entry.key === options.lineKey)) return rowKey;
        const size = entries.reduce((sum, entry) => sum + entry.text.length + 1, title.length);
        if (entries.length > 0 && size + text.length > ROLLING_MAX_CHARS) continue;
        const payload: RollingPayload = {
          channel,
          title,
          // In the order of their sources (alert deliveries processed side by side finish in any order).
          entries: [
            ...entries,
            {
              key: options.lineKey,
              text: text.slice(0, ROLLING_MAX_CHARS),
              ...(options.order === undefined ? {} : { order: options.order }),
            },
          ].sort((a, b) => (a.order ?? 0) - (b.order ?? 0)),
          priority: options.priority,
        };
        // The version bump makes a row that is running now go round again with every entry.
        await upsertWork(
          tx,
          {
            kind: OUTBOX_KINDS.rolling,
            key: rowKey,
            incidentId: options.incidentId ?? null,
            priority: PRIORITY_RANK[options.priority],
            runAt: now,
            payload: { ...payload },
          },
          now,
        );
        return rowKey;
      }
    });
    return this.#tryNow(key);
  }

  /** The work handlers for the poller's Slack lane. */
  handlers(): Record<string, (lease: Lease) => Promise<Record<string, unknown> | void>> {
    return {
      [OUTBOX_KINDS.post]: (lease) => this.#deliverPost(lease),
      [OUTBOX_KINDS.rolling]: (lease) => this.#deliverRolling(lease),
    };
  }

  async #tryNow(key: string): Promise<PublishOutcome> {
    if (!this.#poller) return 'queued';
    await withSlackPriority('interactive', () => this.#poller!.runNow(key), IMMEDIATE_WAIT_MS);
    const row = await getWork(this.#o.store, key);
    return row?.state === 'done' ? 'posted' : 'queued';
  }

  async #deliverPost(lease: Lease): Promise<Record<string, unknown>> {
    const { claim } = lease;
    const { channel, message, priority } = parsePayload(postPayloadSchema, claim.payload);
    return deliver(priority, async () => {
      await lease.hold();
      const posted = await this.#o.postOnce.post(channel, message, {
        key: claim.key,
        lookFirst: claim.uncertain || claim.attempts > 1,
        since: claim.created_at,
        kind: 'post',
      });
      return { channel: posted.channel, ts: posted.ts };
    });
  }

  async #deliverRolling(lease: Lease): Promise<Record<string, unknown>> {
    const { claim } = lease;
    const { channel, title, entries, priority } = parsePayload(rollingPayloadSchema, claim.payload);
    const message: SlackMessage = { text: [title, ...entries.map((entry) => entry.text)].join('\n').slice(0, 3_900) };
    return deliver(priority, async () => {
      await lease.hold();
      const previous = claim.result as { channel?: string; ts?: string } | null;
      if (previous?.ts && previous.channel) {
        await this.#o.slack.chat.update({ channel: previous.channel, ts: previous.ts, text: message.text });
        return { channel: previous.channel, ts: previous.ts, entries: entries.length };
      }
      const posted = await this.#o.postOnce.post(channel, message, {
        key: claim.key,
        lookFirst: claim.uncertain || claim.attempts > 1,
        since: claim.created_at,
        kind: 'rolling',
      });
      return { channel: posted.channel, ts: posted.ts, entries: entries.length };
    });
  }
}

function parsePayload<T>(schema: z.ZodType<T>, payload: unknown): T {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new PermanentWorkError(`a queued Slack post is not readable: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Runs a delivery at its priority and turns Slack's answers into what the poller does next. */
async function deliver<T>(priority: SlackPriority, send: () => Promise<T>): Promise<T> {
  try {
    return await withSlackPriority(priority, send);
  } catch (error) {
    throw workErrorFor(error);
  }
}

/** Uncertain → look first next time; busy → later, not a failure; a permanent refusal → give up and log. */
export function workErrorFor(error: unknown): unknown {
  // The incident domain's port wraps the client's uncertainty (OutcomeUnknown, cause UncertainOutcomeError).
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (error instanceof UncertainOutcomeError || cause instanceof UncertainOutcomeError)
    return new UncertainWorkError(error instanceof Error ? error.message : String(error), { cause: error });
  if (error instanceof SlackBusyError) return new DeferWork(error.availableInMs, error.message);
  if (error instanceof WebAPIPlatformError && PERMANENT_ERRORS.has(error.data.error))
    return new PermanentWorkError(`Slack refused: ${error.data.error}`, { cause: error });
  return error;
}
