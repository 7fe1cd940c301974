// Sends one client request to an upstream through a keep-alive undici pool (or, for an h2 or
// h2c route, the instance's HTTP/2 session: h2-upstream.ts, same handler interface) and streams the
// answer back. A failed attempt (connect error, reset before any response byte reached the
// client, or a 502/503 answer) is retried on another instance when the method may be retried,
// the body (if any) could be buffered, and the route's retry budget allows; every outcome feeds
// passive outlier detection.
//
// One file for the whole exchange (Forwarder, Exchange, Attempt), about 600 lines: the
// three share every state transition, and splitting them would scatter one flow. (Route policy
// that answers by itself lives in policy-gate.ts; what shapes an answer in response-policy.ts.)
//
// It uses undici's dispatch handler interface in its raw form (onHeaders with Buffer pairs):
// the newer controller form parses every response's headers into an object first, which a
// proxy that forwards them as they came does not need.

import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Pool } from './undici-pool.js';
import { H2Origins, type H2Handler } from './h2-upstream.js';
import { tlsConnectOptions } from '../config-source/client-tls.js';
import { teIsTrailers } from './h2-headers.js';
import { CidrSet } from '../core/cidr.js';
import type { Config } from '../core/config.js';
import { ClientGoneError, FairwayError, messageOf, statusOf, SUPERSEDED, TimeoutError, upstreamFailure, type FairwayErrorCode } from '../core/errors.js';
import { isEjected, onFailure, onSuccess } from '../core/outlier.js';
import { upstreamPath, type Route } from '../core/route-table.js';
import { recordLatency, type Upstream } from '../core/upstream.js';
import { affinityHash, hashesClient } from './affinity.js';
import type { RequestClock } from './clock.js';
import { DeadlineQueue, type Timed } from './deadlines.js';
import { declaresBody, type ProxyRequest, type ProxyResponse } from './messages.js';
import { applyHeaderRules } from '../core/policy/header-rules.js';
import { clientAddressOf, clientResponseHeaders, reasonPhrase, requestIdOf, upstreamRequestHeaders } from './headers.js';
import { newRequestId } from './request-id.js';
import { protocolOf, type ClientProtocol, type FinishedExchange, type RequestObserver } from './observer.js';
import { sendError } from './respond.js';
import { BodyTooLargeError, limitBody } from './body-limit.js';
import { CLOSE } from './policy-gate.js';
import { ResponseEncoder, shapeHead } from './response-policy.js';

export interface ForwarderOptions {
  log: Logger;
  /** Ticked before each pick; pickers read it through PickerDeps.now. */
  clock: RequestClock;
  /** The running config's upstream, outlier and listener settings. */
  settings: () => Pick<Config, 'upstream' | 'outlier' | 'server'>;
  /** Called when passive outlier detection ejects an instance. */
  onEjected: (upstream: Upstream, route: Route) => void;
  /** Told of every finished exchange and every retry (metrics, access log). */
  observer: RequestObserver;
}

/** Bodies up to this size are read whole before sending, so the request can be retried. */
export const RETRY_BUFFER_LIMIT = 64 * 1024;

const kExchange = Symbol('fairway.exchange');

export class Forwarder {
  readonly #pools = new Map<string, Pool>();
  /** HTTP/2 sessions to the instances of `protocol: h2` and `h2c` routes. */
  readonly #h2: H2Origins;
  /** Route timeouts: one queue per timeout value (see deadlines.ts). */
  readonly #deadlines = new Map<number, DeadlineQueue<Exchange>>();
  readonly #opts: ForwarderOptions;
  readonly log: Logger;
  readonly clock: RequestClock;
  /** server.trustedProxies as a set, remade when a reload changes the list. */
  #trusted: { list: Config['server']['trustedProxies']; set: CidrSet } | undefined;

