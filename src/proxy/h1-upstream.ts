// HTTP/1.1 to an upstream instance on Node's own sockets (TLS ones for an https:// instance), for
// the exchanges most traffic is: a request without a body, or with a small one the exchange
// has read whole (exchange.ts), sent with its head in one write. A streamed body stays with
// undici, as do HTTP/2 routes' sessions (h2-upstream.ts); forwarder.ts decides.
//
// Why: on the 2-core bench machine, small answers, each relay pinned alone on one core, the
// least relay on bare sockets (bench/net-relay.mjs) carried 2.2× what the least relay on
// undici's dispatch API (bench/undici-relay.mjs) did. undici's fixed cost per request (its
// request object and queue, llhttp in WebAssembly, its callbacks) is more than a small answer's.
//
// - One keep-alive socket per exchange, at most `maxConnections` per instance; requests beyond
//   wait here in order. The socket last used goes next (it is warm; the others age out).
// - The head of the answer is read by h1-response.ts; bodies are handed on with the same raw
//   handler interface undici's pools drive (see attempt.ts).
// - A plain socket reads into one buffer all of them share (net's `onread`), straight into
//   #read: no buffer allocated and resized per read, no stream machinery in between. Whatever
//   outlives the call that read it (a head not yet whole, body bytes handed on) is copied.
// - A socket is used again only after an answer that was complete, framed, keep-alive, not to
//   a HEAD, and followed by nothing: a stray byte after it, on an idle socket, or before the
//   next request is written (once the event loop has polled again after it is taken), closes
//   the socket.
// - A request that finds a reused socket closed under it before one byte of answer (the
//   upstream's keep-alive timer ran out first) is sent once more on a new socket, if its
//   method may be repeated (RFC 9110 §9.2.2; a body read whole can be sent again).
// - A body goes out whole with its head, so an upstream that answers before reading it (an
//   early 401 or 413) leaves the socket usable once the answer is complete: the body was sent
//   in full, framed by its Content-Length. undici instead drops a socket whose answer came
//   before the body was written, and opens another for the next request.
// - Timeouts carry undici's codes, so upstreamFailure maps them to 504 as for undici's pools.

import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { TlsConnectOptions } from '../config-source/client-tls.js';
import { UpstreamError } from '../core/errors.js';
import type { Dispatcher } from 'undici';
import { checkPartialHead, ChunkedBody, CHUNKED, hasBareLineEnd, LENGTH, NO_BODY, parseResponseHead, UNTIL_CLOSE, type Framing } from './h1-response.js';

export interface H1OriginOptions {
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  /** Largest answer head (and trailer section) read; undici's default is the same 16 KiB. */
  maxHeaderSize?: number;
  /** For an https:// instance: what to trust and present (upstream.tls). */
  tls?: TlsConnectOptions;
}

/** Methods whose request (without a body) may be sent twice: RFC 9110 §9.2.2. */
const REPEATABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** A byte that may not appear in a request line or header (undici refuses the same). */
const UNSAFE = /[\0\r\n]/;
/** undici's margin under an upstream's Keep-Alive timeout hint. */
const HINT_MARGIN_MS = 1000;
/** What every plain socket reads into (see above); as large as a read Node makes by default. */
const sharedRead = Buffer.allocUnsafeSlow(64 * 1024);

/** Whether a request goes by an H1Origin: no body or one in hand, and nothing undici alone handles. */
export function leanEligible(opts: Dispatcher.DispatchOptions): boolean {
  return (opts.body == null || Buffer.isBuffer(opts.body)) && opts.upgrade == null && opts.method !== 'CONNECT';
}

