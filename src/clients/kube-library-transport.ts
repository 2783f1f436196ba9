// The exchange through @kubernetes/client-node's KubeConfig, for the kubeconfigs the bot does not read itself
// (auth-provider gcp/azure/oidc, proxy-url, old exec versions). Loaded only then: the library costs about 55 MB of memory.
import {
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  RequestContext,
  type HttpMethod,
  type ResponseContext,
} from '@kubernetes/client-node';
import type { KubeAnswer, KubeTransport } from './kube-exchange.ts';
import type { KubeTarget } from './kubeconfig.ts';

export function clientLibraryTransport(target: KubeTarget): KubeTransport {
  const kubeConfig = libraryKubeConfig(target);
  const fetchLibrary = new IsomorphicFetchHttpLibrary();
  // KubeConfig makes a new connection pool (undici Agent) for every request; its TLS settings are the same for every
  // request of one kubeconfig, so the first pool serves them all and the others are dropped unused.
  let pool: ReturnType<RequestContext['getDispatcher']>;
  return {
    async send({ method, url, headers, body, signal }): Promise<KubeAnswer> {
      const request = new RequestContext(url.toString(), method as HttpMethod);
      for (const [name, value] of Object.entries(headers)) request.setHeaderParam(name, value);
      if (body !== undefined) request.setBody(body);
      request.setSignal(signal);
      await kubeConfig.applySecurityAuthentication(request);
      const fresh = request.getDispatcher();
      if (fresh) {
        pool ??= fresh;
        request.setDispatcher(pool);
      }
      const response: ResponseContext = await fetchLibrary.send(request).toPromise();
      const stream = response.body.stream() as AsyncIterable<Uint8Array> | null;
      return { status: response.httpStatusCode, headers: response.headers, body: stream ?? emptyBody() };
    },
  };
}

function libraryKubeConfig(target: KubeTarget): KubeConfig {
  const { source } = target;
  const kubeConfig = new KubeConfig();
  if (source.kind === 'in-cluster') {
    kubeConfig.loadFromCluster();
    return kubeConfig;
  }
  if (source.kind === 'text') kubeConfig.loadFromString(source.text);
  else if (source.paths.length === 1) kubeConfig.loadFromFile(source.paths[0]!);
  // Several files came from $KUBECONFIG, which the library reads and merges itself.
  else kubeConfig.loadFromDefault();
  kubeConfig.setCurrentContext(target.context);
  return kubeConfig;
}

async function* emptyBody(): AsyncIterable<Uint8Array> {}
