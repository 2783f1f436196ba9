// The kubeconfig as kubectl reads it (a named file, $KUBECONFIG, ~/.kube/config) or a pod's ServiceAccount, down to the
// one cluster, user and namespace the bot talks to. What it does not handle itself is named, so the client library serves it.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isIPv6 } from 'node:net';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';

/** Where Kubernetes mounts a pod's ServiceAccount token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The ExecCredential versions the bot speaks (v1alpha1 left Kubernetes in 1.24). */
export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

export interface ExecPlugin {
  apiVersion: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  installHint: string | undefined;
  provideClusterInfo: boolean;
}

export type Credentials =
  | { kind: 'none' }
  | { kind: 'token'; token: string }
  /** Read again every minute: a projected ServiceAccount token is rotated in place. */
  | { kind: 'token-file'; path: string }
  | { kind: 'basic'; username: string; password: string }
  /** `user` names the kubeconfig user, so its credential is cached per user. */
  | { kind: 'exec'; user: string; plugin: ExecPlugin };

export interface TlsSettings {
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  /** insecure-skip-tls-verify: the server's certificate is not checked. */
  insecure: boolean;
  /** tls-server-name: the name the certificate is checked against, when not the server's host. */
  servername: string | undefined;
}

/** How @kubernetes/client-node finds the same configuration, when it has to serve it. */
export type KubeSource =
  | { kind: 'files'; paths: string[] }
  | { kind: 'in-cluster' }
  /** Kubeconfig text in memory (a KubeConfig of the client library, exported: tests, benchmarks). */
  | { kind: 'text'; text: string };

export interface KubeTarget {
  /** The context's name, or "in-cluster" inside a pod: messages name it. */
  context: string;
  /** The API server's base URL, without a trailing slash. */
  server: string;
  namespace: string | undefined;
  tls: TlsSettings;
  credentials: Credentials;
  /** Impersonate-User (the user's `as`). */
  impersonate: string | undefined;
  /** What the bot's own client does not do but the kubeconfig asks for ("auth-provider gcp", "proxy-url"). */
  unsupported: string | undefined;
  source: KubeSource;
}

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish().transform((value) => value ?? undefined);

const clusterSchema = z
  .object({
    server: z.string().min(1),
    'certificate-authority': nullish(z.string()),
    'certificate-authority-data': nullish(z.string()),
    'insecure-skip-tls-verify': nullish(z.boolean()),
    'tls-server-name': nullish(z.string()),
    'proxy-url': nullish(z.string()),
  })
  .loose();

const execSchema = z
  .object({
    apiVersion: nullish(z.string()),
    command: z.string().min(1),
    args: nullish(z.array(z.string())),
    env: nullish(z.array(z.object({ name: z.string(), value: z.string() }))),
    installHint: nullish(z.string()),
    provideClusterInfo: nullish(z.boolean()),
  })
  .loose();

const userSchema = z
  .object({
    token: nullish(z.string()),
    tokenFile: nullish(z.string()),
    // client-node's spelling of tokenFile.
    'token-file': nullish(z.string()),
    'client-certificate': nullish(z.string()),
    'client-certificate-data': nullish(z.string()),
    'client-key': nullish(z.string()),
    'client-key-data': nullish(z.string()),
    username: nullish(z.string()),
    password: nullish(z.string()),
    as: nullish(z.string()),
    exec: nullish(execSchema),
    'auth-provider': nullish(z.object({ name: z.string() }).loose()),
  })
  .loose();

const kubeconfigSchema = z.object({
  clusters: nullish(z.array(z.object({ name: z.string(), cluster: clusterSchema }))),
  users: nullish(z.array(z.object({ name: z.string(), user: nullish(userSchema) }))),
  contexts: nullish(
    z.array(
      z.object({
        name: z.string(),
        context: z.object({ cluster: z.string(), user: nullish(z.string()), namespace: nullish(z.string()) }),
      }),
    ),
  ),
  'current-context': nullish(z.string()),
});

type KubeconfigFile = z.infer<typeof kubeconfigSchema>;
type KubeUser = Partial<z.infer<typeof userSchema>>;
type Named<T> = { name: string; dir: string | undefined } & T;

