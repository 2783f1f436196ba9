// Correctly signed Slack requests (slash commands, button clicks, modal submissions, message shortcuts) sent over real HTTP to Bolt's receiver.
//
// Formats follow what Slack sends and what @slack/bolt's HTTPReceiver parses (receivers/HTTPModuleFunctions.js):
// Content-Type exactly `application/x-www-form-urlencoded`; slash commands as form fields; interactivity as one
// form field `payload=<json>`; signature `v0=HMAC_SHA256(secret, 'v0:' + ts + ':' + rawBody)` in hex.
import { createHmac, randomBytes } from 'node:crypto';
import { FAKE_WORKSPACE } from '../fakes/fake-slack.ts';

const DEFAULTS = {
  userId: 'U0ALICE',
  channelId: 'C0GENERAL',
  channelName: 'general',
  verificationToken: 'deprecated-verification-token',
} as const;
// Nothing listens on port 9 (discard): a respond() to this fails fast. Pass fakeSlack.newResponseUrl() to record it.
const NOWHERE_RESPONSE_URL = 'http://127.0.0.1:9/response/none';

export interface SlackSignatureHeaders {
  'X-Slack-Signature': string;
  'X-Slack-Request-Timestamp': string;
}

export interface SignedResponse {
  status: number;
  /** Parsed JSON when the answer is JSON, else the text ('' for Bolt's empty ack). */
  body: unknown;
  text: string;
  headers: Headers;
}

export interface SendOptions {
  /** Seconds since the epoch to sign with (a stale one tests replay protection). */
  timestamp?: number;
  /** Sent instead of the computed signature (tests forgeries). */
  signatureOverride?: string;
  /** Sets X-Slack-Retry-Num / X-Slack-Retry-Reason as Slack does when it resends. */
  retryNum?: number;
  /** Path on baseUrl; default Bolt's `/slack/events`. */
  path?: string;
}

/** Fields every sender shares; the send options may also be given here, as in the payload object. */
interface Common extends SendOptions {
  userId?: string;
  userName?: string;
  teamId?: string;
  teamDomain?: string;
  triggerId?: string;
}

export function signSlackRequest(
  secret: string,
  body: string,
  timestampSeconds = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestampSeconds}:${body}`).digest('hex')}`;
  return { 'X-Slack-Signature': signature, 'X-Slack-Request-Timestamp': String(timestampSeconds) };
}

/** POSTs a form-encoded body, signed, to `baseUrl` + `/slack/events`. */
export async function sendSigned(
  baseUrl: string,
  secret: string,
  body: string,
  options: SendOptions = {},
): Promise<SignedResponse> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/x-www-form-urlencoded',
    ...signSlackRequest(secret, body, options.timestamp),
  };
  if (options.signatureOverride !== undefined) headers['X-Slack-Signature'] = options.signatureOverride;
  if (options.retryNum !== undefined) {
    headers['X-Slack-Retry-Num'] = String(options.retryNum);
    headers['X-Slack-Retry-Reason'] = 'http_timeout';
  }
  const response = await fetch(new URL(options.path ?? '/slack/events', baseUrl), { method: 'POST', headers, body });
  const text = await response.text();
  return {
    status: response.status,
    body: parseBody(text, response.headers.get('content-type')),
    text,
    headers: response.headers,
  };
}

/** Sends an interactivity payload (block_actions, view_submission, message_action, …) as Slack does: `payload=<json>`. */
export function sendInteraction(
  baseUrl: string,
  secret: string,
  payload: Record<string, unknown>,
  options: SendOptions = {},
): Promise<SignedResponse> {
  return sendSigned(baseUrl, secret, interactionBody(payload), options);
}

export function interactionBody(payload: Record<string, unknown>): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

// ---- slash commands ---------------------------------------------------------------------------

export interface SlashCommand extends Common {
  command: string;
  text?: string;
  channelId?: string;
  channelName?: string;
  responseUrl?: string;
  apiAppId?: string;
}

/** The form body Slack posts for a slash command, fields in Slack's order. */
export function slashCommandBody(input: SlashCommand): string {
  const userId = input.userId ?? DEFAULTS.userId;
  return new URLSearchParams({
    token: DEFAULTS.verificationToken,
    team_id: input.teamId ?? FAKE_WORKSPACE.teamId,
    team_domain: input.teamDomain ?? FAKE_WORKSPACE.teamDomain,
    channel_id: input.channelId ?? DEFAULTS.channelId,
    channel_name: input.channelName ?? DEFAULTS.channelName,
    user_id: userId,
    user_name: input.userName ?? userId.toLowerCase(),
    command: input.command,
    text: input.text ?? '',
    api_app_id: input.apiAppId ?? FAKE_WORKSPACE.appId,
    is_enterprise_install: 'false',
    response_url: input.responseUrl ?? NOWHERE_RESPONSE_URL,
    trigger_id: input.triggerId ?? newTriggerId(),
  }).toString();
}

