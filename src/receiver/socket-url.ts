// apps.connections.open: a fresh WebSocket URL for one Socket Mode connection, and what Slack's refusals mean.
import { errorMessage } from '../errors.ts';

export type SocketUrlAnswer =
  | { ok: true; url: string }
  /** fatal: the token itself is wrong; retrying cannot help. */
  | { ok: false; kind: 'fatal'; error: string; fix: string }
  | { ok: false; kind: 'too_many_websockets' | 'rate_limited' | 'failed'; error: string; retryAfterMs?: number };

/** What to do about each answer that no retry fixes; the line names SLACK_APP_TOKEN, as the operator sets it. */
const FATAL: Record<string, string> = {
  invalid_auth:
    'SLACK_APP_TOKEN is not a valid token for this workspace: copy the app-level token (xapp-…) from your app’s settings at api.slack.com/apps, App-Level Tokens',
  not_authed:
    'SLACK_APP_TOKEN was not accepted: set it to the app-level token (xapp-…) from your app’s settings at api.slack.com/apps, App-Level Tokens',
  not_allowed_token_type:
    'SLACK_APP_TOKEN is not an app-level token: it must start with xapp- (a bot token xoxb-… belongs in SLACK_BOT_TOKEN)',
  token_revoked:
    'SLACK_APP_TOKEN was revoked: generate a new app-level token with the connections:write scope at api.slack.com/apps, App-Level Tokens',
  token_expired:
    'SLACK_APP_TOKEN has expired: generate a new app-level token with the connections:write scope at api.slack.com/apps, App-Level Tokens',
  account_inactive:
    'SLACK_APP_TOKEN belongs to an app or workspace that is no longer active: install the app again and set a new token',
  missing_scope:
    'SLACK_APP_TOKEN lacks the connections:write scope: generate an app-level token with connections:write at api.slack.com/apps, App-Level Tokens',
};

/** Asks Slack for a WebSocket URL with the app token; never throws. */
export async function openSocketUrl(options: { apiUrl: string; appToken: string; timeoutMs: number }): Promise<SocketUrlAnswer> {
  let response: Response;
  try {
    response = await fetch(new URL('apps.connections.open', options.apiUrl), {
      method: 'POST',
      headers: { Authorization: `Bearer ${options.appToken}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    return { ok: false, kind: 'failed', error: errorMessage(error) };
  }
  if (response.status === 429) {
    const seconds = Number(response.headers.get('retry-after'));
    await response.body?.cancel();
    return {
      ok: false,
      kind: 'rate_limited',
      error: 'ratelimited',
      retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000,
    };
  }
  let body: { ok?: boolean; url?: unknown; error?: unknown };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    return { ok: false, kind: 'failed', error: `HTTP ${response.status} without a JSON answer` };
  }
  if (body.ok && typeof body.url === 'string') return { ok: true, url: body.url };
  const error = typeof body.error === 'string' ? body.error : `HTTP ${response.status}`;
  const fix = FATAL[error];
  if (fix) return { ok: false, kind: 'fatal', error, fix };
  if (error === 'too_many_websockets') return { ok: false, kind: 'too_many_websockets', error };
  return { ok: false, kind: 'failed', error };
}
