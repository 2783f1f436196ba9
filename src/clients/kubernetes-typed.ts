// @kubernetes/client-node's typed API clients (rollback, the namespace export), sending through the bot's own requests:
// the same credentials, connections and deadline as the plain-JSON reads. Loaded when first used.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  ResponseContext,
  ServerConfiguration,
  createConfiguration,
  setHeaderMiddleware,
  wrapHttpLibrary,
  type RequestContext,
} from '@kubernetes/client-node';
import type { KubeCall, KubeReply } from './kube-exchange.ts';

export interface TypedKubernetesClients {
  apps: AppsV1Api;
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

export function typedClients(
  server: string,
  call: (request: KubeCall) => Promise<KubeReply>,
  userAgent: string,
): TypedKubernetesClients {
  // The server's URL may have a path of its own (a proxy's /k8s/clusters/<id>): requests name what comes after it.
  const base = new URL(server).toString().replace(/\/$/, '');
  const httpApi = wrapHttpLibrary({
    send: async (request: RequestContext) => {
      const url = new URL(request.getUrl()).toString();
      const body = request.getBody();
      const reply = await call({
        method: request.getHttpMethod(),
        path: url.startsWith(base) ? url.slice(base.length) : new URL(url).pathname + new URL(url).search,
        headers: request.getHeaders(),
        body: body === undefined ? undefined : String(body),
        signal: request.getSignal(),
      });
      return new ResponseContext(reply.status, reply.headers, {
        text: () => Promise.resolve(reply.text),
        binary: () => Promise.resolve(Buffer.from(reply.text)),
        stream: () => null,
      });
    },
  });
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(server, {}),
    // Credentials are added by the bot's transport, for these requests as for the others.
    authMethods: {},
    httpApi,
    middleware: [setHeaderMiddleware('User-Agent', userAgent)],
  });
  return {
    apps: new AppsV1Api(configuration),
    core: new CoreV1Api(configuration),
    custom: new CustomObjectsApi(configuration),
  };
}
