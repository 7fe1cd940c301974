// An upstream's HTTP/1.1 answer, read by the lean upstream client (h1-upstream.ts): the head
// (status line and header lines, checked as strictly as undici's parser checks them) and how its
// body is framed, then a chunked body's sizes, extensions and trailers. Pure: bytes in, parts
// out, no I/O. test/differential/upstream.test.ts holds it to undici's reading of the same bytes.
//
// RFC 9112 §6.3 decides the framing, with every case where a message's length is in doubt
// refused rather than guessed (a proxy that guesses another length than the upstream meant
// relays part of one answer as the start of the next):
// - no body: an answer to HEAD, a 1xx, 204 or 304, whatever it declares;
// - Transfer-Encoding: chunked last, once, and no Content-Length beside it; another coding
//   last: the body runs until the upstream closes;
// - Content-Length: one header, digits only;
// - neither: until the upstream closes.
// Obsolete line folding, a bare CR or LF, a space before a colon or a control byte in a value
// refuses the whole answer (RFC 9112 §5.2 lets a proxy answer 502 instead of unfolding).

import { bytesMatch, FIELD_BYTE, TOKEN_BYTE } from '../core/bytes.js';
import { UpstreamError } from '../core/errors.js';

export const NO_BODY = 0;
export const LENGTH = 1;
export const CHUNKED = 2;
export const UNTIL_CLOSE = 3;
export type Framing = typeof NO_BODY | typeof LENGTH | typeof CHUNKED | typeof UNTIL_CLOSE;

export interface ResponseHead {
  status: number;
  reason: string;
  /** Header names and values as they came, name, value, …: views of the bytes read. */
  raw: Buffer[];
  framing: Framing;
  /** Body bytes, for LENGTH. */
  length: number;
  /** Whether the connection may carry another request after this answer. */
  keepAlive: boolean;
  /** The upstream's `Keep-Alive: timeout=N` hint in ms, if it gave one. */
  idleHintMs: number | undefined;
}

/**
 * Reads the head at the start of `buf`, whose last line's CRLF is at `end` (where the bytes
 * CR LF CR LF begin). `headRequest`: the request was a HEAD.
 */
export function parseResponseHead(buf: Buffer, end: number, headRequest: boolean): ResponseHead {
  const lines = readLines(buf, end + 2);
  const status = lines.status;
  const head: ResponseHead = { status, reason: lines.reason, raw: lines.raw, framing: NO_BODY, length: 0, keepAlive: !lines.close && (!lines.http10 || lines.keepAliveToken), idleHintMs: lines.idleHintMs };
  if (status === 101) throw new UpstreamError('FAIRWAY_UNEXPECTED_UPGRADE', 'the upstream switched protocols unasked');
  // The framing headers are checked even where no body follows: a client could be sent them.
  const { framing, length } = framingOf(lines);
  if (headRequest || status < 200 || status === 204 || status === 304) {
    // undici closes after a HEAD too: a server that sends a body to HEAD anyway is out of step.
    if (headRequest) head.keepAlive = false;
    return head;
  }
  head.framing = framing;
  head.length = length;
  if (framing === UNTIL_CLOSE) head.keepAlive = false;
  return head;
}

/**
 * Checks the lines of a head not yet whole (`buf` holds no blank line yet): a malformed status
 * line, header line or framing header is refused as soon as it has arrived, not when a head
 * that may never end does. Throws as parseResponseHead would.
 */
export function checkPartialHead(buf: Buffer): void {
  const prefix = buf.toString('latin1', 0, Math.min(buf.length, 9));
  if (!'HTTP/1.1 '.startsWith(prefix) && !'HTTP/1.0 '.startsWith(prefix)) throw new UpstreamError('FAIRWAY_BAD_STATUS_LINE', 'malformed status line from the upstream');
  const last = buf.lastIndexOf('\r\n');
  if (last !== -1) framingOf(readLines(buf, last + 2));
}

