// One try of an exchange against one instance: the dispatch handler undici's pool (or the
// instance's HTTP/2 session, h2-upstream.ts) drives, and the relay of its answer to the client.
// The head: a 502/503 handed back to the exchange for a retry while nothing has reached the
// client, otherwise relayed with the route's response header rules, or compressed
// (response-policy.ts), or refused with a 502 when no client may be sent it. The body: written
// as it comes, reading paused while the client's side is full. The end: trailers passed on, and
// a failure after the head cuts the response short (a gRPC call ends with its status instead).
// A failure before the head goes back to the exchange (exchange.ts), which retries or answers.
//
// It uses undici's dispatch handler interface in its raw form (onHeaders with Buffer pairs):
// the newer controller form parses every response's headers into an object first, which a
// proxy that forwards them as they came does not need.

import { STATUS_CODES } from 'node:http';
import { ClientGoneError, codeOrMessage, messageOf, SUPERSEDED, upstreamFailure } from '../core/errors.js';
import { applyHeaderRules } from '../core/policy/header-rules.js';
import { recordLatency, type Upstream } from '../core/upstream.js';
import { BodyTooLargeError } from './body-limit.js';
import type { Exchange } from './exchange.js';
import type { H2Handler } from './h2-upstream.js';
import { clientResponseHeaders, reasonPhrase } from './headers.js';
import type { ProxyRequest, ProxyResponse } from './messages.js';
import { ResponseEncoder, shapeHead } from './response-policy.js';
import { CLOSE } from './respond.js';

/**
 * What a slow client can make Fairway hold of an answer it relays through undici, which is never
 * paused: undici 7.30.2 (the last for Node 20) throws an uncatchable assertion when a paused
 * answer that is not kept alive (Connection: close, delimited by the close, HTTP/1.0) meets the
 * upstream's end of stream (nodejs/undici#5360, fixed in 8.x only). Past this, the answer is cut.
 * The lean client (h1-upstream.ts) and HTTP/2 streams pause as they should.
 */
export const SLOW_CLIENT_HOLD_LIMIT = 8 * 1024 * 1024;

/** One try against one upstream; the undici (or HTTP/2 session) dispatch handler. */
export class Attempt implements H2Handler {
  readonly ex: Exchange;
  readonly upstream: Upstream;
  readonly startedAt: number;
  /** Relayed through undici: never paused (see SLOW_CLIENT_HOLD_LIMIT). */
  readonly unpausable: boolean;
  abort: ((err?: Error) => void) | undefined;
  resume: (() => void) | undefined;
  settled = false;
  /** Bytes written since the client's side last had room, for an unpausable answer. */
  #held = 0;

  constructor(ex: Exchange, upstream: Upstream, startedAt: number, unpausable: boolean) {
    this.ex = ex;
    this.upstream = upstream;
    this.startedAt = startedAt;
    this.unpausable = unpausable;
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
    this.resume = this.unpausable ? () => (this.#held = 0) : resume;
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
      ex.fwd.log.warn({ route: ex.route.config.name, upstream: this.upstream.id, err: codeOrMessage(err) }, 'upstream sent an invalid response head');
      ex.answer('upstream_error', 'invalid response head from the upstream');
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    const ex = this.ex;
    let more: boolean;
    if (ex.encoder !== undefined) more = ex.encoder.write(chunk);
    else {
      ex.bytes += chunk.length;
      more = ex.res.write(chunk);
    }
    if (more) return true;
    // The client's side is full. One 'drain' wait at a time: a paused answer sends nothing more
    // until it comes, an unpausable one keeps coming (the encoder waits on its own stream).
    if (ex.encoder === undefined && (!this.unpausable || this.#held === 0)) ex.resumeOnDrain();
    if (!this.unpausable) return false;
    this.#held += chunk.length;
    if (this.#held > SLOW_CLIENT_HOLD_LIMIT) this.#cut();
    return true;
  }

  /** The client reads too slowly for an answer that cannot be paused: it ends here, cut short. */
  #cut(): void {
    const ex = this.ex;
    this.settle();
    this.abort?.(SUPERSEDED);
    ex.end();
    ex.fwd.log.warn({ route: ex.route.config.name, upstream: this.upstream.id, held: this.#held }, 'client too slow for an answer relayed through undici; answer cut');
    ex.encoder?.destroy();
    ex.res.destroy();
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
      ex.fwd.log.warn({ route: ex.route.config.name, upstream: this.upstream.id, err: codeOrMessage(err) }, 'upstream failed mid-response');
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

function uncork(res: ProxyResponse): void {
  res.uncork();
}

/** Whether the client's response carries no body whatever the upstream said. */
function bodiless(ex: Exchange): boolean {
  return ex.status === 204 || ex.status === 304 || ex.method === 'HEAD';
}
