// The users area: users.info, users.list and usergroups.
import { bool, page, str } from './args.ts';
import type { SlackState } from './state.ts';
import { SlackApiError, type Args, type FakeUser, type Handler } from './types.ts';

/** users.* and usergroups.*. */
export function userMethods(s: SlackState): Record<string, Handler> {
  const ws = s.workspace;
  return {
    'users.info': (args) => ({ user: userJson(s, s.user(str(args, 'user'))) }),
    'users.list': (args) => {
      const { items, nextCursor } = page([...s.users.values()], args, 0);
      return {
        members: items.map((u) => userJson(s, u)),
        cache_ts: Math.floor(Date.now() / 1000),
        response_metadata: { next_cursor: nextCursor },
      };
    },
    'usergroups.list': (args) => ({
      usergroups: [...s.usergroups.values()].map((g) => ({
        id: g.id,
        team_id: ws.teamId,
        is_usergroup: true,
        name: g.name,
        handle: g.handle,
        user_count: g.users.length,
        ...(bool(args.include_users) ? { users: g.users } : {}),
      })),
    }),
    'usergroups.users.list': (args) => {
      const group = s.usergroups.get(str(args, 'usergroup'));
      if (!group) throw new SlackApiError('no_such_subteam');
      return { users: [...group.users] };
    },
  };
}

/** A user as users.info and users.list answer with it. */
export function userJson(s: SlackState, user: FakeUser): Args {
  return {
    id: user.id,
    team_id: s.workspace.teamId,
    name: user.name,
    deleted: user.deleted,
    real_name: user.realName,
    tz: user.tz,
    is_bot: user.isBot,
    is_app_user: false,
    is_admin: false,
    is_restricted: false,
    is_ultra_restricted: false,
    profile: { real_name: user.realName, display_name: user.name, ...(user.email ? { email: user.email } : {}) },
  };
}
