// Sends one client request to an upstream and streams the answer back: through the lean HTTP/1.1
// client on Node's sockets when it has no body or one read whole (h1-upstream.ts), through a
// keep-alive undici pool when its body streams, or, for an h2 or h2c route, through the
// instance's HTTP/2 session (h2-upstream.ts); all three drive one handler interface. A failed
// attempt (connect error, reset before any response byte reached the client, or a 502/503
// answer) is retried on another instance when the method may be retried, the body (if any) could
// be buffered, and the route's retry budget allows; every outcome feeds passive outlier
// detection.
//
// Three files, one per lifetime: this one, what outlives a request (the pools and sessions to
// instances, the trusted-proxy set, the route timeout queues, the outcomes fed to outlier
// detection) and the entry points; exchange.ts, one client request across its attempts (its
// body, the instance each attempt goes to, retries, timeouts, the client leaving); attempt.ts,
// one try against one instance and the relay of its answer. (Route policy that answers by
// itself lives in policy-gate.ts; what shapes an answer in response-policy.ts.)

import type { Logger } from 'pino';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Pool } from './undici-pool.js';
import { H2Origin, type H2Handler } from './h2-upstream.js';
import { Origins } from './origins.js';
import { H1Origin, leanEligible } from './h1-upstream.js';
import { tlsConnectOptions } from '../config-source/client-tls.js';
import { teIsTrailers } from './h2-headers.js';
import { CidrSet } from '../core/cidr.js';
import type { Config } from '../core/config.js';
import { SUPERSEDED, type FairwayErrorCode } from '../core/errors.js';
import { isEjected, onFailure, onSuccess } from '../core/outlier.js';
import type { Route } from '../core/route-table.js';
import { originsInUse, type Upstream } from '../core/upstream.js';
import type { RequestClock } from './clock.js';
import { DeadlineQueue } from './deadlines.js';
import { Exchange, exchangeOf, onTimeout } from './exchange.js';
import type { ProxyRequest, ProxyResponse } from './messages.js';
import { applyHeaderRules } from '../core/policy/header-rules.js';
import { clientAddressOf, requestIdOf, upstreamRequestHeaders } from './headers.js';
import { newRequestId } from './request-id.js';
import type { RequestObserver } from './observer.js';

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

export class Forwarder {
  /** undici's pools, for requests whose body streams. */
  readonly #pools: Origins<Pool>;
  /** Lean HTTP/1.1 connections to instances, for requests without a body or with one in hand. */
  readonly #lean: Origins<H1Origin>;
  /** HTTP/2 sessions to the instances of `protocol: h2` and `h2c` routes. */
  readonly #h2: Origins<H2Origin>;
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
    this.#h2 = new Origins((origin) => {
      const u = this.#opts.settings().upstream;
      return new H2Origin(origin, { connectTimeoutMs: u.connectTimeoutMs, keepAliveTimeoutMs: u.keepAliveTimeoutMs, tls: tlsConnectOptions(u.tls) });
    });
    this.#pools = new Origins((origin) => {
      const u = this.#opts.settings().upstream;
      return new Pool(origin, {
        // An https:// origin (an `https://` endpoint, Consul meta `scheme: https`): upstream.tls.
        ...(origin.startsWith('https:') ? { connect: tlsConnectOptions(u.tls) } : {}),
        connections: u.maxConnections,
        connectTimeout: u.connectTimeoutMs,
        keepAliveTimeout: u.keepAliveTimeoutMs,
        // Per-request timeouts come from the route (see Exchange.next); these are only defaults.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    });
    this.#lean = new Origins((origin) => {
      const u = this.#opts.settings().upstream;
      return new H1Origin(origin, {
        connectTimeoutMs: u.connectTimeoutMs,
        keepAliveTimeoutMs: u.keepAliveTimeoutMs,
        maxConnections: u.maxConnections,
        ...(origin.startsWith('https:') ? { tls: tlsConnectOptions(u.tls) } : {}),
      });
    });
  }

  /** Where an attempt is sent: the lean client, an undici pool, or an HTTP/2 session (h2, h2c). */
  dispatcher(route: Route, origin: string, opts: Dispatcher.DispatchOptions): { dispatch(opts: Dispatcher.DispatchOptions, handler: H2Handler): boolean } {
    if (route.config.protocol !== 'http1') return this.#h2.get(origin);
    return leanEligible(opts) ? this.#lean.get(origin) : this.#pools.get(origin);
  }

  /** Closes the pools of instances no upstream in `upstreams` names; their in-flight requests finish first. */
  retainOnly(upstreams: Iterable<Upstream>): void {
    const origins = originsInUse([...this.#pools.keys(), ...this.#lean.keys(), ...this.#h2.keys()], upstreams);
    this.#h2.retainOnly(origins);
    this.#lean.retainOnly(origins);
    this.#pools.retainOnly(origins);
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
    ex.start();
  }

  /**
   * Ends the exchange answering `res` with an answer of Fairway's own (its client broke the
   * request, say), stopping the attempt under way. False when no exchange is under way there.
   */
  abandon(res: ProxyResponse, code: FairwayErrorCode, detail: string): boolean {
    const ex = exchangeOf(res);
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
    await Promise.all([this.#pools.close(), this.#lean.close(), this.#h2.close()]);
  }
}