export function sendSlashCommand(
  baseUrl: string,
  secret: string,
  input: SlashCommand,
  options: SendOptions = {},
): Promise<SignedResponse> {
  return sendSigned(baseUrl, secret, slashCommandBody(input), { ...sendOptionsOf(input), ...options });
}

// ---- block actions ----------------------------------------------------------------------------

export interface BlockAction extends Common {
  actionId: string;
  value?: string;
  blockId?: string;
  channelId?: string;
  channelName?: string;
  /** The message the button is on; its ts goes into container and message. */
  messageTs?: string;
  /** The message as Slack includes it (e.g. a FakeMessage's text and blocks); default a bare one with messageTs. */
  message?: Record<string, unknown>;
  /** A button on an ephemeral message (confirmations): Slack sends no `message` then. */
  ephemeral?: boolean;
  responseUrl?: string;
  /** Replaces the computed container, e.g. `{ type: 'view', view_id }` for a button in a modal. */
  container?: Record<string, unknown>;
  /** Extra fields of the action element (type, selected_option, text…); default a button. */
  action?: Record<string, unknown>;
  /** Extra top-level payload fields (view, state…). */
  extra?: Record<string, unknown>;
}

export function blockActionPayload(input: BlockAction): Record<string, unknown> {
  const ws = FAKE_WORKSPACE;
  const channelId = input.channelId ?? DEFAULTS.channelId;
  const messageTs = input.messageTs ?? (typeof input.message?.ts === 'string' ? input.message.ts : '1700000000.000100');
  const now = Date.now() / 1000;
  return {
    type: 'block_actions',
    user: userOf(input),
    api_app_id: ws.appId,
    token: DEFAULTS.verificationToken,
    container: input.container ?? {
      type: 'message',
      message_ts: messageTs,
      channel_id: channelId,
      is_ephemeral: input.ephemeral ?? false,
    },
    trigger_id: input.triggerId ?? newTriggerId(),
    team: teamOf(input),
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: channelId, name: input.channelName ?? DEFAULTS.channelName },
    ...(input.ephemeral || input.container?.type === 'view'
      ? {}
      : { message: { type: 'message', ts: messageTs, text: '', user: ws.botUserId, bot_id: ws.botId, ...input.message } }),
    state: { values: {} },
    response_url: input.responseUrl ?? NOWHERE_RESPONSE_URL,
    actions: [
      {
        type: 'button',
        action_id: input.actionId,
        block_id: input.blockId ?? 'actions',
        text: { type: 'plain_text', text: input.actionId, emoji: true },
        ...(input.value !== undefined ? { value: input.value } : {}),
        action_ts: now.toFixed(6),
        ...input.action,
      },
    ],
    ...input.extra,
  };
}

export function sendBlockAction(
  baseUrl: string,
  secret: string,
  input: BlockAction,
  options: SendOptions = {},
): Promise<SignedResponse> {
  return sendInteraction(baseUrl, secret, blockActionPayload(input), { ...sendOptionsOf(input), ...options });
}

// ---- view submissions -------------------------------------------------------------------------

/** A state value as Slack sends it, or shorthand: a string is a plain_text_input, `{ selected }` a static_select choice. */
export type ViewValue = string | { selected: string | null } | ({ type: string } & Record<string, unknown>);

export interface ViewSubmission extends Common {
  callbackId: string;
  /** block_id → action_id → value. */
  values: Record<string, Record<string, ViewValue | null>>;
  privateMetadata?: string;
  viewId?: string;
  /** The view as opened (e.g. a FakeView's `view`); its blocks and title are sent back. */
  view?: Record<string, unknown>;
  responseUrls?: { block_id: string; action_id: string; channel_id: string; response_url: string }[];
  extra?: Record<string, unknown>;
}

export function viewSubmissionPayload(input: ViewSubmission): Record<string, unknown> {
  const ws = FAKE_WORKSPACE;
  const values: Record<string, Record<string, unknown>> = {};
  for (const [blockId, actions] of Object.entries(input.values)) {
    const block: Record<string, unknown> = {};
    for (const [actionId, value] of Object.entries(actions)) block[actionId] = stateValue(value);
    values[blockId] = block;
  }
  const viewId =
    input.viewId ?? (typeof input.view?.id === 'string' ? input.view.id : `V${randomBytes(5).toString('hex').toUpperCase()}`);
  return {
    type: 'view_submission',
    team: teamOf(input),
    user: userOf(input),
    api_app_id: ws.appId,
    token: DEFAULTS.verificationToken,
    trigger_id: input.triggerId ?? newTriggerId(),
    view: {
      type: 'modal',
      title: { type: 'plain_text', text: 'Modal', emoji: true },
      blocks: [],
      close: null,
      submit: { type: 'plain_text', text: 'Submit', emoji: true },
      clear_on_close: false,
      notify_on_close: false,
      external_id: '',
      ...input.view,
      id: viewId,
      team_id: input.teamId ?? ws.teamId,
      callback_id: input.callbackId,
      private_metadata:
        input.privateMetadata ?? (typeof input.view?.private_metadata === 'string' ? input.view.private_metadata : ''),
      state: { values },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      previous_view_id: null,
      root_view_id: viewId,
      app_id: ws.appId,
      app_installed_team_id: input.teamId ?? ws.teamId,
      bot_id: ws.botId,
    },
    response_urls: input.responseUrls ?? [],
    is_enterprise_install: false,
    enterprise: null,
    ...input.extra,
  };
}

