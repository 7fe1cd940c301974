// Real backend HTTP servers on port 0. Each answers with its own name, counts the requests it
// got, and has a /health endpoint the test can fail on purpose.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface Backend {
  name: string;
  port: number;
  address: string;
  /** Requests served, /health excluded. */
  hits: number;
  /** The last proxied request, for header assertions. */
  last: { method: string; url: string; headers: IncomingMessage['headers'] } | undefined;
  healthy: boolean;
  /** Added before answering, in ms. */
  delayMs: number;
  server: Server;
  close(): Promise<void>;
  /** Abrupt death: stop listening and cut every open connection. */
  kill(): void;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, backend: Backend) => void;

export async function startBackend(name: string, handler?: Handler): Promise<Backend> {
  const sockets = new Set<Socket>();
  const backend = { name, hits: 0, healthy: true, delayMs: 0, last: undefined } as Backend;
  const server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(backend.healthy ? 200 : 500).end(backend.healthy ? 'ok' : 'failing');
      return;
    }
    backend.hits++;
    backend.last = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    const answer = () => {
      if (handler) return handler(req, res, backend);
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name }).end(name));
    };
    if (backend.delayMs > 0) setTimeout(answer, backend.delayMs);
    else answer();
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  backend.server = server;
  backend.port = (server.address() as { port: number }).port;
  backend.address = `127.0.0.1:${backend.port}`;
  backend.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  backend.kill = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return backend;
}

export async function startBackends(n: number, prefix = 'b'): Promise<Backend[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startBackend(`${prefix}${i + 1}`)));
}
