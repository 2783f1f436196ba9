// The little of Slack the incident domain needs; app.ts supplies the implementation.
import type { KnownBlock } from '@slack/types';

export interface SlackMessage {
  text: string;
  blocks?: KnownBlock[];
  /** Slack message metadata, used to find a post again after a crash (escalations). */
  metadata?: { event_type: string; event_payload: Record<string, string | number | boolean> };
}

export interface IncidentSlack {
  /** Creates a public channel; `name_taken` when any channel (archived ones too) has the name. */
  createChannel(name: string): Promise<{ ok: true; id: string; name: string } | { ok: false; error: 'name_taken' }>;
  setTopic(channel: string, topic: string): Promise<void>;
  post(channel: string, message: SlackMessage): Promise<{ channel: string; ts: string }>;
  update(channel: string, ts: string, message: SlackMessage): Promise<void>;
  pin(channel: string, ts: string): Promise<void>;
  /** Invites users (never fails on ones already there). */
  invite(channel: string, userIds: string[]): Promise<void>;
  /** User ids for a list of users and user groups. */
  expand(principals: string[]): Promise<string[]>;
  /** The ts of a message in the channel since `sinceTs` whose metadata matches, if any. */
  findPosted(channel: string, eventType: string, key: string, since: Date): Promise<string | undefined>;
  ephemeral(channel: string, user: string, text: string): Promise<void>;
}
