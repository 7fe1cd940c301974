// Header translation between HTTP/2 and the HTTP/1.1-shaped header lists the pipeline works on
// (RFC 9113 §8.2-8.3). Pure: no I/O, tested in test/unit/h2-headers.test.ts.
//
// - A request from an HTTP/2 client becomes the list an HTTP/1.1 request would have carried:
//   pseudo-headers go, `:authority` becomes Host (routes match on it), its `cookie` fields are
//   joined with "; " (§8.2.3: an HTTP/1.1 upstream takes one Cookie line), connection-specific
//   fields are dropped (nghttp2 refuses them on the wire already; this is the second fence) and
//   `te` stays only as `trailers`.
// - A request to an HTTP/2 upstream is the pipeline's list as a header object with `:method`,
//   `:path`, `:scheme` and `:authority` (from Host) and no connection-specific field.
// - A response to an HTTP/2 client is the shaped list as a header object, minus the same fields.
// - A response from an HTTP/2 upstream is handed to the forwarder as the raw byte pairs undici
//   gives it, pseudo-headers dropped, so one code path shapes answers from either protocol.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Fields HTTP/2 forbids (RFC 9113 §8.2.2): they describe one HTTP/1.1 connection. HTTP2-Settings
 * belongs to an HTTP/1.1 upgrade to h2c (RFC 7540 §3.2.1); Node refuses it like the others.
 */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

/**
 * Fields Node's HTTP/2 layer takes once per message: given twice, it throws instead of sending.
 * HTTP/1.1 carries them repeated (an upstream's two Date lines, a client's two User-Agents), so
 * the translation keeps the first, as a recipient of conflicting values may (RFC 9110 §5.3).
 */
const SINGLE_VALUE: ReadonlySet<string> = new Set([
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method', 'age', 'authorization',
  'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type',
  'date', 'dnt', 'etag', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'tk', 'upgrade-insecure-requests', 'user-agent', 'x-content-type-options',
]);

/** An HTTP/2 request as the pipeline sees an HTTP/1.1 one. */
export interface TranslatedRequest {
  /** [name, value, ...], lower-case names, Host first when `:authority` came. */
  rawHeaders: string[];
  /** As Node's IncomingMessage folds them: repeated fields joined with ", ", set-cookie a list. */
  headers: IncomingHttpHeaders;
}

/** Whether `te` may cross an HTTP/2 hop: only `trailers` (RFC 9113 §8.2.2). */
export function teIsTrailers(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'trailers';
}

/** An HTTP/2 request's raw header list (Node's: name, value, ...) in HTTP/1.1 form. */
export function fromH2Request(raw: readonly string[]): TranslatedRequest {
  const out: string[] = [];
  let authority: string | undefined;
  let cookie: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority ??= value;
      continue;
    }
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && !teIsTrailers(value))) continue;
    if (name === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    // `:authority` wins over a Host field (§8.3.1: a client must not send both differing).
    if (name === 'host' && authority !== undefined) continue;
    out.push(name, value);
  }
  if (authority !== undefined) {
    // Host fields came before `:authority` was seen only if the client put them first; drop them.
    for (let i = out.length - 2; i >= 0; i -= 2) if (out[i] === 'host') out.splice(i, 2);
    out.unshift('host', authority);
  }
  if (cookie !== undefined) out.push('cookie', cookie);
  return { rawHeaders: out, headers: fold(out) };
}

function fold(list: readonly string[]): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    const had = headers[name];
    if (name === 'set-cookie') (headers['set-cookie'] ??= []).push(value);
    else headers[name] = had === undefined ? value : `${had as string}, ${value}`;
  }
  return headers;
}

/** Adds a field to an outgoing header object, a repeated name becoming a list (a single-value one keeps its first). */
function add(out: OutgoingHttpHeaders, name: string, value: string): void {
  const had = out[name];
  if (had === undefined) out[name] = value;
  else if (SINGLE_VALUE.has(name)) return;
  else if (Array.isArray(had)) had.push(value);
  else out[name] = [String(had), value];
}

/**
 * The pipeline's upstream header list as an HTTP/2 request's headers. `authority` stands in
 * when the list has no Host (`rewrite.host: upstream`): the instance's host:port. `scheme` is
 * the connection's: https for h2 over TLS, http for h2c.
 */
export function toH2Request(list: readonly string[], method: string, path: string, authority: string, scheme: 'http' | 'https' = 'http'): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':method': method, ':scheme': scheme, ':path': path };
  let host: string | undefined;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!.toLowerCase();
    const value = list[i + 1]!;
    if (name === 'host') {
      host ??= value;
      continue;
    }
    if (name.charCodeAt(0) === 58 || CONNECTION_SPECIFIC.has(name) || (name === 'te' && !teIsTrailers(value))) continue;
    add(out, name, value);
  }
  out[':authority'] = host ?? authority;
  return out;
}

/** A shaped response header list as an HTTP/2 response's (or trailers') header object. */
export function toH2Response(list: readonly string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!.toLowerCase();
    if (name.charCodeAt(0) === 58 || CONNECTION_SPECIFIC.has(name) || name === 'te') continue;
    add(out, name, list[i + 1]!);
  }
  return out;
}

/** An HTTP/2 response's raw header list as undici's byte pairs, pseudo-headers dropped. */
export function fromH2Response(raw: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.charCodeAt(0) === 58) continue;
    out.push(Buffer.from(raw[i]!, 'latin1'), Buffer.from(raw[i + 1]!, 'latin1'));
  }
  return out;
}

/** A trailer object (Node's) as a flat list, pseudo-headers and connection-specific fields dropped. */
export function trailerList(trailers: IncomingHttpHeaders | undefined): string[] {
  const out: string[] = [];
  if (trailers === undefined) return out;
  for (const [name, value] of Object.entries(trailers)) {
    if (value === undefined || name.charCodeAt(0) === 58 || CONNECTION_SPECIFIC.has(name)) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  return out;
}
