// The client-facing HTTP listener: match a route in the current table, hand the request to the
// forwarder, proxy WebSocket upgrades, and answer malformed requests itself.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { statusOf, type FairwayErrorCode } from '../core/errors.js';
import type { RouteTable } from '../core/route-table.js';
import type { Forwarder } from './forwarder.js';
import { requestIdOf } from './headers.js';
import type { FinishedExchange, RequestObserver } from './observer.js';
import { sendError, sendSocketError } from './respond.js';
import { createUpgradeHandler } from './upgrade.js';

export interface ProxyServerOptions {
  forwarder: Forwarder;
  log: Logger;
  table: () => RouteTable;
  settings: Config['server'];
  /** Told of the answers the listener makes itself (404, 400, 408, 431). */
  observer: RequestObserver;
}

/** The proxy listener, with the open upgrade tunnels (which Node's server does not track). */
export type ProxyServer = Server & { readonly tunnels: ReadonlySet<Duplex> };

export function createProxyServer(opts: ProxyServerOptions): ProxyServer {
  const { forwarder, log, table, observer } = opts;
  const server = createServer(
    {
      maxHeaderSize: opts.settings.maxHeaderSize,
      noDelay: true,
      // How often Node checks headersTimeout and requestTimeout: often enough that a slowloris
      // client is dropped close to the limit, not up to 30 s (Node's default) after it.
      connectionsCheckingInterval: 250,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const route = table().match(req.headers.host, req.url ?? '/', req.headers);
      if (route === undefined) {
        log.info({ method: req.method, host: req.headers.host, url: req.url }, 'no route');
        sendError(res, 'no_route');
        observer.onExchange(localAnswer(req, req.socket, 'no_route'));
        return;
      }
      forwarder.forward(route, req, res);
    },
  );
  applyServerSettings(server, opts.settings);

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A response already under way on this connection (pipelining) must not get an error
    // answer spliced into it; Node's own handler makes the same check.
    const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || current?.headersSent) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // Headers (or the whole request) not received in time: a slow or stalled client.
      log.info({ remote: socket.remoteAddress }, 'client too slow to send its request; closing');
      sendSocketError(socket, 'request_timeout');
      observer.onExchange(localAnswer(undefined, socket, 'request_timeout'));
      return;
    }
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'bad_request';
    log.info({ err: err.code ?? err.message, remote: socket.remoteAddress }, 'rejected malformed request');
    sendSocketError(socket, code);
    observer.onExchange(localAnswer(undefined, socket, code));
  });

  const upgrades = createUpgradeHandler(table, log);
  server.on('upgrade', upgrades);
  return Object.assign(server, { tunnels: upgrades.tunnels });
}

/** The listener settings that can change on a running server (maxHeaderSize cannot). */
export function applyServerSettings(server: Server, settings: Config['server']): void {
  server.headersTimeout = settings.headersTimeoutMs;
  server.requestTimeout = settings.requestTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
}

/** An exchange Fairway answered itself before any route or upstream was involved. */
function localAnswer(req: IncomingMessage | undefined, socket: Socket, code: FairwayErrorCode): FinishedExchange {
  return {
    route: undefined,
    upstream: undefined,
    method: req?.method ?? '',
    host: req?.headers.host,
    url: req?.url ?? '',
    status: statusOf(code),
    errorCode: code,
    attempts: 0,
    bytes: 0,
    durationMs: 0,
    requestId: requestIdOf(req?.headers['x-request-id'], randomUUID),
    remoteAddress: socket.remoteAddress,
  };
}
