// HTTP/2 to upstreams (a route's `protocol: h2c`): one node:http2 client session per instance,
// dispatched to through the same raw handler interface as undici's pools (onConnect, onHeaders
// with byte pairs, onData, onComplete, onError), so the forwarder's Attempt serves both.
//
// Why not undici: 7.x reaches h2c through its H2CClient (a Pool with `allowH2` alone offers h2
// only by ALPN over TLS), but its HTTP/2 client cannot send request trailers ("TODO" in
// client-h2.js), which gRPC and pass-through need. node:http2 can, and does full duplex.
//
// - One session per instance (origin), opened on first use. A GOAWAY or a closed session is
//   forgotten at once: the next request opens a new one, while streams already on the old
//   session finish there. A session idle for upstream.keepAliveTimeout is closed.
// - At most min(MAX_STREAMS, the peer's SETTINGS_MAX_CONCURRENT_STREAMS) streams at once per
//   instance; further requests wait their turn here, in order (their route timeout runs).
// - Timeouts carry undici's codes, so upstreamFailure maps them to 504 as for HTTP/1.1.
// - A request body that is a stream ends with the client's trailers (or none): the stream is
//   opened with waitForTrailers, so they can be known only once the body has ended.

import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { TlsConnectOptions } from '../config-source/client-tls.js';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { UpstreamError } from '../core/errors.js';
import { fromH2Response, toH2Request, toH2Response, trailerList } from './h2-headers.js';

/** Streams at once per instance, whatever the instance allows (nginx's default is 128). */
export const MAX_STREAMS = 128;

export interface H2Handler extends Dispatcher.DispatchHandler {
  /** The client's trailers, asked for once the request body has ended. */
  requestTrailers?(): IncomingHttpHeaders | NodeJS.Dict<string> | undefined;
}

export interface H2OriginOptions {
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** For an https:// origin (`protocol: h2`): what to trust and present (upstream.tls). */
  tls: TlsConnectOptions;
}

/** The HTTP/2 connection to one upstream instance. */
export class H2Origin {
  readonly origin: string;
  /** host:port, the :authority when the request names no Host. */
  readonly authority: string;
  readonly #opts: H2OriginOptions;
  #session: ClientHttp2Session | undefined;
  readonly #sessions = new Set<ClientHttp2Session>();
  #active = 0;
  readonly #waiting: H2Call[] = [];
  #closed = false;