/** The entries of one or more kubeconfig files, merged as kubectl merges $KUBECONFIG: the first file naming an entry wins. */
interface Merged {
  clusters: Map<string, Named<{ cluster: z.infer<typeof clusterSchema> }>>;
  users: Map<string, Named<{ user: KubeUser }>>;
  contexts: Map<string, KubeconfigContext>;
  currentContext: string | undefined;
}
type KubeconfigContext = NonNullable<KubeconfigFile['contexts']>[number]['context'] & { name: string };

export interface ReadKubeconfigOptions {
  /** kubernetes.kubeconfig: a file to read instead of the defaults. */
  file?: string | undefined;
  /** The context to use instead of the file's current-context. */
  context?: string | undefined;
  /** KUBECONFIG, HOME and KUBERNETES_SERVICE_HOST/PORT; default process.env. */
  env?: Record<string, string | undefined>;
  /** Where the ServiceAccount is mounted (tests point it elsewhere). */
  serviceAccountDir?: string;
}

/**
 * Finds the cluster as the bot always has: the configured file, else in-cluster credentials inside a pod (unless a
 * context is named), else $KUBECONFIG or ~/.kube/config. Throws ConfigError naming what is missing or wrong.
 */
export function readKubeconfig(options: ReadKubeconfigOptions = {}): KubeTarget {
  const env = options.env ?? process.env;
  const { file, context } = options;
  if (file) return fromFiles([file], file, context);
  // Inside a pod the ServiceAccount's token and CA are the credentials (the deploy manifests give it the RBAC Role).
  if (env.KUBERNETES_SERVICE_HOST && !context) return inCluster(env, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (fromEnv.length > 0) return fromFiles(fromEnv, fromEnv.join(delimiter), context);
  const home = env.HOME || homedir();
  const defaultFile = join(home, '.kube', 'config');
  if (existsSync(defaultFile)) return fromFiles([defaultFile], defaultFile, context);
  throw new ConfigError([
    'kubernetes: no cluster configured (set kubernetes.kubeconfig, run in a pod, or provide ~/.kube/config)',
  ]);
}

/** A kubeconfig already in memory: the client library's KubeConfig (its exportConfig()) or kubeconfig text. */
export function kubeconfigFromText(text: string, options: { context?: string } = {}): KubeTarget {
  const merged = merge([{ file: parseKubeconfig(text, 'the kubeconfig'), dir: undefined }]);
  const source: KubeSource = { kind: 'text', text };
  return select(merged, 'the kubeconfig', options.context, source);
}

function fromFiles(paths: string[], named: string, context: string | undefined): KubeTarget {
  const files = paths.map((path) => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError([`kubernetes.kubeconfig: cannot load ${path}: ${messageOf(error)}`]);
    }
    return { file: parseKubeconfig(text, path), dir: dirname(path) };
  });
  return select(merge(files), named, context, { kind: 'files', paths });
}

function parseKubeconfig(text: string, where: string): KubeconfigFile {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new ConfigError([`kubernetes.kubeconfig: cannot load ${where}: ${messageOf(error)}`]);
  }
  const parsed = kubeconfigSchema.safeParse(document ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError([
      `kubernetes.kubeconfig: cannot load ${where}: ${issue.path.join('.') || 'the file'}: ${issue.message}`,
    ]);
  }
  return parsed.data;
}

function merge(files: Array<{ file: KubeconfigFile; dir: string | undefined }>): Merged {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: undefined };
  for (const { file, dir } of files) {
    for (const entry of file.clusters ?? [])
      if (!merged.clusters.has(entry.name)) merged.clusters.set(entry.name, { ...entry, dir });
    for (const entry of file.users ?? [])
      if (!merged.users.has(entry.name)) merged.users.set(entry.name, { name: entry.name, user: entry.user ?? {}, dir });
    for (const entry of file.contexts ?? [])
      if (!merged.contexts.has(entry.name)) merged.contexts.set(entry.name, { ...entry.context, name: entry.name });
    merged.currentContext ??= file['current-context'];
  }
  return merged;
}

