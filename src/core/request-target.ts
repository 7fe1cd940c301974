// The request target and Host, normalised once at the edge, before routing, `stripPrefix` and
// forwarding (SPEC "Edge rules"), so that every later step (route match, prefix strip, the path
// the upstream sees, the access log) agrees on one path and one host.
//
// Path: dot segments (`.`, `..`, also percent-encoded as `%2e`) are removed as RFC 3986 §5.2.4
// says, except that a `..` that would climb above `/` makes the request invalid (400, as nginx
// answers) rather than being dropped: a client that sends one is probing, and an upstream that
// reads the raw path must never be shown a path that differs from the one that was routed.
// Nothing else is decoded: `%2f` stays as sent and is no separator.
//
// Host: compared lower-case, without a trailing dot and without a port. A Host with userinfo
// (`@`) or any byte outside a reg-name or IP literal is invalid.
//
// Cost on the common request (origin-form, no `.` or `%` in the path, a plain lower-case host):
// two indexOf scans and one sticky regex test, no allocation.

/** Why an absolute-form target is refused (each is a 400). */
export type TargetProblem = 'bad_target' | 'bad_host';

export interface AbsoluteTarget {
  /** The authority of an absolute-form target, as sent (it replaces Host upstream). */
  readonly authority: string;
  /** Its path and query, origin-form. */
  readonly path: string;
}

const ABSOLUTE = /^https?:\/\//i;

/**
 * Splits an absolute-form target (`http://host:port/path?q`); undefined when `target` is not
 * absolute-form (origin-form starts with `/`), 'bad_target' when it is malformed.
 */
export function absoluteTarget(target: string): AbsoluteTarget | TargetProblem | undefined {
  if (target.charCodeAt(0) === 47 /* / */) return undefined;
  if (!ABSOLUTE.test(target)) return 'bad_target';
  const start = target.indexOf('//') + 2;
  let end = start;
  while (end < target.length && target[end] !== '/' && target[end] !== '?') end++;
  const authority = target.slice(start, end);
  if (authority === '' || bareHost(authority) === undefined) return 'bad_host';
  const rest = target.slice(end);
  return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest };
}

const DOT = /^(?:\.|%2e)$/i;
const DOT_DOT = /^(?:\.|%2e){2}$/i;
const MAYBE_DOT = /%2e/i;

/** The origin-form path with dot segments removed; undefined if one climbs above `/`. */
export function normalizePath(path: string): string | undefined {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  if (p.indexOf('.') === -1 && (p.indexOf('%') === -1 || !MAYBE_DOT.test(p))) return path;
  const segments = p.split('/');
  const out: string[] = [];
  let changed = false;
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (DOT.test(s)) {
      changed = true;
      if (last) out.push('');
    } else if (DOT_DOT.test(s)) {
      changed = true;
      if (out.length === 0) return undefined;
      out.pop();
      if (last) out.push('');
    } else {
      out.push(s);
    }
  }
  if (!changed) return path;
  return `/${out.join('/')}${q === -1 ? '' : path.slice(q)}`;
}

// reg-name characters (RFC 3986 §3.2.2: unreserved, pct-encoded, sub-delims) then an optional
// port; or an IP literal in brackets. Upper case is allowed here and folded below.
const HOST = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=%]*|\[[0-9A-Fa-f:.]+\])(?::\d*)?$/;
const PLAIN_LOWER = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::\d{1,5})?$/;

/**
 * The host to route by: lower-case, no port, no trailing dot. Undefined when the value is not
 * a valid Host (userinfo, blanks, controls, anything outside a reg-name or IP literal).
 */
export function bareHost(value: string): string | undefined {
  let host = value;
  if (!PLAIN_LOWER.test(host)) {
    if (!HOST.test(host)) return undefined;
    host = host.toLowerCase();
  }
  const bracket = host.lastIndexOf(']');
  const colon = host.lastIndexOf(':');
  if (colon > bracket) host = host.slice(0, colon);
  if (host.length > 1 && host.charCodeAt(host.length - 1) === 46 /* . */) host = host.slice(0, -1);
  return host;
}
