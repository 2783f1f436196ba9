// Kubernetes clients from config (a kubeconfig file and context, else in-cluster, else the default kubeconfig), every
// request under timeouts.kubernetes.request, plain-JSON reads paged as kubectl pages them, and API errors in words.
// Requests go over node:https (kube-transport.ts); @kubernetes/client-node loads only for its typed clients (rollback,
// the namespace export) and for kubeconfigs the bot does not read itself: the CLI's `health` stays small.
import { z } from 'zod';
import type { Config } from '../config/schema.ts';
import { DeadlineError, stallGuard, withDeadline } from '../deadline.ts';
import { ExternalError } from '../errors.ts';
import { KubernetesApiError, kubernetesStatusCode } from './kubernetes-errors.ts';
import { kubeconfigFromText, readKubeconfig, type KubeTarget } from './kubeconfig.ts';
import type { KubeAnswer, KubeCall, KubeReply, KubeTransport, QueryValue } from './kube-exchange.ts';
import { kubeTransport } from './kube-transport.ts';
import type { TypedKubernetesClients } from './kubernetes-typed.ts';

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
  /** The context in use (for messages), or "in-cluster". */
  context: string;
  timeouts: KubernetesTimeouts;
  /** One request and its whole answer under timeouts.kubernetes.request; a DeadlineError names the method and path. */
  call(request: KubeCall): Promise<KubeReply>;
  /** A request whose answer is read as it arrives (a watch): only the caller's signal ends it. */
  open(request: KubeCall): Promise<KubeAnswer>;
  /** @kubernetes/client-node's typed API clients over the same requests, loaded on first use. */
  typed(): Promise<TypedKubernetesClients>;
}

export interface KubernetesClientOptions {
  /** A service's own context (services.<name>.kubernetes.context) wins over the global one. */
  context?: string | undefined;
  /** Where to look for in-cluster credentials and the default kubeconfig; default process.env. */
  env?: Record<string, string | undefined>;
  /** Where the pod's ServiceAccount is mounted; default /var/run/secrets/kubernetes.io/serviceaccount. */
  serviceAccountDir?: string;
}

/** Reads the kubeconfig the way the bot's config says; throws ConfigError for a missing file or unknown context. */
export function createKubernetesClients(config: Config, options: KubernetesClientOptions = {}): KubernetesClients {
  const { kubeconfig, context } = config.file.kubernetes;
  const { request, watchIdle } = config.file.timeouts.kubernetes;
  const target = readKubeconfig({
    file: kubeconfig,
    context: options.context ?? context,
    env: options.env,
    serviceAccountDir: options.serviceAccountDir,
  });
  return clientsFor(target, { requestMs: request, watchIdleMs: watchIdle });
}

/**
 * Clients for a kubeconfig already read, or for a KubeConfig of @kubernetes/client-node (tests and benchmarks build
 * theirs with it): its current context, read by the bot's own reader.
 */
export function clientsFor(
  kubeconfig: KubeTarget | { exportConfig(): string },
  timeouts: KubernetesTimeouts = DEFAULT_KUBERNETES_TIMEOUTS,
): KubernetesClients {
  const target = 'exportConfig' in kubeconfig ? kubeconfigFromText(kubeconfig.exportConfig()) : kubeconfig;
  const transport = kubeTransport(target, { execLimitMs: timeouts.requestMs });
  const call = (request: KubeCall) => callWithDeadline(transport, target.server, request, timeouts.requestMs);
  let typed: Promise<TypedKubernetesClients> | undefined;
  return {
    context: target.context,
    timeouts,
    call,
    open: (request) => {
      const url = urlOf(target.server, request);
      return transport.send({
        method: request.method,
        url,
        headers: { ...request.headers, 'User-Agent': USER_AGENT },
        body: request.body,
        signal: request.signal ?? new AbortController().signal,
      });
    },
    typed: () =>
      (typed ??= import('./kubernetes-typed.ts').then(({ typedClients }) => typedClients(target.server, call, USER_AGENT))),
  };
}

const USER_AGENT = 'runbook-bot';

function urlOf(server: string, request: Pick<KubeCall, 'path' | 'query'>): URL {
  const url = new URL(server + request.path);
  for (const [key, value] of Object.entries(request.query ?? {}))
    if (value !== undefined) url.searchParams.set(key, String(value));
  return url;
}

/**
 * One deadline over the request and its whole answer: a server that accepts the connection and never answers (or
 * stops half-way through a body) ends at the limit with a DeadlineError naming Kubernetes and the setting. The caller's
 * own signal (a health check's timeout, a shutdown) still aborts it first.
 */
function callWithDeadline(transport: KubeTransport, server: string, request: KubeCall, limitMs: number): Promise<KubeReply> {
  const url = urlOf(server, request);
  return withDeadline(
    {
      dependency: 'Kubernetes',
      doing: `${request.method} ${url.pathname}`,
      limitMs,
      setting: REQUEST_SETTING,
      signal: request.signal,
    },
    async (signal) => {
      const answer = await transport.send({
        method: request.method,
        url,
        headers: { ...request.headers, 'User-Agent': USER_AGENT },
        body: request.body,
        signal,
      });
      const decoder = new TextDecoder();
      let text = '';
      for await (const chunk of answer.body) text += decoder.decode(chunk, { stream: true });
      text += decoder.decode();
      return { status: answer.status, headers: answer.headers, text };
    },
  );
}

/** GET a path as plain JSON, without the typed models (large lists parse in a fraction of the time), under the deadline. */
export async function getJson(
  k8s: Pick<KubernetesClients, 'call'>,
  path: string,
  query: Record<string, QueryValue> = {},
  signal?: AbortSignal,
): Promise<unknown> {
  const reply = await k8s.call({ method: 'GET', path, query, headers: { Accept: 'application/json' }, signal });
  const { pathname } = new URL(path, 'http://api');
  if (reply.status < 200 || reply.status > 299)
    throw new KubernetesApiError(reply.status, `HTTP ${reply.status} from GET ${pathname}`, reply.text, reply.headers);
  try {
    return JSON.parse(reply.text) as unknown;
  } catch {
    throw new KubernetesApiError(reply.status, `GET ${pathname} answered something that is not JSON`, reply.text, reply.headers);
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
  k8s: Pick<KubernetesClients, 'open' | 'timeouts'>,
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
    // Without the request deadline: a watch is long by design; the idle guard bounds it instead.
    const response = await k8s.open({
      method: 'GET',
      path,
      query: { watch: 'true', ...options.query },
      headers: { Accept: 'application/json' },
      signal: guard.signal,
    });
    if (response.status !== 200) {
      let text = '';
      const decoder = new TextDecoder();
      for await (const chunk of response.body) text += decoder.decode(chunk, { stream: true });
      const error = new KubernetesApiError(
        response.status,
        `HTTP ${response.status} from watching ${path}`,
        text,
        response.headers,
      );
      return ended(error, response.status);
    }
    guard.touch();
    const stream = response.body;
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
export async function listPages(k8s: Pick<KubernetesClients, 'call'>, path: string, options: ListOptions): Promise<number> {
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
