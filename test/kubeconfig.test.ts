// The bot's own kubeconfig reader against a real HTTPS API server with a throwaway CA: every way of signing in it
// handles (token, token file, client certificate, exec plugin, in-cluster), TLS checked, and the client library
// taking over what it does not handle.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createKubernetesClients, getJson, type KubernetesClientOptions } from '../src/clients/kubernetes.ts';
import { kubernetesError } from '../src/clients/kubernetes-errors.ts';
import { parseConfig } from '../src/config/load.ts';
import { ConfigError } from '../src/errors.ts';

interface Seen {
  path: string;
  authorization: string | undefined;
  impersonate: string | undefined;
  /** The client certificate's common name, when one was presented and the CA signed it. */
  clientName: string | undefined;
}

let dir: string;
let server: Server;
let url: string;
let seen: Seen[];
const pem: Record<'ca' | 'serverKey' | 'server' | 'clientKey' | 'client' | 'otherCa', string> = {
  ca: '',
  serverKey: '',
  server: '',
  clientKey: '',
  client: '',
  otherCa: '',
};
const file = (name: string) => join(dir, name);
const base64 = (text: string) => Buffer.from(text).toString('base64');

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl for this run only. */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) =>
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    );
  const signed = (name: string, extensions: string) => {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(file(`${name}.ext`), extensions);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  };
  ca('ca');
  ca('other-ca');
  signed('apiserver', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  signed('runbook-bot-client', 'extendedKeyUsage=clientAuth\n');
  pem.ca = readFileSync(file('ca.crt'), 'utf8');
  pem.otherCa = readFileSync(file('other-ca.crt'), 'utf8');
  pem.serverKey = readFileSync(file('apiserver.key'), 'utf8');
  pem.server = readFileSync(file('apiserver.crt'), 'utf8');
  pem.clientKey = readFileSync(file('runbook-bot-client.key'), 'utf8');
  pem.client = readFileSync(file('runbook-bot-client.crt'), 'utf8');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rb-kubeconfig-'));
  makeCertificates();
  // An API server that asks for a client certificate but lets requests without one through, as a real one does (token auth).
  server = createServer(
    { key: pem.serverKey, cert: pem.server, ca: pem.ca, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
      const header = (name: string) => req.headers[name] as string | undefined;
      const path = new URL(req.url ?? '/', 'https://api').pathname;
      seen.push({
        path,
        authorization: header('authorization'),
        impersonate: header('impersonate-user'),
        clientName: peer?.subject?.CN as string | undefined,
      });
      const name = path.split('/').pop()!;
      if (name === 'forbidden') {
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            kind: 'Status',
            status: 'Failure',
            reason: 'Forbidden',
            code: 403,
            message: `namespaces "${name}" is forbidden: User "system:anonymous" cannot get resource "namespaces" in API group "" in the namespace "${name}"`,
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
});

function kubeconfigFile(
  name: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = { 'certificate-authority': 'ca.crt' },
): string {
  const path = file(name);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: url, ...cluster } }],
      users: [{ name: 'bot', user }],
      contexts: [{ name: 'test-context', context: { cluster: 'test', user: 'bot', namespace: 'prod' } }],
      'current-context': 'test-context',
    }),
  );
  return path;
}

function clients(kubeconfig: string | undefined, options: KubernetesClientOptions = {}) {
  const config = parseConfig({}, { kubernetes: kubeconfig ? { kubeconfig } : {} }, 'test.yml', 'cli');
  return createKubernetesClients(config, { env: { HOME: dir }, ...options });
}

async function readNamespace(kubeconfig: string | undefined, options: KubernetesClientOptions = {}) {
  return getJson(clients(kubeconfig, options), '/api/v1/namespaces/prod');
}

