// Real local HTTP servers playing the watched systems' endpoints (RLHF Audit Trail, PQC Migration Audit, RegulensAI, Prometheus), and a TCP black hole.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as connectTcp, createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** How one endpoint answers: a status and body (JSON unless a string), optionally late, or never. */
export interface FakeRoute {
  status?: number;
  body?: unknown;
  delayMs?: number;
  /** Accept the request and never answer. */
  hang?: boolean;
  /** Runs when the request arrives (e.g. a reset endpoint changing what another route answers). */
  onRequest?: (request: FakeRequest) => void;
}

export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeService {
  url: string;
  requests: FakeRequest[];
  /** Replaces how "METHOD /path" (or "/path" for GET) answers; the query string is ignored. */
  set(route: string, answer: FakeRoute): void;
  close(): Promise<void>;
}

export async function startFakeService(routes: Record<string, FakeRoute>): Promise<FakeService> {
  const table = new Map<string, FakeRoute>();
  const key = (route: string) => (route.includes(' ') ? route : `GET ${route}`);
  for (const [route, answer] of Object.entries(routes)) table.set(key(route), answer);
  const requests: FakeRequest[] = [];
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = table.get(`${req.method} ${path}`);
      answer?.onRequest?.(requests.at(-1)!);
      if (!answer) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not Found"}');
        return;
      }
      if (answer.hang) return;
      const send = () => {
        const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
        res
          .writeHead(answer.status ?? 200, {
            'content-type': typeof answer.body === 'string' ? 'text/plain' : 'application/json',
          })
          .end(text);
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    set: (route, answer) => table.set(key(route), answer),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** RLHF Audit Trail: liveness, the audit integrity sample check and the privacy budget (runbook field names). */
export function rlhfRoutes(overrides: Record<string, FakeRoute> = {}): Record<string, FakeRoute> {
  return {
    '/health': { body: { status: 'healthy' } },
    '/health/ready': { body: { status: 'ready' } },
    '/api/v1/audit/integrity/verify': {
      body: { status: 'verified', records_verified: 1000, integrity_score: 0.998, anomalies_detected: 0 },
    },
    '/api/v1/privacy/budget': { body: { total_epsilon: 10, consumed_epsilon: 4, remaining_epsilon: 6, days_until_reset: 12 } },
    ...overrides,
  };
}

/** PQC Migration Audit: /health and /health/detailed on :8080 in production. */
export function pqcRoutes(overrides: Record<string, FakeRoute> = {}): Record<string, FakeRoute> {
  return {
    '/health': { body: { status: 'ok' } },
    '/health/detailed': { body: { status: 'ok', database: 'ok', liboqs: 'ok' } },
    ...overrides,
  };
}

/** RegulensAI: the API's /health. */
export function regulensRoutes(overrides: Record<string, FakeRoute> = {}): Record<string, FakeRoute> {
  return { '/health': { body: { status: 'healthy' } }, ...overrides };
}

export interface FakeAlert {
  alertname: string;
  state?: 'firing' | 'pending' | 'inactive';
  labels?: Record<string, string>;
  summary?: string;
}

/** Prometheus's GET /api/v1/alerts answer. */
export function prometheusAlerts(alerts: FakeAlert[]): FakeRoute {
  return {
    body: {
      status: 'success',
      data: {
        alerts: alerts.map((alert) => ({
          labels: { alertname: alert.alertname, ...alert.labels },
          annotations: alert.summary ? { summary: alert.summary } : {},
          state: alert.state ?? 'firing',
          activeAt: '2026-11-22T09:58:00Z',
          value: '1e+00',
        })),
      },
    },
  };
}

/** A TCP server that accepts connections and never says a word: a dependency that never answers. */
export async function startBlackHole(): Promise<{
  port: number;
  url: (scheme: 'postgres' | 'redis' | 'http') => string;
  /** Connections the other side has not closed yet: a caller that gave up must not leave one open. */
  readonly openConnections: number;
  /** Connections accepted so far: how often the dependency was tried. */
  readonly accepted: number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createTcpServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    // Read and drop what arrives, so the other side closing is noticed (a paused socket never sees the end).
    socket.resume();
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    get openConnections() {
      return sockets.size;
    },
    get accepted() {
      return accepted;
    },
    url: (scheme) =>
      scheme === 'postgres'
        ? `postgres://user:secret@127.0.0.1:${port}/db`
        : `${scheme}://127.0.0.1:${port}${scheme === 'http' ? '/health' : ''}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP relay in front of a real server (PostgreSQL, Redis) that counts the connections made through it: how often a
 * dependency was actually hit. `url(original)` is the original URL pointed at the relay.
 */
export async function startConnectionCounter(target: string): Promise<{
  readonly connections: number;
  url: string;
  close(): Promise<void>;
}> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createTcpServer((client) => {
    connections += 1;
    const server = connectTcp(Number(upstream.port), upstream.hostname);
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(server).pipe(client);
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayed = new URL(target);
  relayed.hostname = '127.0.0.1';
  relayed.port = String((server.address() as AddressInfo).port);
  return {
    get connections() {
      return connections;
    },
    url: relayed.toString(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
