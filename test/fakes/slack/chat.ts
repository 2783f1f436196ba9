// The chat area: messages posted, updated, deleted and shown to one user; pins and reactions on them; what a POST to
// a response URL does to the message it came from.
import { asArray, isRecord, str } from './args.ts';
import { blocksProblem } from './blocks.ts';
import type { SlackState } from './state.ts';
import {
  LIMITS,
  SlackApiError,
  type Args,
  type FakeEphemeral,
  type FakeMessage,
  type Handler,
  type ResponseUrlTarget,
} from './types.ts';

/** chat.* and what the bot adds to a message: pins and reactions. */
export function chatMethods(s: SlackState): Record<string, Handler> {
  const ws = s.workspace;
  return {
    'chat.postMessage': (args) => {
      const channel = s.postTarget(args);
      const content = messageContent(args);
      const metadata = messageMetadata(args);
      const message: FakeMessage = {
        channel: channel.id,
        ts: s.newTs(),
        user: ws.botUserId,
        text: content.text ?? '',
        reactions: [],
        pinned: false,
      };
      if (content.blocks) message.blocks = content.blocks;
      if (content.attachments) message.attachments = content.attachments;
      if (metadata) message.metadata = metadata;
      if (str(args, 'thread_ts')) message.threadTs = str(args, 'thread_ts');
      s.messages.push(message);
      return { channel: channel.id, ts: message.ts, message: messageJson(s, message, false) };
    },
    'chat.update': (args) => {
      const channel = s.channelById(args);
      s.requireOpen(channel);
      const message = s.message(channel, str(args, 'ts'));
      if (message.user !== ws.botUserId) throw new SlackApiError('cant_update_message');
      const content = messageContent(args);
      // Fields left out keep their value; `blocks: []` removes the blocks (docs.slack.dev/reference/methods/chat.update).
      if (content.text !== undefined) message.text = content.text;
      if (content.blocks) message.blocks = content.blocks.length ? content.blocks : undefined;
      if (content.attachments) message.attachments = content.attachments.length ? content.attachments : undefined;
      const metadata = messageMetadata(args);
      if (metadata) message.metadata = metadata;
      message.editedTs = s.newTs();
      return { channel: channel.id, ts: message.ts, text: message.text, message: messageJson(s, message, false) };
    },
    'chat.postEphemeral': (args) => {
      const channel = s.postTarget(args);
      const user = s.user(str(args, 'user'));
      if (!channel.members.includes(user.id)) throw new SlackApiError('user_not_in_channel');
      const content = messageContent(args);
      const ephemeral: FakeEphemeral = { channel: channel.id, user: user.id, ts: s.newTs(), text: content.text ?? '' };
      if (content.blocks) ephemeral.blocks = content.blocks;
      if (str(args, 'thread_ts')) ephemeral.threadTs = str(args, 'thread_ts');
      s.ephemerals.push(ephemeral);
      return { message_ts: ephemeral.ts };
    },
    'chat.delete': (args) => {
      const channel = s.channelById(args);
      const message = s.message(channel, str(args, 'ts'));
      if (message.user !== ws.botUserId) throw new SlackApiError('cant_delete_message');
      s.messages = s.messages.filter((m) => m !== message);
      return { channel: channel.id, ts: message.ts };
    },
    'pins.add': (args) => {
      const channel = s.channelById(args);
      s.requireOpen(channel);
      if (!str(args, 'timestamp')) throw new SlackApiError('no_item_specified');
      const message = s.message(channel, str(args, 'timestamp'));
      if (message.pinned) throw new SlackApiError('already_pinned');
      message.pinned = true;
      return {};
    },
    'reactions.add': (args) => {
      const channel = s.channelById(args);
      s.requireOpen(channel);
      const name = str(args, 'name').replace(/^:|:$/g, '');
      if (!name) throw new SlackApiError('invalid_name');
      if (!str(args, 'timestamp')) throw new SlackApiError('no_item_specified');
      const message = s.message(channel, str(args, 'timestamp'));
      let reaction = message.reactions.find((r) => r.name === name);
      if (reaction?.users.includes(ws.botUserId)) throw new SlackApiError('already_reacted');
      if (!reaction) message.reactions.push((reaction = { name, users: [] }));
      reaction.users.push(ws.botUserId);
      return {};
    },
  };
}

