// The fast path: plain HTTP/1.1 requests without a body, read and answered on the raw socket.
//
// Node's HTTP server spends more CPU per request than the whole rest of a proxy exchange
// (measured on a 2-core machine: a bare node:http + undici relay managed 18k req/s, the same
// relay reading request heads off the socket 26k, HAProxy 36k). Most proxied traffic is
// GETs with a handful of headers, so those take this path: http1.ts parses the head strictly,
// the forwarder relays the exchange as usual, FastResponse frames the answer.
//
// Everything else — a body, an upgrade, an incomplete or odd head — is handed to Node's
// server together with the bytes read so far, and that connection stays with Node from then
// on (between requests, never inside one). Node keeps the last word on malformed input, and
// its slowloris and size limits apply to everything the fast path does not take.
//
// The pair FastRequest/FastResponse mirrors the small part of IncomingMessage/ServerResponse
// that the forwarder uses (ProxyRequest/ProxyResponse, messages.ts), so one forwarder serves
// both paths.

import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { HeaderRules } from '../core/policy/header-rules.js';
import { encodeResponseHead, reasonPhrase, type HeadFramer } from './headers.js';
import { parseRequestHead, type RequestHead } from './http1.js';
import { kHttpsRedirect, type Edge, type ProxyRequest, type ProxyResponse } from './messages.js';

export interface FastPathOptions {
  /** Node's server, which takes every connection the fast path hands over. */
  http: Server;
  maxHeaderSize: number;
  keepAliveTimeoutMs: () => number;
  handle: (req: FastRequest, res: FastResponse) => void;
}

/** Most bytes a corked response holds back before sending them anyway. */
const HOLD_LIMIT = 64 * 1024;
/**
 * Held bytes up to this size leave as one copied buffer; more leave as a writev of the pieces.
 * Copying a large body made a large Buffer per answer, memory outside V8's heap whose churn set
 * off full collections: a quarter of the CPU at 64 KiB answers.
 */
const COPY_LIMIT = 16 * 1024;

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/** Buffered pipelined bytes past which a busy connection stops reading. */
const PIPELINE_LIMIT = 64 * 1024;

export class FastPath {
  readonly #opts: FastPathOptions;
  readonly #connections = new Set<FastConnection>();
  /** Set by shutdown: answers say `connection: close` and idle connections go. */
  closing = false;

  constructor(opts: FastPathOptions) {
    this.#opts = opts;
  }

  get options(): FastPathOptions {
    return this.#opts;
  }

  accept(socket: Socket): void {
    this.#connections.add(new FastConnection(this, socket));
  }

  forget(conn: FastConnection): void {
    this.#connections.delete(conn);
  }

