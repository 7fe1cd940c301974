// Header rewriting between client and upstream, on raw header arrays (no per-request objects
// beyond the output array). Hop-by-hop headers (RFC 9110 §7.6.1) stop here, plus any header the
// sender named in `Connection`; X-Forwarded-*, X-Real-IP and X-Request-Id are set from what
// this hop saw, keeping a peer's own values only when the peer is a trusted proxy
// (`server.trustedProxies`): from anyone else they are claims an attacker could forge.

import type { CidrSet } from '../core/cidr.js';
import { bytesMatch, FIELD_BYTE, TOKEN_BYTE } from '../core/bytes.js';
import { InvalidHeaderError } from '../core/errors.js';
import { HOP_BY_HOP, type HeaderRules } from '../core/policy/header-rules.js';

// Request headers this hop replaces, or that undici must not see (it manages `expect` itself).
const REPLACED_ON_REQUEST = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'x-request-id', 'expect']);

/** The lengths of `names`: a header name of another length is none of them (no lower-casing). */
function lengthsOf(names: Iterable<string>): Uint8Array {
  const table = new Uint8Array(32);
  for (const name of names) table[name.length] = 1;
  return table;
}

function hasLength(table: Uint8Array, length: number): boolean {
  return length < 32 && table[length] === 1;
}

// Requests: every name above, plus host (most names, on every request, are none of them).
// Responses: only hop-by-hop names matter.
const SPECIAL_LENGTH = lengthsOf([...HOP_BY_HOP, ...REPLACED_ON_REQUEST, 'host']);
const HOP_LENGTH = lengthsOf(HOP_BY_HOP);

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
  /** The connecting peer's address. */
  peer: string;
  proto: 'http' | 'https';
  /** Set when the peer is a trusted proxy: its X-Forwarded-* are kept and XFF is read through these. */
  trusted: CidrSet | undefined;
  /** Sent as X-Request-Id (see requestIdOf). */
  requestId: string;
  /** An absolute-form target's authority: it replaces Host (RFC 9112 §3.2.2). */
  authority?: string | undefined;
  /**
   * The route's `rewrite.host`: a name that replaces Host upstream, or null to send none (the
   * upstream client then sends the instance's host:port). X-Forwarded-Host keeps the client's.
   */
  upstreamHost?: string | null | undefined;
}

/** The client's X-Request-Id when it sent a usable one, else a new random one. */
export function requestIdOf(value: string | string[] | undefined, fresh: () => string): string {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : fresh();
}

/**
 * The client address a trusted peer vouches for: the right-most X-Forwarded-For entry that is
 * not itself a trusted proxy (entries left of it could be written by the client), else the
 * left-most entry, else the peer.
 */
export function clientAddressOf(xff: string | undefined, peer: string, trusted: CidrSet): string {
  if (xff === undefined) return peer;
  const entries = xff.split(',');
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!.trim();
    if (entry !== '' && !trusted.has(entry)) return entry;
  }
  return entries[0]!.trim() || peer;
}

/**
 * The header list sent upstream: the client's, minus hop-by-hop ones, with X-Forwarded-For,
 * -Proto, -Host, X-Real-IP and X-Request-Id set. From a trusted peer its X-Forwarded-For is
 * appended to (as nginx's $proxy_add_x_forwarded_for does) and its -Proto/-Host kept.
 * Returns undefined when the request carries more than one Host header (RFC 9112 §3.2: 400).
 */
export function upstreamRequestHeaders(raw: readonly string[], fwd: ForwardedFor): string[] | undefined {
  const named = connectionTokens(raw);
  const trusted = fwd.trusted;
  const out: string[] = [];
  let xff: string | undefined;
  let xfp: string | undefined;
  let xfh: string | undefined;
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
    if (REPLACED_ON_REQUEST.has(lower)) {
      if (trusted === undefined) continue;
      if (lower === 'x-forwarded-for') xff = xff === undefined ? value : `${xff}, ${value}`;
      else if (lower === 'x-forwarded-proto') xfp ??= value;
      else if (lower === 'x-forwarded-host') xfh ??= value;
      continue;
    }
    if (lower === 'host') {
      if (host !== undefined) return undefined;
      host = value;
      if (fwd.upstreamHost !== undefined) continue;
      if (fwd.authority !== undefined) {
        out.push(name, fwd.authority);
        continue;
      }
    }
    out.push(name, value);
  }
  if (typeof fwd.upstreamHost === 'string') out.push('host', fwd.upstreamHost);
  else if (fwd.authority !== undefined && host === undefined && fwd.upstreamHost === undefined) out.push('host', fwd.authority);
  const peer = fwd.peer;
  out.push('x-forwarded-for', xff === undefined ? peer : `${xff}, ${peer}`);
  out.push('x-forwarded-proto', xfp ?? fwd.proto);
  const forwardedHost = xfh ?? fwd.authority ?? host;
  if (forwardedHost !== undefined) out.push('x-forwarded-host', forwardedHost);
  out.push('x-real-ip', trusted === undefined ? peer : clientAddressOf(xff, peer, trusted));
  out.push('x-request-id', fwd.requestId);
  return out;
}

