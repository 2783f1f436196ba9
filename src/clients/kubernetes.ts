// Kubernetes clients from config (a kubeconfig file and context, else in-cluster, else the default kubeconfig), every
// request under timeouts.kubernetes.request, plain-JSON reads paged as kubectl pages them, and API errors in words.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  RequestContext,
  ResponseContext,
  ServerConfiguration,
  createConfiguration,
  setHeaderMiddleware,
  wrapHttpLibrary,
  type HttpLibrary,
} from '@kubernetes/client-node';
import { z } from 'zod';
import type { Config } from '../config/schema.ts';
import { DeadlineError, stallGuard, withDeadline } from '../deadline.ts';
import { ConfigError, ExternalError } from '../errors.ts';
import { kubernetesStatusCode } from './kubernetes-errors.ts';

export interface KubernetesTimeouts {
  /** One API request, its answer's body included (timeouts.kubernetes.request). */
  requestMs: number;
  /** A watch on which nothing arrives for this long is stalled (timeouts.kubernetes.watchIdle). */
  watchIdleMs: number;
}

/** The schema's defaults, for clients made from a bare kubeconfig (tests, benchmarks). */
export const DEFAULT_KUBERNETES_TIMEOUTS: KubernetesTimeouts = { requestMs: 15_000, watchIdleMs: 60_000 };

export const REQUEST_SETTING = 'timeouts.kubernetes.request';
export const WATCH_IDLE_SETTING = 'timeouts.kubernetes.watchIdle';

export interface KubernetesClients {
  kubeConfig: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** The context in use (for messages), or "in-cluster". */
  context: string;
  timeouts: KubernetesTimeouts;
  /** Sends a request through the same deadline as the typed clients (for plain-JSON reads). */
  http: HttpLibrary;
}

export interface KubernetesClientOptions {
  /** A service's own context (services.<name>.kubernetes.context) wins over the global one. */
  context?: string | undefined;
  /** Where to look for in-cluster credentials; default process.env. */
  env?: Record<string, string | undefined>;
}

