// An HTTP/2 request and its response as the pipeline's ProxyRequest / ProxyResponse
// (messages.ts), over Node's compatibility objects (Http2ServerRequest / Http2ServerResponse),
// so the one forwarder, policy gate and error answers serve HTTP/2 exactly as HTTP/1.1.
//
// What differs is translated here: headers (h2-headers.ts), the reason phrase (HTTP/2 has none),
// fields HTTP/2 forbids in answers (Node would throw on them), trailers (passed on), and a gRPC
// request's failure, which is an HTTP 200 with `grpc-status` (core/grpc.ts) rather than an
// HTTP error status.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { InvalidHeaderError, type FairwayErrorCode } from '../core/errors.js';
import { grpcMessage, grpcStatusOf, isGrpc } from '../core/grpc.js';
import { fromH2Request, toH2Response } from './h2-headers.js';
import type { Edge, ProxyRequest, ProxyResponse } from './messages.js';

export class H2Request implements ProxyRequest {
  readonly method: string;
  url: string;
  readonly httpVersion = '2.0';
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly socket: Edge;
  /** HTTP/2 frames a body without Content-Length: whether the client's stream goes on after its headers. */
  readonly hasBody: boolean;
  readonly #req: Http2ServerRequest;

  constructor(req: Http2ServerRequest, edge: Edge) {
    this.#req = req;
    const translated = fromH2Request(req.rawHeaders);
    this.method = req.method;
    // CONNECT has no :path; admit() refuses a target that is not a path.
    this.url = req.headers[':path'] ?? '';
    this.headers = translated.headers;
    this.rawHeaders = translated.rawHeaders;
    this.socket = edge;
    this.hasBody = !req.stream.endAfterHeaders;
  }

  /** The client's trailers, once its body has ended. */
  get trailers(): IncomingHttpHeaders {
    return this.#req.trailers;
  }
}

/**
 * The head waits until the answer's first body bytes or its end, as Node's HTTP/1.1 response
 * does: an answer that turns out to have no body and no trailers then leaves as one HEADERS
 * frame that ends the stream. A gRPC server's Trailers-Only answer (its status in the headers)
 * must stay that way, or the client never sees the status. (Node's compatibility response
 * would send the head, then end the stream with an empty DATA frame.)
 */
export class H2Response implements ProxyResponse {
  readonly #res: Http2ServerResponse;
  /** The request is gRPC: Fairway's own failures go out as grpc-status. */
  readonly grpc: boolean;
  #head: { status: number; headers: OutgoingHttpHeaders } | undefined;
  #trailers: OutgoingHttpHeaders | undefined;

  constructor(res: Http2ServerResponse, req: H2Request) {
    this.#res = res;
    this.grpc = isGrpc(req.headers['content-type']);
  }

  get headersSent(): boolean {
    return this.#head !== undefined || this.#res.headersSent;
  }

  get sendDate(): boolean {
    return this.#res.sendDate;
  }

  set sendDate(v: boolean) {
    this.#res.sendDate = v;
  }

  writeHead(status: number, reasonOrHeaders: string | Record<string, string | number>, list?: string[]): this {
    // HTTP/2 has no final status outside 200-599 (and no 101): an upstream's 999 is not an
    // answer this client can be given. Thrown here, before anything is sent, it becomes a 502.
    if (!(status >= 200 && status <= 599)) throw new InvalidHeaderError(`status ${status} cannot be sent over HTTP/2`);
    const flat = typeof reasonOrHeaders === 'string' ? (list ?? []) : Object.entries(reasonOrHeaders).flatMap(([k, v]) => [k, String(v)]);
    // Upstream heads were checked by clientResponseHeaders (a bad one is a 502 before this).
    this.#head = { status, headers: toH2Response(flat) };
    return this;
  }

  /** Hands the pending head to Node's response (which sends it with the first bytes). */
  #release(): void {
    const head = this.#head;
    if (head === undefined) return;
    this.#head = undefined;
    this.#res.writeHead(head.status, head.headers);
  }

  /**
   * Runs a step that hands something to Node's HTTP/2 layer. The translation keeps out what it
   * refuses, but a throw here would fly up through an upstream's data or end callback and take
   * the process down, or be swallowed and leave the client waiting: the stream is reset instead.
   */
  #guard<T>(step: () => T, otherwise: T): T {
    try {
      return step();
    } catch {
      this.#res.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return otherwise;
    }
  }

  write(chunk: Buffer): boolean {
    return this.#guard(() => {
      this.#release();
      return this.#res.write(chunk);
    }, true);
  }

  flushHeaders(): void {
    this.#guard(() => {
      this.#release();
      // Present at run time since Node 12, missing from @types/node's Http2ServerResponse.
      (this.#res as Http2ServerResponse & { flushHeaders(): void }).flushHeaders();
    }, undefined);
  }

  end(body?: string): this {
    this.#guard(() => this.#end(body), undefined);
    return this;
  }

  #end(body: string | undefined): void {
    const head = this.#head;
    const stream = this.#res.stream;
    if (head !== undefined && (body === undefined || body === '') && this.#trailers === undefined && !stream.destroyed && !stream.headersSent) {
      this.#head = undefined;
      stream.respond({ ...head.headers, ':status': head.status }, { endStream: true });
      return;
    }
    this.#release();
    if (this.#trailers !== undefined) this.#res.addTrailers(this.#trailers);
    if (body === undefined) this.#res.end();
    else this.#res.end(body);
  }

  destroy(err?: Error): this {
    this.#res.destroy(err);
    return this;
  }

  cork(): void {
    this.#res.cork();
  }

  uncork(): void {
    this.#res.uncork();
  }

  once(event: 'close' | 'drain', listener: (this: ProxyResponse) => void): this {
    // The forwarder's listeners read the exchange off `this`: this adapter, not Node's object.
    this.#res.once(event, () => listener.call(this));
    return this;
  }

  sendTrailers(list: readonly string[]): void {
    const trailers = toH2Response(list);
    if (Object.keys(trailers).length > 0) this.#trailers = trailers;
  }

  answerGrpc(code: FairwayErrorCode, message: string): boolean {
    if (!this.grpc) return false;
    const stream = this.#res.stream;
    if (stream.destroyed || stream.closed || this.#res.writableEnded) return true;
    const status = { 'grpc-status': String(grpcStatusOf(code)), 'grpc-message': grpcMessage(message), 'x-fairway-error': code };
    if (this.headersSent) {
      // Part of the answer is out (a stream cut by the route timeout): the status ends it.
      this.#trailers = status;
      this.end();
    } else {
      // Trailers-Only: one HEADERS frame ending the stream (PROTOCOL-HTTP2.md).
      this.#head = { status: 200, headers: { 'content-type': 'application/grpc', ...status } };
      this.end();
    }
    return true;
  }
}
