// The HTTP/2 side of the client-facing pipeline: a node:http2 server that never listens itself.
// Listeners hand it connections that chose HTTP/2 (ALPN h2 on TLS, or the connection preface
// on a plain `http2: true` listener, preface.ts); each request reaches the same handler as an
// HTTP/1.1 one, as an H2Request / H2Response (h2-messages.ts).
//
// A protocol error (a malformed frame, garbage after the preface, a flood) is nghttp2's to
// answer: it resets the stream or sends GOAWAY and ends that session; Fairway only logs it.
// Shutdown sends GOAWAY on every session (`close`), lets the streams under way finish, and
// destroys whatever is left at the drain timeout (`closeAll`).

import { createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { H2Request, H2Response } from './h2-messages.js';
import { kHttpsRedirect, type Edge, type HttpsRedirect, type ProxyRequest, type ProxyResponse } from './messages.js';

/** Streams a client may have open at once on one connection (nginx's default is 128). */
export const MAX_CLIENT_STREAMS = 128;

/** How long a session idle past keepAliveTimeout has to close after its GOAWAY before it is cut. */
const CLOSE_GRACE_MS = 1_000;
const kEdge = Symbol('fairway.edge');

type Tagged = { [kEdge]?: Edge };

export interface H2InboundOptions {
  log: Logger;
  /** Read once at start: maxHeaderSize and maxHeaders become the server's HTTP/2 settings. */
  settings: () => Config['server'];
  handle: (req: ProxyRequest, res: ProxyResponse, body: Readable | undefined) => void;
}

export class H2Inbound {
  readonly #server: Http2Server;
  /** Open sessions, with the number of streams open on each. */
  readonly #sessions = new Map<ServerHttp2Session, number>();
  readonly #log: Logger;

  constructor(opts: H2InboundOptions) {
    this.#log = opts.log;
    const start = opts.settings();
    const onRequest = (req: Http2ServerRequest, res: Http2ServerResponse): void => {
      const edge = (req.stream.session as (ServerHttp2Session & Tagged) | undefined)?.[kEdge] ?? { remoteAddress: undefined };
      const request = new H2Request(req, edge);
      opts.handle(request, new H2Response(res, request), request.hasBody ? req : undefined);
    };
    this.#server = createServer(
      {
        settings: { maxConcurrentStreams: MAX_CLIENT_STREAMS, maxHeaderListSize: start.maxHeaderSize },
        // Room past maxHeaders (pseudo-headers count here too), so admit() answers 431 as for
        // HTTP/1.1; a list past twice that is reset by nghttp2 before it is read.
        maxHeaderListPairs: 2 * start.maxHeaders + 8,
      },
      onRequest,
    );
    // CONNECT goes to the handler too (which refuses it with x-fairway-error), not to Node's bare 405.
    this.#server.on('connect', onRequest);
    this.#server.on('session', (session: ServerHttp2Session & Tagged) => {
      // Read once while the socket is bound: the session's socket is a proxy that throws after.
      session[kEdge] = (session.socket as unknown as Tagged)[kEdge];
      this.#sessions.set(session, 0);
      session.once('close', () => this.#sessions.delete(session));
      // Idle with no stream open: GOAWAY and close (node:http2 also leaves a session it sent
      // GOAWAY for a protocol error open until the client closes; this closes it). A stream whose
      // header block never ended (HEADERS without END_HEADERS, and no CONTINUATION: an HTTP/2
      // slowloris) is no stream to Node yet but holds the graceful close open for ever: what is
      // still open a moment after the GOAWAY is cut.
      session.setTimeout(opts.settings().keepAliveTimeoutMs, () => {
        if (this.#sessions.get(session) !== 0) return;
        session.close();
        setTimeout(() => session.destroy(), CLOSE_GRACE_MS).unref();
      });
    });
    this.#server.on('stream', (stream: ServerHttp2Stream) => {
      const session = stream.session as ServerHttp2Session | undefined;
      if (session === undefined || !this.#sessions.has(session)) return;
      this.#sessions.set(session, this.#sessions.get(session)! + 1);
      stream.once('close', () => {
        const open = this.#sessions.get(session);
        if (open !== undefined) this.#sessions.set(session, open - 1);
      });
    });
    this.#server.on('sessionError', (err: NodeJS.ErrnoException) => this.#log.info({ err: err.code ?? err.message }, 'HTTP/2 session failed; closing it'));
  }

  /** Serves a connection that speaks HTTP/2 (TLS with ALPN h2, or h2c by preface). */
  accept(socket: Socket): void {
    const edge = socket as Socket & Edge & Tagged;
    const redirect: HttpsRedirect | undefined = edge[kHttpsRedirect];
    edge[kEdge] = { remoteAddress: socket.remoteAddress, encrypted: edge.encrypted === true, [kHttpsRedirect]: redirect };
    this.#server.emit('connection', socket);
  }

  /** For shutdown: GOAWAY on every session; streams under way finish, then it closes. */
  closeIdle(): void {
    for (const s of this.#sessions.keys()) if (!s.closed) s.close();
  }

  closeAll(): void {
    for (const s of this.#sessions.keys()) s.destroy();
  }
}
