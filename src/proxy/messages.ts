// The request and response as the forwarder sees them: the small part of Node's
// IncomingMessage/ServerResponse it uses, which the fast path's FastRequest/FastResponse
// implement too, so one forwarder serves both paths without depending on either.

import type { IncomingHttpHeaders } from 'node:http';
import type { FairwayErrorCode } from '../core/errors.js';
import type { HeaderRules } from '../core/policy/header-rules.js';

/** What the forwarder reads of a client request (IncomingMessage has it too). */
export interface ProxyRequest {
  readonly method?: string | undefined;
  /** Normalised by the listener before routing (admit.ts). */
  url?: string | undefined;
  /** '1.1' or '1.0' (the fast path takes only 1.1). */
  readonly httpVersion?: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly socket: Edge;
  /**
   * HTTP/2 only: whether a body follows the headers (HTTP/2 frames one without Content-Length).
   * Undefined: the framing headers say (declaresBody).
   */
  readonly hasBody?: boolean;
  /** The client's trailers, once its body has ended (Node fills them in on both protocols). */
  readonly trailers?: IncomingHttpHeaders | NodeJS.Dict<string>;
}

/**
 * Where a request came in, as far as the pipeline cares: Node's path reads it off the socket
 * itself (a TLSSocket says `encrypted`), the fast path off its per-connection peer object.
 */
export interface Edge {
  readonly remoteAddress?: string | undefined;
  /** Set on a TLS listener's connections: X-Forwarded-Proto and {scheme} are https. */
  readonly encrypted?: boolean;
  /** Set on a `redirectToHttps` listener's connections (listeners.ts). */
  readonly [kHttpsRedirect]?: HttpsRedirect;
}

/** Marks a connection whose requests are answered with a redirect to https (SPEC: redirectToHttps). */
export const kHttpsRedirect: unique symbol = Symbol('fairway.httpsRedirect');

export interface HttpsRedirect {
  /** ':8443' when the first TLS listener is not on 443; '' otherwise. Known once it is bound. */
  portSuffix: string;
}

/** What the forwarder does to a client response (ServerResponse does it too). */
export interface ProxyResponse {
  readonly headersSent: boolean;
  sendDate: boolean;
  writeHead(status: number, statusText: string, headers: string[]): unknown;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  /** Optional shortcut for the upstream's raw head, with the route's response header rules; false: use writeHead instead. */
  writeUpstreamHead?(status: number, statusText: string, raw: readonly Buffer[], rules?: HeaderRules): boolean;
  write(chunk: Buffer): boolean;
  /** Puts a head given to writeHead on the socket now (Node's waits for the first body bytes). */
  flushHeaders(): void;
  end(body?: string): unknown;
  destroy(err?: Error): unknown;
  cork(): void;
  uncork(): void;
  /** Trailers to send after the body (HTTP/2 clients; an HTTP/1.1 response drops them, as before). */
  sendTrailers?(list: readonly string[]): void;
  /**
   * A gRPC request's answer Fairway makes itself: HTTP 200 with grpc-status. False when the
   * request is not gRPC (then the plain HTTP error answer goes out).
   */
  answerGrpc?(code: FairwayErrorCode, message: string): boolean;
  /** 'close': once, when the response is complete or the client is gone. */
  once(event: 'close' | 'drain', listener: (this: ProxyResponse) => void): unknown;
}

/** Whether a request's framing headers say it carries a body (RFC 9112 §6.3). */
export function declaresBody(headers: IncomingHttpHeaders): boolean {
  const len = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}
