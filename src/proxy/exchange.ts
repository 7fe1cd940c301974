// One client request across its attempts, and what observers see of it once it is finished. It
// decides what the request's body is to the attempts (none; the client's stream, sent once; or,
// when it is small, read whole first: then it goes out with its head in one write, and another
// attempt can send it again if the method may be retried), which instance each attempt goes to
// (the picker's choice, not one tried already), whether a failed attempt is retried (retryable
// method, budget, instances left, nothing sent to the client yet), and the answers Fairway makes
// itself: 503 with no instance, the route timeout's 504 (408 while the body is still being read
// or still coming from the client), 499 when the client leaves. Once it is over, what is left of
// the client's body is read and dropped, so the connection can serve its next request. The relay
// of an attempt's answer is attempt.ts.
//
// No closure per request but for a body read whole: the listeners below are module functions
// that find the exchange on the response (kExchange), and the route timeout is a place in a
// shared queue (deadlines.ts).

import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ClientGoneError, codeOrMessage, FairwayError, neverConnected, statusOf, SUPERSEDED, TimeoutError, upstreamFailure, type FairwayErrorCode } from '../core/errors.js';
import { upstreamPath, type Route } from '../core/route-table.js';
import type { Upstream } from '../core/upstream.js';
import { affinityHash, hashesClient } from './affinity.js';
import { dropRest, stillComing } from './client-body.js';
import { Attempt } from './attempt.js';
import { limitBody } from './body-limit.js';
import { Pool } from './undici-pool.js';
import type { Timed } from './deadlines.js';
import type { Forwarder } from './forwarder.js';
import { declaresBody, type ProxyRequest, type ProxyResponse } from './messages.js';
import { protocolOf, type ClientProtocol, type FinishedExchange } from './observer.js';
import type { ResponseEncoder } from './response-policy.js';
import { CLOSE, sendError } from './respond.js';

/** Bodies up to this size are read whole before sending, so the request can be retried. */
export const RETRY_BUFFER_LIMIT = 64 * 1024;
/**
 * Bodies up to this size are read whole before sending whatever the method: the lean client
 * (h1-upstream.ts) then sends them with their head in one write, which undici's streamed path
 * costs several times over for a small API call. About one TCP segment's worth on most paths,
 * and HAProxy's default buffer (tune.bufsize): no client waits noticeably for it.
 */
export const WHOLE_BODY_LIMIT = 16 * 1024;

const kExchange = Symbol('fairway.exchange');

/** Exchange.body before the body is known to be small enough to buffer. */
const BUFFER = Symbol('buffer');

/** One client request, across its attempts; what observers see when it is finished. */
export class Exchange implements FinishedExchange, Timed<Exchange> {
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
    else if (len !== undefined && Number(len) <= (retryable ? RETRY_BUFFER_LIMIT : WHOLE_BODY_LIMIT)) this.body = BUFFER;
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

  /** Sends the first attempt, once a body to be read whole (see `body`) has been. */
  start(): void {
    if (this.body === BUFFER) this.bufferBody();
    else this.next();
  }

  /** Reads a small body whole (to be sent in one write, and again on a retry), then dispatches. */
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
    const rc = this.route.config;
    const opts: Dispatcher.DispatchOptions = {
      method: (this.req.method ?? 'GET') as Dispatcher.HttpMethod,
      path: this.path,
      headers: this.headers,
      body: this.body as Readable | Buffer | null,
      headersTimeout: rc.headersTimeoutMs,
      bodyTimeout: rc.idleTimeoutMs,
    };
    const dispatcher = this.fwd.dispatcher(this.route, upstream.origin, opts);
    const attempt = new Attempt(this, upstream, startedAt, dispatcher instanceof Pool);
    this.current = attempt;
    upstream.stats.inflight++;
    upstream.stats.requests++;
    try {
      dispatcher.dispatch(opts, attempt);
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
    // A connect that timed out sent nothing, like a refused one: another instance may answer.
    const retry = (failure.code === 'upstream_error' || neverConnected(err)) && this.mayRetry();
    this.fwd.log.warn(
      { route: this.route.config.name, upstream: u.id, addr: u.origin, err: codeOrMessage(err), retry },
      'upstream attempt failed',
    );
    if (retry) {
      this.next();
      return;
    }
    this.answer(failure.code);
  }

  /** The client's side is full: the attempt under way reads on once it has drained. */
  resumeOnDrain(): void {
    this.res.once('drain', onClientDrain);
  }

  end(): void {
    this.done = true;
    this.current = undefined;
    this.queuedIn?.remove(this);
    if (this.body !== null && this.stream !== undefined) dropRest(this.stream);
  }
}

type ExchangeResponse = ProxyResponse & { [kExchange]?: Exchange };

/** The exchange under way on `res`, if any. */
export function exchangeOf(res: ProxyResponse): Exchange | undefined {
  return (res as ExchangeResponse)[kExchange];
}

/** The client's request body stopped coming within the route timeout; the connection ends. */
function bodyTimedOut(ex: Exchange, upstream?: string): void {
  const at = { route: ex.route.config.name, url: ex.url, ...(upstream === undefined ? {} : { upstream }) };
  ex.fwd.log.info(at, upstream === undefined ? 'client too slow to send its request body' : 'client too slow to send its request body; upstream request aborted');
  ex.answer('request_timeout', 'request body not received within the route timeout', CLOSE);
}

export function onTimeout(ex: Exchange): void {
  const attempt = ex.current;
  if (ex.done) return;
  if (!attempt) {
    // Still reading a body to buffer: the client is too slow, not the upstream. The rest of
    // that body may never come, so the connection ends with this answer (RFC 9110 §15.5.9).
    bodyTimedOut(ex);
    return;
  }
  if (awaitingClient(ex)) {
    // The attempt waits on the client's body, which has stopped coming: the client is too slow,
    // not the instance, so no outcome counts against it (SUPERSEDED). The rest may never come,
    // so the connection ends with this answer.
    bodyTimedOut(ex, attempt.upstream.id);
    // Not connected yet: onConnect aborts it, as it is no longer the exchange's current attempt.
    attempt.abort?.(SUPERSEDED);
    return;
  }
  const err = new TimeoutError(ex.route.config.timeoutMs);
  if (attempt.abort) attempt.abort(err);
  else attempt.onError(err);
}

/**
 * Whether an exchange under way waits on its client: its body streams to the upstream and has
 * not all come (client-body.ts).
 */
function awaitingClient(ex: Exchange): boolean {
  const stream = ex.stream;
  return stream !== undefined && ex.body !== null && !Buffer.isBuffer(ex.body) && stillComing(stream);
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
