// Failures as the API server words them: Status objects, RBAC denials, and the messages of injected faults.
import type { ServerResponse } from 'node:http';
import { group, qualifiedResource, type Route } from './routes.ts';
import type { FailOptions, KubeObject } from './types.ts';

export const SERVICE_ACCOUNT = 'system:serviceaccount:runbook-bot:runbook-bot';

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function statusObject(code: number, reason: string, message: string, details?: KubeObject): KubeObject {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

export function sendStatus(res: ServerResponse, code: number, reason: string, message: string, details?: KubeObject): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(statusObject(code, reason, message, details)));
}

/** The API server's RBAC denial, word for word. */
export function forbiddenMessage(verb: string, route: Route | undefined, path: string): string {
  const type = route?.type;
  const resource = type ? qualifiedResource(type) : path;
  return `${resource}${route?.name ? ` "${route.name}"` : ''} is forbidden: User "${SERVICE_ACCOUNT}" cannot ${verb} resource "${type?.plural ?? path}" in API group "${type ? group(type) : ''}"${route?.namespace ? ` in the namespace "${route.namespace}"` : ''}`;
}

export function faultStatus(
  status: number,
  options: FailOptions,
  verb: string,
  route: Route | undefined,
  path: string,
): { reason: string; message: string } {
  const reason = options.reason ?? REASONS[status] ?? 'Unknown';
  if (options.message) return { reason, message: options.message };
  const resource = route?.type ? qualifiedResource(route.type) : path;
  switch (status) {
    case 403:
      return { reason, message: forbiddenMessage(verb, route, path) };
    case 401:
      return { reason, message: 'Unauthorized' };
    case 404:
      return { reason, message: `${resource} "${route?.name ?? ''}" not found` };
    case 409:
      return {
        reason,
        message: `Operation cannot be fulfilled on ${resource} "${route?.name ?? ''}": the object has been modified; please apply your changes to the latest version and try again`,
      };
    case 429:
      return { reason, message: 'Too many requests, please try again later.' };
    case 503:
      return { reason, message: 'the server is currently unable to handle the request' };
    case 504:
      return {
        reason,
        message: 'the server was unable to return a response in the time allotted, but may still be processing the request',
      };
    default:
      return {
        reason,
        message: `an error on the server ("fake-kubernetes injected ${status}") has prevented the request from succeeding`,
      };
  }
}
