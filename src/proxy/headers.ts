// Header rewriting between client and upstream, on raw header arrays (no per-request objects
// beyond the output array). Hop-by-hop headers (RFC 9110 §7.6.1) stop here, plus any header the
// sender named in `Connection`; X-Forwarded-* are set from what this hop saw.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// Request headers this hop replaces, or that undici must not see (it manages `expect` itself).
const REPLACED_ON_REQUEST = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'expect']);

/** The lengths of `names`: a header name of another length is none of them (no lower-casing). */
function lengthsOf(names: Iterable<string>): Uint8Array {
  const table = new Uint8Array(32);
  for (const name of names) table[name.length] = 1;
  return table;
}

function hasLength(table: Uint8Array, length: number): boolean {
  return length < 32 && table[length] === 1;
}

// Requests: every name above, plus host and x-request-id (most names, on every request, are
// none of them). Responses: only hop-by-hop names matter.
const SPECIAL_LENGTH = lengthsOf([...HOP_BY_HOP, ...REPLACED_ON_REQUEST, 'host', 'x-request-id']);
const HOP_LENGTH = lengthsOf(HOP_BY_HOP);

/** Whether the bytes spell `lower` (lower-case letters and '-') in any letter case. */
export function bytesMatch(bytes: Buffer, lower: string): boolean {
  if (bytes.length !== lower.length) return false;
  // | 0x20 folds A-Z onto a-z; of the token characters a name may hold, nothing else lands on
  // a letter or on '-'.
  for (let i = 0; i < lower.length; i++) if ((bytes[i]! | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** The lower-cased name when it may be one this hop treats specially, else undefined. */
function specialName(name: string): string | undefined {
  return hasLength(SPECIAL_LENGTH, name.length) ? name.toLowerCase() : undefined;
}

/** The tokens of a Connection header value, lower-cased, empty ones skipped. */
function connectionTokenList(value: string): string[] {
  const tokens: string[] = [];
  for (const t of value.split(',')) {
    const token = t.trim().toLowerCase();
    if (token) tokens.push(token);
  }
  return tokens;
}

/** Whether a Connection value holds only keep-alive/close (the usual answer: one string compare). */
function namesNoHeader(value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'keep-alive' || v === 'close') return true;
  for (const token of connectionTokenList(v)) if (token !== 'keep-alive' && token !== 'close') return false;
  return true;
}

// Tokens in Connection that name no header to drop (close, keep-alive), or a header this hop
// must not lose whatever the client says: the request would change meaning without it.
const NEVER_CONNECTION_SCOPED = new Set(['close', 'keep-alive', 'host', 'content-length']);

/** Lower-cased header names listed in a Connection header value, or undefined. */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'connection') continue;
    for (const name of connectionTokenList(raw[i + 1]!)) if (!NEVER_CONNECTION_SCOPED.has(name)) (tokens ??= new Set()).add(name);
  }
  return tokens;
}

export interface ForwardedFor {
  clientIp: string;
  proto: 'http' | 'https';
  /** Sent as X-Request-Id (the client's own when it sent one; see requestIdOf). */
  requestId?: string;
}

/** The client's X-Request-Id when it sent a usable one, else a new random one. */
export function requestIdOf(value: string | string[] | undefined, fresh: () => string): string {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : fresh();
}

/**
 * The header list sent upstream: the client's, minus hop-by-hop ones, with X-Forwarded-For
 * appended to (as nginx's $proxy_add_x_forwarded_for does), X-Forwarded-Proto/Host set, and
 * X-Request-Id set to fwd.requestId when given.
 * Returns undefined when the request carries more than one Host header (RFC 9112 §3.2: 400).
 */
export function upstreamRequestHeaders(raw: readonly string[], fwd: ForwardedFor): string[] | undefined {
  const named = connectionTokens(raw);
  const out: string[] = [];
  let xff: string | undefined;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = named === undefined ? specialName(name) : name.toLowerCase();
    if (lower === undefined) {
      out.push(name, value);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    if (fwd.requestId !== undefined && lower === 'x-request-id') continue;
    if (REPLACED_ON_REQUEST.has(lower)) {
      if (lower === 'x-forwarded-for') xff = xff === undefined ? value : `${xff}, ${value}`;
      continue;
    }
    if (lower === 'host') {
      if (host !== undefined) return undefined;
      host = value;
    }
    out.push(name, value);
  }
  out.push('x-forwarded-for', xff === undefined ? fwd.clientIp : `${xff}, ${fwd.clientIp}`);
  out.push('x-forwarded-proto', fwd.proto);
  if (host !== undefined) out.push('x-forwarded-host', host);
  if (fwd.requestId !== undefined) out.push('x-request-id', fwd.requestId);
  return out;
}

/** The header list sent to the client: the upstream's, minus hop-by-hop ones. */
export function clientResponseHeaders(raw: readonly Buffer[]): string[] {
  const out: string[] = [];
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = specialName(name);
    if (lower === undefined) {
      out.push(name, raw[i + 1]!.toString('latin1'));
      continue;
    }
    if (lower === 'connection') {
      for (const token of connectionTokenList(raw[i + 1]!.toString('latin1'))) (named ??= new Set()).add(token);
      continue;
    }
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (named === undefined) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!named.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  return kept;
}

/** Says how a response body is framed, once it is known whether Content-Length came. */
export interface HeadFramer {
  /** The header lines (each ending in CRLF) that frame the body; '' for none. */
  framing(sized: boolean): string;
}

// Per-pair keep flags, reused across calls (the hot path is synchronous).
let keepScratch = new Uint8Array(64);

/**
 * The response head for the client, encoded straight from the upstream's raw header bytes,
 * with no string per header: the status line, what clientResponseHeaders keeps, the framer's
 * lines and the blank line. Undefined when a Connection header names headers beyond
 * keep-alive/close: clientResponseHeaders handles that.
 */
export function encodeResponseHead(statusLine: string, raw: readonly Buffer[], framer: HeadFramer): Buffer | undefined {
  const pairs = raw.length >> 1;
  if (keepScratch.length < pairs) keepScratch = new Uint8Array(pairs * 2);
  const keep = keepScratch;
  let sized = false;
  let size = 0;
  for (let p = 0; p < pairs; p++) {
    const name = raw[2 * p]!;
    const value = raw[2 * p + 1]!;
    keep[p] = 1;
    if (name.length === 14 && bytesMatch(name, 'content-length')) sized = true;
    const lower = hasLength(HOP_LENGTH, name.length) ? name.toString('latin1').toLowerCase() : undefined;
    if (lower !== undefined && HOP_BY_HOP.has(lower)) {
      keep[p] = 0;
      if (lower === 'connection' && !namesNoHeader(value.toString('latin1'))) return undefined;
      continue;
    }
    size += name.length + value.length + 4;
  }
  const tail = `${framer.framing(sized)}\r\n`;
  const bytes = Buffer.allocUnsafe(statusLine.length + size + tail.length);
  let at = bytes.write(statusLine, 0, 'latin1');
  for (let p = 0; p < pairs; p++) {
    if (keep[p] === 0) continue;
    const name = raw[2 * p]!;
    const value = raw[2 * p + 1]!;
    bytes.set(name, at);
    at += name.length;
    bytes[at++] = 58; // ':'
    bytes[at++] = 32;
    bytes.set(value, at);
    at += value.length;
    bytes[at++] = 13;
    bytes[at++] = 10;
  }
  bytes.write(tail, at, 'latin1');
  return bytes;
}
