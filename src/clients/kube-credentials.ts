// The credentials of one kubeconfig user, per request: a bearer token, a token file read again every minute, basic
// auth, or an exec credential plugin (client.authentication.k8s.io v1/v1beta1) whose answer is kept until it expires.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { formatDuration } from '../config/duration.ts';
import type { Credentials, ExecPlugin, KubeTarget } from './kubeconfig.ts';

export interface Authentication {
  headers: Record<string, string>;
  /** A client certificate and key the exec plugin handed out (PEM), in place of the kubeconfig's. */
  cert?: string;
  key?: string;
}

/** client-node's FileAuth and client-go's cached token source both read a token file again after a minute. */
const TOKEN_FILE_REREAD_MS = 60_000;

const execCredentialSchema = z.object({
  apiVersion: z.string(),
  kind: z.literal('ExecCredential'),
  status: z
    .object({
      token: z.string().optional(),
      clientCertificateData: z.string().optional(),
      clientKeyData: z.string().optional(),
      expirationTimestamp: z.string().optional(),
    })
    .optional(),
});
type ExecStatus = NonNullable<z.infer<typeof execCredentialSchema>['status']>;

export interface CredentialOptions {
  /** The environment the exec plugin inherits; default process.env. */
  env?: Record<string, string | undefined>;
  now?: () => number;
  /** A plugin that has not answered by then is stopped (the request limit, timeouts.kubernetes.request). */
  execLimitMs?: number;
}

/** Returns what to add to each request; concurrent requests share one plugin run or file read. */
export function credentialSource(
  target: Pick<KubeTarget, 'credentials' | 'impersonate' | 'server' | 'tls'>,
  options: CredentialOptions = {},
): () => Promise<Authentication> {
  const now = options.now ?? Date.now;
  const extra: Record<string, string> = target.impersonate ? { 'Impersonate-User': target.impersonate } : {};
  const withHeader = (authorization?: string): Authentication => ({
    headers: authorization ? { ...extra, Authorization: authorization } : { ...extra },
  });
  const credentials: Credentials = target.credentials;
  switch (credentials.kind) {
    case 'none':
      return () => Promise.resolve(withHeader());
    case 'token':
      return () => Promise.resolve(withHeader(`Bearer ${credentials.token}`));
    case 'basic': {
      const encoded = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
      return () => Promise.resolve(withHeader(`Basic ${encoded}`));
    }
    case 'token-file': {
      let read: { token: Promise<string>; at: number } | undefined;
      return async () => {
        if (!read || now() - read.at > TOKEN_FILE_REREAD_MS) {
          const token = readFile(credentials.path, 'utf8').then((text) => text.trim());
          read = { token, at: now() };
          // A failed read is not kept: the next request tries again.
          token.catch(() => (read = undefined));
        }
        return withHeader(`Bearer ${await read.token}`);
      };
    }
    case 'exec': {
      let cached: { status: Promise<ExecStatus>; expiresAt: number } | undefined;
      return async () => {
        if (!cached || cached.expiresAt <= now()) {
          // Not tied to the one request that started it: the requests waiting alongside share its answer.
          const status = runExecPlugin(credentials.plugin, target, options.env ?? process.env, options.execLimitMs ?? 60_000);
          const entry = { status, expiresAt: Number.POSITIVE_INFINITY };
          cached = entry;
          status.then(
            (answer) => {
              // No expiry: the credential is good for the life of the process, as kubectl keeps it.
              if (answer.expirationTimestamp) entry.expiresAt = Date.parse(answer.expirationTimestamp);
            },
            () => {
              if (cached === entry) cached = undefined;
            },
          );
        }
        const answer = await cached.status;
        return {
          ...withHeader(answer.token ? `Bearer ${answer.token}` : undefined),
          ...(answer.clientCertificateData && answer.clientKeyData
            ? { cert: answer.clientCertificateData, key: answer.clientKeyData }
            : {}),
        };
      };
    }
  }
}

/** Runs the plugin as client-go does: no stdin (the bot is never interactive), KUBERNETES_EXEC_INFO in its environment. */
function runExecPlugin(
  plugin: ExecPlugin,
  target: Pick<KubeTarget, 'server' | 'tls'>,
  env: Record<string, string | undefined>,
  limitMs: number,
): Promise<ExecStatus> {
  const info = {
    apiVersion: plugin.apiVersion,
    kind: 'ExecCredential',
    spec: {
      interactive: false,
      ...(plugin.provideClusterInfo
        ? {
            cluster: {
              server: target.server,
              ...(target.tls.ca ? { 'certificate-authority-data': target.tls.ca.toString('base64') } : {}),
              ...(target.tls.insecure ? { 'insecure-skip-tls-verify': true } : {}),
              ...(target.tls.servername ? { 'tls-server-name': target.tls.servername } : {}),
            },
          }
        : {}),
    },
  };
  const named = `exec plugin ${JSON.stringify(plugin.command)}`;
  return new Promise((resolve, reject) => {
    const child = spawn(plugin.command, plugin.args, {
      env: { ...env, ...plugin.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: limitMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      const hint = error.code === 'ENOENT' && plugin.installHint ? `\n${plugin.installHint.trim()}` : '';
      reject(new Error(`${named} could not be started: ${error.message}${hint}`));
    });
    child.on('close', (code, killed) => {
      if (code === null && killed === 'SIGTERM')
        return reject(new Error(`${named} gave no credential within ${formatDuration(limitMs)}: it was stopped`));
      if (code !== 0)
        return reject(new Error(`${named} failed (exit code ${code}): ${stderr.trim() || 'it printed nothing on stderr'}`));
      let parsed: z.infer<typeof execCredentialSchema>;
      try {
        parsed = execCredentialSchema.parse(JSON.parse(stdout));
      } catch {
        return reject(new Error(`${named} printed something that is not an ExecCredential`));
      }
      if (parsed.apiVersion !== plugin.apiVersion)
        return reject(
          new Error(
            `${named} is configured for ${plugin.apiVersion} but answered ${parsed.apiVersion} (kubeconfig exec.apiVersion)`,
          ),
        );
      resolve(parsed.status ?? {});
    });
  });
}
