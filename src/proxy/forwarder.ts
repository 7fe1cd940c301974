// Sends one client request to an upstream through a keep-alive undici pool and streams the
// answer back, retrying idempotent body-less requests on another instance when the first fails
// before any response byte reached the client.
//
// It uses undici's dispatch handler interface in its raw form (onHeaders with Buffer pairs):
// the newer controller form parses every response's headers into an object first, which a
// proxy that forwards them as they came does not need.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Pool, type Dispatcher } from 'undici';
import { FairwayError, upstreamFailure } from '../core/errors.js';
import { upstreamPath, type Route } from '../core/route-table.js';
import { recordLatency, type Upstream } from '../core/upstream.js';
import { affinityHash } from './affinity.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import type { RequestClock } from './clock.js';
import { sendError } from './respond.js';

export interface ForwarderOptions {
  log: Logger;
  /** Ticked before each pick; pickers read it through PickerDeps.now. */
  clock: RequestClock;
  /** Most connections to one upstream; more requests queue in its pool. */
  connectionsPerUpstream?: number;
  connectTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const kExchange = Symbol('fairway.exchange');

class TimeoutError extends Error {
  readonly code = 'FAIRWAY_TIMEOUT';
  constructor(ms: number) {
    super(`no complete answer within ${ms}ms`);
  }
}

class ClientGoneError extends Error {
  readonly code = 'FAIRWAY_CLIENT_GONE';
}

/** Marks an attempt given up on purpose (a 502/503 that is being retried). */
const SUPERSEDED = new Error('superseded by a retry');

export class Forwarder {
  readonly #pools = new Map<string, Pool>();
  readonly #opts: Required<Omit<ForwarderOptions, 'log' | 'clock'>>;
  readonly log: Logger;
  readonly clock: RequestClock;

  constructor(options: ForwarderOptions) {
    this.log = options.log;
    this.clock = options.clock;
    this.#opts = {
      connectionsPerUpstream: options.connectionsPerUpstream ?? 128,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 30_000,
    };
  }

  pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.#opts.connectionsPerUpstream,
        connectTimeout: this.#opts.connectTimeoutMs,
        keepAliveTimeout: this.#opts.keepAliveTimeoutMs,
        // Timeouts are the route's business (see Exchange); undici's own defaults are 300s.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes the pools of upstreams no longer in use; their in-flight requests finish first. */
  retainOnly(origins: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#pools) {
      if (origins.has(origin)) continue;
      this.#pools.delete(origin);
      pool.close().catch(() => undefined);
    }
  }

  forward(route: Route, req: IncomingMessage, res: ServerResponse, clientIp: string): void {
    const headers = upstreamRequestHeaders(req.rawHeaders, { clientIp, proto: 'http' });
    if (headers === undefined) {
      this.log.info({ route: route.config.name, url: req.url }, 'rejected request with several Host headers');
      sendError(res, 'bad_request', 'more than one Host header');
      return;
    }
    const ex = new Exchange(this, route, req, res, headers);
    ex.next();
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())));
  }
}

/** One client request, across its attempts. */
class Exchange {
  readonly fwd: Forwarder;
  readonly route: Route;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly headers: string[];
  readonly path: string;
  readonly hasBody: boolean;
  readonly hash: number | undefined;
  readonly timer: NodeJS.Timeout;
  current: Attempt | undefined;
  tried: Upstream[] = [];
  retriesLeft: number;
  done = false;

  constructor(fwd: Forwarder, route: Route, req: IncomingMessage, res: ServerResponse, headers: string[]) {
    this.fwd = fwd;
    this.route = route;
    this.req = req;
    this.res = res;
    this.headers = headers;
    this.path = upstreamPath(route.config, req.url ?? '/');
    this.hash = affinityHash(route.config, req);
    const len = req.headers['content-length'];
    this.hasBody = req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
    this.retriesLeft = RETRYABLE_METHODS.has(req.method ?? '') && !this.hasBody ? route.config.retries : 0;
    this.timer = setTimeout(onTimeout, route.config.timeoutMs, this);
    (res as ServerResponse & { [kExchange]?: Exchange })[kExchange] = this;
    res.once('close', onClientClose);
    res.sendDate = false;
  }

