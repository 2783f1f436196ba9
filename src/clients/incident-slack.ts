// The incident domain's Slack port, over the one gated Web API client, keyed posts and the outbox.
import type { IncidentSlack } from '../incidents/slack-port.ts';
import { OutcomeUnknown } from '../incidents/slack-port.ts';
import type { Logger } from '../log.ts';
import type { SlackOutbox } from './slack-outbox.ts';
import type { PostOnce } from './slack-post-once.ts';
import {
  SlackBusyError,
  slackErrorCode,
  UncertainOutcomeError,
  withSlackPriority,
  withSlackPriorityLimit,
  type GatedWebClient,
} from './slack.ts';

/** How long the members of a user group are taken as known. */
const GROUP_CACHE_MS = 60_000;

// Errors that mean the workspace or channel takes no canvas from the bot: the report goes out as a file instead.
const CANVAS_REFUSALS = new Set([
  'not_allowed',
  'team_tier_cannot_create_canvases',
  'canvas_disabled_user_team',
  'free_team_canvas_tab_already_exists',
  'channel_canvas_already_exists',
  'restricted_action',
  'not_allowed_token_type',
  'missing_scope',
]);

// Errors that mean "nothing to do" for an invite: the user is there already, or cannot be invited.
const HARMLESS_INVITE_ERRORS = new Set([
  'already_in_channel',
  'cant_invite_self',
  'user_is_bot',
  'user_is_restricted',
  'user_not_found',
  'user_disabled',
]);

