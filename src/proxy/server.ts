// The client-facing HTTP listener: match a route in the current table, hand the request to the
// forwarder, proxy WebSocket upgrades, and answer malformed requests itself.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { matchRoute, type RouteTable } from '../core/route-table.js';
import type { Forwarder } from './forwarder.js';
import { sendError, sendSocketError } from './respond.js';
import { createUpgradeHandler } from './upgrade.js';

export interface ProxyServerOptions {
  forwarder: Forwarder;
  log: Logger;
  table: () => RouteTable;
  /** Idle keep-alive time for client connections. */
  keepAliveTimeoutMs?: number;
  /** Time a client has to send the request headers (slowloris guard). */
  headersTimeoutMs?: number;
}

export function createProxyServer(opts: ProxyServerOptions): Server {
  const { forwarder, log, table } = opts;
  const headersTimeout = opts.headersTimeoutMs ?? 30_000;
  const server = createServer(
    {
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
      headersTimeout,
      // Bodies stream for as long as they need; the route timeout bounds the upstream side.
      requestTimeout: 0,
      noDelay: true,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const route = matchRoute(table().routes, req.headers.host, req.url ?? '/', req.headers);
      if (route === undefined) {
        log.info({ method: req.method, host: req.headers.host, url: req.url }, 'no route');
        sendError(res, 'no_route');
        return;
      }
      forwarder.forward(route, req, res, req.socket.remoteAddress ?? '');
    },
  );

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'bad_request';
    log.info({ err: err.code ?? err.message, remote: socket.remoteAddress }, 'rejected malformed request');
    sendSocketError(socket, code);
  });

  server.on('upgrade', createUpgradeHandler(table, log));

  return server;
}
