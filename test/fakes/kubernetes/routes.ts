// Request paths as the API server reads them: group, version, namespace, resource, name and subresource, and the RBAC verb of a request.
import type { ResourceType } from './types.ts';

export interface Route {
  type?: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  discovery?: boolean;
}

export function parsePath(path: string, types: ResourceType[]): Route | undefined {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  let apiVersion: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1]) {
    apiVersion = parts[1];
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts[1] && parts[2]) {
    apiVersion = `${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  } else if (parts[0] === 'apis' && parts[1]) {
    return { discovery: true };
  } else return undefined;
  if (rest.length === 0) return types.some((t) => t.apiVersion === apiVersion) ? { discovery: true } : {};
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource] = rest;
  const type = types.find((t) => t.apiVersion === apiVersion && t.plural === plural);
  if (!type) return {};
  if (!type.namespaced && namespace !== undefined) return {};
  return { type, namespace, name, subresource };
}

export function group(type: ResourceType): string {
  return type.apiVersion.includes('/') ? type.apiVersion.split('/')[0]! : '';
}

/** "pods", "deployments.apps", "certificates.cert-manager.io": how RBAC messages and kubectl name a resource. */
export function qualifiedResource(type: ResourceType): string {
  return `${type.plural}${group(type) ? `.${group(type)}` : ''}`;
}

const VERBS: Record<string, string> = { GET: 'get', PATCH: 'patch', PUT: 'update', POST: 'create', DELETE: 'delete' };

/** The verb RBAC checks: a GET without a name is a list, or a watch with ?watch=true. */
export function verbOf(method: string, route: Route | undefined, query: Record<string, string>): string {
  if (method === 'GET' && !route?.name) return query.watch === 'true' || query.watch === '1' ? 'watch' : 'list';
  return VERBS[method] ?? method.toLowerCase();
}