export class H1Origin {
  readonly host: string;
  readonly port: number;
  /** host:port, the Host header when the request carries none. */
  readonly authority: string;
  readonly opts: H1OriginOptions;
  readonly #idle: H1Conn[] = [];
  readonly #all = new Set<H1Conn>();
  readonly #waiting: H1Call[] = [];
  /** Closes sockets idle past their time; runs while any socket is open. */
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;
  /** Resolves close(): every request taken before it is answered and every socket closed. */
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(origin: string, opts: H1OriginOptions) {
    const url = new URL(origin);
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    this.authority = url.host;
    this.opts = opts;
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const call = new H1Call(opts, handler);
    if (this.#closed) call.fail(new UpstreamError('UND_ERR_CLOSED', 'the pool of this instance is closed'));
    else this.assign(call, false);
    return true;
  }

  /** Sends `call` on an idle socket, a new one, or queues it. `fresh`: only on a new socket. */
  assign(call: H1Call, fresh: boolean): void {
    if (call.done) return;
    const idle = fresh ? undefined : this.#idle.pop();
    if (idle !== undefined) idle.reserve(call);
    else if (this.#all.size < this.opts.maxConnections) {
      const conn = new H1Conn(this);
      this.#all.add(conn);
      conn.send(call);
    } else if (fresh) this.#waiting.unshift(call);
    else this.#waiting.push(call);
  }

  /** `conn` finished an answer and may carry another: a waiting request, or none. */
  release(conn: H1Conn): void {
    for (let call = this.#waiting.shift(); call !== undefined; call = this.#waiting.shift()) {
      if (call.done) continue;
      conn.reserve(call);
      return;
    }
    if (this.#closed) {
      conn.destroy();
      return;
    }
    conn.idleUntil = performance.now() + conn.idleMs;
    this.#idle.push(conn);
    if (this.#sweeper === undefined) {
      const every = Math.min(1000, Math.max(50, this.opts.keepAliveTimeoutMs / 4));
      this.#sweeper = setInterval(() => this.#sweep(), every).unref();
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const conn = this.#idle[i]!;
      if (conn.idleUntil > now) continue;
      this.#idle.splice(i, 1);
      conn.destroy();
    }
    if (this.#all.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  /** `conn` is closed: a waiting request may open another. */
  gone(conn: H1Conn): void {
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    while (this.#waiting.length > 0 && this.#all.size < this.opts.maxConnections) {
      const call = this.#waiting.shift()!;
      if (!call.done) this.assign(call, true);
    }
    if (this.#closed && this.#all.size === 0) this.#drained?.();
  }

  /**
   * Graceful, as undici's Pool.close: requests already taken, queued ones included, are sent
   * and answered; nothing new is taken; each socket closes once nothing waits for it.
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#closed = true;
      this.#drained = resolve;
      for (const conn of this.#idle.splice(0)) conn.destroy();
      if (this.#all.size === 0) resolve();
    });
    return this.#closing;
  }

  destroy(): void {
    this.#closed = true;
    for (const call of this.#waiting.splice(0)) call.fail(new UpstreamError('UND_ERR_CLOSED', 'the pool of this instance is closed'));
    for (const conn of [...this.#all]) conn.destroy();
  }
}

/** One request: its options, its handler, and where it is. */
class H1Call {
  readonly opts: Dispatcher.DispatchOptions;
  readonly handler: Dispatcher.DispatchHandler;
  conn: H1Conn | undefined;
  /** Sent once more after a reused socket closed before answering. */
  resent = false;
  done = false;

  constructor(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
    this.opts = opts;
    this.handler = handler;
    handler.onConnect?.((err?: Error) => this.fail(err ?? new UpstreamError('UND_ERR_ABORTED', 'request aborted')));
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    const conn = this.conn;
    this.conn = undefined;
    // Its socket is mid-answer: no other request may read the rest of it.
    if (conn !== undefined) conn.destroy();
    this.handler.onError?.(err);
  }
}

const IDLE = 0;
const HEAD = 1;
const BODY = 2;
/** Taken by a request that is written after the event loop's next poll (see `reserved`). */
const RESERVED = 3;

/**
 * Reused sockets write their request only after the event loop has polled for input once more:
 * bytes an upstream sent after its last answer (even as the next request was being dispatched)
 * are then read first, and close the socket instead of being taken for the next answer. A
 * request taken during a poll phase would be written in that same turn's check phase, before
 * any new poll: so it waits for the next turn's check phase. Two setImmediate per turn, not per
 * request. (undici waits one check phase, GHSA-35p6-xmwp-9g52; the differential test's hurried
 * cases send stray bytes exactly as the next request is dispatched, which one phase misses.)
 */
let reserved: H1Conn[] = [];
function afterNextPoll(): void {
  const batch = reserved;
  reserved = [];
  setImmediate(writeBatch, batch);
}
function writeBatch(batch: H1Conn[]): void {
  for (const conn of batch) conn.writeReserved();
}

/** One socket to the instance and the answer it is reading. */
class H1Conn {
  readonly origin: H1Origin;
  readonly socket: Socket;
  call: H1Call | undefined;
  #phase = IDLE;
  /** Answers completed on this socket. */
  #served = 0;
  /** Bytes of the current answer read so far (before its head is whole). */
  #head: Buffer | undefined;
  /** Reads land in sharedRead, so what is kept or handed on is copied first. */
  readonly #shared: boolean;
  #framing: Framing = NO_BODY;
  #left = 0;
  #chunked: ChunkedBody | undefined;
  #keepAlive = false;
  /** How long this socket may sit idle, and until when it does (the origin sweeps). */
  idleMs = 0;
  idleUntil = 0;
  /** The request's headers timeout, while its head is awaited. */
  #timer: NodeJS.Timeout | undefined;
  #headRequest = false;

  constructor(origin: H1Origin) {
    this.origin = origin;
    const tls = origin.opts.tls;
    // SNI names the host unless it is an address (or upstream.tls.serverName says otherwise).
    this.#shared = tls === undefined;
    const socket =
      tls === undefined
        ? connect({ host: origin.host, port: origin.port, noDelay: true, onread: { buffer: sharedRead, callback: (n) => this.#read(sharedRead.subarray(0, n)) } })
        : connectTls({ host: origin.host, port: origin.port, servername: isIP(origin.host) === 0 ? origin.host : undefined, ALPNProtocols: ['http/1.1'], ...tls }).setNoDelay(true);
    this.socket = socket;
    if (tls !== undefined) socket.on('data', (chunk: Buffer) => void this.#read(chunk));
    const connecting = setTimeout(() => socket.destroy(new UpstreamError('UND_ERR_CONNECT_TIMEOUT', 'connect timeout')), origin.opts.connectTimeoutMs);
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => clearTimeout(connecting));
    socket.once('close', () => clearTimeout(connecting));
    socket.on('end', () => this.#ended());
    socket.on('timeout', () => this.call?.fail(new UpstreamError('UND_ERR_BODY_TIMEOUT', 'body timeout')));
    socket.on('error', (err: Error) => this.#lost(err));
    socket.on('close', () => this.#lost(new UpstreamError('UND_ERR_SOCKET', 'other side closed')));
  }

  /** Takes `call` now and writes it after the next poll (see `reserved`). */
  reserve(call: H1Call): void {
    this.call = call;
    call.conn = this;
    this.#phase = RESERVED;
    if (reserved.push(this) === 1) setImmediate(afterNextPoll);
  }

  writeReserved(): void {
    const call = this.call;
    if (this.#phase !== RESERVED || call === undefined || call.done || this.socket.destroyed) return;
    this.send(call);
  }

  send(call: H1Call): void {
    const opts = call.opts;
    let head = `${opts.method} ${opts.path} HTTP/1.1\r\n`;
    let host = false;
    const body = Buffer.isBuffer(opts.body) ? opts.body : undefined;
    const headers = (opts.headers ?? []) as string[];
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (UNSAFE.test(name) || UNSAFE.test(value)) {
        this.#refuse(call, new UpstreamError('UND_ERR_INVALID_ARG', `invalid ${name} header`));
        return;
      }
      if (name.length === 4 && name.toLowerCase() === 'host') host = true;
      // A body in hand is framed by its own length, below, whatever the client declared.
      else if (body !== undefined && name.length === 14 && name.toLowerCase() === 'content-length') continue;
      head += `${name}: ${value}\r\n`;
    }
    if (body !== undefined) head += `content-length: ${body.length}\r\n`;
    if (UNSAFE.test(opts.path) || UNSAFE.test(opts.method)) {
      this.#refuse(call, new UpstreamError('UND_ERR_INVALID_ARG', 'invalid request target'));
      return;
    }
    if (!host) head += `host: ${this.origin.authority}\r\n`;
    this.call = call;
    call.conn = this;
    this.#phase = HEAD;
    this.#headRequest = opts.method === 'HEAD';
    this.#clearTimer();
    const headersTimeout = opts.headersTimeout ?? 0;
    if (headersTimeout > 0) this.#timer = setTimeout(() => call.fail(new UpstreamError('UND_ERR_HEADERS_TIMEOUT', 'headers timeout')), headersTimeout);
    if (body === undefined || body.length === 0) this.socket.write(`${head}\r\n`, 'latin1');
    else this.socket.write(Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]));
  }

  /** A request that cannot be written: it fails, and the socket, untouched, serves the next. */
  #refuse(call: H1Call, err: Error): void {
    if (this.call === call) {
      this.call = undefined;
      this.#phase = IDLE;
    }
    call.conn = undefined;
    call.fail(err);
    this.origin.release(this);
  }

  destroy(): void {
    this.#clearTimer();
    this.socket.destroy();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Always true: a full client pauses the socket itself (onData), not by this answer. */
  #read(chunk: Buffer): true {
    const call = this.call;
    if (call === undefined || this.#phase === IDLE || this.#phase === RESERVED) {
      // Bytes nobody asked for: this socket is out of step with its upstream.
      this.destroy();
      return true;
    }
    try {
      if (this.#phase === HEAD) this.#readHead(call, chunk);
      else this.#readBody(call, chunk, 0);
    } catch (err) {
      // A malformed answer (h1-response.ts throws), or a handler that threw: this request is over.
      call.fail(err as Error);
    }
    return true;
  }

  #readHead(call: H1Call, chunk: Buffer): void {
    const buf = this.#head === undefined ? chunk : Buffer.concat([this.#head, chunk]);
    const max = this.origin.opts.maxHeaderSize ?? 16384;
    // Resume the search a little before the new bytes: the blank line may straddle them.
    const end = buf.indexOf('\r\n\r\n', this.#head === undefined ? 0 : Math.max(0, this.#head.length - 3), 'latin1');
    if (end === -1) {
      if (buf.length > max) throw new UpstreamError('UND_ERR_HEADERS_OVERFLOW', 'the answer head is too large');
      if (hasBareLineEnd(buf, this.#head === undefined ? 0 : this.#head.length - 1)) throw new UpstreamError('FAIRWAY_BAD_HEADER', 'a line of the answer head does not end in CRLF');
      checkPartialHead(buf);
      this.#head = buf === chunk && this.#shared ? Buffer.from(buf) : buf;
      return;
    }
    // The whole head counts, its blank line included, as Node's server counts a request's.
    if (end + 4 > max) throw new UpstreamError('UND_ERR_HEADERS_OVERFLOW', 'the answer head is too large');
    this.#head = undefined;
    const head = parseResponseHead(buf, end, this.#headRequest);
    const rest = end + 4;
    if (head.status < 200) {
      // 1xx: interim; the final answer follows on the same request.
      call.handler.onHeaders?.(head.status, head.raw, resumeNothing, head.reason);
      if (!call.done && rest < buf.length) this.#readHead(call, buf.subarray(rest));
      return;
    }
    this.#clearTimer();
    this.#phase = BODY;
    this.#framing = head.framing;
    this.#left = head.length;
    this.#keepAlive = head.keepAlive;
    const limit = this.origin.opts.keepAliveTimeoutMs;
    // Idle for the keep-alive timeout, or the upstream's own hint less a margin if shorter.
    this.idleMs = head.idleHintMs === undefined ? limit : Math.min(limit, head.idleHintMs - HINT_MARGIN_MS);
    if (this.idleMs <= 0) this.#keepAlive = false;
    this.#chunked = head.framing === CHUNKED ? new ChunkedBody(max) : undefined;
    const socket = this.socket;
    if (call.handler.onHeaders?.(head.status, head.raw, () => socket.resume(), head.reason) === false) socket.pause();
    if (call.done) return;
    const bodyTimeout = call.opts.bodyTimeout ?? 0;
    if (bodyTimeout > 0 && head.framing !== NO_BODY) socket.setTimeout(bodyTimeout);
    this.#readBody(call, buf, rest);
  }

  #readBody(call: H1Call, buf: Buffer, from: number): void {
    let end = -1;
    switch (this.#framing) {
      case NO_BODY:
        end = from;
        break;
      case LENGTH: {
        const n = Math.min(this.#left, buf.length - from);
        if (n > 0) this.#data(call, from === 0 && n === buf.length ? buf : buf.subarray(from, from + n));
        this.#left -= n;
        if (this.#left === 0) end = from + n;
        break;
      }
      case CHUNKED:
        end = this.#chunked!.feed(buf, from, (data) => this.#data(call, data));
        break;
      case UNTIL_CLOSE:
        if (from < buf.length) this.#data(call, from === 0 ? buf : buf.subarray(from));
        return;
    }
    if (end === -1 || call.done) return;
    this.#complete(call, end < buf.length);
  }

  #data(call: H1Call, data: Buffer): void {
    if (call.done) return;
    if (call.handler.onData?.(this.#shared ? Buffer.from(data) : data) === false) this.socket.pause();
  }

  /** The answer is whole. `stray`: bytes followed it. */
  #complete(call: H1Call, stray: boolean): void {
    const trailers = this.#chunked?.trailers ?? null;
    this.#chunked = undefined;
    this.call = undefined;
    call.conn = undefined;
    call.done = true;
    this.#served++;
    this.#phase = IDLE;
    if (this.#framing !== NO_BODY && (call.opts.bodyTimeout ?? 0) > 0) this.socket.setTimeout(0);
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#keepAlive && !stray) this.origin.release(this);
    else this.destroy();
    // Trailers as undici gives HTTP/1.1 ones: name, value, … as bytes (its types say strings).
    call.handler.onComplete?.(trailers as unknown as string[] | null);
  }

  /** The upstream closed its side. */
  #ended(): void {
    const call = this.call;
    if (call !== undefined && this.#phase === BODY && this.#framing === UNTIL_CLOSE) {
      this.#keepAlive = false;
      this.#complete(call, false);
    }
  }

  #lost(err: Error): void {
    this.#clearTimer();
    const call = this.call;
    this.call = undefined;
    if (!this.socket.destroyed) this.socket.destroy();
    this.origin.gone(this);
    if (call === undefined || call.done) return;
    call.conn = undefined;
    // Closed under a request before a byte of its answer, on a socket that had served before:
    // most likely the upstream's idle timer; the request goes once more, on a new socket.
    const unanswered = this.#phase === RESERVED || (this.#phase === HEAD && this.#head === undefined);
    if (unanswered && this.#served > 0 && !call.resent && REPEATABLE.has(call.opts.method)) {
      call.resent = true;
      this.origin.assign(call, true);
      return;
    }
    call.fail(err);
  }
}

function resumeNothing(): void {}
