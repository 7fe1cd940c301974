// The client-facing HTTP pipeline: match a route in the current table, hand the request to the
// forwarder, proxy WebSocket upgrades, and answer malformed requests itself.
//
// The listeners (listeners.ts: plain TCP, or TLS) hand every connection to `accept`. Plain
// body-less requests are served by the fast path (fast-path.ts) off the socket; it hands any
// other connection to a Node HTTP server that never listens itself, so both paths share every
// listener, one handler and one shutdown. A TLSSocket goes the same way as a TCP one.
// Connections that chose HTTP/2 go to h2-server.ts instead, whose requests reach the same handler.

import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import type { FairwayErrorCode } from '../core/errors.js';
import type { RouteTable } from '../core/route-table.js';
import { admit, ASTERISK, isRefused } from './admit.js';
import { FastPath } from './fast-path.js';
import { H2Inbound } from './h2-server.js';
import { declaresBody, kHttpsRedirect, type HttpsRedirect, type ProxyRequest, type ProxyResponse } from './messages.js';
import type { Forwarder } from './forwarder.js';
import { afterSent, inTurn, owe, replaceTurn, unfinishedRequest } from './pipeline.js';
import { localAnswer, type RequestObserver } from './observer.js';
import { passesPolicy } from './policy-gate.js';
import { sendError, sendOptions, sendRedirect, sendSocketError } from './respond.js';
import { createUpgradeHandler } from './upgrade.js';

export interface ProxyServerOptions {
  forwarder: Forwarder;
  log: Logger;
  table: () => RouteTable;
  settings: Config['server'];
  /** The running config's upstream settings (upgraded connections count against maxConnections). */
  upstream: () => Config['upstream'];
  /** Told of the answers the listener makes itself (404, 400, 405, 408, 417, 431). */
  observer: RequestObserver;
}

/** The pipeline every listener feeds, with what shutdown needs of both paths. */
export interface ProxyServer {
  /** Serves a new client connection (TCP or TLS, handshake done). */
  accept(socket: Socket): void;
  /** Serves a connection that speaks HTTP/2 (ALPN h2, or h2c by its preface). */
  acceptH2(socket: Socket): void;
  /** Every listener has closed: stops Node's server (its timeout checks). */
  close(): void;
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

  const gate = { forwarder, log, observer };
  const refuse = (req: ProxyRequest, res: ProxyResponse, code: FairwayErrorCode, detail: string): void => {
    log.info({ method: req.method, host: req.headers.host, url: req.url, code, detail }, 'refused request');
    sendError(res, code, detail);
    observer.onExchange(localAnswer(req, req.socket, code));
  };

  const onRequest = (req: ProxyRequest, res: ProxyResponse, stream: Readable | undefined): void => {
    // An HTTP/2 CONNECT (RFC 9113 §8.5) asks for a tunnel, as HTTP/1.1's does (Node's 'connect' below).
    if (req.method === 'CONNECT') {
      refuse(req, res, 'method_not_allowed', 'CONNECT is not proxied');
      return;
    }
    const admitted = admit(req, settings.maxHeaders);
    if (admitted === ASTERISK) {
      sendOptions(res);
      observer.onExchange(localAnswer(req, req.socket, undefined));
      return;
    }
    if (isRefused(admitted)) {
      refuse(req, res, admitted.code, admitted.detail);
      return;
    }
    const https = req.socket[kHttpsRedirect];
    if (https !== undefined && !(req.url ?? '/').startsWith(ACME_CHALLENGE)) {
      redirectToHttps(req, res, admitted.host, https);
      return;
    }
    const route = table().match(admitted.host, req.url ?? '/', req.headers);
    if (route === undefined) {
      log.info({ method: req.method, host: req.headers.host, url: req.url }, 'no route');
      sendError(res, 'no_route');
      observer.onExchange(localAnswer(req, req.socket, 'no_route'));
      return;
    }
    if (route.config.policy !== undefined && !passesPolicy(gate, route, req, res, admitted.authority)) return;
    forwarder.forward(route, req, res, stream, admitted.authority);
  };

  // Not an error (no x-fairway-error): counted and logged like a route's redirect policy.
  const redirectToHttps = (req: ProxyRequest, res: ProxyResponse, host: string | undefined, https: HttpsRedirect): void => {
    if (host === undefined) {
      refuse(req, res, 'bad_request', 'a redirect to https needs a Host');
      return;
    }
    sendRedirect(res, 308, `https://${host}${https.portSuffix}${req.url ?? '/'}`);
    observer.onExchange(localAnswer(req, req.socket, undefined, { policy: 'redirectToHttps', status: 308 }));
  };

  /** `expectsContinue`: the client waits for a 100 before it sends the body (see 'checkContinue'). */
  function onNodeRequest(req: IncomingMessage, res: ServerResponse, expectsContinue = false): void {
    owe(req.socket, req, res);
    inTurn(
      req.socket,
      res,
      () => {
        onRequest(req, res, req);
        if (expectsContinue && declaresBody(req.headers) && !res.headersSent && !res.writableEnded) {
          if (res.socket !== null) res.writeContinue();
          else res.once('socket', () => !res.headersSent && res.writeContinue());
        }
      },
      () => log.debug({ method: req.method, url: req.url, remote: req.socket.remoteAddress }, 'pipelined request after the connection\'s last answer: not relayed'),
    );
  }