  constructor(origin: string, opts: H2OriginOptions) {
    this.origin = origin;
    this.authority = new URL(origin).host;
    this.#opts = opts;
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: H2Handler): boolean {
    const call = new H2Call(this, opts, handler);
    if (this.#closed) call.fail(new UpstreamError('UND_ERR_CLOSED', 'the HTTP/2 pool of this instance is closed'));
    else if (this.#active < this.#limit()) this.#start(call);
    else this.#waiting.push(call);
    return true;
  }

  #limit(): number {
    const peer = this.#session?.remoteSettings.maxConcurrentStreams;
    return peer === undefined || peer <= 0 ? MAX_STREAMS : Math.min(MAX_STREAMS, peer);
  }

  #start(call: H2Call): void {
    this.#active++;
    call.start(this.#current());
  }

  /** A call is over: its slot goes to the next one waiting. */
  release(): void {
    this.#active--;
    while (this.#waiting.length > 0 && this.#active < this.#limit()) {
      const next = this.#waiting.shift()!;
      if (!next.done) this.#start(next);
    }
  }

  #current(): ClientHttp2Session {
    const s = this.#session;
    if (s !== undefined && !s.closed && !s.destroyed) return s;
    // An https:// origin is h2 over TLS, negotiated by ALPN; an http:// one is h2c.
    const tls = this.origin.startsWith('https:') ? { ...this.#opts.tls, ALPNProtocols: ['h2'] } : {};
    const session = connect(this.origin, { settings: { enablePush: false }, ...tls });
    this.#session = session;
    this.#sessions.add(session);
    const forget = (): void => {
      if (this.#session === session) this.#session = undefined;
    };
    const timer = setTimeout(() => session.destroy(new UpstreamError('UND_ERR_CONNECT_TIMEOUT', 'connect timeout')), this.#opts.connectTimeoutMs);
    session.once('connect', () => clearTimeout(timer));
    // Its streams report the failure each; the session's own error is theirs to tell.
    session.on('error', forget);
    session.once('goaway', forget);
    session.once('close', () => {
      clearTimeout(timer);
      forget();
      this.#sessions.delete(session);
    });
    session.setTimeout(this.#opts.keepAliveTimeoutMs, () => session.close());
    return session;
  }

  /** Graceful: streams under way finish, no new ones start. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const call of this.#waiting.splice(0)) call.fail(new UpstreamError('UND_ERR_CLOSED', 'the HTTP/2 pool of this instance is closed'));
    await Promise.all([...this.#sessions].map((s) => new Promise<void>((resolve) => (s.closed ? s.once('close', resolve) : s.close(resolve)))));
  }

  destroy(): void {
    this.#closed = true;
    for (const s of this.#sessions) s.destroy();
  }
}

/** One request on one stream: the dispatch handler's counterpart. */
class H2Call {
  readonly #origin: H2Origin;
  readonly #opts: Dispatcher.DispatchOptions;
  readonly #handler: H2Handler;
  #stream: ClientHttp2Stream | undefined;
  #timer: NodeJS.Timeout | undefined;
  #trailers: IncomingHttpHeaders | undefined;
  #started = false;
  done = false;

  constructor(origin: H2Origin, opts: Dispatcher.DispatchOptions, handler: H2Handler) {
    this.#origin = origin;
    this.#opts = opts;
    this.#handler = handler;
    handler.onConnect?.((err?: Error) => this.fail(err ?? new UpstreamError('UND_ERR_ABORTED', 'request aborted')));
  }

  start(session: ClientHttp2Session): void {
    this.#started = true;
    if (this.done) {
      this.#finish();
      return;
    }
    const opts = this.#opts;
    const body = opts.body as Readable | Buffer | null | undefined;
    const streamed = body != null && !Buffer.isBuffer(body);
    const headers = toH2Request((opts.headers ?? []) as string[], opts.method, opts.path, this.#origin.authority, this.#origin.origin.startsWith('https:') ? 'https' : 'http');
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: body == null || (Buffer.isBuffer(body) && body.length === 0), waitForTrailers: streamed });
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.#stream = stream;
    const headersTimeout = opts.headersTimeout ?? 0;
    if (headersTimeout > 0) this.#timer = setTimeout(() => this.fail(new UpstreamError('UND_ERR_HEADERS_TIMEOUT', 'headers timeout')), headersTimeout);
    stream.on('response', (h: IncomingHttpHeaders & { ':status'?: number }, _flags: number, raw?: string[]) => this.#onResponse(Number(h[':status']), raw ?? rawOf(h)));
    stream.on('data', (chunk: Buffer) => {
      if (!this.done && this.#handler.onData?.(chunk) === false) stream.pause();
    });
    stream.on('trailers', (t: IncomingHttpHeaders) => (this.#trailers = t));
    stream.on('end', () => this.#complete());
    stream.on('error', (err: Error) => this.fail(err));
    stream.on('close', () => this.fail(new UpstreamError('UND_ERR_SOCKET', `upstream closed the stream (code ${stream.rstCode ?? 0})`)));
    if (streamed) {
      stream.on('wantTrailers', () => {
        // Translated, the client's trailers carry nothing Node refuses; a throw from an event
        // handler would still end the process, so it fails this request instead.
        try {
          stream.sendTrailers(toH2Response(trailerList(this.#handler.requestTrailers?.() as IncomingHttpHeaders | undefined)));
        } catch (err) {
          this.fail(err as Error);
        }
      });
      body.on('error', (err) => this.fail(err));
      body.pipe(stream);
    } else if (Buffer.isBuffer(body) && body.length > 0) stream.end(body);
  }

  #onResponse(status: number, raw: string[]): void {
    if (this.done) return;
    clearTimeout(this.#timer);
    const stream = this.#stream!;
    // HTTP/2 carries no reason phrase; an HTTP/1.1 client gets the standard one.
    if (this.#handler.onHeaders?.(status, fromH2Response(raw), () => stream.resume(), STATUS_CODES[status] ?? '') === false) stream.pause();
    const bodyTimeout = this.#opts.bodyTimeout ?? 0;
    if (!this.done && bodyTimeout > 0) stream.setTimeout(bodyTimeout, () => this.fail(new UpstreamError('UND_ERR_BODY_TIMEOUT', 'body timeout')));
  }

  #complete(): void {
    if (this.done) return;
    this.done = true;
    this.#finish();
    this.#handler.onComplete?.(trailerList(this.#trailers));
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    const stream = this.#stream;
    if (stream !== undefined && !stream.closed) stream.close(constants.NGHTTP2_CANCEL);
    const body = this.#opts.body as Readable | null | undefined;
    if (stream !== undefined && body != null && !Buffer.isBuffer(body)) body.unpipe(stream);
    this.#finish();
    this.#handler.onError?.(err);
  }

  #finish(): void {
    clearTimeout(this.#timer);
    this.#stream?.setTimeout(0);
    if (this.#started) {
      this.#started = false;
      this.#origin.release();
    }
  }
}

/** A header object as a raw list (Node versions that do not pass rawHeaders to 'response'). */
function rawOf(h: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(h)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, String(value));
  }
  return out;
}
