// The little of Slack the incident domain needs; app.ts supplies the implementation (src/clients/incident-slack.ts).
import type { KnownBlock } from '@slack/types';

export interface SlackMessage {
  text: string;
  blocks?: KnownBlock[];
  /** Slack message metadata; keyed posts carry their key here so they can be found again after a crash. */
  metadata?: { event_type: string; event_payload: Record<string, string | number | boolean> };
}

/** How urgent a call is: pages first, then setup, then updates, then summaries (the Slack budget serves them in order). */
export type SlackUrgency = 'page' | 'interactive' | 'setup' | 'update' | 'summary';

export type CreateChannelResult = { ok: true; id: string; name: string } | { ok: false; error: 'name_taken' };

export interface IncidentSlack {
  /**
   * Creates a public channel; `name_taken` when any channel (archived ones too) has the name. Throws
   * OutcomeUnknown when Slack's answer was lost (the channel may exist).
   */
  createChannel(name: string): Promise<CreateChannelResult>;
  /** A channel with this name among the bot's own channels (one it created), if any. */
  findOwnChannel(name: string): Promise<{ id: string; name: string } | undefined>;
  setTopic(channel: string, topic: string): Promise<void>;
  /**
   * Posts once under `key`: with `lookFirst` (an earlier attempt's outcome is unknown), a post with the same key
   * found in the channel is returned instead of posting again. Throws OutcomeUnknown when this attempt's is.
   * With `combine`, posts waiting for the same channel's budget go out together as one message (each keyed).
   * With `hold` (the work's fence, throwing when it may no longer act), an uncertain outcome is resolved at once: the
   * post is looked for and sent again if it is not there, instead of waiting for the work's next attempt.
   */
  postOnce(
    channel: string,
    message: SlackMessage,
    options: { key: string; lookFirst: boolean; since: Date; combine?: boolean; hold?: () => Promise<void> },
  ): Promise<{ channel: string; ts: string }>;
  /** The bot's post with this key in the channel since `since` (an earlier attempt's, whose outcome was unknown), if any. */
  findPost(channel: string, key: string, since: Date): Promise<{ channel: string; ts: string } | undefined>;
  /** Accepts a post that must reach Slack exactly once, eventually; 'queued' when Slack did not take it yet. */
  publish(
    channel: string,
    message: SlackMessage,
    options: { key: string; urgency: SlackUrgency; incidentId?: number | null },
  ): Promise<'posted' | 'queued'>;
  /**
   * Adds an entry to a rolling message in the channel: bursts (an alert storm) become one message edited as entries
   * arrive, not a message each. `lineKey` makes adding the same entry again a no-op.
   */
  roll(
    channel: string,
    topic: string,
    title: string,
    line: string,
    options: { urgency: SlackUrgency; incidentId?: number | null; lineKey: string; order?: number },
  ): Promise<void>;
  update(channel: string, ts: string, message: SlackMessage): Promise<void>;
  pin(channel: string, ts: string): Promise<void>;
  /**
   * Invites users (never fails on ones already there); with maxWaitMs, 'busy' (not all invited yet) rather than wait
   * longer for Slack's budget.
   */
  invite(channel: string, userIds: string[], options?: { maxWaitMs?: number }): Promise<'invited' | 'busy'>;
  /** User ids for a list of users and user groups. */
  expand(principals: string[]): Promise<string[]>;
  ephemeral(channel: string, user: string, text: string): Promise<void>;
  /**
   * Creates the channel's canvas from Markdown; `ok: false` with Slack's error when the workspace does not allow
   * canvases (a free plan, canvases turned off) or the channel already has one.
   */
  createChannelCanvas(channel: string, markdown: string): Promise<{ ok: true; id: string } | { ok: false; error: string }>;
  /** Archives the channel (one already archived counts as done). */
  archiveChannel(channel: string): Promise<void>;
  /** Whether a person (not a bot, not a join or topic notice) posted in the channel after the message `ts`. */
  humanPostedSince(channel: string, ts: string): Promise<boolean>;
  /** Posts a text file into the channel (files.uploadV2: upload URL, upload, complete). */
  uploadTextFile(channel: string, file: { filename: string; title: string; content: string; comment: string }): Promise<void>;
  /** Runs fn with its Slack calls at this urgency. */
  at<T>(urgency: SlackUrgency, fn: () => Promise<T>): Promise<T>;
}

/** Slack's answer was lost: the effect may or may not have happened; look before acting again. */
export class OutcomeUnknown extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutcomeUnknown';
  }
}