  const server = createServer(
    {
      maxHeaderSize: opts.settings.maxHeaderSize,
      noDelay: true,
      // How often Node checks headersTimeout and requestTimeout: often enough that a slowloris
      // client is dropped close to the limit, not up to 30 s (Node's default) after it.
      connectionsCheckingInterval: 250,
      // A missing Host is answered by admit() with x-fairway-error, not by Node's bare 400.
      requireHostHeader: false,
    },
    onNodeRequest,
  );
  // Node keeps only the first 2,000 header lines by default and drops the rest silently, so a
  // Content-Length past them was lost with the body it framed. All are kept; admit() answers
  // more than server.maxHeaders with 431.
  server.maxHeadersCount = 0;
  // A client that half-closes after pipelining still gets every answer (Node's default aborts
  // the requests it has not answered yet).
  (server as HttpServer & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  applyServerSettings(server, settings);
  // CONNECT asks for a tunnel, which a reverse proxy does not give (SPEC: 405).
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    log.info({ url: req.url, remote: req.socket.remoteAddress }, 'refused CONNECT');
    observer.onExchange(localAnswer(req, req.socket, 'method_not_allowed'));
    afterSent(socket as Socket, () => sendSocketError(socket as Socket, 'method_not_allowed'));
  });
  // `Expect: 100-continue`: the interim answer goes out only when there is a body to ask for
  // (RFC 9110 §10.1.1 lets a server omit it otherwise) and only once this request's answer is
  // first in line: Node writes it at once, which for a request pipelined behind another put it
  // after its own final head, in the middle of that answer.
  // A request Fairway answers at once (no route, a route policy: 403, 429, 413 by
  // Content-Length, a redirect) gets no 100 at all: the client need not send a body nobody reads.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => onNodeRequest(req, res, true));
  // Any other expectation is one nobody here can meet.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    owe(req.socket, req, res);
    inTurn(req.socket, res, () => refuse(req, res, 'expectation_failed', `cannot meet Expect: ${req.headers.expect}`), () => undefined);
  });

  const fast = opts.settings.fastPath
    ? new FastPath({
        http: server,
        maxHeaderSize: opts.settings.maxHeaderSize,
        keepAliveTimeoutMs: () => settings.keepAliveTimeoutMs,
        handle: (req, res) => onRequest(req, res, undefined),
      })
    : undefined;

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // Headers (or the whole request) not received in time is a slow or stalled client.
    const slow = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const code = slow ? 'request_timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'bad_request';
    log.info({ err: err.code ?? err.message, remote: socket.remoteAddress }, slow ? 'client too slow to send its request; closing' : 'rejected malformed request');
    const reading = unfinishedRequest(socket);
    const detail = slow ? 'request body not received in time' : 'malformed request body';
    // Its body was being read: the request can never be completed. Relayed already, its exchange
    // answers the client in its place in the pipeline, the connection's last answer. Still waiting
    // for its turn (inTurn), it takes that turn first, as it would have had its body been fine.
    const abandon = (): boolean => {
      if (reading === undefined) return false;
      // Answered already while its body was still coming (a route timeout, an upstream's early
      // answer): that answer stands, one per request, and the connection ends after it.
      if (!reading.writableEnded && !forwarder.abandon(reading, code, detail)) return false;
      afterSent(socket, () => socket.end());
      return true;
    };
    if (reading !== undefined && replaceTurn(socket, reading, (go) => () => {
      go();
      if (!abandon()) answerLast(socket, code);
    }))
      return;
    if (!abandon()) answerLast(socket, code);
  });

  /** The connection's last answer, after every answer owed before it: a request Node's parser rejected. */
  function answerLast(socket: Socket, code: FairwayErrorCode): void {
    observer.onExchange(localAnswer(undefined, socket, code));
    afterSent(socket, () => {
      if (socket.writable) sendSocketError(socket, code);
      else socket.destroy();
    });
  }

  const upgrades = createUpgradeHandler({ table, log, forwarder, http: server, observer, settings: () => ({ server: settings, upstream: opts.upstream() }) });
  server.on('upgrade', upgrades);

  const h2 = new H2Inbound({ log, settings: () => settings, handle: onRequest });

  // Node's server starts tracking connections (idle closing, header timeouts) on 'listening'.
  server.emit('listening');
  return {
    accept(socket: Socket): void {
      if (fast) fast.accept(socket);
      else server.emit('connection', socket);
    },
    acceptH2(socket: Socket): void {
      h2.accept(socket);
    },
    close(): void {
      server.close();
    },
    tunnels: upgrades.tunnels,
    closeIdleConnections(): void {
      fast?.closeIdle();
      server.closeIdleConnections();
      h2.closeIdle();
    },
    closeAllConnections(): void {
      fast?.closeAll();
      server.closeAllConnections();
      h2.closeAll();
    },
    applySettings(next: Config['server']): void {
      settings = next;
      applyServerSettings(server, next);
    },
  };
}

/** ACME HTTP-01 challenges must be answered over plain HTTP (RFC 8555 §8.3): never redirected. */
const ACME_CHALLENGE = '/.well-known/acme-challenge/';

function applyServerSettings(server: HttpServer, settings: Config['server']): void {
  server.headersTimeout = settings.headersTimeoutMs;
  server.requestTimeout = settings.requestTimeoutMs;
  server.keepAliveTimeout = settings.keepAliveTimeoutMs;
}
