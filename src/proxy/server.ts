// The client-facing HTTP listener: match a route in the current table, hand the request to the
// forwarder, proxy WebSocket upgrades, and answer malformed requests itself.
//
// One TCP listener takes every connection. Plain body-less requests are served by the fast
// path (fast-path.ts) off the raw socket; it hands any other connection to a Node HTTP server
// that never listens itself, so both paths share one port, one handler and one shutdown.

import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { statusOf, type FairwayErrorCode } from '../core/errors.js';
import type { RouteTable } from '../core/route-table.js';
import { FastPath, type ProxyRequest, type ProxyResponse } from './fast-path.js';
import type { Forwarder } from './forwarder.js';
import { requestIdOf } from './headers.js';
import { newRequestId } from './request-id.js';
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

/** The proxy listener: a TCP server, with what shutdown needs of both paths. */
export interface ProxyServer extends TcpServer {
  /** Open upgrade tunnels (WebSockets), which no server tracks. */
  readonly tunnels: ReadonlySet<Duplex>;
  /**
   * For shutdown: closes keep-alive connections with no response under way, and makes the
   * fast path close each busy one once its answer is out.
   */
  closeIdleConnections(): void;
  closeAllConnections(): void;
  /** The listener settings that can change on a running server (maxHeaderSize, fastPath cannot). */
  applySettings(settings: Config['server']): void;
}

export function createProxyServer(opts: ProxyServerOptions): ProxyServer {
  const { forwarder, log, table, observer } = opts;
  let settings = opts.settings;

  const onRequest = (req: ProxyRequest, res: ProxyResponse, stream: IncomingMessage | undefined): void => {
    const route = table().match(req.headers.host, req.url ?? '/', req.headers);
    if (route === undefined) {
      log.info({ method: req.method, host: req.headers.host, url: req.url }, 'no route');
      sendError(res, 'no_route');
      observer.onExchange(localAnswer(req, req.socket, 'no_route'));
      return;
    }
    forwarder.forward(route, req, res, stream);
  };

  const server = createServer(
    {
      maxHeaderSize: opts.settings.maxHeaderSize,
      noDelay: true,
      // How often Node checks headersTimeout and requestTimeout: often enough that a slowloris
      // client is dropped close to the limit, not up to 30 s (Node's default) after it.
      connectionsCheckingInterval: 250,
    },
    (req: IncomingMessage, res: ServerResponse) => onRequest(req, res, req),
  );
  applyServerSettings(server, settings);

  const fast = opts.settings.fastPath
    ? new FastPath({
        http: server,
        maxHeaderSize: opts.settings.maxHeaderSize,
        keepAliveTimeoutMs: () => settings.keepAliveTimeoutMs,
        handle: (req, res) => onRequest(req, res, undefined),
      })
    : undefined;

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

  const front = createTcpServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    if (fast) fast.accept(socket);
    else server.emit('connection', socket);
  });
  // Node's server starts tracking connections (idle closing, header timeouts) on 'listening'.
  front.on('listening', () => server.emit('listening'));
  front.on('close', () => server.close());
  return Object.assign(front, {
    tunnels: upgrades.tunnels,
    closeIdleConnections(): void {
      fast?.closeIdle();
      server.closeIdleConnections();
    },
    closeAllConnections(): void {
      fast?.closeAll();
      server.closeAllConnections();
    },
    applySettings(next: Config['server']): void {
      settings = next;
      applyServerSettings(server, next);
    },
  });
}

function applyServerSettings(server: HttpServer, settings: Config['server']): void {
  server.headersTimeout = settings.headersTimeoutMs;
  server.requestTimeout = settings.requestTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
}

/** An exchange Fairway answered itself before any route or upstream was involved. */
function localAnswer(req: ProxyRequest | undefined, socket: { readonly remoteAddress?: string | undefined }, code: FairwayErrorCode): FinishedExchange {
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
    requestId: requestIdOf(req?.headers['x-request-id'], newRequestId),
    remoteAddress: socket.remoteAddress,
  };
}