/** A message as chat.* and conversations.history answer with it; metadata only when asked for. */
export function messageJson(s: SlackState, message: FakeMessage, includeMetadata: boolean): Args {
  const fromBot = message.user === s.workspace.botUserId;
  return {
    type: 'message',
    ts: message.ts,
    user: message.user,
    ...(fromBot ? { bot_id: s.workspace.botId, app_id: s.workspace.appId } : {}),
    text: message.text,
    team: s.workspace.teamId,
    ...(message.blocks ? { blocks: message.blocks } : {}),
    ...(message.attachments ? { attachments: message.attachments } : {}),
    ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
    ...(message.editedTs ? { edited: { user: message.user, ts: message.editedTs } } : {}),
    ...(message.reactions.length
      ? { reactions: message.reactions.map((r) => ({ name: r.name, users: r.users, count: r.users.length })) }
      : {}),
    ...(message.pinned ? { pinned_to: [message.channel] } : {}),
    ...(message.files ? { files: message.files } : {}),
    ...(includeMetadata && message.metadata ? { metadata: message.metadata } : {}),
  };
}

/** replace_original, delete_original or an in_channel answer, as Slack applies a response URL's body. */
export function applyResponse(s: SlackState, target: ResponseUrlTarget, body: Args): void {
  if (!target.channelId) return;
  const message = target.messageTs
    ? s.messages.find((m) => m.channel === target.channelId && m.ts === target.messageTs)
    : undefined;
  if (body.delete_original === true && message) {
    s.messages = s.messages.filter((m) => m !== message);
  } else if (body.replace_original === true && message) {
    if (typeof body.text === 'string') message.text = body.text;
    if (Array.isArray(body.blocks)) message.blocks = body.blocks;
    message.editedTs = s.newTs();
  } else if (body.response_type === 'in_channel') {
    s.messages.push({
      channel: target.channelId,
      ts: s.newTs(),
      user: s.workspace.botUserId,
      text: String(body.text ?? ''),
      blocks: asArray(body.blocks),
      reactions: [],
      pinned: false,
    });
  }
}

function messageContent(args: Args): { text?: string; blocks?: unknown[]; attachments?: unknown[] } {
  const content: { text?: string; blocks?: unknown[]; attachments?: unknown[] } = {};
  if (args.text !== undefined) content.text = str(args, 'text');
  if (args.blocks !== undefined) {
    if (!Array.isArray(args.blocks)) throw new SlackApiError('invalid_blocks_format');
    const problem = blocksProblem(args.blocks, LIMITS.messageBlocks);
    if (problem)
      throw new SlackApiError('invalid_blocks', { errors: [problem], response_metadata: { messages: [`[ERROR] ${problem}`] } });
    content.blocks = args.blocks;
  }
  if (args.attachments !== undefined) {
    if (!Array.isArray(args.attachments)) throw new SlackApiError('invalid_attachments');
    content.attachments = args.attachments;
  }
  if (!content.text && !content.blocks?.length && !content.attachments?.length) throw new SlackApiError('no_text');
  if ((content.text ?? '').length > LIMITS.text) throw new SlackApiError('msg_too_long');
  return content;
}

function messageMetadata(args: Args): FakeMessage['metadata'] {
  if (args.metadata === undefined) return undefined;
  const metadata = args.metadata;
  if (!isRecord(metadata) || typeof metadata.event_type !== 'string' || !isRecord(metadata.event_payload))
    throw new SlackApiError('invalid_metadata_format');
  return { event_type: metadata.event_type, event_payload: metadata.event_payload };
}