export function sendViewSubmission(
  baseUrl: string,
  secret: string,
  input: ViewSubmission,
  options: SendOptions = {},
): Promise<SignedResponse> {
  return sendInteraction(baseUrl, secret, viewSubmissionPayload(input), { ...sendOptionsOf(input), ...options });
}

// ---- message shortcuts ------------------------------------------------------------------------

export interface MessageShortcut extends Common {
  callbackId: string;
  channelId?: string;
  channelName?: string;
  messageTs?: string;
  messageText?: string;
  /** Who wrote the message the shortcut was used on. */
  messageUser?: string;
  /** The whole message as Slack includes it; overrides messageTs/messageText/messageUser. */
  message?: Record<string, unknown>;
  responseUrl?: string;
  extra?: Record<string, unknown>;
}

export function messageShortcutPayload(input: MessageShortcut): Record<string, unknown> {
  const message = {
    type: 'message',
    ts: input.messageTs ?? '1700000000.000100',
    text: input.messageText ?? '',
    user: input.messageUser ?? 'U0BOB',
    ...input.message,
  };
  return {
    type: 'message_action',
    token: DEFAULTS.verificationToken,
    action_ts: (Date.now() / 1000).toFixed(6),
    team: teamOf(input),
    user: userOf(input),
    channel: { id: input.channelId ?? DEFAULTS.channelId, name: input.channelName ?? DEFAULTS.channelName },
    is_enterprise_install: false,
    enterprise: null,
    callback_id: input.callbackId,
    trigger_id: input.triggerId ?? newTriggerId(),
    response_url: input.responseUrl ?? NOWHERE_RESPONSE_URL,
    message_ts: message.ts,
    message,
    ...input.extra,
  };
}

export function sendShortcut(
  baseUrl: string,
  secret: string,
  input: MessageShortcut,
  options: SendOptions = {},
): Promise<SignedResponse> {
  return sendInteraction(baseUrl, secret, messageShortcutPayload(input), { ...sendOptionsOf(input), ...options });
}

/** The same as sendShortcut: Bolt calls these message shortcuts. */
export const sendMessageShortcut = sendShortcut;

// ---- shared pieces ----------------------------------------------------------------------------

/** Slack's trigger ids look like `1234567890.1234567890.abcdef…`; each opens one view once, so each request gets a new one. */
export function newTriggerId(): string {
  return `${Math.floor(Date.now() / 1000)}.${Date.now() % 1e10}.${randomBytes(16).toString('hex')}`;
}

function userOf(input: Common): Record<string, unknown> {
  const id = input.userId ?? DEFAULTS.userId;
  const name = input.userName ?? id.toLowerCase();
  return { id, username: name, name, team_id: input.teamId ?? FAKE_WORKSPACE.teamId };
}

function teamOf(input: Common): Record<string, unknown> {
  return { id: input.teamId ?? FAKE_WORKSPACE.teamId, domain: input.teamDomain ?? FAKE_WORKSPACE.teamDomain };
}

function sendOptionsOf(input: SendOptions): SendOptions {
  const options: SendOptions = {};
  if (input.timestamp !== undefined) options.timestamp = input.timestamp;
  if (input.signatureOverride !== undefined) options.signatureOverride = input.signatureOverride;
  if (input.retryNum !== undefined) options.retryNum = input.retryNum;
  if (input.path !== undefined) options.path = input.path;
  return options;
}

function stateValue(value: ViewValue | null): unknown {
  if (value === null) return { type: 'static_select', selected_option: null };
  if (typeof value === 'string') return { type: 'plain_text_input', value };
  if ('selected' in value && !('type' in value)) {
    const selected = value.selected;
    return {
      type: 'static_select',
      selected_option: selected === null ? null : { text: { type: 'plain_text', text: selected, emoji: true }, value: selected },
    };
  }
  return value;
}

function parseBody(text: string, contentType: string | null): unknown {
  if (!text) return '';
  if (contentType?.includes('json') || /^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

// ---- answers ----------------------------------------------------------------------------------

/** The bot's ack while it looks up a user group before deciding (src/handlers/request-scope.ts). */
export const CHECKING_ACK = ':hourglass_flowing_sand: Checking…';

/**
 * What a command answered, as the user ends up seeing it: the ack, or, when the ack only said "Checking…" while the
 * bot looked up a user group, the message that came next through the response URL. `later` are the responses after it.
 */
export function commandAnswer<T extends { text?: unknown }>(ack: unknown, responses: T[]): { answer: T; later: T[] } {
  const first = ack as T;
  if (first?.text === CHECKING_ACK && responses.length > 0) return { answer: responses[0]!, later: responses.slice(1) };
  return { answer: first, later: responses };
}