async function failure(work: () => Promise<unknown>): Promise<Error> {
  try {
    await work();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('signing in as the kubeconfig says', () => {
  it('sends a bearer token, checking the server against the kubeconfig’s CA file', async () => {
    const k8s = clients(kubeconfigFile('token.yml', { token: 'token-1', as: 'oncall-bot' }));
    expect(k8s.context).toBe('test-context');
    await expect(getJson(k8s, '/api/v1/namespaces/prod')).resolves.toMatchObject({ metadata: { name: 'prod' } });
    expect(seen).toEqual([
      { path: '/api/v1/namespaces/prod', authorization: 'Bearer token-1', impersonate: 'oncall-bot', clientName: undefined },
    ]);
  });

  it('reads a token file named relative to the kubeconfig', async () => {
    writeFileSync(file('sa-token'), 'token-from-file\n');
    await readNamespace(kubeconfigFile('token-file.yml', { tokenFile: 'sa-token' }));
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer token-from-file']);
  });

  it('presents a client certificate and key from files, and from inline data with an inline CA', async () => {
    await readNamespace(
      kubeconfigFile('cert-files.yml', {
        'client-certificate': 'runbook-bot-client.crt',
        'client-key': 'runbook-bot-client.key',
      }),
    );
    await readNamespace(
      kubeconfigFile(
        'cert-data.yml',
        { 'client-certificate-data': base64(pem.client), 'client-key-data': base64(pem.clientKey) },
        { 'certificate-authority-data': base64(pem.ca) },
      ),
    );
    expect(seen.map((s) => [s.clientName, s.authorization])).toEqual([
      ['runbook-bot-client', undefined],
      ['runbook-bot-client', undefined],
    ]);
  });

  it('refuses a server its CA did not sign, and skips the check only when insecure-skip-tls-verify says so', async () => {
    const refused = await failure(() =>
      readNamespace(kubeconfigFile('wrong-ca.yml', { token: 't' }, { 'certificate-authority-data': base64(pem.otherCa) })),
    );
    const error = kubernetesError('reading namespace prod', refused);
    expect(error.code).toBe('k8s_unreachable');
    expect(error.message).toMatch(/^Kubernetes: reading namespace prod: .*certificate/);
    expect(seen).toEqual([]);

    await readNamespace(kubeconfigFile('insecure.yml', { token: 't' }, { 'insecure-skip-tls-verify': true }));
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer t']);
  });

  it('names the object and the verb when the API refuses, as before', async () => {
    const refused = await failure(() =>
      getJson(clients(kubeconfigFile('refused.yml', { token: 't' })), '/api/v1/namespaces/forbidden'),
    );
    const error = kubernetesError('reading namespace forbidden', refused);
    expect(error.code).toBe('k8s_denied');
    expect(error.message).toBe(
      'Kubernetes: reading namespace forbidden: namespaces "forbidden" is forbidden: User "system:anonymous" cannot get resource "namespaces" in API group "" in the namespace "forbidden" (the bot\'s ServiceAccount lacks this permission: see deploy/kubernetes/rbac.yaml)',
    );
  });

  it('uses the ServiceAccount inside a pod: its token, its CA and its namespace', async () => {
    const account = file('serviceaccount');
    mkdirSync(account, { recursive: true });
    writeFileSync(join(account, 'token'), 'service-account-token');
    writeFileSync(join(account, 'ca.crt'), pem.ca);
    writeFileSync(join(account, 'namespace'), 'runbook-bot\n');
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(url).port };
    const k8s = clients(undefined, { env, serviceAccountDir: account });
    expect(k8s.context).toBe('in-cluster');
    await getJson(k8s, '/api/v1/namespaces/prod');
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer service-account-token']);
  });

  it('merges the files of $KUBECONFIG as kubectl does, and says when there is no cluster at all', async () => {
    const users = file('users.yml');
    writeFileSync(
      users,
      stringify({ users: [{ name: 'bot', user: { token: 'merged-token' } }], 'current-context': 'test-context' }),
    );
    const rest = kubeconfigFile('rest.yml', { token: 'loses-to-the-first-file' });
    await getJson(
      clients(undefined, { env: { HOME: dir, KUBECONFIG: [users, rest].join(delimiter) } }),
      '/api/v1/namespaces/prod',
    );
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer merged-token']);

    const nothing = await failure(() =>
      Promise.resolve().then(() => clients(undefined, { env: { HOME: join(dir, 'empty-home') } })),
    );
    expect(nothing).toBeInstanceOf(ConfigError);
    expect((nothing as ConfigError).issues).toEqual([
      'kubernetes: no cluster configured (set kubernetes.kubeconfig, run in a pod, or provide ~/.kube/config)',
    ]);
  });
});

describe('exec credential plugins', () => {
  /** A plugin that counts its runs, keeps what it was told, and hands out a numbered token expiring in `expiresIn` seconds. */
  function plugin(name: string, body: string): string {
    const path = file(name);
    writeFileSync(path, `#!/bin/sh\necho run >> "$RUNS_FILE"\nprintf '%s' "$KUBERNETES_EXEC_INFO" > "$INFO_FILE"\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }
  const runs = (name: string) => readFileSync(file(name), 'utf8').split('\n').filter(Boolean).length;

  it('runs a v1 plugin once for the requests waiting on it, keeps its token until it expires, then runs it again', async () => {
    const command = plugin(
      'token-plugin.sh',
      `n=$(wc -l < "$RUNS_FILE" | tr -d ' ')\nprintf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token-%s","expirationTimestamp":"%s"}}' "$n" "$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)"`,
    );
    const k8s = clients(
      kubeconfigFile('exec.yml', {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command,
          args: [],
          env: [
            { name: 'RUNS_FILE', value: file('token-runs') },
            { name: 'INFO_FILE', value: file('token-info') },
          ],
          interactiveMode: 'Never',
        },
      }),
    );
    await Promise.all([getJson(k8s, '/api/v1/namespaces/a'), getJson(k8s, '/api/v1/namespaces/b')]);
    await getJson(k8s, '/api/v1/namespaces/c');
    expect(runs('token-runs')).toBe(1);
    expect(JSON.parse(readFileSync(file('token-info'), 'utf8'))).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false },
    });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await getJson(k8s, '/api/v1/namespaces/d');
    expect(runs('token-runs')).toBe(2);
    expect(seen.map((s) => s.authorization)).toEqual([
      'Bearer exec-token-1',
      'Bearer exec-token-1',
      'Bearer exec-token-1',
      'Bearer exec-token-2',
    ]);
  });

  it('presents the client certificate a v1beta1 plugin hands out, and is told the cluster when it asks', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      status: { clientCertificateData: pem.client, clientKeyData: pem.clientKey },
    });
    writeFileSync(file('credential.json'), credential);
    const command = plugin('cert-plugin.sh', `cat "${file('credential.json')}"`);
    await readNamespace(
      kubeconfigFile('exec-cert.yml', {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1beta1',
          command,
          provideClusterInfo: true,
          env: [
            { name: 'RUNS_FILE', value: file('cert-runs') },
            { name: 'INFO_FILE', value: file('cert-info') },
          ],
        },
      }),
    );
    expect(seen.map((s) => [s.clientName, s.authorization])).toEqual([['runbook-bot-client', undefined]]);
    expect(JSON.parse(readFileSync(file('cert-info'), 'utf8')).spec.cluster).toEqual({
      server: url,
      'certificate-authority-data': base64(pem.ca),
    });
  });

  it('says which plugin failed and what it printed', async () => {
    const command = plugin('failing-plugin.sh', `echo "no SSO session: run aws sso login" >&2\nexit 3`);
    const refused = await failure(() =>
      readNamespace(
        kubeconfigFile('exec-failing.yml', {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command,
            env: [
              { name: 'RUNS_FILE', value: file('failing-runs') },
              { name: 'INFO_FILE', value: file('failing-info') },
            ],
          },
        }),
      ),
    );
    expect(kubernetesError('reading namespace prod', refused).message).toBe(
      `Kubernetes: reading namespace prod: exec plugin ${JSON.stringify(command)} failed (exit code 3): no SSO session: run aws sso login`,
    );
    expect(seen).toEqual([]);
  });
});

describe('what the reader does not handle', () => {
  it('is served by @kubernetes/client-node, as before: an auth-provider token reaches the server', async () => {
    const expiry = new Date(Date.now() + 3_600_000).toISOString();
    const k8s = clients(
      kubeconfigFile(
        'auth-provider.yml',
        { 'auth-provider': { name: 'gcp', config: { 'access-token': 'gcp-access-token', expiry } } },
        { 'certificate-authority-data': base64(pem.ca) },
      ),
    );
    await expect(getJson(k8s, '/api/v1/namespaces/prod')).resolves.toMatchObject({ metadata: { name: 'prod' } });
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer gcp-access-token']);
  });
});