  constructor(options: ForwarderOptions) {
    this.#opts = options;
    this.log = options.log;
    this.clock = options.clock;
    this.#h2 = new H2Origins(() => {
      const u = this.#opts.settings().upstream;
      return { connectTimeoutMs: u.connectTimeoutMs, keepAliveTimeoutMs: u.keepAliveTimeoutMs, tls: tlsConnectOptions(u.tls) };
    });
  }

  /** Where an attempt on `upstream` is sent: its undici pool, or its HTTP/2 session (h2, h2c). */
  dispatcher(route: Route, origin: string): { dispatch(opts: Dispatcher.DispatchOptions, handler: H2Handler): boolean } {
    return route.config.protocol === 'http1' ? this.pool(origin) : this.#h2.get(origin);
  }

  pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      const u = this.#opts.settings().upstream;
      pool = new Pool(origin, {
        // An https:// origin (an `https://` endpoint, Consul meta `scheme: https`): upstream.tls.
        ...(origin.startsWith('https:') ? { connect: tlsConnectOptions(u.tls) } : {}),
        connections: u.maxConnections,
        connectTimeout: u.connectTimeoutMs,
        keepAliveTimeout: u.keepAliveTimeoutMs,
        // Per-request timeouts come from the route (see Exchange.next); these are only defaults.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes the pools of upstreams no longer in use; their in-flight requests finish first. */
  retainOnly(origins: ReadonlySet<string>): void {
    this.#h2.retainOnly(origins);
    for (const [origin, pool] of this.#pools) {
      if (origins.has(origin)) continue;
      this.#pools.delete(origin);
      pool.close().catch(() => undefined);
    }
  }

  /** The trusted proxies, when `peer` is one of them; else undefined. */
  trustedPeer(peer: string | undefined): CidrSet | undefined {
    const list = this.#opts.settings().server.trustedProxies;
    if (list.length === 0) return undefined;
    if (this.#trusted?.list !== list) this.#trusted = { list, set: new CidrSet(list) };
    return this.#trusted.set.has(peer) ? this.#trusted.set : undefined;
  }

  /**
   * The header list for the upstream (undefined: several Host headers) and the request id.
   * A client's own X-Request-Id is kept only from a trusted proxy.
   */
  upstreamHeaders(req: ProxyRequest, authority: string | undefined, route: Route): { headers: string[] | undefined; requestId: string } {
    const peer = req.socket.remoteAddress ?? '';
    const trusted = this.trustedPeer(peer);
    const requestId = trusted === undefined ? newRequestId() : requestIdOf(req.headers['x-request-id'], newRequestId);
    const policy = route.config.policy;
    const headers = upstreamRequestHeaders(req.rawHeaders, { peer, proto: req.socket.encrypted === true ? 'https' : 'http', trusted, requestId, authority, upstreamHost: policy?.rewrite?.host });
    if (headers !== undefined && policy?.requestHeaders !== undefined) applyHeaderRules(headers, policy.requestHeaders);
    // `te: trailers` is hop-by-hop, but an HTTP/2 hop may carry it, and gRPC servers ask for it.
    const te = req.headers.te;
    if (headers !== undefined && route.config.protocol !== 'http1' && typeof te === 'string' && teIsTrailers(te)) headers.push('te', 'trailers');
    return { headers, requestId };
  }

  /** The client's address as Fairway believes it: the peer, or what a trusted proxy vouches for. */
  clientAddress(req: ProxyRequest): string {
    const peer = req.socket.remoteAddress ?? '';
    const trusted = this.trustedPeer(peer);
    if (trusted === undefined) return peer;
    const xff = req.headers['x-forwarded-for'];
    return clientAddressOf(Array.isArray(xff) ? xff.join(', ') : xff, peer, trusted);
  }

  /**
   * Relays one request. `stream` is the request body as a stream (Node's path); the fast path
   * passes undefined, as it only takes requests without a body. `authority`: an absolute-form
   * target's, which replaces Host upstream.
   */
  forward(route: Route, req: ProxyRequest, res: ProxyResponse, stream: Readable | undefined, authority?: string): void {
    const { headers, requestId } = this.upstreamHeaders(req, authority, route);
    const ex = new Exchange(this, route, req, res, stream, headers ?? [], requestId);
    if (headers === undefined) {
      this.log.info({ route: route.config.name, url: req.url }, 'rejected request with several Host headers');
      ex.answer('bad_request', 'more than one Host header');
      return;
    }
    if (ex.body === BUFFER) ex.bufferBody();
    else ex.next();
  }

  /**
   * Ends the exchange answering `res` with an answer of Fairway's own (its client broke the
   * request, say), stopping the attempt under way. False when no exchange is under way there.
   */
  abandon(res: ProxyResponse, code: FairwayErrorCode, detail: string): boolean {
    const ex = (res as ExchangeResponse)[kExchange];
    if (ex === undefined || ex.done) return false;
    const attempt = ex.current;
    ex.answer(code, detail);
    // Not the upstream's failure: SUPERSEDED counts no outcome against it.
    attempt?.abort?.(SUPERSEDED);
    return true;
  }

  /** The queue that times out exchanges after `ms`. */
  deadlines(ms: number): DeadlineQueue<Exchange> {
    let q = this.#deadlines.get(ms);
    if (q === undefined) {
      q = new DeadlineQueue(ms, () => performance.now(), onTimeout);
      this.#deadlines.set(ms, q);
    }
    return q;
  }

  get observer(): RequestObserver {
    return this.#opts.observer;
  }

  /** Passive health: one outcome of one attempt. */
  outcome(route: Route, u: Upstream, ok: boolean): void {
    if (ok) {
      onSuccess(u.stats);
      return;
    }
    u.stats.failures++;
    const now = this.clock.t;
    const ejectedShare = (): number => {
      let n = 0;
      for (const c of route.candidates) if (isEjected(c.stats, now)) n++;
      return route.candidates.length === 0 ? 100 : (n * 100) / route.candidates.length;
    };
    if (onFailure(u.stats, now, this.#opts.settings().outlier, ejectedShare)) this.#opts.onEjected(u, route);
  }

  async close(): Promise<void> {
    for (const q of this.#deadlines.values()) q.close();
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all([...pools.map((p) => p.close().catch(() => p.destroy())), this.#h2.close()]);
  }
}

/** Exchange.body before the body is known to be small enough to buffer. */
const BUFFER = Symbol('buffer');

/** One client request, across its attempts; what observers see when it is finished. */
class Exchange implements FinishedExchange, Timed<Exchange> {
  readonly fwd: Forwarder;
  readonly route: Route;
  readonly req: ProxyRequest;
  readonly res: ProxyResponse;
  readonly stream: Readable | undefined;
  readonly headers: string[];
  readonly path: string;
  readonly requestId: string;
  readonly startedAt: number;
  /** Read up front: once the connection is gone, req.socket is null. */
  readonly remoteAddress: string | undefined;
  status = 0;
  errorCode: FairwayErrorCode | undefined;
  bytes = 0;
  durationMs = 0;
  /** The route policy that answered or changed this exchange (maxBodySize, compress). */
  policy: string | undefined;
  /** Set when the answer is compressed on its way (response-policy.ts). */
  encoder: ResponseEncoder | undefined;
  /** null: no body; a stream: the request's, streamed (not retryable); a Buffer: read whole. */
  body: Readable | Buffer | null | typeof BUFFER;
  readonly hash: number | undefined;
  dueAt = 0;
  prevDue: Exchange | undefined;
  nextDue: Exchange | undefined;
  queuedIn: { remove(entry: Exchange): void } | undefined;
  current: Attempt | undefined;
  tried: Upstream[] = [];
  retriesLeft: number;
  done = false;

  constructor(fwd: Forwarder, route: Route, req: ProxyRequest, res: ProxyResponse, stream: Readable | undefined, headers: string[], requestId: string) {
    this.fwd = fwd;
    this.route = route;
    this.req = req;
    this.res = res;
    this.stream = stream;
    this.headers = headers;
    this.requestId = requestId;
    this.startedAt = fwd.clock.tick();
    this.remoteAddress = req.socket.remoteAddress;
    const rc = route.config;
    this.path = upstreamPath(rc, req.url ?? '/');
    this.hash = affinityHash(rc, req, hashesClient(rc) ? fwd.clientAddress(req) : undefined);
    const retryable = rc.retries > 0 && rc.retryMethods.includes(req.method ?? '');
    const len = req.headers['content-length'];
    if (stream === undefined || !(req.hasBody ?? declaresBody(req.headers))) this.body = null;
    else if (retryable && len !== undefined && Number(len) <= RETRY_BUFFER_LIMIT) this.body = BUFFER;
    else this.body = stream;
    this.retriesLeft = retryable && this.body !== stream ? rc.retries : 0;
    // A body of undeclared length is counted on its way (one of declared length was checked
    // against maxBodySize before it got here).
    const max = rc.policy?.maxBodySize;
    if (max !== undefined && this.body === stream && len === undefined) this.body = limitBody(stream, max);
    route.budget.onRequest(fwd.clock.t);
    fwd.deadlines(rc.timeoutMs).add(this, this.startedAt);
    (res as ExchangeResponse)[kExchange] = this;
    res.once('close', onClientClose);
    res.sendDate = false;
  }

  get upstream(): Upstream | undefined {
    return this.tried[this.tried.length - 1];
  }

  get attempts(): number {
    return this.tried.length;
  }

  get method(): string {
    return this.req.method ?? '';
  }

  get host(): string | undefined {
    return this.req.headers.host;
  }

  get url(): string {
    return this.req.url ?? '/';
  }

  get protocol(): ClientProtocol {
    return protocolOf(this.req);
  }

  /** Ends the exchange with an answer Fairway makes itself. */
  answer(code: FairwayErrorCode, detail?: string, extra?: readonly string[]): void {
    this.end();
    this.errorCode = code;
    this.status = this.res.headersSent ? this.status : statusOf(code);
    sendError(this.res, code, detail, extra);
  }

  /** Once, when the client connection is done with this response (or gone). */
  finished(): void {
    this.durationMs = this.fwd.clock.tick() - this.startedAt;
    this.fwd.observer.onExchange(this);
  }

  /** Reads a small body whole (so it can be sent again on a retry), then dispatches. */
  bufferBody(): void {
    const chunks: Buffer[] = [];
    const stream = this.stream!;
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => {
      if (this.done) return;
      this.body = Buffer.concat(chunks);
      this.next();
    });
  }

  /** Dispatches to the next upstream; answers 503 when the route has none. */
  next(): void {
    const startedAt = this.fwd.clock.tick();
    const upstream = pickUntried(this.route, this.tried, this.hash);
    if (!upstream) {
      this.fwd.log.warn({ route: this.route.config.name, url: this.req.url }, 'no healthy upstream');
      this.answer('no_healthy_upstream', `no healthy instance for route "${this.route.config.name}"`);
      return;
    }
    this.tried.push(upstream);
    const attempt = new Attempt(this, upstream, startedAt);
    this.current = attempt;
    upstream.stats.inflight++;
    upstream.stats.requests++;
    const rc = this.route.config;
    const opts: Dispatcher.DispatchOptions = {
      method: (this.req.method ?? 'GET') as Dispatcher.HttpMethod,
      path: this.path,
      headers: this.headers,
      body: this.body as Readable | Buffer | null,
      headersTimeout: rc.headersTimeoutMs,
      bodyTimeout: rc.idleTimeoutMs,
    };
    try {
      this.fwd.dispatcher(this.route, upstream.origin).dispatch(opts, attempt);
    } catch (err) {
      attempt.onError(err as Error);
    }
  }

  /** Whether a failed attempt may be tried again elsewhere (and if so, counts the retry). */
  mayRetry(): boolean {
    if (this.retriesLeft <= 0 || this.res.headersSent) return false;
    // A retry goes to another instance (SPEC: "on another instance"): none left, no retry.
    if (this.tried.length >= this.route.upstreams.length) return false;
    if (!this.route.budget.tryRetry(this.fwd.clock.t)) {
      this.fwd.log.warn({ route: this.route.config.name }, 'retry budget exhausted; not retrying');
      return false;
    }
    this.retriesLeft--;
    this.fwd.observer.onRetry(this.route);
    return true;
  }

  /** After a failed attempt: another one, or the error answer. */
  failed(attempt: Attempt, err: Error): void {
    const u = attempt.upstream;
    this.fwd.outcome(this.route, u, false);
    if (this.done) return;
    const failure = err instanceof FairwayError ? err : upstreamFailure(err);
    const retry = failure.code === 'upstream_error' && this.mayRetry();
    this.fwd.log.warn(
      { route: this.route.config.name, upstream: u.id, addr: u.origin, err: errCode(err), retry },
      'upstream attempt failed',
    );
    if (retry) {
      this.next();
      return;
    }
    this.answer(failure.code);
  }

  end(): void {
    this.done = true;
    this.current = undefined;
    this.queuedIn?.remove(this);
  }
}

/** One try against one upstream; the undici (or HTTP/2 session) dispatch handler. */
class Attempt implements H2Handler {
  readonly ex: Exchange;
  readonly upstream: Upstream;
  readonly startedAt: number;
  abort: ((err?: Error) => void) | undefined;
  resume: (() => void) | undefined;
  settled = false;

  constructor(ex: Exchange, upstream: Upstream, startedAt: number) {
    this.ex = ex;
    this.upstream = upstream;
    this.startedAt = startedAt;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.ex.current !== this) abort(SUPERSEDED);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (status < 200) return true; // 1xx informational: Node answers Expect itself
    const ex = this.ex;
    const now = performance.now();
    recordLatency(this.upstream.stats, now - this.startedAt, now);
    if ((status === 502 || status === 503) && ex.mayRetry()) {
      this.settle();
      this.abort?.(SUPERSEDED);
      ex.fwd.outcome(ex.route, this.upstream, false);
      ex.fwd.log.warn({ route: ex.route.config.name, upstream: this.upstream.id, status }, 'upstream answered with a retryable status');
      ex.next();
      return false;
    }
    ex.fwd.outcome(ex.route, this.upstream, status < 500);
    ex.status = status;
    this.resume = resume;
    // A small answer usually arrives whole: headers, body and end are parsed in one go. Corked
    // until the next tick, they leave in one write instead of two or three.
    ex.res.cork();
    process.nextTick(uncork, ex.res);
    const res = ex.res;
    const reason = reasonPhrase(status, statusText, STATUS_CODES[status]);
    const policy = ex.route.config.policy;
    try {
      if (policy?.compress) {
        // Compression changes the head beyond what the raw encoder does (length, encoding, Vary).
        const headers = clientResponseHeaders(raw, status);
        const encoding = shapeHead(policy, status, headers, ex.method, ex.req.headers['accept-encoding']);
        if (encoding !== undefined) {
          ex.policy = 'compress';
          ex.encoder = new ResponseEncoder(encoding, res, () => this.resume?.(), (n) => (ex.bytes += n));
        }
        res.writeHead(status, reason, headers);
      } else if (res.writeUpstreamHead === undefined || !res.writeUpstreamHead(status, reason, raw, policy?.responseHeaders)) {
        const headers = clientResponseHeaders(raw, status);
        res.writeHead(status, reason, policy?.responseHeaders === undefined ? headers : applyHeaderRules(headers, policy.responseHeaders));
      }
    } catch (err) {
      // A head no client may be sent (a control byte in a header, say): Node's writeHead and
      // the fast path's encoder both throw before writing anything. The exchange ends here with
      // a 502, so the client is never left waiting on a response that cannot start.
      this.settle();
      this.abort?.(SUPERSEDED);
      ex.fwd.log.warn({ route: ex.route.config.name, upstream: this.upstream.id, err: errCode(err) }, 'upstream sent an invalid response head');
      ex.answer('upstream_error', 'invalid response head from the upstream');
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.ex.encoder !== undefined) return this.ex.encoder.write(chunk);
    this.ex.bytes += chunk.length;
    const res = this.ex.res;
    const more = res.write(chunk);
    if (!more) res.once('drain', onClientDrain);
    return more;
  }

  requestTrailers(): ProxyRequest['trailers'] {
    return this.ex.req.trailers;
  }

  onComplete(trailers?: ReadonlyArray<string | Buffer> | null): void {
    if (this.settled) return;
    this.settle();
    this.ex.end();
    // undici gives HTTP/1.1 trailers as bytes, HTTP/2 sessions as strings.
    if (trailers != null && trailers.length > 0 && this.ex.res.sendTrailers !== undefined) this.ex.res.sendTrailers(trailers.map((t) => (typeof t === 'string' ? t : t.toString('latin1'))));
    if (this.ex.encoder !== undefined) this.ex.encoder.end();
    else this.ex.res.end();
  }

  onError(err: Error): void {
    if (this.settled) return;
    this.settle();
    if (err === SUPERSEDED || err instanceof ClientGoneError) return;
    const ex = this.ex;
    if (err instanceof BodyTooLargeError) {
      // The client's fault, not the instance's: no outcome counts against it.
      ex.policy = 'maxBodySize';
      ex.fwd.log.info({ route: ex.route.config.name, url: ex.url }, 'request body too large; upstream request aborted');
      ex.encoder?.destroy();
      ex.answer('body_too_large', err.message, CLOSE);
      return;
    }
    if (ex.res.headersSent && bodiless(ex) && (err as { code?: string }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      // A 204/304 (or an answer to HEAD) that also claimed a Content-Length: undici rejects it
      // after the head, but the client's answer has no body and is already complete.
      ex.fwd.outcome(ex.route, this.upstream, false);
      ex.end();
      ex.res.end();
      return;
    }
    if (ex.res.headersSent) {
      // Mid-body failure: the status is already out, so cut the response short.
      ex.fwd.outcome(ex.route, this.upstream, false);
      ex.end();
      ex.errorCode = upstreamFailure(err).code;
      ex.fwd.log.warn({ route: ex.route.config.name, upstream: this.upstream.id, err: errCode(err) }, 'upstream failed mid-response');
      // The head may still be held back (Node's until the first body bytes, and corked until
      // the next tick): let it out first, so the client sees a response cut short, not a
      // connection closed on it without a word.
      ex.encoder?.destroy();
      // A gRPC call ends with its status in the trailers instead (a reset reads as INTERNAL).
      if (ex.res.answerGrpc?.(ex.errorCode, messageOf(ex.errorCode)) === true) return;
      ex.res.flushHeaders();
      ex.res.uncork();
      ex.res.destroy(err);
      return;
    }
    ex.failed(this, err);
  }

  settle(): void {
    this.settled = true;
    this.upstream.stats.inflight--;
  }
}

type ExchangeResponse = ProxyResponse & { [kExchange]?: Exchange };

function uncork(res: ProxyResponse): void {
  res.uncork();
}

function onTimeout(ex: Exchange): void {
  const attempt = ex.current;
  if (ex.done) return;
  if (!attempt) {
    // Still reading a body to buffer: the client is too slow, not the upstream.
    ex.answer('request_timeout', 'request body not received within the route timeout');
    return;
  }
  const err = new TimeoutError(ex.route.config.timeoutMs);
  if (attempt.abort) attempt.abort(err);
  else attempt.onError(err);
}

function onClientClose(this: ExchangeResponse): void {
  const ex = this[kExchange];
  if (!ex) return;
  if (!ex.done) {
    // The client left before the answer was complete (nginx logs this as 499).
    const attempt = ex.current;
    ex.end();
    ex.status = 499;
    attempt?.abort?.(new ClientGoneError());
  }
  // A compressor still streaming after the upstream's end has no one left to write to.
  ex.encoder?.destroy();
  ex.finished();
}

function onClientDrain(this: ExchangeResponse): void {
  this[kExchange]?.current?.resume?.();
}

/** The picker's choice, unless it was already tried and another upstream has not been. */
function pickUntried(route: Route, tried: readonly Upstream[], hash: number | undefined): Upstream | undefined {
  const first = route.picker.pick(hash);
  if (first === undefined || tried.length === 0 || !tried.includes(first)) return first;
  for (let i = 1; i < route.upstreams.length; i++) {
    const u = route.picker.pick(hash);
    if (u !== undefined && !tried.includes(u)) return u;
  }
  return route.upstreams.find((u) => !tried.includes(u));
}

/** Whether the client's response carries no body whatever the upstream said. */
function bodiless(ex: Exchange): boolean {
  return ex.status === 204 || ex.status === 304 || ex.method === 'HEAD';
}

function errCode(err: unknown): string {
  const e = err as { code?: string; message?: string } | null;
  return e?.code ?? e?.message ?? String(err);
}
