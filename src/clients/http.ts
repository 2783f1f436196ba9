// HTTP calls to the systems the bot watches: JSON answers validated with zod, each under a deadline, and failures put in words.
import type { z } from 'zod';
import { withDeadline } from '../deadline.ts';
import { ExternalError } from '../errors.ts';

export interface FetchJsonOptions<T> {
  /** Names the other side in errors: "Prometheus", "privacy budget API of rlhf-audit-trail". */
  what: string;
  schema: z.ZodType<T>;
  /** The whole call, answer body included (`timeouts.http` unless a caller has a reason for its own). */
  limitMs: number;
  /** The config key of the limit, named when it passes. */
  setting?: string;
  /** The caller's own cancellation (a health check's deadline, shutdown): its reason is rethrown as it is. */
  signal?: AbortSignal | undefined;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: unknown;
}

/**
 * Fetches and validates a JSON answer; throws DeadlineError (code timeout) when no whole answer came within the limit,
 * ExternalError (code http_unreachable / http_status / http_invalid) otherwise.
 */
export async function fetchJson<T>(url: string, options: FetchJsonOptions<T>): Promise<T> {
  const method = options.method ?? 'GET';
  const { response, text } = await withDeadline(
    {
      dependency: options.what,
      doing: `${method} ${new URL(url).host}`,
      limitMs: options.limitMs,
      setting: options.setting,
      signal: options.signal,
    },
    async (signal) => {
      try {
        const answer = await fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...options.headers,
          },
          ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
          signal,
        });
        return { response: answer, text: await answer.text() };
      } catch (error) {
        // Our deadline or the caller's cancellation: withDeadline reports it.
        if (signal.aborted) throw error;
        throw new ExternalError(options.what, `cannot reach ${new URL(url).host}: ${fetchFailure(error)}`, {
          code: 'http_unreachable',
          cause: error,
        });
      }
    },
  );
  if (!response.ok) {
    throw new ExternalError(options.what, `answered HTTP ${response.status}${bodyHint(text)}`, { code: 'http_status' });
  }
  let json: unknown;
  try {
    json = text.trim() === '' && response.status === 204 ? {} : JSON.parse(text);
  } catch {
    throw new ExternalError(options.what, `answered something that is not JSON${bodyHint(text)}`, { code: 'http_invalid' });
  }
  const parsed = options.schema.safeParse(json);
  if (!parsed.success) {
    throw new ExternalError(options.what, `answered JSON of an unexpected shape: ${describeIssues(parsed.error)}`, {
      code: 'http_invalid',
    });
  }
  return parsed.data;
}

/** "ECONNREFUSED", "ENOTFOUND", "UND_ERR_HEADERS_TIMEOUT"…: the network reason under fetch's "fetch failed". */
export function fetchFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** The first few zod issues as "path: message", for one line. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(answer)'}: ${issue.message}`)
    .join('; ');
}

function bodyHint(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (!trimmed) return '';
  return `: ${trimmed.length > 80 ? `${trimmed.slice(0, 80)}…` : trimmed}`;
}