  /** Dispatches to the next upstream; answers 503 when the route has none. */
  next(): void {
    const startedAt = this.fwd.clock.tick();
    const upstream = pickUntried(this.route, this.tried, this.hash);
    if (!upstream) {
      this.end();
      this.fwd.log.warn({ route: this.route.config.name, url: this.req.url }, 'no healthy upstream');
      sendError(this.res, 'no_healthy_upstream', `no healthy instance for route "${this.route.config.name}"`);
      return;
    }
    this.tried.push(upstream);
    const attempt = new Attempt(this, upstream, startedAt);
    this.current = attempt;
    upstream.stats.inflight++;
    upstream.stats.requests++;
    const opts: Dispatcher.DispatchOptions = {
      method: (this.req.method ?? 'GET') as Dispatcher.HttpMethod,
      path: this.path,
      headers: this.headers,
      body: this.hasBody ? this.req : null,
    };
    try {
      this.fwd.pool(upstream.origin).dispatch(opts, attempt);
    } catch (err) {
      attempt.onError(err as Error);
    }
  }

  /** After a failed attempt: another one, or the error answer. */
  failed(attempt: Attempt, err: Error): void {
    const u = attempt.upstream;
    u.stats.failures++;
    if (this.done) return;
    const failure = err instanceof FairwayError ? err : upstreamFailure(err);
    const retryable = failure.code === 'upstream_error' && !this.res.headersSent && this.retriesLeft > 0;
    this.fwd.log.warn(
      { route: this.route.config.name, upstream: u.id, addr: u.origin, err: errCode(err), retry: retryable },
      'upstream attempt failed',
    );
    if (retryable) {
      this.retriesLeft--;
      this.next();
      return;
    }
    this.end();
    sendError(this.res, failure.code);
  }

  end(): void {
    this.done = true;
    this.current = undefined;
    clearTimeout(this.timer);
  }
}

/** One try against one upstream; the undici dispatch handler. */
class Attempt implements Dispatcher.DispatchHandler {
  readonly ex: Exchange;
  readonly upstream: Upstream;
  abort: ((err?: Error) => void) | undefined;
  resume: (() => void) | undefined;
  settled = false;
  readonly startedAt: number;

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
    if ((status === 502 || status === 503) && ex.retriesLeft > 0) {
      this.settle();
      this.abort?.(SUPERSEDED);
      this.upstream.stats.failures++;
      ex.fwd.log.warn({ route: ex.route.config.name, upstream: this.upstream.id, status }, 'upstream answered with a retryable status');
      ex.retriesLeft--;
      ex.next();
      return false;
    }
    this.resume = resume;
    ex.res.writeHead(status, statusText, clientResponseHeaders(raw));
    return true;
  }

  onData(chunk: Buffer): boolean {
    const res = this.ex.res;
    const more = res.write(chunk);
    if (!more) res.once('drain', onClientDrain);
    return more;
  }

  onComplete(): void {
    if (this.settled) return;
    this.settle();
    this.ex.end();
    this.ex.res.end();
  }

  onError(err: Error): void {
    if (this.settled) return;
    this.settle();
    if (err === SUPERSEDED || err instanceof ClientGoneError) return;
    if (this.ex.res.headersSent) {
      // Mid-body failure: the status is already out, so cut the response short.
      this.upstream.stats.failures++;
      this.ex.end();
      this.ex.fwd.log.warn({ route: this.ex.route.config.name, upstream: this.upstream.id, err: errCode(err) }, 'upstream failed mid-response');
      this.ex.res.destroy(err);
      return;
    }
    this.ex.failed(this, err);
  }

  settle(): void {
    this.settled = true;
    this.upstream.stats.inflight--;
  }
}

function onTimeout(ex: Exchange): void {
  const attempt = ex.current;
  if (!attempt || ex.done) return;
  const err = new TimeoutError(ex.route.config.timeoutMs);
  if (attempt.abort) attempt.abort(err);
  else attempt.onError(err);
}

function onClientClose(this: ServerResponse & { [kExchange]?: Exchange }): void {
  const ex = this[kExchange];
  if (!ex || ex.done) return;
  const attempt = ex.current;
  ex.end();
  attempt?.abort?.(new ClientGoneError('client went away'));
}

function onClientDrain(this: ServerResponse & { [kExchange]?: Exchange }): void {
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
  return route.upstreams.find((u) => !tried.includes(u)) ?? first;
}

function errCode(err: unknown): string {
  const e = err as { code?: string; message?: string } | null;
  return e?.code ?? e?.message ?? String(err);
}
