// The shapes of one exchange with the Kubernetes API server: what the clients ask (KubeCall), what the transports send
// and get back (KubeExchange, KubeAnswer), and a whole answer read (KubeReply). Their own module, so the transports and
// the typed clients loaded on first use need not import the modules that load them.

export interface KubeExchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | undefined;
  signal: AbortSignal;
}

export interface KubeAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body as it arrives; it ends (or throws) when the exchange's signal aborts. */
  body: AsyncIterable<Uint8Array>;
}

export interface KubeTransport {
  send(exchange: KubeExchange): Promise<KubeAnswer>;
}

export type QueryValue = string | number | boolean | undefined;

export interface KubeCall {
  method: string;
  /** The path below the server's URL; it may carry a query string of its own. */
  path: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface KubeReply {
  status: number;
  headers: Record<string, string>;
  text: string;
}
