// Kubernetes API errors in words, with an error code per status. Apart from the client library on purpose: the modules
// that only name errors (rollback plans, health findings) load without it, so it is read when Kubernetes is first used.
import { z } from 'zod';
import { DeadlineError } from '../deadline.ts';
import { ExternalError, type ErrorCode } from '../errors.ts';

/** The API server answered with an error status: its code, its body (a Status object, as text) and headers. */
export class KubernetesApiError extends Error {
  readonly code: number;
  readonly body: string;
  readonly headers: Record<string, string>;
  constructor(code: number, message: string, body: string, headers: Record<string, string>) {
    super(message);
    this.name = 'KubernetesApiError';
    this.code = code;
    this.body = body;
    this.headers = headers;
  }
}

/** An answer of the API server as the client raises it (ours, or the client library's ApiException: a status code, the body and headers). */
interface ApiAnswer {
  code: number;
  body: unknown;
}

function apiAnswer(error: unknown): ApiAnswer | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, body, headers } = error as Error & { code?: unknown; body?: unknown; headers?: unknown };
  return typeof code === 'number' && headers !== undefined ? { code, body } : undefined;
}

// The Status object the API server answers errors with.
const statusSchema = z.object({
  kind: z.literal('Status').optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  code: z.number().optional(),
});

/** The HTTP status of a failed Kubernetes call, when it got an answer. */
export function kubernetesStatusCode(error: unknown): number | undefined {
  const answer = apiAnswer(error);
  if (answer) return answer.code;
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** What the API server said (its Status message), else what went wrong on the way. */
export function kubernetesErrorMessage(error: unknown): string {
  const answer = apiAnswer(error);
  if (answer) {
    const body: unknown = answer.body;
    let parsed: unknown = body;
    if (typeof body === 'string') {
      try {
        parsed = JSON.parse(body);
      } catch {
        return body.trim() ? `HTTP ${answer.code}: ${body.trim().slice(0, 300)}` : `HTTP ${answer.code}`;
      }
    }
    const status = statusSchema.safeParse(parsed);
    if (status.success && status.data.message) return status.data.message;
    return `HTTP ${answer.code}`;
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === 'string')
    return `${cause.code}${typeof cause.message === 'string' ? ` (${cause.message})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

/** An ExternalError naming what the bot was doing, with the API server's own words, and a k8s_* code for the status. */
export function kubernetesError(doing: string, error: unknown): ExternalError {
  // The request's deadline passed: say what the bot was doing rather than which URL it was.
  if (error instanceof DeadlineError) return new DeadlineError('Kubernetes', doing, error.limitMs, error.setting);
  const status = kubernetesStatusCode(error);
  const hint =
    status === 403
      ? " (the bot's ServiceAccount lacks this permission: see deploy/kubernetes/rbac.yaml)"
      : status === 401
        ? ' (the credentials were refused)'
        : '';
  return new ExternalError('Kubernetes', `${doing}: ${kubernetesErrorMessage(error)}${hint}`, {
    code: kubernetesErrorCode(status),
    cause: error,
  });
}

function kubernetesErrorCode(status: number | undefined): ErrorCode {
  if (status === undefined) return 'k8s_unreachable';
  if (status === 401 || status === 403) return 'k8s_denied';
  if (status === 404) return 'k8s_not_found';
  return 'k8s_failed';
}