/** What a head's complete lines say: the status line, the raw pairs, the headers that matter here. */
interface HeadLines {
  http10: boolean;
  status: number;
  reason: string;
  raw: Buffer[];
  /** The last Content-Length value (-1: not 1 to 15 digits), and how many there were. */
  length: number | undefined;
  lengths: number;
  /** Every Transfer-Encoding value, joined by commas. */
  codings: string | undefined;
  close: boolean;
  keepAliveToken: boolean;
  idleHintMs: number | undefined;
}

/**
 * Reads the lines of `buf` before `limit` (whole lines only, each ending in CRLF), byte by byte:
 * the status line `HTTP/1.x NNN[ reason]`, then header lines `token:[OWS]value[OWS]`, a value
 * of FIELD_BYTE bytes. Names and values are handed on as views; only the values this client
 * acts on become strings. Throws on a malformed line.
 */
function readLines(buf: Buffer, limit: number): HeadLines {
  let at = 0;
  for (; at < 7; at++) if (buf[at] !== HTTP_1[at]) throw badStatusLine();
  const minor = buf[7];
  const d0 = buf[9]! - 0x30;
  const d1 = buf[10]! - 0x30;
  const d2 = buf[11]! - 0x30;
  if ((minor !== 0x30 && minor !== 0x31) || buf[8] !== 0x20 || !(d0 >= 1 && d0 <= 9 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)) throw badStatusLine();
  at = 12;
  let reason = '';
  if (buf[at] === 0x20) {
    const from = ++at;
    while (at < limit && FIELD_BYTE[buf[at]!] === 1) at++;
    // Most answers are 200 OK: that phrase needs no new string.
    reason = at - from === 2 && buf[from] === 0x4f && buf[from + 1] === 0x4b ? 'OK' : buf.toString('latin1', from, at);
  }
  if (!lineEndsAt(buf, at, limit)) throw badStatusLine();
  at += 2;
  const out: HeadLines = { http10: minor === 0x30, status: d0 * 100 + d1 * 10 + d2, reason, raw: [], length: undefined, lengths: 0, codings: undefined, close: false, keepAliveToken: false, idleHintMs: undefined };
  while (at < limit) {
    if (!readField(buf, at, limit)) throw new UpstreamError('FAIRWAY_BAD_HEADER', 'malformed header line from the upstream');
    const { nameEnd, valueStart, valueEnd } = field;
    const name = buf.subarray(at, nameEnd);
    const value = buf.subarray(valueStart, valueEnd);
    out.raw.push(name, value);
    at = field.next;
    switch (name.length) {
      case 10:
        if (bytesMatch(name, 'connection')) {
          if (bytesMatch(value, 'keep-alive')) out.keepAliveToken = true;
          else if (bytesMatch(value, 'close')) out.close = true;
          else connectionTokens(out, buf.toString('latin1', valueStart, valueEnd).toLowerCase());
        } else if (bytesMatch(name, 'keep-alive')) out.idleHintMs = keepAliveHint(buf.toString('latin1', valueStart, valueEnd)) ?? out.idleHintMs;
        break;
      case 14:
        if (bytesMatch(name, 'content-length')) {
          out.lengths++;
          out.length = digits(value);
        }
        break;
      case 17:
        if (bytesMatch(name, 'transfer-encoding')) {
          const coding = buf.toString('latin1', valueStart, valueEnd);
          out.codings = out.codings === undefined ? coding : `${out.codings}, ${coding}`;
        }
        break;
    }
  }
  return out;
}

const HTTP_1 = Buffer.from('HTTP/1.', 'latin1');

