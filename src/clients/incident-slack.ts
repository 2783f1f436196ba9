// The incident domain's Slack port, over the Web API client.
import type { WebClient } from '@slack/web-api';
import type { IncidentSlack } from '../incidents/slack-port.ts';
import type { Logger } from '../log.ts';
import { slackErrorCode } from './slack.ts';

// Errors that mean "nothing to do" for an invite: the user is there already, or cannot be invited.
const HARMLESS_INVITE_ERRORS = new Set([
  'already_in_channel',
  'cant_invite_self',
  'user_is_bot',
  'user_is_restricted',
  'user_not_found',
  'user_disabled',
]);

export function createIncidentSlack(slack: WebClient, logger: Logger): IncidentSlack {
  return {
    async createChannel(name) {
      try {
        const result = await slack.conversations.create({ name, is_private: false });
        return { ok: true, id: result.channel!.id!, name: result.channel!.name ?? name };
      } catch (error) {
        if (slackErrorCode(error) === 'name_taken') return { ok: false, error: 'name_taken' };
        throw error;
      }
    },
    async setTopic(channel, topic) {
      await slack.conversations.setTopic({ channel, topic });
    },
    async post(channel, message) {
      const result = await slack.chat.postMessage({
        channel,
        text: message.text,
        ...(message.blocks ? { blocks: message.blocks } : {}),
        ...(message.metadata ? { metadata: message.metadata } : {}),
        unfurl_links: false,
      });
      return { channel: result.channel!, ts: result.ts! };
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
    async invite(channel, userIds) {
      const unique = [...new Set(userIds)];
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
    },
    async expand(principals) {
      const users = new Set<string>();
      for (const principal of principals) {
        if (!principal.startsWith('S')) {
          users.add(principal);
          continue;
        }
        try {
          const result = await slack.usergroups.users.list({ usergroup: principal });
          for (const user of result.users ?? []) users.add(user);
        } catch (error) {
          logger.warn({ event: 'incident.group_expand_failed', group: principal, code: slackErrorCode(error) });
        }
      }
      return [...users];
    },
    async findPosted(channel, eventType, key, since) {
      const result = await slack.conversations.history({
        channel,
        oldest: String(Math.floor(since.getTime() / 1000) - 5),
        include_all_metadata: true,
        limit: 200,
      });
      const found = (result.messages ?? []).find((message) => {
        const metadata = (message as { metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }).metadata;
        return metadata?.event_type === eventType && metadata.event_payload?.key === key;
      });
      return found?.ts;
    },
    async ephemeral(channel, user, text) {
      await slack.chat.postEphemeral({ channel, user, text });
    },
  };
}
