// The error kinds the bot distinguishes, and the one registry of error codes: what may be shown to a user, and what is a bug.

/**
 * Every error code the bot raises, declared once with what it means (as bolt-js src/errors.ts and fastify
 * lib/errors.js do). test/errors.test.ts proves that each is used and that nothing raises an unlisted one.
 */
export const ERROR_CODES = {
  // The user's input or request (UserError): the message is shown to them as is.
  user_error: 'A request the bot cannot carry out as asked; the message says why.',
  usage: 'The command text does not match the command; the reply shows how to use it.',
  not_permitted: 'The user may not do this; the reply names who may.',
  service_missing: 'A command needs a service and none was named; the reply lists the known ones.',
  service_unknown: 'The named service is not in the config file; the reply lists the known ones.',
  not_configured: 'The service lacks the config (or environment variable) this command needs.',
  not_found: 'The object the request refers to no longer exists.',
  not_incident_channel: 'An in-channel /incident subcommand was used outside an incident channel.',
  incident_resolved: 'The incident is already resolved, so it cannot be changed this way.',
  already_acknowledged: 'The incident was already acknowledged.',
  severity_unchanged: 'The incident already has the requested severity.',
  incident_not_resolved: 'The incident is not resolved, so it cannot be reopened.',
  reopen_too_late: 'The incident was resolved longer ago than incidents.reopenWithin; a new incident is declared instead.',
  followup_done: 'The follow-up was already marked done.',
  role_unchanged: 'The user already holds the incident role they were given.',
  escalation_exhausted: 'Every escalation level of the incident has already been reached.',
  no_checks: 'The service has no health checks configured.',
  no_budget: 'No (or not this) service has a privacy budget configured.',
  reset_not_configured: 'The privacy budget of the service has no reset URL.',
  no_deployments: 'The service names no Kubernetes deployment to roll back.',
  deployment_unknown: 'The named deployment is not one of the service’s deployments.',
  deployment_not_found: 'The deployment does not exist in the cluster.',
  deployment_paused: 'The deployment is paused; rolling back needs --force.',
  deployment_changed: 'The deployment changed between the confirmation and the rollback.',
  mid_rollout: 'The deployment is still rolling out; rolling back needs --force.',
  no_rollout_history: 'The deployment has no earlier revision to roll back to.',
  revision_not_found: 'The requested revision is not in the deployment’s history.',
  already_at_revision: 'The deployment already runs the requested revision.',
  busy: 'Too many requests of this kind are already waiting in the work queue; the reply asks to try again shortly.',
  slack_busy:
    "Slack's rate limit for opening forms would hold the form past its 3 s trigger window; the reply asks to try again in a few seconds.",
  shutting_down: 'The bot is shutting down and did not start this request; the reply asks to run it again.',
  // A dependency (ExternalError): the message names it and what happened.
  external_error: 'A dependency failed in a way without a more precise code.',
  timeout: 'A dependency did not answer within its configured deadline (timeouts.* in the config file).',
  store_unreachable: "The bot's own database (PostgreSQL or the embedded store) cannot be opened.",
  database_unreachable: 'A service database (backup source, restore scratch) cannot be reached.',
  pg_tool_failed: 'pg_dump, pg_restore or psql exited with an error or could not be started.',
  encryption_failed: 'gpg could not encrypt a backup: not installed, or it exited with an error.',
  s3_failed: 'An S3 request failed.',
  verification_failed: 'An uploaded backup does not match what was sent (size or SHA-256).',
  http_unreachable: 'An HTTP endpoint of a watched service cannot be reached.',
  http_status: 'An HTTP endpoint answered with an unexpected status.',
  http_invalid: 'An HTTP endpoint answered something that is not the expected JSON.',
  slack_app_token_rejected:
    'apps.connections.open refused SLACK_APP_TOKEN (invalid_auth, not_allowed_token_type, token_revoked, missing connections:write): the bot exits with 78 and one line naming the fix.',
  k8s_unreachable: 'The Kubernetes API server cannot be reached.',
  k8s_denied: "The Kubernetes API refused the bot's credentials or its ServiceAccount lacks a grant (401/403).",
  k8s_not_found: 'The Kubernetes object (or namespace) does not exist (404).',
  k8s_failed: 'The Kubernetes API answered with another error status.',
  // The configuration (ConfigError).
  config_invalid: 'The environment or the config file is invalid; every offending key is listed.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A problem with the user's input or request; the message is safe to show them as is. */
export class UserError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'user_error') {
    // No stack trace: the message is the whole story, shown to the user and never logged with a stack, and capturing
    // one cost 2% of the bot's CPU answering usage errors (bench:ack, /health <unknown service> round).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
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
  readonly code: ErrorCode = 'config_invalid';
  readonly issues: readonly string[];
  constructor(issues: readonly string[], source?: string) {
    super(`Invalid configuration${source ? ` (${source})` : ''}:\n` + issues.map((issue) => `  - ${issue}`).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** A dependency (Slack, PostgreSQL, S3, Kubernetes, a service endpoint) failed. */
export class ExternalError extends Error {
  readonly code: ErrorCode;
  readonly service: string;
  constructor(service: string, message: string, options?: { code?: ErrorCode; cause?: unknown }) {
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
