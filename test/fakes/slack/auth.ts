// Who is calling: bot and user tokens, the app token of Socket Mode, and the methods that answer about them.
import type { SlackState } from './state.ts';
import { SlackApiError, type Handler } from './types.ts';

/** api.test, auth.test and apps.connections.open (Socket Mode URLs). */
export function authMethods(s: SlackState): Record<string, Handler> {
  const ws = s.workspace;
  return {
    'api.test': (args) => ({ args }),
    'apps.connections.open': () => {
      if (!s.socketMode) throw new SlackApiError('invalid_auth');
      const answer = s.socketMode.open();
      if ('error' in answer) throw new SlackApiError(answer.error);
      return answer;
    },
    'auth.test': () => ({
      url: `https://${ws.teamDomain}.slack.com/`,
      team: ws.teamName,
      user: ws.botName,
      team_id: ws.teamId,
      user_id: ws.botUserId,
      bot_id: ws.botId,
      is_enterprise_install: false,
    }),
  };
}

/** A bot or user token this workspace accepts: `options.tokens` when given, else any xoxb-/xoxp- token. */
export function authenticate(s: SlackState, token: string | undefined): void {
  if (!token) throw new SlackApiError('not_authed');
  const valid = s.options.tokens ? s.options.tokens.includes(token) : /^xox[bp]-/.test(token);
  if (!valid) throw new SlackApiError('invalid_auth');
}

/** apps.connections.open takes only the app token given to serveSocketMode. */
export function authenticateApp(s: SlackState, token: string | undefined): void {
  if (!token) throw new SlackApiError('not_authed');
  if (!token.startsWith('xapp-')) throw new SlackApiError('not_allowed_token_type');
  if (token !== s.socketMode?.appToken) throw new SlackApiError('invalid_auth');
}