/** A reason phrase that may go out as it is: plain visible ASCII and spaces (SPEC "Edge rules"). */
const PLAIN_REASON = /^[\x20-\x7e]*$/;

/**
 * The reason phrase for the client: the upstream's when it is plain visible ASCII, else the
 * standard one. undici decodes the status line as UTF-8, so a phrase such as U+010D U+010A
 * would turn into CR LF if it were encoded back as latin1: this check runs before any path
 * (fast or Node) writes it.
 */
export function reasonPhrase(status: number, text: string, standard: string | undefined): string {
  return PLAIN_REASON.test(text) ? text : (standard ?? '');
}

/**
 * Checks one upstream header as Node's ServerResponse does (a token name; a value of HTAB, SP,
 * visible ASCII and obs-text, so never CR, LF or NUL), so the fast path and Node's path refuse
 * exactly the same heads.
 */
function checkHeader(name: Buffer, value: Buffer): void {
  if (name.length === 0) throw new InvalidHeaderError('empty header name from upstream');
  for (let i = 0; i < name.length; i++) if (TOKEN_BYTE[name[i]!] === 0) throw new InvalidHeaderError('invalid header name from upstream');
  for (let i = 0; i < value.length; i++) if (FIELD_BYTE[value[i]!] === 0) throw new InvalidHeaderError('invalid header value from upstream');
}

/** RFC 9110 §8.6: no Content-Length on a 1xx or 204 response (undici has framed the body already). */
function lengthForbidden(status: number): boolean {
  return status === 204 || status < 200;
}

/**
 * The header list sent to the client: the upstream's, minus hop-by-hop ones (and Content-Length
 * where the status forbids it). Throws InvalidHeaderError for a header no client may be sent.
 */
export function clientResponseHeaders(raw: readonly Buffer[], status: number): string[] {
  const out: string[] = [];
  let named: Set<string> | undefined;
  const noLength = lengthForbidden(status);
  for (let i = 0; i < raw.length; i += 2) {
    checkHeader(raw[i]!, raw[i + 1]!);
    const name = raw[i]!.toString('latin1');
    const lower = specialName(name);
    if (lower === undefined) {
      if (noLength && name.length === 14 && name.toLowerCase() === 'content-length') continue;
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

/** The hop-by-hop header `name` (raw bytes, any case) is, lower-cased; undefined for none. */
function hopByHopName(name: Buffer): string | undefined {
  for (const hop of HOP_BY_HOP) if (bytesMatch(name, hop)) return hop;
  return undefined;
}

/** Whether `remove` (lower-cased names) has `name` (raw bytes, any case): lengths first. */
function ruleRemoves(remove: readonly string[], name: Buffer): boolean {
  for (const n of remove) if (n.length === name.length && name.toString('latin1').toLowerCase() === n) return true;
  return false;
}

/** The `set` lines of a rule set, made once per rule set (rules are frozen config). */
const setLines = new WeakMap<HeaderRules, string>();
function ruleLines(rules: HeaderRules): string {
  let lines = setLines.get(rules);
  if (lines === undefined) {
    lines = rules.set.map(([n, v]) => `${n}: ${v}\r\n`).join('');
    setLines.set(rules, lines);
  }
  return lines;
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
 * with no string per header: the status line, what clientResponseHeaders keeps, the route's
 * `responseHeaders` rules (removed names skipped, set ones added), the framer's lines and the
 * blank line. Undefined when a Connection header names headers beyond keep-alive/close:
 * clientResponseHeaders handles that. Throws InvalidHeaderError as clientResponseHeaders does.
 */
export function encodeResponseHead(statusLine: string, status: number, raw: readonly Buffer[], framer: HeadFramer, rules?: HeaderRules): Buffer | undefined {
  const pairs = raw.length >> 1;
  if (keepScratch.length < pairs) keepScratch = new Uint8Array(pairs * 2);
  const keep = keepScratch;
  const noLength = lengthForbidden(status);
  let sized = false;
  let size = 0;
  for (let p = 0; p < pairs; p++) {
    const name = raw[2 * p]!;
    const value = raw[2 * p + 1]!;
    checkHeader(name, value);
    keep[p] = 1;
    if (name.length === 14 && bytesMatch(name, 'content-length')) {
      if (noLength) {
        keep[p] = 0;
        continue;
      }
      sized = true;
    }
    const hop = hasLength(HOP_LENGTH, name.length) ? hopByHopName(name) : undefined;
    if (hop !== undefined) {
      keep[p] = 0;
      if (hop === 'connection' && !bytesMatch(value, 'keep-alive') && !bytesMatch(value, 'close') && !namesNoHeader(value.toString('latin1'))) return undefined;
      continue;
    }
    if (rules !== undefined && ruleRemoves(rules.remove, name)) {
      keep[p] = 0;
      continue;
    }
    size += name.length + value.length + 4;
  }
  const tail = `${rules === undefined ? '' : ruleLines(rules)}${framer.framing(sized)}\r\n`;
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