/** The number 1 to 15 decimal digits spell, else -1. */
function digits(bytes: Buffer): number {
  if (bytes.length === 0 || bytes.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const d = bytes[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** What a Connection value other than a lone keep-alive or close says, in `lines`. */
function connectionTokens(lines: HeadLines, tokens: string): void {
  if (hasToken(tokens, 'close')) lines.close = true;
  if (hasToken(tokens, 'keep-alive')) lines.keepAliveToken = true;
}

/** Whether CR LF is at `at`, within the whole lines before `limit`. */
function lineEndsAt(buf: Buffer, at: number, limit: number): boolean {
  return at + 2 <= limit && buf[at] === 13 && buf[at + 1] === 10;
}

const badStatusLine = (): UpstreamError => new UpstreamError('FAIRWAY_BAD_STATUS_LINE', 'malformed status line from the upstream');

/** Where the parts of the field line readField last read lie (one object: reading is synchronous). */
const field = { nameEnd: 0, valueStart: 0, valueEnd: 0, next: 0 };

/**
 * Reads the field line at `at` (a header or trailer line: `token:[OWS]value[OWS]` CRLF, the
 * value of FIELD_BYTE bytes) into `field`; false when it is malformed.
 */
function readField(buf: Buffer, at: number, limit: number): boolean {
  const start = at;
  while (at < limit && TOKEN_BYTE[buf[at]!] === 1) at++;
  if (at === start || buf[at] !== 0x3a) return false;
  field.nameEnd = at++;
  while (buf[at] === 0x20 || buf[at] === 0x09) at++;
  const valueStart = at;
  while (at < limit && FIELD_BYTE[buf[at]!] === 1) at++;
  if (!lineEndsAt(buf, at, limit)) return false;
  let valueEnd = at;
  while (valueEnd > valueStart && (buf[valueEnd - 1] === 0x20 || buf[valueEnd - 1] === 0x09)) valueEnd--;
  field.valueStart = valueStart;
  field.valueEnd = valueEnd;
  field.next = at + 2;
  return true;
}

/** How the framing headers frame a body (ignoring the request and status); throws where they are in doubt. */
function framingOf(lines: HeadLines): { framing: Framing; length: number } {
  const { codings, lengths, length } = lines;
  if (codings !== undefined) {
    if (lengths > 0) throw new UpstreamError('FAIRWAY_BAD_FRAMING', 'the upstream sent both Transfer-Encoding and Content-Length');
    const list = codings.toLowerCase().split(',').map((c) => c.trim());
    const chunked = list.indexOf('chunked');
    if (chunked !== list.lastIndexOf('chunked')) throw new UpstreamError('FAIRWAY_BAD_FRAMING', 'the upstream applied chunked more than once');
    // chunked not last (or absent): the body runs until the upstream closes (RFC 9112 §6.3).
    return { framing: chunked === list.length - 1 ? CHUNKED : UNTIL_CLOSE, length: 0 };
  }
  if (lengths > 1) throw new UpstreamError('FAIRWAY_BAD_FRAMING', 'the upstream sent more than one Content-Length');
  if (length === undefined) return { framing: UNTIL_CLOSE, length: 0 };
  if (length < 0) throw new UpstreamError('FAIRWAY_BAD_FRAMING', 'malformed Content-Length from the upstream');
  return { framing: LENGTH, length };
}

/**
 * Whether `buf` from `from` on holds a line ending that is not CRLF: a head that will never
 * show its CRLF CRLF end, to be refused now rather than waited on.
 */
export function hasBareLineEnd(buf: Buffer, from: number): boolean {
  for (let i = buf.indexOf(10, from); i !== -1; i = buf.indexOf(10, i + 1)) if (i === 0 || buf[i - 1] !== 13) return true;
  for (let i = buf.indexOf(13, from); i !== -1 && i < buf.length - 1; i = buf.indexOf(13, i + 1)) if (buf[i + 1] !== 10) return true;
  return false;
}

/** Whether a comma-separated, lower-cased list holds `token`. */
function hasToken(list: string, token: string): boolean {
  if (list === token) return true;
  if (!list.includes(',')) return list.trim() === token;
  for (const t of list.split(',')) if (t.trim() === token) return true;
  return false;
}

/** `timeout=N` of a Keep-Alive header, in ms. */
function keepAliveHint(value: string): number | undefined {
  const m = /(?:^|[,;\s])timeout=([0-9]{1,9})/i.exec(value);
  return m === null ? undefined : Number(m[1]) * 1000;
}

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
/**
 * chunk-size, then chunk-ext: *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ),
 * except that an empty value after "=" passes, as undici's parser lets it.
 */
const CHUNK_SIZE = new RegExp(`^([0-9A-Fa-f]{1,13})(?:[ \\t]*;[ \\t]*${TOKEN}(?:[ \\t]*=[ \\t]*(?:${TOKEN}|${QUOTED})?)?)*$`);
/** Longest chunk-size line (with its extensions) and trailer section read. */
const LINE_LIMIT = 4096;

const SIZE = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILERS = 3;
const DONE = 4;

/**
 * A chunked body, fed as it arrives. `feed` hands data to `onData` as views of the input and
 * returns the index just past the body's end once it is complete, else -1.
 */
export class ChunkedBody {
  #state = SIZE;
  #left = 0;
  /** A size line, the CRLF after a chunk or the trailers, while incomplete. */
  #line = '';
  readonly #limit: number;
  trailers: Buffer[] | null = null;

  constructor(trailerLimit: number) {
    this.#limit = trailerLimit;
  }

  get done(): boolean {
    return this.#state === DONE;
  }

  feed(buf: Buffer, from: number, onData: (chunk: Buffer) => void): number {
    let i = from;
    while (i < buf.length) {
      switch (this.#state) {
        case DATA: {
          const n = Math.min(this.#left, buf.length - i);
          onData(buf.subarray(i, i + n));
          i += n;
          this.#left -= n;
          if (this.#left === 0) this.#state = DATA_END;
          break;
        }
        case SIZE:
        case DATA_END: {
          const nl = buf.indexOf(10, i);
          const stop = nl === -1 ? buf.length : nl + 1;
          this.#line += buf.toString('latin1', i, stop);
          i = stop;
          if (nl === -1) {
            if (this.#line.length > LINE_LIMIT) throw new UpstreamError('FAIRWAY_BAD_CHUNK', 'chunk size line too long');
            break;
          }
          const text = this.#line;
          this.#line = '';
          if (text.length < 2 || text.charCodeAt(text.length - 2) !== 13) throw new UpstreamError('FAIRWAY_BAD_CHUNK', 'chunk line not ended by CRLF');
          if (this.#state === DATA_END) {
            if (text.length !== 2) throw new UpstreamError('FAIRWAY_BAD_CHUNK', 'chunk data longer than its size');
            this.#state = SIZE;
            break;
          }
          const m = CHUNK_SIZE.exec(text.slice(0, -2));
          if (m === null) throw new UpstreamError('FAIRWAY_BAD_CHUNK', 'malformed chunk size');
          this.#left = parseInt(m[1]!, 16);
          this.#state = this.#left === 0 ? TRAILERS : DATA;
          break;
        }
        case TRAILERS:
          return this.#trailerEnd(buf, i);
        default:
          return i;
      }
    }
    return -1;
  }

  /** Reads trailer lines up to the blank one; the index past it, or -1 for more. */
  #trailerEnd(buf: Buffer, from: number): number {
    const before = this.#line.length;
    this.#line += buf.toString('latin1', from, Math.min(buf.length, from + this.#limit + 4));
    const text = this.#line;
    let end = -1;
    if (text.startsWith('\r\n')) end = 2;
    else {
      const blank = text.indexOf('\r\n\r\n');
      if (blank !== -1) end = blank + 4;
    }
    if (end === -1) {
      if (text.length > this.#limit) throw new UpstreamError('UND_ERR_HEADERS_OVERFLOW', 'trailers too large');
      return -1;
    }
    if (end > 2) this.trailers = parseTrailers(text.slice(0, end - 2));
    this.#state = DONE;
    this.#line = '';
    return from + end - before;
  }
}

function parseTrailers(text: string): Buffer[] {
  const buf = Buffer.from(text, 'latin1');
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; at = field.next) {
    if (!readField(buf, at, buf.length)) throw new UpstreamError('FAIRWAY_BAD_HEADER', 'malformed trailer line');
    out.push(buf.subarray(at, field.nameEnd), buf.subarray(field.valueStart, field.valueEnd));
  }
  return out;
}
