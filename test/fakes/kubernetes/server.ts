// The fake Kubernetes API server on loopback: get/list (paged)/watch/patch/put/post/delete over the object store, and the
// ways a real one says no (RBAC 403 per resource, injected statuses, a peer that accepts and never answers, latency).
//
// Deliberate simplifications: no authentication or admission; one global resourceVersion counter; a paged list's
// snapshot is kept for the last 32 lists in progress (older ones continue from the current state); strategic merge patch merges the
// well-known keyed lists and otherwise acts as a merge patch; server-side apply is refused (415); the deployment
// controller creates no Pod objects (tests put them); EndpointSlices are brought up to date when they are read.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import {
  createDeploymentController,
  type DeploymentController,
  type FakeTime,
  type SeedDeploymentOptions,
  type SeededDeployment,
} from './apps.ts';
import { discovery } from './discovery.ts';
import { EVENTS_V1_TYPE } from './events.ts';
import { clone } from './json.ts';
import { syncEndpointSlices } from './networking.ts';
import { applyJsonPatch, mergePatch, mergeWrite, strategicMergePatch } from './patch.ts';
import { group, parsePath, qualifiedResource, verbOf } from './routes.ts';
import { matches, parseFieldSelector, parseLabelSelector, type FieldRequirement, type LabelRequirement } from './selectors.ts';
import { faultStatus, forbiddenMessage, sendStatus, statusObject } from './status.ts';
import { ObjectStore, sortKey, type Change } from './store.ts';
import {
  APPS_TYPES,
  CERT_MANAGER_TYPES,
  CORE_TYPES,
  METRICS_TYPES,
  NETWORKING_TYPES,
  type FailOptions,
  type KubeObject,
  type RecordedRequest,
  type ResourceType,
} from './types.ts';

export interface FakeKubernetesOptions {
  /** Install cert-manager's Certificate CRD (default: absent, its group answers 404). */
  certManager?: boolean;
  /** Install metrics-server's metrics.k8s.io API (default: absent, its group answers 404). */
  metricsServer?: boolean;
  /** Delay before every answer except watch streams (default 0). */
  latencyMs?: number;
}

export interface FakeKubernetes {
  url: string;
  kubeConfig(): KubeConfig;
  /** The same config as kubeconfig file text (JSON, which is YAML), for a config file path. */
  kubeConfigYaml(): string;
  close(): Promise<void>;
  /** Stores an object as a controller or `kubectl apply` would (creating its namespace when missing, for convenience). */
  put(object: KubeObject): KubeObject;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean;
  /** Makes the next matching request(s) answer `status` with a Kubernetes Status object. `method` '*' matches any. */
  failNext(method: string, pathPattern: RegExp, status: number, options?: FailOptions): void;
  /**
   * RBAC: the bot's ServiceAccount may not `verb` ("list", "get", "watch", "patch", or "*") the resource, named as kubectl
   * names it ("events", "events.events.k8s.io", "deployments.apps"), in `namespace` (default everywhere). Every such
   * request answers 403 with the API server's words until `allow`.
   */
  forbid(verb: string, resource: string, namespace?: string): void;
  allow(verb: string, resource: string, namespace?: string): void;
  /** Matching requests (default: all) are accepted and never answered, as a wedged API server or proxy does. */
  stall(pathPattern?: RegExp): void;
  unstall(): void;
  /** Requests being held by stall(). */
  readonly stalledRequests: number;
  /** Delay before every answer except watch streams. */
  latencyMs: number;
  /** Continue tokens handed out so far answer 410 Expired, as after the API server's compaction. */
  expireContinueTokens(): void;
  /** Cuts every open watch connection mid-stream; returns how many were cut. */
  dropWatches(): number;
  /** Open watch connections. */
  readonly openWatches: number;
  requests: RecordedRequest[];
  controller: DeploymentController;
  seedDeployment(options: SeedDeploymentOptions): SeededDeployment;
  /** Registers another resource type (e.g. a CRD) for the API and the store. */
  addResourceType(type: ResourceType): void;
  installCertManager(): void;
  installMetricsServer(): void;
}

