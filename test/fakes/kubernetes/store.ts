// The fake API server's storage: objects by type, one resourceVersion counter, the change log watches replay, garbage collection.
import { randomUUID } from 'node:crypto';
import { clone, sameJson } from './json.ts';
import type { KubeObject, ResourceType, WatchEventType } from './types.ts';

export interface Change {
  rv: number;
  type: WatchEventType;
  /** The object as stored (a view converts it before serving). */
  object: KubeObject;
  /** The stored type. */
  resource: ResourceType;
}

/** How many changes watches can resume from; older resourceVersions answer 410 Expired, as after an etcd compaction. */
const CHANGE_LOG_LIMIT = 2_000;

export class ObjectStore {
  readonly types: ResourceType[];
  resourceVersion = 1000;
  readonly changes: Change[] = [];
  readonly #byType = new Map<ResourceType, Map<string, KubeObject>>();
  readonly #sorted = new Map<ResourceType, KubeObject[]>();
  readonly #listeners: Array<(change: Change) => void> = [];
  readonly #now: () => number;

  constructor(types: ResourceType[], now: () => number) {
    this.types = [...types];
    this.#now = now;
  }

  addType(type: ResourceType): void {
    if (!this.types.some((t) => t.apiVersion === type.apiVersion && t.kind === type.kind)) this.types.push(type);
  }

  removeType(apiVersion: string, kind: string): void {
    const index = this.types.findIndex((t) => t.apiVersion === apiVersion && t.kind === kind);
    if (index >= 0) this.types.splice(index, 1);
  }

  typeOf(apiVersion: string, kind: string): ResourceType {
    const type = this.types.find((t) => t.apiVersion === apiVersion && t.kind === kind);
    if (!type)
      throw new Error(
        `fake-kubernetes: no resource type ${apiVersion} ${kind}; install it (installCertManager, installMetricsServer, addResourceType)`,
      );
    return type;
  }

  /** Where a type's objects live: itself, or the type a view is stored as. */
  storedType(type: ResourceType): ResourceType {
    return type.view ? this.typeOf(type.view.storedAs.apiVersion, type.view.storedAs.kind) : type;
  }

  onChange(listener: (change: Change) => void): void {
    this.#listeners.push(listener);
  }

  /** Stores an object as the API server would: fills metadata, bumps resourceVersion, and generation on spec changes. */
  write(incoming: KubeObject, type: ResourceType): KubeObject {
    const stored = this.storedType(type);
    const object = type.view ? type.view.toStored(clone(incoming)) : incoming;
    const metadata = (object.metadata ??= {});
    if (!metadata.name) throw new Error('fake-kubernetes: metadata.name is required');
    if (stored.namespaced) metadata.namespace ??= 'default';
    else delete metadata.namespace;
    object.apiVersion = stored.apiVersion;
    object.kind = stored.kind;
    const objects = this.#objectsOf(stored);
    const key = keyOf(stored, metadata.namespace, metadata.name);
    const previous = objects.get(key);
    metadata.uid ??= previous?.metadata.uid ?? randomUUID();
    metadata.creationTimestamp ??= previous?.metadata.creationTimestamp ?? new Date(this.#now()).toISOString();
    if (previous && 'spec' in object) {
      const changed = !sameJson(previous.spec, object.spec);
      metadata.generation = (previous.metadata.generation ?? 1) + (changed ? 1 : 0);
    } else if ('spec' in object) {
      metadata.generation ??= 1;
    }
    this.resourceVersion += 1;
    metadata.resourceVersion = String(this.resourceVersion);
    const kept = clone(object);
    objects.set(key, kept);
    if (!previous) this.#sorted.delete(stored);
    else this.#sorted.get(stored)?.splice(this.#sorted.get(stored)!.indexOf(previous), 1, kept);
    this.#emit(previous ? 'MODIFIED' : 'ADDED', kept, stored);
    const answer = clone(kept);
    return type.view ? type.view.fromStored(answer) : answer;
  }

  remove(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const stored = this.storedType(type);
    const objects = this.#objectsOf(stored);
    const key = keyOf(stored, namespace, name);
    const previous = objects.get(key);
    if (!previous) return undefined;
    objects.delete(key);
    this.#sorted.delete(stored);
    this.resourceVersion += 1;
    previous.metadata.resourceVersion = String(this.resourceVersion);
    this.#emit('DELETED', previous, stored);
    // Garbage collection: what this object controlled goes with it.
    for (const [childType, children] of this.#byType)
      for (const child of [...children.values()])
        if ((child.metadata.ownerReferences ?? []).some((ref: KubeObject) => ref.uid === previous.metadata.uid))
          this.remove(childType, child.metadata.namespace, child.metadata.name);
    return type.view ? type.view.fromStored(clone(previous)) : previous;
  }

  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const stored = this.storedType(type);
    const object = this.#objectsOf(stored).get(keyOf(stored, namespace, name));
    if (!object) return undefined;
    return type.view ? type.view.fromStored(clone(object)) : clone(object);
  }

  /** Objects of a type in key order (namespace/name), as stored: callers clone or convert what they hand out. */
  sorted(type: ResourceType): KubeObject[] {
    const stored = this.storedType(type);
    let list = this.#sorted.get(stored);
    if (!list) {
      list = [...this.#objectsOf(stored).values()].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
      this.#sorted.set(stored, list);
    }
    return list;
  }

  /** Copies of a type's objects (in one namespace, or all), converted for a view. */
  list(type: ResourceType, namespace?: string): KubeObject[] {
    return this.sorted(type)
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .map((o) => (type.view ? type.view.fromStored(clone(o)) : clone(o)));
  }

  #objectsOf(type: ResourceType): Map<string, KubeObject> {
    let objects = this.#byType.get(type);
    if (!objects) {
      objects = new Map();
      this.#byType.set(type, objects);
    }
    return objects;
  }

  #emit(type: WatchEventType, object: KubeObject, resource: ResourceType): void {
    const change: Change = { rv: Number(object.metadata.resourceVersion), type, object: clone(object), resource };
    this.changes.push(change);
    if (this.changes.length > CHANGE_LOG_LIMIT) this.changes.splice(0, this.changes.length - CHANGE_LOG_LIMIT);
    for (const listener of this.#listeners) listener(change);
  }
}

export function sortKey(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

function keyOf(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.namespaced ? (namespace ?? '') : ''}|${name}`;
}
