// A strict parser for the plain request heads the fast path serves itself (see fast-path.ts).
//
// It accepts only the everyday shape: an HTTP/1.1 request line with a known method and an
// origin-form target, one Host, no body (no Content-Length, no Transfer-Encoding), no Upgrade
// or Expect, each header name once, the whole head in hand. Anything else — a partial head,
// a body, an odd byte, a repeated header — is not rejected here but handed to Node's own
// parser (llhttp), which has the last word on what is malformed. So the fast path can never
// accept a request Node would refuse, and never has to frame a request body.
//
// Cost: one latin1 decode of the head, one sticky regex test per line (no captures, no split),
// no per-byte JS loop.

/** A request head the fast path may serve. */
export interface RequestHead {
  readonly method: string;
  readonly url: string;
  /** [name, value, name, value, ...] as sent, values without surrounding blanks. */
  readonly rawHeaders: string[];
  /** Lower-cased name → value; each name appears once. */
  readonly headers: Record<string, string>;
  /** The client sent `Connection: close`. */
  readonly close: boolean;
  /** Offset just past the blank line that ends the head. */
  readonly end: number;
}

// Methods that Node's parser knows and that carry no body unless framing headers say so
// (those are handed over). CONNECT and the WebDAV family go to Node.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

// `METHOD /target HTTP/1.1`: target bytes are visible ASCII only (no blanks, no controls).
const REQUEST_LINE = /^([A-Z]{3,7}) (\/[\x21-\x7e]*) HTTP\/1\.1$/;

// `name: value`: name a token (RFC 9110 §5.6.2); value any bytes but controls (HTAB allowed).
// Sticky (matched from lastIndex, at a line's start); the caller checks it stopped at the
// line's end. No lazy quantifiers or nested repeats: linear on any input.
const HEADER_LINE = /[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*/y;

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

// Request headers that mean a body, a protocol switch or a handshake: Node's path.
// Proxy-Connection too: Node reads `Proxy-Connection: close` as Connection: close.
const NOT_FAST = new Set(['content-length', 'transfer-encoding', 'upgrade', 'expect', 'http2-settings', 'proxy-connection', '__proto__']);

/** Most header lines a fast-path head may have; longer heads go to Node. */
export const MAX_FAST_HEADERS = 64;

/**
 * The request head at the start of `buf`, or undefined when Node's parser should take the
 * connection from here (incomplete head, a body, anything unusual). Heads larger than
 * `maxHeaderSize` are handed over too, so Node answers them with 431.
 */
export function parseRequestHead(buf: Buffer, maxHeaderSize: number): RequestHead | undefined {
  const stop = buf.indexOf(HEAD_END);
  if (stop === -1 || stop + 4 > maxHeaderSize) return undefined;
  const text = buf.toString('latin1', 0, stop);
  let eol = text.indexOf('\r\n');
  if (eol === -1) eol = text.length;
  const first = REQUEST_LINE.exec(text.slice(0, eol));
  if (first === null || !METHODS.has(first[1]!)) return undefined;
  const rawHeaders: string[] = [];
  const headers: Record<string, string> = {};
  let close = false;
  let count = 0;
  // Line by line without splitting: each header line is checked in place by a sticky regex
  // that must stop exactly at the line's end.
  for (let at = eol + 2; at < text.length; ) {
    let end = text.indexOf('\r\n', at);
    if (end === -1) end = text.length;
    if (++count > MAX_FAST_HEADERS) return undefined;
    HEADER_LINE.lastIndex = at;
    if (!HEADER_LINE.test(text) || HEADER_LINE.lastIndex !== end) return undefined;
    const colon = text.indexOf(':', at);
    const name = text.slice(at, colon);
    const lower = name.toLowerCase();
    // typeof: a name such as `constructor` finds Object.prototype's, which is no repeat.
    if (NOT_FAST.has(lower) || typeof headers[lower] === 'string') return undefined;
    const value = trimBlanks(text.slice(colon + 1, end));
    if (lower === 'connection') {
      const token = value.toLowerCase();
      if (token === 'close') close = true;
      else if (token !== 'keep-alive') return undefined;
    }
    headers[lower] = value;
    rawHeaders.push(name, value);
    at = end + 2;
  }
  if (headers.host === undefined) return undefined;
  return { method: first[1]!, url: first[2]!, rawHeaders, headers, close, end: stop + 4 };
}

/** The value without leading and trailing SP/HTAB (RFC 9110 §5.5 optional whitespace). */
function trimBlanks(v: string): string {
  let a = 0;
  let b = v.length;
  while (a < b && (v.charCodeAt(a) === 32 || v.charCodeAt(a) === 9)) a++;
  while (b > a && (v.charCodeAt(b - 1) === 32 || v.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === v.length ? v : v.slice(a, b);
}
