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

// Tokens in Connection that name no header to drop (close, keep-alive), or a header this hop
// must not lose whatever the client says: the request would change meaning without it.
const NEVER_CONNECTION_SCOPED = new Set(['close', 'keep-alive', 'host', 'content-length']);

/** Lower-cased header names listed in a Connection header value, or undefined. */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1]!.split(',')) {
      const name = t.trim().toLowerCase();
      if (name && !NEVER_CONNECTION_SCOPED.has(name)) (tokens ??= new Set()).add(name);
    }
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
    const lower = name.toLowerCase();
    const value = raw[i + 1]!;
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
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      for (const t of raw[i + 1]!.toString('latin1').split(',')) {
        const token = t.trim().toLowerCase();
        if (token) (named ??= new Set()).add(token);
      }
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
