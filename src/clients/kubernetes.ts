// Kubernetes clients from config: a kubeconfig file and context when configured, else in-cluster, else the default kubeconfig; and API errors in words.
import { ApiException, AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import type { Config } from '../config/schema.ts';
import { ConfigError, ExternalError, type ErrorCode } from '../errors.ts';

export interface KubernetesClients {
  kubeConfig: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** The context in use (for messages), or "in-cluster". */
  context: string;
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
  return clientsFor(loadKubeConfig(config, options));
}

export function clientsFor(kubeConfig: KubeConfig): KubernetesClients {
  return {
    kubeConfig,
    apps: kubeConfig.makeApiClient(AppsV1Api),
    core: kubeConfig.makeApiClient(CoreV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    context: kubeConfig.getCurrentContext() || 'in-cluster',
  };
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
  if (error instanceof ApiException) return error.code;
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** What the API server said (its Status message), else what went wrong on the way. */
export function kubernetesErrorMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = error.body;
    let parsed: unknown = body;
    if (typeof body === 'string') {
      try {
        parsed = JSON.parse(body);
      } catch {
        return body.trim() ? `HTTP ${error.code}: ${body.trim().slice(0, 300)}` : `HTTP ${error.code}`;
      }
    }
    const status = statusSchema.safeParse(parsed);
    if (status.success && status.data.message) return status.data.message;
    return `HTTP ${error.code}`;
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === 'string')
    return `${cause.code}${typeof cause.message === 'string' ? ` (${cause.message})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

/** An ExternalError naming what the bot was doing, with the API server's own words, and a k8s_* code for the status. */
export function kubernetesError(doing: string, error: unknown): ExternalError {
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