  /** For shutdown: closes the connections with no response under way; busy ones close after theirs. */
  closeIdle(): void {
    this.closing = true;
    for (const c of this.#connections) if (c.current === undefined) c.socket.destroy();
  }

  closeAll(): void {
    for (const c of this.#connections) c.socket.destroy();
  }
}

class FastConnection {
  readonly path: FastPath;
  readonly socket: Socket;
  readonly peer: Edge;
  /** Bytes read and not yet served (a pipelined request, or the start of one). */
  buf: Buffer | undefined;
  current: FastResponse | undefined;
  /** The client half-closed its side: finish the answer under way, then close. */
  ended = false;
  /** This side is closing (Connection: close, shutdown): nothing more is read or served. */
  ending = false;
  #serving = false;

  constructor(path: FastPath, socket: Socket) {
    this.path = path;
    this.socket = socket;
    // What the pipeline reads of the connection, once per connection (a TLSSocket says
    // `encrypted`; listeners.ts marks redirecting ones).
    const edge = socket as Socket & Edge;
    this.peer = { remoteAddress: socket.remoteAddress, encrypted: edge.encrypted === true, [kHttpsRedirect]: edge[kHttpsRedirect] };
    for (const [event, listener] of this.#listeners()) socket.on(event, listener);
    socket.setTimeout(path.options.keepAliveTimeoutMs());
  }

  /** The socket listeners this connection adds, and hand-over removes: one list for both. */
  #listeners(): Array<[string, Parameters<Socket['off']>[1]]> {
    return [
      ['data', this.onData],
      ['end', this.onEnd],
      ['error', onSocketError],
      ['close', this.onClose],
      ['drain', this.onDrain],
      ['timeout', this.onTimeout],
    ];
  }

  readonly onData = (chunk: Buffer): void => {
    // After a `Connection: close` answer nothing further is a request (RFC 9112 §9.6).
    if (this.ending) return;
    this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.current === undefined) this.serve();
    else if (this.buf.length > PIPELINE_LIMIT) this.socket.pause();
  };

  readonly onEnd = (): void => {
    this.ended = true;
    if (this.current === undefined) this.socket.end();
  };

  readonly onClose = (): void => {
    this.path.forget(this);
    const res = this.current;
    this.current = undefined;
    res?.closed();
  };

  readonly onDrain = (): void => {
    this.current?.drained();
  };

  readonly onTimeout = (): void => {
    // Idle for keepAliveTimeout: close. A request under way is the route timeout's business.
    if (this.current === undefined) this.socket.destroy();
  };

  /** Serves the requests in the buffer, one at a time, until one is under way. */
  serve(): void {
    if (this.#serving) return;
    this.#serving = true;
    const { maxHeaderSize, handle } = this.path.options;
    while (this.buf !== undefined && this.current === undefined && !this.ending && !this.socket.destroyed) {
      const head = parseRequestHead(this.buf, maxHeaderSize);
      if (head === undefined) {
        this.#serving = false;
        this.handOver();
        return;
      }
      this.buf = head.end < this.buf.length ? this.buf.subarray(head.end) : undefined;
      const res = new FastResponse(this, head.method === 'HEAD', head.close || this.path.closing);
      this.current = res;
      handle(new FastRequest(head, this.peer), res);
    }
    this.#serving = false;
    if (this.current === undefined && this.socket.isPaused()) this.socket.resume();
  }

  /**
   * After an answer: close if asked to, else go on with what the client sent meanwhile. A client
   * that half-closed after a pipeline still gets every answer (SPEC "Edge rules").
   */
  done(res: FastResponse): void {
    if (this.current !== res) return;
    this.current = undefined;
    if (res.closeAfter || this.path.closing || (this.ended && this.buf === undefined)) {
      this.ending = true;
      this.buf = undefined;
      this.socket.end();
      return;
    }
    if (this.buf !== undefined) this.serve();
  }

  /** Node's server takes the connection from here, starting with the bytes not yet served. */
  handOver(): void {
    const socket = this.socket;
    let buf = this.buf;
    this.buf = undefined;
    this.path.forget(this);
    for (const [event, listener] of this.#listeners()) socket.off(event, listener);
    socket.setTimeout(0);
    // Bytes the stream buffered while paused (a long pipeline) come before anything Node's
    // parser will read straight off the handle: pass them on first, in order. After the 'data'
    // listener is gone, so reading them cannot re-enter serve().
    for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
    socket.resume();
    this.path.options.http.emit('connection', socket);
    if (buf !== undefined) socket.emit('data', buf);
    // The client half-closed before this: Node's server must see that end too, to answer what
    // it can (an incomplete head is a 400) and then close, as it would on its own connection.
    if (this.ended) socket.emit('end');
  }
}

function onSocketError(this: Socket): void {
  this.destroy();
}

export class FastRequest implements ProxyRequest {
  readonly method: string;
  url: string;
  readonly headers: Record<string, string>;
  readonly rawHeaders: string[];
  readonly socket: Edge;

  constructor(head: RequestHead, peer: Edge) {
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.rawHeaders = head.rawHeaders;
    this.socket = peer;
  }
}

/**
 * One answer on a fast-path connection, framed as Node would: the upstream's Content-Length
 * when it gave one, chunked otherwise, no body for HEAD, 204 and 304.
 */
export class FastResponse implements ProxyResponse, HeadFramer {
  headersSent = false;
  /** Accepted for ServerResponse's sake; Fairway never adds a Date of its own. */
  sendDate = false;
  readonly closeAfter: boolean;
  readonly #conn: FastConnection;
  readonly #headRequest: boolean;
  #status = 0;
  #bodiless = false;
  #chunked = false;
  #finished = false;
  /** Between cork() and uncork(): bytes held back, to leave in one write. */
  #corked = false;
  #held: Buffer[] | undefined;
  #heldBytes = 0;
  #onClose: ((this: ProxyResponse) => void) | undefined;
  #onDrain: ((this: ProxyResponse) => void) | undefined;

  constructor(conn: FastConnection, headRequest: boolean, closeAfter: boolean) {
    this.#conn = conn;
    this.#headRequest = headRequest;
    this.closeAfter = closeAfter;
  }

  /**
   * Starts the response from the upstream's head as undici gave it (raw Buffer pairs), encoded
   * without decoding each header. False when that head needs the general path (writeHead).
   */
  writeUpstreamHead(status: number, statusText: string, raw: readonly Buffer[], rules?: HeaderRules): boolean {
    this.#status = status;
    // The forwarder has checked the phrase already; this file writes latin1, so it checks again
    // rather than trust every caller (a stray U+010A would be LF on the wire).
    const reason = reasonPhrase(status, statusText, STATUS_CODES[status]);
    const head = encodeResponseHead(`HTTP/1.1 ${status} ${reason}\r\n`, status, raw, this, rules);
    if (head === undefined) return false;
    this.headersSent = true;
    this.#send(head);
    return true;
  }

  /** HeadFramer: decides how the body is framed; returns the header lines that say so. */
  framing(sized: boolean): string {
    const status = this.#status;
    this.#bodiless = this.#headRequest || status === 204 || status === 304 || status < 200;
    let lines = '';
    if (!this.#bodiless && !sized) {
      this.#chunked = true;
      lines = 'transfer-encoding: chunked\r\n';
    }
    return this.closeAfter ? `${lines}connection: close\r\n` : lines;
  }

  writeHead(status: number, a?: string | Record<string, string | number>, b?: string[]): this {
    let text: string;
    let list: readonly (string | number)[];
    if (typeof a === 'string') {
      text = reasonPhrase(status, a, STATUS_CODES[status]);
      list = b ?? [];
    } else {
      text = STATUS_CODES[status] ?? '';
      list = a === undefined ? [] : Object.entries(a).flat();
    }
    let head = `HTTP/1.1 ${status} ${text}\r\n`;
    let sized = false;
    for (let i = 0; i < list.length; i += 2) {
      const name = String(list[i]);
      if (name.length === 14 && name.toLowerCase() === 'content-length') sized = true;
      head += `${name}: ${list[i + 1]}\r\n`;
    }
    this.#status = status;
    head += this.framing(sized);
    this.headersSent = true;
    this.#send(Buffer.from(`${head}\r\n`, 'latin1'));
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.#bodiless || chunk.length === 0 || this.#conn.socket.destroyed) return true;
    if (!this.#chunked) return this.#send(chunk);
    this.#send(Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'));
    this.#send(chunk);
    return this.#send(CRLF);
  }

  end(body?: string): this {
    if (this.#finished) return this;
    if (!this.headersSent) this.writeHead(200, {});
    if (body !== undefined) this.write(Buffer.from(body));
    if (this.#chunked) this.#send(LAST_CHUNK);
    this.#corked = false;
    this.#flush();
    this.#finished = true;
    this.closed();
    this.#conn.done(this);
    return this;
  }

  /** Sends now, or holds back while corked; false when the client should be let drain. */
  #send(bytes: Buffer): boolean {
    if (!this.#corked) return this.#conn.socket.destroyed || this.#conn.socket.write(bytes);
    (this.#held ??= []).push(bytes);
    this.#heldBytes += bytes.length;
    // Past this much, holding back only costs memory: send, and let the socket say when to wait.
    return this.#heldBytes < HOLD_LIMIT || this.#flush();
  }

  /** Sends what was held back: one buffer, so one write (a small answer is one syscall). */
  #flush(): boolean {
    const held = this.#held;
    if (held === undefined) return true;
    const size = this.#heldBytes;
    this.#held = undefined;
    this.#heldBytes = 0;
    const socket = this.#conn.socket;
    if (socket.destroyed) return true;
    if (held.length === 1) return socket.write(held[0]!);
    if (size <= COPY_LIMIT) return socket.write(Buffer.concat(held, size));
    // Large: no copy; the socket gathers them into one writev.
    socket.cork();
    let more = true;
    for (const b of held) more = socket.write(b);
    socket.uncork();
    return more;
  }

  /** writeHead has sent (or, corked, held) the head already: nothing waits for a body here. */
  flushHeaders(): void {}

  destroy(): this {
    this.#conn.socket.destroy();
    return this;
  }

  cork(): void {
    this.#corked = true;
  }

  uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#flush();
  }

  once(event: 'close' | 'drain', listener: (this: ProxyResponse) => void): this {
    if (event === 'close') this.#onClose = listener;
    else this.#onDrain = listener;
    return this;
  }

  /** The response is complete or the client is gone: 'close', once. */
  closed(): void {
    const fn = this.#onClose;
    this.#onClose = undefined;
    fn?.call(this);
  }

  drained(): void {
    const fn = this.#onDrain;
    this.#onDrain = undefined;
    fn?.call(this);
  }
}
