// Writes as the API server applies them: PUT/PATCH against status subresources, JSON patch, merge patch and strategic merge patch.
import { clone, sameJson } from './json.ts';
import type { KubeObject, ResourceType } from './types.ts';

/** What a PUT or PATCH may change: the main resource leaves status alone, /status touches only status. */
export function mergeWrite(
  existing: KubeObject,
  incoming: KubeObject,
  type: ResourceType,
  subresource: string | undefined,
): KubeObject {
  const next = clone(incoming);
  next.metadata = {
    ...next.metadata,
    uid: existing.metadata.uid,
    creationTimestamp: existing.metadata.creationTimestamp,
    name: existing.metadata.name,
    namespace: existing.metadata.namespace,
  };
  delete next.metadata.generation;
  if (subresource === 'status') {
    const only = clone(existing);
    only.status = next.status;
    return only;
  }
  if (type.statusSubresource) {
    if (existing.status === undefined) delete next.status;
    else next.status = clone(existing.status);
  }
  return next;
}

export function applyJsonPatch(target: KubeObject, operations: KubeObject[]): KubeObject {
  if (!Array.isArray(operations)) throw new Error('a JSON patch must be an array of operations');
  let doc: unknown = clone(target);
  for (const op of operations) {
    const path = pointer(op.path);
    switch (op.op) {
      case 'add':
        doc = setAt(doc, path, clone(op.value), 'add');
        break;
      case 'replace':
        getAt(doc, path);
        doc = setAt(doc, path, clone(op.value), 'replace');
        break;
      case 'remove':
        getAt(doc, path);
        doc = removeAt(doc, path);
        break;
      case 'move': {
        const value = getAt(doc, pointer(op.from));
        doc = setAt(removeAt(doc, pointer(op.from)), path, value, 'add');
        break;
      }
      case 'copy':
        doc = setAt(doc, path, clone(getAt(doc, pointer(op.from))), 'add');
        break;
      case 'test':
        if (!sameJson(getAt(doc, path), op.value)) throw new Error(`test operation failed at ${op.path}`);
        break;
      default:
        throw new Error(`unknown JSON patch operation "${String(op.op)}"`);
    }
  }
  return doc as KubeObject;
}

function pointer(path: unknown): string[] {
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/')))
    throw new Error(`"${String(path)}" is not a JSON pointer`);
  return path === ''
    ? []
    : path
        .slice(1)
        .split('/')
        .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: unknown, path: string[]): unknown {
  let current: unknown = doc;
  for (const part of path) {
    if (current === null || typeof current !== 'object' || !(part in current))
      throw new Error(`doc is missing path: /${path.join('/')}`);
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function setAt(doc: unknown, path: string[], value: unknown, mode: 'add' | 'replace'): unknown {
  if (path.length === 0) return value;
  const parent = getAt(doc, path.slice(0, -1));
  const last = path.at(-1)!;
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`index ${last} is out of range`);
    if (mode === 'add') parent.splice(index, 0, value);
    else parent[index] = value;
  } else if (parent !== null && typeof parent === 'object') {
    (parent as Record<string, unknown>)[last] = value;
  } else throw new Error(`doc is missing path: /${path.join('/')}`);
  return doc;
}

function removeAt(doc: unknown, path: string[]): unknown {
  const parent = getAt(doc, path.slice(0, -1));
  const last = path.at(-1)!;
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else delete (parent as Record<string, unknown>)[last];
  return doc;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? clone(target as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

// The keyed lists of the core types (patchMergeKey in the Kubernetes API types).
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  conditions: 'type',
  ownerReferences: 'uid',
  tolerations: 'key',
  hostAliases: 'ip',
};

/** Strategic merge patch for the fields above; other lists are replaced, as for types without a merge key. */
export function strategicMergePatch(target: unknown, patch: unknown, field?: string): unknown {
  if (Array.isArray(patch)) {
    const key = field ? MERGE_KEYS[field] : undefined;
    if (!key || !Array.isArray(target)) return clone(patch).filter((item: unknown) => !isDirective(item));
    const result = clone(target) as KubeObject[];
    for (const item of patch as KubeObject[]) {
      const index = result.findIndex((existing) => existing?.[key] === item?.[key]);
      if (item?.$patch === 'delete') {
        if (index >= 0) result.splice(index, 1);
      } else if (index >= 0) result[index] = strategicMergePatch(result[index], item) as KubeObject;
      else result.push(strategicMergePatch(undefined, item) as KubeObject);
    }
    return result;
  }
  if (patch === null || typeof patch !== 'object') return clone(patch);
  const patchObject = patch as KubeObject;
  if (patchObject.$patch === 'replace') {
    const { $patch: _directive, ...rest } = patchObject;
    return clone(rest);
  }
  if (patchObject.$patch === 'delete') return undefined;
  const result: KubeObject =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? clone(target as KubeObject) : {};
  for (const [key, value] of Object.entries(patchObject)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else {
      const merged = strategicMergePatch(result[key], value, key);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
  }
  return result;
}

function isDirective(item: unknown): boolean {
  return item !== null && typeof item === 'object' && '$patch' in item;
}
