// What every request passes before routing, on both paths and for WebSocket upgrades alike
// (SPEC "Edge rules"): a header count within `server.maxHeaders`, a request target in a form
// a server must accept, its path normalised once, and a valid Host. The request's `url` is
// replaced by the normalised path, so routing, `stripPrefix`, the upstream and the access log
// all see the same one.

import type { FairwayErrorCode } from '../core/errors.js';
import { absoluteTarget, bareHost, normalizePath } from '../core/request-target.js';
import type { ProxyRequest } from './messages.js';

export interface Admitted {
  /** Host to route by: lower-case, no port, no trailing dot; undefined for HTTP/1.0 without Host. */
  readonly host: string | undefined;
  /** An absolute-form target's authority, which replaces Host upstream. */
  readonly authority: string | undefined;
}

export interface Refused {
  readonly code: FairwayErrorCode;
  readonly detail: string;
}

/** `OPTIONS *`: answered by Fairway itself (there is no resource to route by). */
export const ASTERISK = Symbol('OPTIONS *');

const TOO_MANY_HEADERS: Refused = { code: 'headers_too_large', detail: 'too many header lines' };
const BAD_TARGET: Refused = { code: 'bad_request', detail: 'request target is not origin-form or absolute-form http(s)' };
const ABOVE_ROOT: Refused = { code: 'bad_request', detail: 'path climbs above /' };
const BAD_HOST: Refused = { code: 'bad_request', detail: 'invalid Host' };
const NO_HOST: Refused = { code: 'bad_request', detail: 'HTTP/1.1 request without Host' };

/** Checks and normalises `req` in place; what to route by, or why it is refused. */
export function admit(req: ProxyRequest, maxHeaders: number): Admitted | Refused | typeof ASTERISK {
  if (req.rawHeaders.length > 2 * maxHeaders) return TOO_MANY_HEADERS;
  let target = req.url ?? '/';
  let authority: string | undefined;
  if (target.charCodeAt(0) !== 47 /* / */) {
    if (target === '*') return req.method === 'OPTIONS' ? ASTERISK : BAD_TARGET;
    const abs = absoluteTarget(target);
    if (abs === 'bad_host') return BAD_HOST;
    if (typeof abs !== 'object') return BAD_TARGET;
    authority = abs.authority;
    target = abs.path;
  }
  const path = normalizePath(target);
  if (path === undefined) return ABOVE_ROOT;
  req.url = path;
  const hostValue = authority ?? req.headers.host;
  if (hostValue === undefined) return req.httpVersion === '1.0' ? { host: undefined, authority } : NO_HOST;
  const host = bareHost(hostValue);
  return host === undefined ? BAD_HOST : { host, authority };
}

export function isRefused(v: Admitted | Refused | typeof ASTERISK): v is Refused {
  return typeof v === 'object' && 'code' in v;
}
