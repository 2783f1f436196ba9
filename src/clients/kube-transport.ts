// One HTTP exchange with the API server over node:https, with the kubeconfig's TLS settings and credentials and one
// pool of kept-alive connections; a kubeconfig the bot does not read itself is served by @kubernetes/client-node, loaded then.
import http from 'node:http';
import https from 'node:https';
import { credentialSource, type Authentication } from './kube-credentials.ts';
import type { KubeAnswer, KubeTransport } from './kube-exchange.ts';
import type { KubeTarget } from './kubeconfig.ts';

// client-go's IdleConnTimeout: a kept-alive connection unused this long is closed.
const IDLE_CONNECTION_MS = 90_000;

/** The API server could not be reached or dropped the connection; the network reason (ECONNREFUSED…) is the cause, as fetch reports it. */
export class KubernetesNetworkError extends Error {
  constructor(url: URL, cause: unknown) {
    super(`${url.host}: the request failed`, { cause });
    this.name = 'KubernetesNetworkError';
  }
}

export function kubeTransport(target: KubeTarget, options: { execLimitMs?: number } = {}): KubeTransport {
  if (target.unsupported) return libraryTransport(target);
  return directTransport(target, options);
}

function directTransport(target: KubeTarget, options: { execLimitMs?: number }): KubeTransport {
  const authenticate = credentialSource(target, { execLimitMs: options.execLimitMs });
  const secure = target.server.startsWith('https:');
  // One pool per client certificate: an exec plugin may hand out a new one when its credential expires.
  const pools = new Map<string, http.Agent>();
  const poolFor = (auth: Authentication): http.Agent => {
    const key = `${auth.cert ?? ''}\u0000${auth.key ?? ''}`;
    let pool = pools.get(key);
    if (!pool) {
      const { tls } = target;
      pool = secure
        ? new https.Agent({
            keepAlive: true,
            timeout: IDLE_CONNECTION_MS,
            ca: tls.ca,
            cert: auth.cert ?? tls.cert,
            key: auth.key ?? tls.key,
            servername: tls.servername,
            // Only when asked: otherwise Node's default (and NODE_TLS_REJECT_UNAUTHORIZED) applies, as with kubectl.
            ...(tls.insecure ? { rejectUnauthorized: false } : {}),
          })
        : new http.Agent({ keepAlive: true, timeout: IDLE_CONNECTION_MS });
      pools.clear();
      pools.set(key, pool);
    }
    return pool;
  };
  return {
    async send({ method, url, headers, body, signal }) {
      const auth = await authenticate();
      signal.throwIfAborted();
      const agent = poolFor(auth);
      return new Promise<KubeAnswer>((resolve, reject) => {
        const request = (secure ? https : http).request(
          url,
          { method, headers: { ...headers, ...auth.headers }, agent, signal },
          (response) => {
            const answerHeaders: Record<string, string> = {};
            for (const [name, value] of Object.entries(response.headers))
              if (value !== undefined) answerHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
            resolve({ status: response.statusCode ?? 0, headers: answerHeaders, body: response });
          },
        );
        request.on('error', (error) => reject(signal.aborted ? signal.reason : new KubernetesNetworkError(url, error)));
        request.end(body);
      });
    },
  };
}

/** What the bot's own client does not do (auth-provider, proxy-url) goes through the client library, as it always did. */
function libraryTransport(target: KubeTarget): KubeTransport {
  let loaded: Promise<KubeTransport> | undefined;
  return {
    async send(exchange) {
      loaded ??= import('./kube-library-transport.ts').then(({ clientLibraryTransport }) => clientLibraryTransport(target));
      return (await loaded).send(exchange);
    },
  };
}