interface Watcher {
  type: ResourceType;
  namespace: string | undefined;
  labelSelector: LabelRequirement[];
  fieldSelector: FieldRequirement[];
  res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

interface Fault {
  method: string;
  pattern: RegExp;
  status: number;
  remaining: number;
  options: FailOptions;
}

interface Denial {
  verb: string;
  resource: string;
  namespace: string | undefined;
}

interface ContinueToken {
  rv: number;
  /** The sort key of the last item handed out. */
  after: string;
  /** Where the next page starts in the list's snapshot. */
  next?: number;
}

export async function startFakeKubernetes(options: FakeKubernetesOptions = {}): Promise<FakeKubernetes> {
  const time: FakeTime = { now: Date.now() };
  const store = new ObjectStore([...CORE_TYPES, ...APPS_TYPES, ...NETWORKING_TYPES, EVENTS_V1_TYPE], () => time.now);
  if (options.certManager) for (const type of CERT_MANAGER_TYPES) store.addType(type);
  if (options.metricsServer) for (const type of METRICS_TYPES) store.addType(type);
  const watchers = new Set<Watcher>();
  const faults: Fault[] = [];
  const denials: Denial[] = [];
  const stalled = new Set<ServerResponse>();
  let stallPattern: RegExp | undefined;
  const requests: RecordedRequest[] = [];
  /** Continue tokens of lists started at or before this resourceVersion have expired. */
  let tokensExpireAt = 0;
  /** The objects of paged lists in progress, by list and resourceVersion, so later pages are cut from the same snapshot. */
  const snapshots = new Map<string, KubeObject[]>();
  /** Namespaces whose Services or Pods changed since their EndpointSlices were last brought up to date. */
  const endpointsDirty = new Set<string>();
  const { controller, seedDeployment } = createDeploymentController(store, time);

  store.onChange((change: Change) => {
    if (change.resource.apiVersion === 'v1' && (change.resource.kind === 'Pod' || change.resource.kind === 'Service'))
      endpointsDirty.add(change.object.metadata.namespace);
    for (const watcher of watchers) {
      if (store.storedType(watcher.type) !== change.resource) continue;
      if (watcher.namespace !== undefined && change.object.metadata.namespace !== watcher.namespace) continue;
      const object = watcher.type.view ? watcher.type.view.fromStored(clone(change.object)) : change.object;
      if (!matches(object, watcher.labelSelector, watcher.fieldSelector)) continue;
      watcher.res.write(`${JSON.stringify({ type: change.type, object })}\n`);
    }
  });

  const namespaceType = store.typeOf('v1', 'Namespace');
  const namespaceExists = (name: string) => store.get(namespaceType, undefined, name) !== undefined;
  const ensureNamespace = (name: string | undefined) => {
    if (name && !namespaceExists(name))
      store.write({ metadata: { name }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } }, namespaceType);
  };
  const syncEndpoints = (namespace: string | undefined) => {
    for (const dirty of [...endpointsDirty]) {
      if (namespace !== undefined && dirty !== namespace) continue;
      endpointsDirty.delete(dirty);
      syncEndpointSlices(store, dirty);
    }
  };

  const denied = (verb: string, type: ResourceType, namespace: string | undefined) =>
    denials.some(
      (d) =>
        (d.verb === '*' || d.verb === verb) &&
        d.resource === qualifiedResource(type) &&
        (d.namespace === undefined || d.namespace === namespace),
    );

