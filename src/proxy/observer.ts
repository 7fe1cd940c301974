// The narrow interface between the proxy and whatever watches it (metrics, access log): one
// call per finished exchange, reading fields of the exchange itself, so the hot path allocates
// no event object. Observers must not throw and must not block.

import { statusOf, type FairwayErrorCode } from '../core/errors.js';
import type { Route } from '../core/route-table.js';
import type { Upstream } from '../core/upstream.js';
import { newRequestId } from './request-id.js';
import type { ProxyRequest } from './messages.js';

export interface FinishedExchange {
  readonly route: Route | undefined;
  /** The upstream of the last attempt; undefined when none was tried. */
  readonly upstream: Upstream | undefined;
  readonly method: string;
  readonly host: string | undefined;
  readonly url: string;
  /** Status sent to the client; 499 when the client went away first. */
  readonly status: number;
  /** Set when Fairway made the answer itself (x-fairway-error). */
  readonly errorCode: FairwayErrorCode | undefined;
  readonly attempts: number;
  /** Response body bytes relayed to the client. */
  readonly bytes: number;
  readonly durationMs: number;
  readonly requestId: string;
  readonly remoteAddress: string | undefined;
  /** The route policy that answered or changed this exchange (deny, rateLimit, maxBodySize, redirect, compress). */
  readonly policy?: string | undefined;
  /** The client's protocol (a metrics label). */
  readonly protocol: ClientProtocol;
}

export type ClientProtocol = 'http1' | 'http2';

/** The client's protocol, from the request's version ('2.0' from HTTP/2 adapters). */
export function protocolOf(req: ProxyRequest | undefined): ClientProtocol {
  return req?.httpVersion === '2.0' ? 'http2' : 'http1';
}

export interface RequestObserver {
  onExchange(ex: FinishedExchange): void;
  /** A retry was sent on `route`. */
  onRetry(route: Route): void;
}

/**
 * Fans one event out to several observers. A throwing observer is a bug in Fairway, but it
 * must not take the proxy down with it: the error is reported and the request goes on.
 */
export function observers(list: readonly RequestObserver[], onError: (err: unknown) => void): RequestObserver {
  return {
    onExchange(ex) {
      for (const o of list) {
        try {
          o.onExchange(ex);
        } catch (err) {
          onError(err);
        }
      }
    },
    onRetry(route) {
      for (const o of list) {
        try {
          o.onRetry(route);
        } catch (err) {
          onError(err);
        }
      }
    },
  };
}

/**
 * An exchange Fairway answered itself, without an upstream: before any route (code undefined:
 * OPTIONS *), for a route (`policy` says which policy answered, if one did; `status` when it is
 * no error), or by the listener itself (policy `redirectToHttps`, no route).
 */
export function localAnswer(
  req: ProxyRequest | undefined,
  socket: { readonly remoteAddress?: string | undefined },
  code: FairwayErrorCode | undefined,
  by?: { route?: Route | undefined; policy?: string; status?: number },
): FinishedExchange {
  return {
    route: by?.route,
    upstream: undefined,
    method: req?.method ?? '',
    host: req?.headers.host,
    url: req?.url ?? '',
    status: by?.status ?? (code === undefined ? 200 : statusOf(code)),
    errorCode: code,
    attempts: 0,
    bytes: 0,
    durationMs: 0,
    requestId: newRequestId(),
    remoteAddress: socket.remoteAddress,
    policy: by?.policy,
    protocol: protocolOf(req),
  };
}
