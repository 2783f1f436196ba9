// The fake Slack's records and options as tests see them, the error a method answers with, and Slack's limits it enforces.
import type { FaultKind } from '../slack-limits.ts';

export type Args = Record<string, unknown>;

/** The workspace every fake answers for unless options say otherwise; slack-requests.ts uses the same ids. */
export const FAKE_WORKSPACE = {
  teamId: 'T0TEST',
  teamName: 'Runbook Test',
  teamDomain: 'runbook-test',
  botUserId: 'U0BOT',
  botId: 'B0BOT',
  botName: 'runbook-bot',
  appId: 'A0RUNBOOK',
} as const;

export interface RecordedCall {
  /** 1, 2, 3…: order of arrival, so a test can wait for a call after the ones it has seen. */
  seq: number;
  /** A Web API method, or 'response_url' (a POST to a response URL) or 'file_upload' (bytes sent to an upload URL). */
  method: string;
  /** Parsed arguments without the token; JSON-encoded fields (blocks, attachments, view, metadata, files) parsed; other form values stay strings. */
  args: Args;
  /** Epoch milliseconds when the request arrived. */
  at: number;
  token?: string | undefined;
  /** HTTP status the fake answered (429 for an injected rate limit). */
  status: number;
  /** Slack's error code when the answer was not ok. */
  error?: string | undefined;
  /** The network fault this call met, if any (see injectFaults). */
  fault?: FaultKind | undefined;
}

export interface FakeUser {
  id: string;
  name: string;
  realName: string;
  isBot: boolean;
  deleted: boolean;
  tz: string;
  email?: string | undefined;
}
export type UserSeed = Pick<FakeUser, 'id'> & Partial<Omit<FakeUser, 'id'>>;

export interface FakeChannel {
  id: string;
  name: string;
  isPrivate: boolean;
  isArchived: boolean;
  /** A direct message channel (D…), opened by posting to a user id or conversations.open. */
  isIm: boolean;
  topic: string;
  purpose: string;
  members: string[];
  creator: string;
  /** Epoch seconds. */
  created: number;
}
export interface ChannelSeed {
  name: string;
  id?: string;
  isPrivate?: boolean;
  isArchived?: boolean;
  /** Default: the bot and every user seeded so far (an #ops channel everyone is in). */
  members?: string[];
  topic?: string;
  purpose?: string;
}

export interface FakeUsergroup {
  id: string;
  handle: string;
  name: string;
  users: string[];
}
export type UsergroupSeed = Pick<FakeUsergroup, 'id' | 'users'> & Partial<FakeUsergroup>;

export interface FakeMessage {
  channel: string;
  ts: string;
  /** Who posted it: the bot for chat.postMessage, anyone for seedMessage. */
  user: string;
  text: string;
  blocks?: unknown[] | undefined;
  attachments?: unknown[] | undefined;
  threadTs?: string | undefined;
  metadata?: { event_type: string; event_payload: Record<string, unknown> } | undefined;
  reactions: { name: string; users: string[] }[];
  pinned: boolean;
  /** ts of the last chat.update. */
  editedTs?: string | undefined;
  files?: { id: string; name: string; title: string }[] | undefined;
}

export interface FakeEphemeral {
  channel: string;
  /** The only user who sees it. */
  user: string;
  ts: string;
  text: string;
  blocks?: unknown[] | undefined;
  threadTs?: string | undefined;
}

export interface FakeResponse {
  /** The response URL's id (the last path segment). */
  id: string;
  url: string;
  /** The JSON body posted: text, blocks, response_type, replace_original, delete_original. */
  body: Args;
  at: number;
}

export interface FakeView {
  id: string;
  type: string;
  callbackId: string;
  privateMetadata: string;
  externalId: string;
  hash: string;
  rootViewId: string;
  previousViewId: string | null;
  title: unknown;
  blocks: unknown[];
  /** The view object as last sent by views.open / views.push / views.update. */
  view: Args;
  openedBy: 'views.open' | 'views.push';
  triggerId: string;
}

export interface FakeFile {
  id: string;
  filename: string;
  length: number;
  title: string;
  /** The bytes sent to the upload URL, once they were. */
  bytes?: Buffer | undefined;
  completed: boolean;
  channels: string[];
}

export interface FakeCanvas {
  id: string;
  title: string;
  /** The channel whose canvas it is (conversations.canvases.create), or where canvases.create shared it. */
  channel: string | null;
  markdown: string;
}

export interface FakeSlackOptions {
  /** Tokens answered as valid; default any xoxb-/xoxp- token. Others get invalid_auth, none gets not_authed. */
  tokens?: string[];
  workspace?: Partial<typeof FAKE_WORKSPACE>;
  users?: UserSeed[];
  channels?: ChannelSeed[];
  usergroups?: UsergroupSeed[];
}

export interface FailOptions {
  /** How many calls in a row fail; default 1. */
  times?: number;
  /** For 'ratelimited': the Retry-After header in seconds; default 1. */
  retryAfterSeconds?: number;
}

export interface ResponseUrlTarget {
  /** The message the interaction came from: replace_original / delete_original then change it, as in Slack. */
  channelId?: string;
  messageTs?: string;
}

/** A method's refusal: answered as `{ ok: false, error: code, ...extra }`. */
export class SlackApiError extends Error {
  readonly code: string;
  readonly extra: Args;
  constructor(code: string, extra: Args = {}) {
    super(code);
    this.code = code;
    this.extra = extra;
  }
}

/** One Web API method: its arguments in, the answer's fields (besides `ok`) out; throws SlackApiError to refuse. */
export type Handler = (args: Args) => Args | Promise<Args>;

// Slack's limits that the bot could plausibly hit (docs.slack.dev/reference/block-kit/blocks).
export const LIMITS = {
  text: 40_000,
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3_000,
  headerText: 150,
  fields: 10,
  fieldText: 2_000,
  viewTitle: 24,
  topic: 250,
  channelName: 80,
  viewStack: 3,
  responseUrlUses: 5,
};
