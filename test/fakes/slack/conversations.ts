// The conversations area: channels and DMs (create, list, archive, topic, purpose, invite, join, members, open, history).
import { bool, page, str } from './args.ts';
import { messageJson } from './chat.ts';
import type { SlackState } from './state.ts';
import { LIMITS, SlackApiError, type Args, type FakeChannel, type Handler } from './types.ts';

/** conversations.* (channels and DMs) and users.conversations. */
export function conversationMethods(s: SlackState): Record<string, Handler> {
  const ws = s.workspace;
  return {
    'conversations.create': (args) => {
      const name = str(args, 'name');
      const problem = channelNameProblem(name);
      if (problem) throw new SlackApiError(problem);
      if (s.findByName(name)) throw new SlackApiError('name_taken');
      const isPrivate = bool(args.is_private);
      const channel = s.addChannel({ name, isPrivate, members: [ws.botUserId] });
      return { channel: channelJson(s, channel) };
    },
    'conversations.info': (args) => ({ channel: channelJson(s, s.channelById(args)) }),
    'conversations.list': (args) => {
      const types = new Set((str(args, 'types') || 'public_channel').split(','));
      const all = [...s.channels.values()].filter(
        (c) =>
          s.canSee(c) &&
          (c.isIm ? types.has('im') : c.isPrivate ? types.has('private_channel') : types.has('public_channel')) &&
          !(bool(args.exclude_archived) && c.isArchived),
      );
      const { items, nextCursor } = page(all, args, 100);
      return { channels: items.map((c) => channelJson(s, c)), response_metadata: { next_cursor: nextCursor } };
    },
    'conversations.archive': (args) => {
      const channel = s.channelById(args);
      if (channel.isIm) throw new SlackApiError('method_not_supported_for_channel_type');
      if (channel.isArchived) throw new SlackApiError('already_archived');
      s.requireMember(channel);
      channel.isArchived = true;
      return {};
    },
    'conversations.setTopic': (args) => {
      const channel = s.channelById(args);
      s.requireOpen(channel);
      s.requireMember(channel);
      const topic = str(args, 'topic');
      if (topic.length > LIMITS.topic) throw new SlackApiError('too_long');
      channel.topic = topic;
      return { channel: channelJson(s, channel) };
    },
    'conversations.setPurpose': (args) => {
      const channel = s.channelById(args);
      s.requireOpen(channel);
      s.requireMember(channel);
      const purpose = str(args, 'purpose');
      if (purpose.length > LIMITS.topic) throw new SlackApiError('too_long');
      channel.purpose = purpose;
      return { channel: channelJson(s, channel) };
    },
    'conversations.invite': (args) => {
      const channel = s.channelById(args);
      if (channel.isIm) throw new SlackApiError('method_not_supported_for_channel_type');
      s.requireOpen(channel);
      s.requireMember(channel);
      const users = str(args, 'users')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean);
      if (users.length === 0) throw new SlackApiError('no_user');
      if (users.length > 1000) throw new SlackApiError('too_many_users');
      const errors: Args[] = [];
      const valid: string[] = [];
      for (const user of users) {
        const error = !s.users.has(user)
          ? 'user_not_found'
          : user === ws.botUserId
            ? 'cant_invite_self'
            : channel.members.includes(user)
              ? 'already_in_channel'
              : undefined;
        if (error) errors.push({ user, ok: false, error });
        else valid.push(user);
      }
      // Without force one bad user fails the whole call; with force the valid ones are invited.
      if (errors.length && (!bool(args.force) || valid.length === 0))
        throw new SlackApiError(String(errors[0]!.error), { errors });
      channel.members.push(...new Set(valid));
      return { channel: channelJson(s, channel), ...(errors.length ? { errors } : {}) };
    },
    'conversations.join': (args) => {
      const channel = s.channelById(args);
      if (channel.isPrivate || channel.isIm) throw new SlackApiError('method_not_supported_for_channel_type');
      s.requireOpen(channel);
      const already = channel.members.includes(ws.botUserId);
      if (!already) channel.members.push(ws.botUserId);
      return {
        channel: channelJson(s, channel),
        ...(already ? { warning: 'already_in_channel', response_metadata: { warnings: ['already_in_channel'] } } : {}),
      };
    },
    'conversations.members': (args) => {
      const channel = s.channelById(args);
      const { items, nextCursor } = page(channel.members, args, 100);
      return { members: items, response_metadata: { next_cursor: nextCursor } };
    },
    'conversations.open': (args) => {
      const users = str(args, 'users').split(',').filter(Boolean);
      if (users.length !== 1) throw new SlackApiError(users.length ? 'not_implemented_in_fake' : 'users_list_not_supplied');
      return { channel: { id: s.dm(s.user(users[0]!).id).id } };
    },
    'users.conversations': (args) => {
      const types = new Set((str(args, 'types') || 'public_channel').split(','));
      const mine = [...s.channels.values()].filter(
        (c) =>
          c.members.includes(ws.botUserId) &&
          !c.isIm &&
          (c.isPrivate ? types.has('private_channel') : types.has('public_channel')) &&
          !(bool(args.exclude_archived) && c.isArchived),
      );
      const { items, nextCursor } = page(mine, args, 100);
      return { channels: items.map((c) => channelJson(s, c)), response_metadata: { next_cursor: nextCursor } };
    },
    'conversations.history': (args) => {
      const channel = s.channelById(args);
      s.requireMember(channel);
      const inclusive = bool(args.inclusive);
      const oldest = Number(str(args, 'oldest') || '0');
      const latest = args.latest === undefined ? Infinity : Number(str(args, 'latest'));
      const inRange = (ts: number) => (inclusive ? ts >= oldest && ts <= latest : ts > oldest && ts < latest);
      const found = s.messages
        .filter((m) => m.channel === channel.id && (!m.threadTs || m.threadTs === m.ts) && inRange(Number(m.ts)))
        .sort((a, b) => Number(b.ts) - Number(a.ts));
      const { items, nextCursor } = page(found, args, 100);
      return {
        messages: items.map((m) => messageJson(s, m, bool(args.include_all_metadata))),
        has_more: nextCursor !== '',
        pin_count: 0,
        response_metadata: { next_cursor: nextCursor },
      };
    },
  };
}

