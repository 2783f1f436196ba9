// The error kinds the bot distinguishes: what may be shown to a user, and what is a bug.

/** A problem with the user's input or request; the message is safe to show them as is. */
export class UserError extends Error {
  readonly code: string;
  constructor(message: string, code = 'user_error') {
    super(message);
    this.name = 'UserError';
    this.code = code;
  }
}

/** The user may not do this; the message names who may. */
export class NotPermittedError extends UserError {
  constructor(message: string) {
    super(message, 'not_permitted');
    this.name = 'NotPermittedError';
  }
}

/** The configuration is invalid; `issues` lists every offending path and reason. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  readonly issues: readonly string[];
  constructor(issues: readonly string[], source?: string) {
    super(`Invalid configuration${source ? ` (${source})` : ''}:\n` + issues.map((issue) => `  - ${issue}`).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** A dependency (Slack, PostgreSQL, S3, Kubernetes, a service endpoint) failed. */
export class ExternalError extends Error {
  readonly code: string;
  readonly service: string;
  constructor(service: string, message: string, options?: { code?: string; cause?: unknown }) {
    super(`${service}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ExternalError';
    this.service = service;
    this.code = options?.code ?? 'external_error';
  }
}

/** A short id to quote to the user for an unexpected error, so it can be found in the logs. */
export function errorReference(): string {
  return Math.random().toString(36).slice(2, 10).toUpperCase();
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
