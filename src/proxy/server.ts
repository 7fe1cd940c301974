// The client-facing HTTP listener: match a route in the current table, hand the request to the
// forwarder, proxy WebSocket upgrades, and answer malformed requests itself.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { matchRoute, type RouteTable } from '../core/route-table.js';
import type { Forwarder } from './forwarder.js';
import { sendError, sendSocketError } from './respond.js';
import { createUpgradeHandler } from './upgrade.js';

export interface ProxyServerOptions {
  forwarder: Forwarder;
  log: Logger;
  table: () => RouteTable;
  settings: Config['server'];
}

export function createProxyServer(opts: ProxyServerOptions): Server {
  const { forwarder, log, table } = opts;
  const server = createServer(
    {
      maxHeaderSize: opts.settings.maxHeaderSize,
      noDelay: true,
      // How often Node checks headersTimeout and requestTimeout: often enough that a slowloris
      // client is dropped close to the limit, not up to 30 s (Node's default) after it.
      connectionsCheckingInterval: 250,
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
  applyServerSettings(server, opts.settings);

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // Headers (or the whole request) not received in time: a slow or stalled client.
      log.info({ remote: socket.remoteAddress }, 'client too slow to send its request; closing');
      sendSocketError(socket, 'request_timeout');
      return;
    }
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'bad_request';
    log.info({ err: err.code ?? err.message, remote: socket.remoteAddress }, 'rejected malformed request');
    sendSocketError(socket, code);
  });

  server.on('upgrade', createUpgradeHandler(table, log));

  return server;
}

/** The listener settings that can change on a running server (maxHeaderSize cannot). */
export function applyServerSettings(server: Server, settings: Config['server']): void {
  server.headersTimeout = settings.headersTimeoutMs;
  server.requestTimeout = settings.requestTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
}