  // ---------------------------------------------------------------- HTTP
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      sendStatus(res, 500, 'InternalError', `fake-kubernetes: ${error instanceof Error ? error.message : String(error)}`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams);
    const raw = await readBody(req);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
    }
    const record: RecordedRequest = { method, path: url.pathname, query, contentType, body, status: 200 };
    requests.push(record);

    if (stallPattern?.test(`${url.pathname}${url.search}`)) {
      // Accepted, read, and never answered: the client's own deadline is all that ends it.
      record.status = 0;
      stalled.add(res);
      res.on('close', () => stalled.delete(res));
      return;
    }
    const route = parsePath(url.pathname, store.types);
    const verb = verbOf(method, route, query);
    const watching = verb === 'watch';
    if (!watching && fake.latencyMs > 0) await sleep(fake.latencyMs);

    const respond = (status: number, payload: unknown) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const fail = (status: number, reason: string, message: string, details?: KubeObject) => {
      record.status = status;
      sendStatus(res, status, reason, message, details);
    };
    const detailsOf = (type: ResourceType, name?: string) => ({
      ...(name ? { name } : {}),
      group: group(type),
      kind: type.plural,
    });

    const fault = faults.find((f) => (f.method === '*' || f.method === method) && f.pattern.test(`${url.pathname}${url.search}`));
    if (fault) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) faults.splice(faults.indexOf(fault), 1);
      const { reason, message } = faultStatus(fault.status, fault.options, verb, route, url.pathname);
      return fail(fault.status, reason, message, route?.type ? detailsOf(route.type, route.name) : undefined);
    }

    if (
      method === 'GET' &&
      (url.pathname === '/api' || url.pathname === '/apis' || url.pathname === '/version' || route?.discovery)
    ) {
      return respond(200, discovery(url.pathname, store.types));
    }
    // A group or resource that is not installed (a CRD that is absent, metrics-server not registered).
    if (!route?.type) return fail(404, 'NotFound', 'the server could not find the requested resource');
    const { type, namespace, name, subresource } = route;
    // RBAC: a request for the Namespace object itself is authorized in that namespace.
    const rbacNamespace = type === namespaceType ? name : namespace;
    if (denied(verb, type, rbacNamespace))
      return fail(403, 'Forbidden', forbiddenMessage(verb, route, url.pathname), detailsOf(type, name));
    if (type.plural === 'endpointslices' && type.apiVersion === 'discovery.k8s.io/v1') syncEndpoints(namespace);
    const what = qualifiedResource(type);

    if (method === 'GET' && !name) {
      const labelSelector = parseLabelSelector(query.labelSelector ?? '');
      const fieldSelector = parseFieldSelector(query.fieldSelector ?? '');
      if (watching) return startWatch(type, namespace, labelSelector, fieldSelector, query, res, record);
      const [status, page] = listPage(type, namespace, labelSelector, fieldSelector, query);
      return respond(status, page);
    }
    if (!name && method !== 'POST')
      return fail(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);

    const existing = name ? store.get(type, namespace, name) : undefined;
    const notFound = () => fail(404, 'NotFound', `${what} "${name}" not found`, detailsOf(type, name));

    switch (method) {
      case 'GET':
        return existing ? respond(200, existing) : notFound();
      case 'POST': {
        const object = body as KubeObject;
        if (!object || typeof object !== 'object') return fail(400, 'BadRequest', 'the request body is not a JSON object');
        object.metadata ??= {};
        if (!object.metadata.name && object.metadata.generateName)
          object.metadata.name = `${object.metadata.generateName}${randomUUID().slice(0, 5)}`;
        if (type.namespaced) object.metadata.namespace = namespace ?? object.metadata.namespace;
        // As the API server's NamespaceLifecycle admission: nothing is created in a namespace that does not exist.
        if (type.namespaced && !namespaceExists(object.metadata.namespace))
          return fail(404, 'NotFound', `namespaces "${object.metadata.namespace}" not found`, {
            name: object.metadata.namespace,
            kind: 'namespaces',
          });
        if (store.get(type, object.metadata.namespace, object.metadata.name))
          return fail(
            409,
            'AlreadyExists',
            `${what} "${object.metadata.name}" already exists`,
            detailsOf(type, object.metadata.name),
          );
        delete object.metadata.resourceVersion;
        delete object.metadata.uid;
        delete object.metadata.generation;
        return respond(201, store.write(object, type));
      }
      case 'PUT': {
        if (!existing) return notFound();
        const object = body as KubeObject;
        const sent = object?.metadata?.resourceVersion;
        if (sent && sent !== existing.metadata.resourceVersion)
          return fail(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${what} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            detailsOf(type, name),
          );
        return respond(200, store.write(mergeWrite(existing, object, type, subresource), type));
      }
      case 'PATCH': {
        if (!existing) return notFound();
        let patched: KubeObject;
        try {
          if (contentType === 'application/json-patch+json') patched = applyJsonPatch(existing, body as KubeObject[]);
          else if (contentType === 'application/merge-patch+json') patched = mergePatch(existing, body) as KubeObject;
          else if (contentType === 'application/strategic-merge-patch+json')
            patched = strategicMergePatch(existing, body) as KubeObject;
          else
            return fail(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`,
            );
        } catch (error) {
          return fail(422, 'Invalid', `${what} "${name}" is invalid: ${error instanceof Error ? error.message : String(error)}`);
        }
        const sent = patched.metadata?.resourceVersion;
        if (sent && sent !== existing.metadata.resourceVersion)
          return fail(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${what} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        if (query.dryRun === 'All') return respond(200, mergeWrite(existing, patched, type, subresource));
        return respond(200, store.write(mergeWrite(existing, patched, type, subresource), type));
      }
      case 'DELETE': {
        const removed = existing ? store.remove(type, namespace, name!) : undefined;
        if (!removed) return notFound();
        if (type.kind === 'Pod') return respond(200, removed);
        return respond(200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { ...detailsOf(type, name), uid: removed.metadata.uid },
        });
      }
      default:
        return fail(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  /** One page of a list: `limit` and `continue` as the API server pages (a token names where the next page starts). */
  function listPage(
    type: ResourceType,
    namespace: string | undefined,
    labelSelector: LabelRequirement[],
    fieldSelector: FieldRequirement[],
    query: Record<string, string>,
  ): [number, unknown] {
    const current = () =>
      store
        .sorted(type)
        .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
        .map((o) => (type.view ? type.view.fromStored(clone(o)) : o))
        .filter((o) => matches(o, labelSelector, fieldSelector));
    const snapshotKey = (rv: number) =>
      `${type.apiVersion}|${type.plural}|${namespace ?? ''}|${query.labelSelector ?? ''}|${query.fieldSelector ?? ''}|${rv}`;
    let stored: KubeObject[] | undefined;
    let listRv = store.resourceVersion;
    let start = 0;
    if (query.continue) {
      let token: ContinueToken;
      try {
        token = JSON.parse(Buffer.from(query.continue, 'base64url').toString('utf8')) as ContinueToken;
      } catch {
        return [400, statusObject(400, 'BadRequest', 'continue key is not valid: illegal base64 data')];
      }
      if (token.rv <= tokensExpireAt)
        return [
          410,
          statusObject(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
          ),
        ];
      listRv = token.rv;
      // As the API server: later pages come from the snapshot the first page was cut from (objects are replaced, never
      // changed in place, by writes), so a paged list is consistent.
      stored = snapshots.get(snapshotKey(listRv)) ?? current();
      const after = token.after;
      // The token remembers where the next page starts; in a snapshot that changed since, find it by key.
      const previous = token.next !== undefined ? stored[token.next - 1] : undefined;
      start = previous && sortKey(previous) === after ? token.next! : stored.findIndex((o) => sortKey(o) > after);
      if (start < 0) start = stored.length;
    }
    stored ??= current();
    const limit = Number(query.limit ?? 0);
    const items = limit > 0 ? stored.slice(start, start + limit) : stored.slice(start);
    const more = start + items.length < stored.length;
    if (more) {
      snapshots.set(snapshotKey(listRv), stored);
      // A few lists in progress at a time are plenty for tests and benchmarks.
      while (snapshots.size > 32) snapshots.delete(snapshots.keys().next().value!);
    } else snapshots.delete(snapshotKey(listRv));
    const metadata: KubeObject = { resourceVersion: String(listRv) };
    if (more) {
      metadata.continue = Buffer.from(
        JSON.stringify({ rv: listRv, after: sortKey(items.at(-1)!), next: start + items.length } satisfies ContinueToken),
      ).toString('base64url');
      // As the API server: only when no selector filters the list.
      if (labelSelector.length === 0 && fieldSelector.length === 0)
        metadata.remainingItemCount = stored.length - start - items.length;
    }
    return [
      200,
      { apiVersion: type.apiVersion, kind: `${type.kind}List`, metadata, items: items.map((o) => (type.view ? o : clone(o))) },
    ];
  }

  function startWatch(
    type: ResourceType,
    namespace: string | undefined,
    labelSelector: LabelRequirement[],
    fieldSelector: FieldRequirement[],
    query: Record<string, string>,
    res: ServerResponse,
    record: RecordedRequest,
  ) {
    const since = Number(query.resourceVersion ?? 0);
    const oldest = store.changes[0]?.rv ?? store.resourceVersion + 1;
    if (since > 0 && since < oldest - 1 && since < store.resourceVersion) {
      record.status = 410;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: statusObject(410, 'Expired', `too old resource version: ${since} (${oldest - 1})`) })}\n`,
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const watcher: Watcher = { type, namespace, labelSelector, fieldSelector, res, timer: undefined };
    const served = (o: KubeObject) => (type.view ? type.view.fromStored(clone(o)) : o);
    const visible = (o: KubeObject) =>
      (namespace === undefined || o.metadata.namespace === namespace) && matches(o, labelSelector, fieldSelector);
    if (since > 0) {
      for (const change of store.changes)
        if (change.rv > since && change.resource === store.storedType(type) && visible(served(change.object)))
          res.write(`${JSON.stringify({ type: change.type, object: served(change.object) })}\n`);
    } else {
      for (const object of store.list(type, namespace))
        if (visible(object)) res.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
    }
    watchers.add(watcher);
    const timeout = Number(query.timeoutSeconds ?? 0);
    if (timeout > 0) watcher.timer = setTimeout(() => res.end(), timeout * 1000);
    res.on('close', () => {
      if (watcher.timer) clearTimeout(watcher.timer);
      watchers.delete(watcher);
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const kubeConfig = () => {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace: 'default' }],
      currentContext: 'fake',
    });
    return config;
  };

  const fake: FakeKubernetes = {
    url,
    kubeConfig,
    kubeConfigYaml: () => kubeConfig().exportConfig(),
    async close() {
      controller.stop();
      for (const watcher of watchers) watcher.res.destroy();
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    put(object) {
      const type = store.typeOf(object.apiVersion, object.kind);
      if (store.storedType(type).namespaced) ensureNamespace(object.metadata?.namespace ?? 'default');
      return store.write(clone(object), type);
    },
    get(apiVersion, kind, namespace, name) {
      return store.get(store.typeOf(apiVersion, kind), namespace, name);
    },
    list(apiVersion, kind, namespace) {
      return store.list(store.typeOf(apiVersion, kind), namespace);
    },
    remove(apiVersion, kind, namespace, name) {
      return store.remove(store.typeOf(apiVersion, kind), namespace, name) !== undefined;
    },
    failNext(method, pathPattern, status, failOptions = {}) {
      faults.push({
        method: method.toUpperCase(),
        pattern: pathPattern,
        status,
        remaining: failOptions.times ?? 1,
        options: failOptions,
      });
    },
    forbid(verb, resource, namespace) {
      denials.push({ verb, resource, namespace });
    },
    allow(verb, resource, namespace) {
      for (let i = denials.length - 1; i >= 0; i -= 1) {
        const d = denials[i]!;
        if (d.verb === verb && d.resource === resource && d.namespace === namespace) denials.splice(i, 1);
      }
    },
    stall(pathPattern = /./) {
      stallPattern = pathPattern;
    },
    unstall() {
      stallPattern = undefined;
      for (const res of stalled) res.destroy();
    },
    get stalledRequests() {
      return stalled.size;
    },
    latencyMs: options.latencyMs ?? 0,
    expireContinueTokens() {
      tokensExpireAt = store.resourceVersion;
    },
    dropWatches() {
      const count = watchers.size;
      for (const watcher of [...watchers]) {
        watchers.delete(watcher);
        watcher.res.destroy();
      }
      return count;
    },
    get openWatches() {
      return watchers.size;
    },
    requests,
    controller,
    seedDeployment(seed) {
      ensureNamespace(seed.namespace);
      return seedDeployment(seed);
    },
    addResourceType(type) {
      store.addType(type);
    },
    installCertManager() {
      for (const type of CERT_MANAGER_TYPES) store.addType(type);
    },
    installMetricsServer() {
      for (const type of METRICS_TYPES) store.addType(type);
    },
  };
  return fake;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