/** Loads the kubeconfig the way the bot's config says; throws ConfigError for a missing file or unknown context. */
export function loadKubeConfig(config: Config, options: KubernetesClientOptions = {}): KubeConfig {
  const { kubeconfig } = config.file.kubernetes;
  const context = options.context ?? config.file.kubernetes.context;
  const env = options.env ?? process.env;
  const kubeConfig = new KubeConfig();
  try {
    if (kubeconfig) kubeConfig.loadFromFile(kubeconfig);
    // Inside a pod the ServiceAccount's token and CA are the credentials (the deploy manifests give it the RBAC Role).
    else if (env.KUBERNETES_SERVICE_HOST && !context) kubeConfig.loadFromCluster();
    else kubeConfig.loadFromDefault();
  } catch (error) {
    throw new ConfigError([
      `kubernetes.kubeconfig: cannot load ${kubeconfig ?? 'the default kubeconfig'}: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
  if (context) {
    if (!kubeConfig.getContextObject(context)) {
      const known = kubeConfig.getContexts().map((c) => c.name);
      throw new ConfigError([
        `kubernetes.context: no context "${context}" in ${kubeconfig ?? 'the kubeconfig'} (it has: ${known.join(', ') || 'none'})`,
      ]);
    }
    kubeConfig.setCurrentContext(context);
  }
  if (!kubeConfig.getCurrentCluster())
    throw new ConfigError([
      'kubernetes: no cluster configured (set kubernetes.kubeconfig, run in a pod, or provide ~/.kube/config)',
    ]);
  return kubeConfig;
}

export function createKubernetesClients(config: Config, options: KubernetesClientOptions = {}): KubernetesClients {
  const { request, watchIdle } = config.file.timeouts.kubernetes;
  return clientsFor(loadKubeConfig(config, options), { requestMs: request, watchIdleMs: watchIdle });
}

/** Typed API clients as KubeConfig.makeApiClient makes them, but sending every request through the deadline. */
export function clientsFor(
  kubeConfig: KubeConfig,
  timeouts: KubernetesTimeouts = DEFAULT_KUBERNETES_TIMEOUTS,
): KubernetesClients {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new ConfigError(['kubernetes: the kubeconfig has no current cluster']);
  const http = deadlineHttpLibrary(timeouts.requestMs);
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
    httpApi: http,
    middleware: [setHeaderMiddleware('User-Agent', USER_AGENT)],
  });
  return {
    kubeConfig,
    apps: new AppsV1Api(configuration),
    core: new CoreV1Api(configuration),
    custom: new CustomObjectsApi(configuration),
    context: kubeConfig.getCurrentContext() || 'in-cluster',
    timeouts,
    http,
  };
}

const USER_AGENT = 'runbook-bot';

/**
 * The client's fetch, with one deadline over the request and its whole answer: a server that accepts the connection
 * and never answers (or stops half-way through a body) ends at the limit with a DeadlineError naming Kubernetes and the
 * setting. The caller's own signal (a health check's timeout, a shutdown) still aborts it first.
 */
function deadlineHttpLibrary(limitMs: number): HttpLibrary {
  const fetchLibrary = new IsomorphicFetchHttpLibrary();
  // KubeConfig makes a new connection pool (undici Agent) for every request, so nothing is reused: every list page
  // would open its own connection (and TLS handshake). Its TLS settings are the same for every request of one
  // kubeconfig, so the first pool serves them all; the others are dropped unused.
  let pool: ReturnType<RequestContext['getDispatcher']>;
  return wrapHttpLibrary({
    send: (request: RequestContext) => {
      const fresh = request.getDispatcher();
      if (fresh) {
        pool ??= fresh;
        request.setDispatcher(pool);
      }
      return withDeadline(
        {
          dependency: 'Kubernetes',
          doing: `${request.getHttpMethod()} ${new URL(request.getUrl()).pathname}`,
          limitMs,
          setting: REQUEST_SETTING,
          signal: request.getSignal(),
        },
        async (signal) => {
          request.setSignal(signal);
          const response = await fetchLibrary.send(request).toPromise();
          const text = await response.body.text();
          return new ResponseContext(response.httpStatusCode, response.headers, {
            text: () => Promise.resolve(text),
            binary: () => Promise.resolve(Buffer.from(text)),
            stream: () => null,
          });
        },
      );
    },
  });
}

export type QueryValue = string | number | boolean | undefined;

/** GET a path as plain JSON, without the typed models (large lists parse in a fraction of the time), under the deadline. */
export async function getJson(
  k8s: Pick<KubernetesClients, 'kubeConfig' | 'http'>,
  path: string,
  query: Record<string, QueryValue> = {},
  signal?: AbortSignal,
): Promise<unknown> {
  const server = k8s.kubeConfig.getCurrentCluster()?.server ?? '';
  const url = new URL(server.replace(/\/$/, '') + path);
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
  const request = new RequestContext(url.toString(), HttpMethod.GET);
  request.setHeaderParam('Accept', 'application/json');
  request.setHeaderParam('User-Agent', USER_AGENT);
  if (signal) request.setSignal(signal);
  await k8s.kubeConfig.applySecurityAuthentication(request);
  const response = await k8s.http.send(request).toPromise();
  const text = await response.body.text();
  if (response.httpStatusCode < 200 || response.httpStatusCode > 299)
    throw new ApiException(
      response.httpStatusCode,
      `HTTP ${response.httpStatusCode} from GET ${url.pathname}`,
      text,
      response.headers,
    );
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiException(
      response.httpStatusCode,
      `GET ${url.pathname} answered something that is not JSON`,
      text,
      response.headers,
    );
  }
}

/** How a watch ended. */
export type WatchEnd =
  /** The caller stopped it (its signal aborted). */
  | { reason: 'stopped' }
  /** Nothing arrived for `timeouts.kubernetes.watchIdle`: the connection may be dead without knowing it. */
  | { reason: 'stalled'; error: DeadlineError }
  /** The server closed it (a watch's normal end) or the connection dropped. */
  | { reason: 'closed'; error: unknown }
  /** It never started: the API answered an error status (403, 404, 410…) or could not be reached. */
  | { reason: 'refused'; error: unknown; status: number | undefined };

export interface WatchOptions {
  query?: Record<string, QueryValue>;
  signal?: AbortSignal | undefined;
  /** Each event; `type` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
  onEvent(type: string, object: unknown): void;
}

/**
 * Watches a collection until it ends, under the idle limit `timeouts.kubernetes.watchIdle`: a watch on which nothing
 * arrives for that long (no event, no bookmark; the connection included) is cut and reported as stalled, so the
 * caller can list and watch again instead of waiting on a dead connection.
 */
export async function watchCollection(
  k8s: Pick<KubernetesClients, 'kubeConfig' | 'timeouts'>,
  path: string,
  options: WatchOptions,
): Promise<WatchEnd> {
  const guard = stallGuard({
    dependency: 'Kubernetes',
    doing: `watching ${path}`,
    limitMs: k8s.timeouts.watchIdleMs,
    setting: WATCH_IDLE_SETTING,
    signal: options.signal,
  });
  const ended = (error: unknown, status?: number): WatchEnd => {
    if (guard.signal.aborted) {
      const reason: unknown = guard.signal.reason;
      return reason instanceof DeadlineError && !options.signal?.aborted
        ? { reason: 'stalled', error: reason }
        : { reason: 'stopped' };
    }
    return status !== undefined ? { reason: 'refused', error, status } : { reason: 'closed', error };
  };
  try {
    const server = k8s.kubeConfig.getCurrentCluster()?.server ?? '';
    const url = new URL(server.replace(/\/$/, '') + path);
    url.searchParams.set('watch', 'true');
    for (const [key, value] of Object.entries(options.query ?? {}))
      if (value !== undefined) url.searchParams.set(key, String(value));
    const request = new RequestContext(url.toString(), HttpMethod.GET);
    request.setHeaderParam('Accept', 'application/json');
    request.setHeaderParam('User-Agent', USER_AGENT);
    request.setSignal(guard.signal);
    await k8s.kubeConfig.applySecurityAuthentication(request);
    // The client's fetch without the request deadline: a watch is long by design; the idle guard bounds it instead.
    const response = await new IsomorphicFetchHttpLibrary().send(request).toPromise();
    if (response.httpStatusCode !== 200) {
      const text = await response.body.text();
      const error = new ApiException(
        response.httpStatusCode,
        `HTTP ${response.httpStatusCode} from watching ${path}`,
        text,
        response.headers,
      );
      return ended(error, response.httpStatusCode);
    }
    guard.touch();
    const stream = response.body.stream();
    if (!stream) return ended(new Error('the watch answered without a body'));
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of stream) {
      // Any bytes are a sign of life (a bookmark, an event, or the server's own keep-alive).
      guard.touch();
      buffered += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        let event: { type?: unknown; object?: unknown };
        try {
          event = JSON.parse(line) as { type?: unknown; object?: unknown };
        } catch {
          continue;
        }
        if (typeof event.type === 'string') options.onEvent(event.type, event.object);
        if (guard.signal.aborted) return ended(undefined);
      }
    }
    return ended(new Error('the API server closed the watch'));
  } catch (error) {
    return ended(error, kubernetesStatusCode(error));
  } finally {
    guard.dispose();
  }
}

/** kubectl's --chunk-size default: a list is read 500 objects at a time. */
export const LIST_PAGE_SIZE = 500;

const listPageSchema = z.object({
  metadata: z.object({ continue: z.string().optional(), resourceVersion: z.string().optional() }).optional(),
  items: z.array(z.unknown()).nullable().optional(),
});

export interface ListOptions {
  query?: Record<string, QueryValue>;
  signal?: AbortSignal | undefined;
  pageSize?: number;
  /** Each page's items as it arrives, so a caller keeps what it needs and lets the rest go. */
  onPage(items: unknown[]): void;
  /** The list starts again from the beginning (an expired continue token): forget what came so far. */
  onRestart(): void;
}

/**
 * Lists a collection page by page with limit/continue, as kubectl does (--chunk-size 500). When a continue token
 * expires mid-list (410), the list is read again in one request, as client-go's pager does (FullListIfExpired).
 * Returns how many requests it took.
 */
export async function listPages(
  k8s: Pick<KubernetesClients, 'kubeConfig' | 'http'>,
  path: string,
  options: ListOptions,
): Promise<number> {
  const limit = options.pageSize ?? LIST_PAGE_SIZE;
  let requests = 0;
  const fetchPage = (token: string | undefined) => {
    requests += 1;
    return getJson(k8s, path, { ...options.query, limit, continue: token }, options.signal);
  };
  let token: string | undefined;
  let next = fetchPage(undefined);
  for (;;) {
    let answer: unknown;
    try {
      answer = await next;
    } catch (error) {
      if (token === undefined || kubernetesStatusCode(error) !== 410) throw error;
      options.onRestart();
      requests += 1;
      options.onPage(parseListPage(await getJson(k8s, path, { ...options.query }, options.signal), path).items ?? []);
      return requests;
    }
    const page = parseListPage(answer, path);
    token = page.metadata?.continue || undefined;
    // The next page is on its way while this one is handled, so handling costs no round trip.
    if (token) next = fetchPage(token);
    options.onPage(page.items ?? []);
    if (!token) return requests;
  }
}

function parseListPage(answer: unknown, path: string): z.infer<typeof listPageSchema> {
  const parsed = listPageSchema.safeParse(answer);
  if (!parsed.success)
    throw new ExternalError('Kubernetes', `GET ${path} answered something that is not a list`, { code: 'k8s_failed' });
  return parsed.data;
}