/** A channel as conversations.* answer with it (an IM has its own, shorter shape). */
export function channelJson(s: SlackState, channel: FakeChannel): Args {
  const bot = s.workspace.botUserId;
  if (channel.isIm)
    return {
      id: channel.id,
      created: channel.created,
      is_im: true,
      is_org_shared: false,
      user: channel.members.find((m) => m !== bot),
      is_user_deleted: false,
      priority: 0,
    };
  return {
    id: channel.id,
    name: channel.name,
    is_channel: !channel.isPrivate,
    is_group: channel.isPrivate,
    is_im: false,
    is_mpim: false,
    is_private: channel.isPrivate,
    created: channel.created,
    creator: channel.creator,
    is_archived: channel.isArchived,
    is_general: false,
    unlinked: 0,
    name_normalized: channel.name,
    is_shared: false,
    is_org_shared: false,
    is_ext_shared: false,
    is_member: channel.members.includes(bot),
    topic: { value: channel.topic, creator: channel.topic ? bot : '', last_set: 0 },
    purpose: { value: channel.purpose, creator: channel.purpose ? bot : '', last_set: 0 },
    previous_names: [],
    num_members: channel.members.length,
    context_team_id: s.workspace.teamId,
  };
}

/** Slack's channel name rules: lower case letters, digits, hyphens and underscores, 80 characters at most. */
export function channelNameProblem(name: string): string | undefined {
  if (!name) return 'invalid_name_required';
  if (name.length > LIMITS.channelName) return 'invalid_name_maxlength';
  if (/^[-_]+$/.test(name)) return 'invalid_name_punctuation';
  if (!/^[a-z0-9_-]+$/.test(name)) return 'invalid_name_specials';
  return undefined;
}
