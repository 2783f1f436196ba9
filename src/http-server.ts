// The one HTTP server: Slack requests (HTTP mode), webhooks, and /healthz, /readyz, /metrics.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from './log.ts';

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

export interface HttpServerOptions {
  routes: Route[];
  logger: Logger;
}

export function createHttpServer({ routes, logger }: HttpServerOptions): Server {
  const byPath = new Map<string, Route[]>();
  for (const route of routes) byPath.set(route.path, [...(byPath.get(route.path) ?? []), route]);
  const server = createServer((req, res) => {
    const path = pathOf(req.url);
    const forPath = byPath.get(path) ?? [];
    const route = forPath.find((candidate) => candidate.method === req.method);
    if (!route) {
      if (forPath.length > 0) {
        res.setHeader('Allow', forPath.map((candidate) => candidate.method).join(', '));
        return sendJson(res, 405, { error: 'method_not_allowed' });
      }
      return sendJson(res, 404, { error: 'not_found' });
    }
    Promise.resolve()
      .then(() => route.handle(req, res))
      .catch((error: unknown) => {
        logger.error({ event: 'http.route_failed', path, err: error });
        if (!res.headersSent) sendJson(res, 500, { error: 'internal_error' });
        else res.end();
      });
  });
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  return server;
}

/**
 * The path of a request target, as the URL parser reads it. A plain one (`/slack/events`, `/metrics?x`) is only cut at
 * its query, without the parser (a few microseconds a request); anything else (an absolute URL, dot segments, escapes)
 * goes through the parser, which normalises it.
 */
export function pathOf(target = '/'): string {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  if (path.startsWith('/') && !path.startsWith('//') && !/[.%\\#]/.test(path)) return path;
  return new URL(target, 'http://localhost').pathname;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function listen(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Stops accepting connections, closes idle keep-alive ones, and waits up to timeoutMs for the rest. */
export function closeServer(server: Server, timeoutMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** The request's body, or undefined once it passes `limit` bytes (the rest is read and dropped). */
export function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