function select(merged: Merged, named: string, wanted: string | undefined, source: KubeSource): KubeTarget {
  if (wanted && !merged.contexts.has(wanted))
    throw new ConfigError([
      `kubernetes.context: no context "${wanted}" in ${named} (it has: ${[...merged.contexts.keys()].join(', ') || 'none'})`,
    ]);
  const context = merged.contexts.get(wanted ?? merged.currentContext ?? '');
  const cluster = context && merged.clusters.get(context.cluster);
  if (!context || !cluster)
    throw new ConfigError([
      'kubernetes: no cluster configured (set kubernetes.kubeconfig, run in a pod, or provide ~/.kube/config)',
    ]);
  const user = context.user ? merged.users.get(context.user) : undefined;
  const spec = cluster.cluster;
  const u: KubeUser = user?.user ?? {};
  const server = spec.server.replace(/\/$/, '');
  const insecure = spec['insecure-skip-tls-verify'] === true;
  if (server.startsWith('http:') && !insecure)
    throw new ConfigError([
      `kubernetes: cluster "${cluster.name}" is served over plain HTTP (${server}); set insecure-skip-tls-verify: true for it to be used`,
    ]);
  const unsupported = u['auth-provider']
    ? `auth-provider ${u['auth-provider'].name}`
    : spec['proxy-url']
      ? 'proxy-url'
      : u.exec && !EXEC_API_VERSIONS.includes(u.exec.apiVersion ?? '')
        ? `exec apiVersion ${u.exec.apiVersion ?? '(none)'}`
        : undefined;
  return {
    context: context.name,
    server,
    namespace: context.namespace,
    tls: {
      ca: fileOrData(spec['certificate-authority'], spec['certificate-authority-data'], cluster.dir, 'certificate-authority'),
      cert: fileOrData(u['client-certificate'], u['client-certificate-data'], user?.dir, 'client-certificate'),
      key: fileOrData(u['client-key'], u['client-key-data'], user?.dir, 'client-key'),
      insecure,
      servername: spec['tls-server-name'],
    },
    credentials: unsupported || !user ? { kind: 'none' } : credentialsOf(user.name, u, user.dir),
    impersonate: u.as,
    unsupported,
    source,
  };
}

function credentialsOf(name: string, user: KubeUser, dir: string | undefined): Credentials {
  if (user.exec) {
    const { exec } = user;
    // kubectl resolves a relative command with a path in it against the kubeconfig's folder; a bare name is looked up in PATH.
    const command = dir && exec.command.includes('/') && !isAbsolute(exec.command) ? join(dir, exec.command) : exec.command;
    return {
      kind: 'exec',
      user: name,
      plugin: {
        apiVersion: exec.apiVersion ?? '',
        command,
        args: exec.args ?? [],
        env: Object.fromEntries((exec.env ?? []).map((entry) => [entry.name, entry.value])),
        installHint: exec.installHint,
        provideClusterInfo: exec.provideClusterInfo === true,
      },
    };
  }
  if (user.token) return { kind: 'token', token: user.token };
  const tokenFile = user.tokenFile ?? user['token-file'];
  if (tokenFile) return { kind: 'token-file', path: resolvePath(tokenFile, dir) };
  if (user.username) return { kind: 'basic', username: user.username, password: user.password ?? '' };
  return { kind: 'none' };
}

/** The ServiceAccount mounted into the pod, as client-go's rest.InClusterConfig reads it. */
function inCluster(env: Record<string, string | undefined>, dir: string): KubeTarget {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const namespaceFile = join(dir, 'namespace');
  return {
    context: 'in-cluster',
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    namespace: existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined,
    tls: {
      ca: fileOrData(join(dir, 'ca.crt'), undefined, undefined, 'the ServiceAccount CA', 'kubernetes (in-cluster)'),
      cert: undefined,
      key: undefined,
      insecure: false,
      servername: undefined,
    },
    credentials: { kind: 'token-file', path: join(dir, 'token') },
    impersonate: undefined,
    unsupported: undefined,
    source: { kind: 'in-cluster' },
  };
}

function fileOrData(
  file: string | undefined,
  data: string | undefined,
  dir: string | undefined,
  what: string,
  setting = 'kubernetes.kubeconfig',
): Buffer | undefined {
  if (file) {
    const path = resolvePath(file, dir);
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError([`${setting}: cannot read ${what} ${path}: ${messageOf(error)}`]);
    }
  }
  return data ? Buffer.from(data, 'base64') : undefined;
}

function resolvePath(file: string, dir: string | undefined): string {
  return dir && !isAbsolute(file) ? join(dir, file) : file;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