export function createIncidentSlack(
  slack: GatedWebClient,
  postOnce: PostOnce,
  outbox: SlackOutbox,
  logger: Logger,
): IncidentSlack {
  let botUserId: Promise<string> | undefined;
  const groupMembers = new Map<string, { users: string[]; at: number }>();
  const known = <T>(call: () => Promise<T>): Promise<T> =>
    call().catch((error: unknown) => {
      if (error instanceof UncertainOutcomeError) throw new OutcomeUnknown(error.message, { cause: error });
      throw error;
    });
  return {
    at: (urgency, fn) => withSlackPriority(urgency, fn),
    createChannel: (name) =>
      known(async () => {
        try {
          const result = await slack.conversations.create({ name, is_private: false });
          return { ok: true as const, id: result.channel!.id!, name: result.channel!.name ?? name };
        } catch (error) {
          if (slackErrorCode(error) === 'name_taken') return { ok: false as const, error: 'name_taken' as const };
          throw error;
        }
      }),
    async findOwnChannel(name) {
      // The bot's own channel: one it created, not archived (an archived one with the name is someone's history).
      botUserId ??= slack.auth.test().then(
        (identity) => String(identity.user_id ?? ''),
        (error: unknown) => {
          botUserId = undefined;
          throw error;
        },
      );
      const self = await botUserId;
      let cursor: string | undefined;
      do {
        const result = await slack.users.conversations({
          types: 'public_channel',
          exclude_archived: true,
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        });
        const found = (result.channels ?? []).find(
          (channel) => channel.name === name && (!channel.creator || channel.creator === self),
        );
        if (found?.id) return { id: found.id, name };
        cursor = result.response_metadata?.next_cursor || undefined;
      } while (cursor);
      return undefined;
    },
    async setTopic(channel, topic) {
      await slack.conversations.setTopic({ channel, topic });
    },
    postOnce: (channel, message, { combine, ...options }) =>
      known(() =>
        combine
          ? postOnce.combined(channel, message, { ...options, kind: 'incident' })
          : postOnce.post(channel, message, { ...options, kind: 'incident' }),
      ),
    findPost: (channel, key, since) => postOnce.find(channel, key, since),
    publish: (channel, message, options) =>
      outbox.publish(channel, message, { key: options.key, priority: options.urgency, incidentId: options.incidentId ?? null }),
    async roll(channel, topic, title, line, options) {
      await outbox.roll(channel, topic, title, line, {
        priority: options.urgency,
        incidentId: options.incidentId ?? null,
        lineKey: options.lineKey,
        ...(options.order === undefined ? {} : { order: options.order }),
      });
    },
    async update(channel, ts, message) {
      await slack.chat.update({ channel, ts, text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) });
    },
    async pin(channel, ts) {
      try {
        await slack.pins.add({ channel, timestamp: ts });
      } catch (error) {
        if (slackErrorCode(error) !== 'already_pinned') throw error;
      }
    },
    async invite(channel, userIds, options = {}) {
      const unique = [...new Set(userIds)];
      if (unique.length === 0) return 'invited';
      const invite = async () => {
        // conversations.invite takes up to 100 users and fails the whole call for one bad user, so go one by one on failure.
        for (let i = 0; i < unique.length; i += 100) {
          const batch = unique.slice(i, i + 100);
          try {
            await slack.conversations.invite({ channel, users: batch.join(','), force: true });
          } catch (error) {
            if (batch.length === 1) {
              if (!HARMLESS_INVITE_ERRORS.has(slackErrorCode(error))) throw error;
              continue;
            }
            for (const user of batch) {
              await slack.conversations.invite({ channel, users: user }).catch((inner: unknown) => {
                if (!HARMLESS_INVITE_ERRORS.has(slackErrorCode(inner)))
                  logger.warn({ event: 'incident.invite_failed', user, code: slackErrorCode(inner) });
              });
            }
          }
        }
      };
      if (options.maxWaitMs === undefined) await invite();
      else {
        try {
          await withSlackPriorityLimit(options.maxWaitMs, invite);
        } catch (error) {
          if (error instanceof SlackBusyError) return 'busy';
          throw error;
        }
      }
      return 'invited';
    },
    async expand(principals) {
      const users = new Set<string>();
      for (const principal of principals) {
        if (!principal.startsWith('S')) {
          users.add(principal);
          continue;
        }
        // Group members change rarely; usergroups.users.list is Tier 2, too slow a budget to ask on every page.
        const cached = groupMembers.get(principal);
        if (cached && Date.now() - cached.at < GROUP_CACHE_MS) {
          for (const user of cached.users) users.add(user);
          continue;
        }
        try {
          const result = await slack.usergroups.users.list({ usergroup: principal });
          groupMembers.set(principal, { users: result.users ?? [], at: Date.now() });
          for (const user of result.users ?? []) users.add(user);
        } catch (error) {
          logger.warn({ event: 'incident.group_expand_failed', group: principal, code: slackErrorCode(error) });
          for (const user of cached?.users ?? []) users.add(user);
        }
      }
      return [...users];
    },
    async ephemeral(channel, user, text) {
      await slack.chat.postEphemeral({ channel, user, text });
    },
    createChannelCanvas: (channel, markdown) =>
      known(async () => {
        try {
          const result = await slack.conversations.canvases.create({
            channel_id: channel,
            document_content: { type: 'markdown', markdown },
          });
          return { ok: true as const, id: String(result.canvas_id) };
        } catch (error) {
          const code = slackErrorCode(error);
          if (CANVAS_REFUSALS.has(code)) return { ok: false as const, error: code };
          throw error;
        }
      }),
    async archiveChannel(channel) {
      try {
        await slack.conversations.archive({ channel });
      } catch (error) {
        if (slackErrorCode(error) !== 'already_archived') throw error;
      }
    },
    async humanPostedSince(channel, ts) {
      const result = await slack.conversations.history({ channel, oldest: ts, inclusive: false, limit: 100 });
      return (result.messages ?? []).some((message) => message.user && !message.bot_id && !message.subtype);
    },
    async uploadTextFile(channel, file) {
      await known(() =>
        slack.filesUploadV2({
          channel_id: channel,
          file: Buffer.from(file.content, 'utf8'),
          filename: file.filename,
          title: file.title,
          initial_comment: file.comment,
        }),
      );
    },
  };
}
