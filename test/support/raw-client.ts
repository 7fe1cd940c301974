// A raw TCP client for byte-exact HTTP/1.1 tests, and a strict parser for what comes back.
//
// The parser is deliberately stricter than a browser or Node's client, because it checks what
// a proxy may put on the wire (RFC 9112), not what a lenient recipient would survive:
// - status line: `HTTP/1.1 SP 3DIGIT SP reason CRLF`, the reason plain visible ASCII and SP;
// - header line: `token ":" OWS value`, the value HTAB, SP, VCHAR or obs-text, nothing else;
//   no obs-fold; every line ends in CRLF (a bare CR or LF anywhere in a head is an error);
// - framing: never Content-Length and Transfer-Encoding together, Content-Length once and
//   all digits, Transfer-Encoding only `chunked`; 1xx and 204 carry neither (RFC 9110 §8.6,
//   RFC 9112 §6.1); 1xx, 204, 304 and answers to HEAD have no body; chunked bodies are strict;
// - 1xx answers are collected as `interim` on the final answer that follows them.
// A response with no framing runs until the connection closes, as HTTP/1.1 says.

import { connect, type Socket } from 'node:net';

export interface ParsedResponse {
  status: number;
  reason: string;
  /** Header lines as received: [name, value], name case kept, value trimmed. */
  rawHeaders: Array<[string, string]>;
  /** Body bytes as a latin1 string (one char per byte). */
  body: string;
  /** 1xx answers that came before this one, in order. */
  interim: ParsedResponse[];
}

export interface ParseResult {
  /** Complete final (non-1xx) responses, in order. */
  responses: ParsedResponse[];
  /** Bytes after the last complete response. */
  rest: string;
  /** Why the stream is not well-formed HTTP/1.1; parsing stopped there. */
  error?: string;
}

/** The first value of header `name` (any case), or undefined. */
export function headerOf(r: Pick<ParsedResponse, 'rawHeaders'>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return r.rawHeaders.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** Every value of header `name` (any case). */
export function headersOf(r: Pick<ParsedResponse, 'rawHeaders'>, name: string): string[] {
  const lower = name.toLowerCase();
  return r.rawHeaders.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

const STATUS_LINE = /^HTTP\/1\.1 ([0-9]{3}) ([\x20-\x7e]*)$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[\t ]*([\t\x20-\x7e\x80-\xff]*?)[\t ]*$/;
const CHUNK_SIZE = /^([0-9a-fA-F]{1,16})(;[\t\x20-\x7e]*)?$/;

type Step = { done: false } | { done: true; end: number; body: string } | { error: string };

/**
 * Parses `text` (latin1, one char per byte) as a sequence of HTTP/1.1 responses.
 * `bodiless(i)`: the i-th final response answers a HEAD (no body whatever it says).
 * `closed`: the connection is closed, so a response framed by close is complete.
 */
export function parseResponses(text: string, opts: { bodiless?: (index: number) => boolean; closed?: boolean } = {}): ParseResult {
  const responses: ParsedResponse[] = [];
  let interim: ParsedResponse[] = [];
  let at = 0;
  const stop = (error?: string): ParseResult => ({ responses, rest: text.slice(at), ...(error === undefined ? {} : { error }) });
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd === -1) {
      // Not a complete head yet; but a bare LF or an impossible start is already an error.
      const sofar = text.slice(at);
      if (!'HTTP/1.1 '.startsWith(sofar.slice(0, 9))) return stop(`response does not start with "HTTP/1.1 ": ${JSON.stringify(sofar.slice(0, 40))}`);
      if (/\n(?<!\r\n)/.test(sofar)) return stop(`bare LF in a response head: ${JSON.stringify(sofar.slice(0, 200))}`);
      return stop();
    }
    const lines = text.slice(at, headEnd).split('\r\n');
    const statusLine = lines[0]!;
    const m = STATUS_LINE.exec(statusLine);
    if (m === null) return stop(`malformed status line: ${JSON.stringify(statusLine.slice(0, 200))}`);
    const status = Number(m[1]);
    if (status < 100) return stop(`status code below 100: ${status}`);
    const rawHeaders: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      if (line.startsWith(' ') || line.startsWith('\t')) return stop(`obs-fold in a response head: ${JSON.stringify(line.slice(0, 200))}`);
      const h = HEADER_LINE.exec(line);
      if (h === null) return stop(`malformed header line: ${JSON.stringify(line.slice(0, 200))}`);
      rawHeaders.push([h[1]!, h[2]!]);
    }
    const response: ParsedResponse = { status, reason: m[2]!, rawHeaders, body: '', interim: [] };
    const cl = headersOf(response, 'content-length');
    const te = headersOf(response, 'transfer-encoding');
    if (cl.length > 0 && te.length > 0) return stop(`both Content-Length and Transfer-Encoding on a ${status}`);
    if (cl.length > 1) return stop(`Content-Length ${cl.length} times on a ${status}: ${JSON.stringify(cl)}`);
    if (cl.length === 1 && !/^[0-9]+$/.test(cl[0]!)) return stop(`bad Content-Length: ${JSON.stringify(cl[0])}`);
    if (te.length > 0 && (te.length > 1 || te[0]!.toLowerCase() !== 'chunked')) return stop(`unexpected Transfer-Encoding: ${JSON.stringify(te)}`);
    if ((status < 200 || status === 204) && (cl.length > 0 || te.length > 0)) return stop(`a ${status} must carry neither Content-Length nor Transfer-Encoding (RFC 9110 §8.6, RFC 9112 §6.1), got ${JSON.stringify(rawHeaders)}`);
    const bodyStart = headEnd + 4;
    if (status < 200) {
      if (status === 101) return stop('101 Switching Protocols where a plain answer was expected');
      interim.push(response);
      at = bodyStart;
      continue;
    }
    let step: Step;
    if (opts.bodiless?.(responses.length) || status === 204 || status === 304) step = { done: true, end: bodyStart, body: '' };
    else if (te.length > 0) step = chunked(text, bodyStart);
    else if (cl.length === 1) {
      const n = Number(cl[0]);
      step = text.length - bodyStart >= n ? { done: true, end: bodyStart + n, body: text.slice(bodyStart, bodyStart + n) } : { done: false };
    } else step = opts.closed ? { done: true, end: text.length, body: text.slice(bodyStart) } : { done: false };
    if ('error' in step) return stop(step.error);
    if (!step.done) return stop();
    response.body = step.body;
    response.interim = interim;
    interim = [];
    responses.push(response);
    at = step.end;
  }
  return stop();
}

/** A chunked body starting at `at`: complete, incomplete, or malformed. */
function chunked(text: string, at: number): Step {
  let body = '';
  for (;;) {
    const le = text.indexOf('\r\n', at);
    if (le === -1) return { done: false };
    const size = CHUNK_SIZE.exec(text.slice(at, le));
    if (size === null) return { error: `malformed chunk size line: ${JSON.stringify(text.slice(at, le).slice(0, 80))}` };
    const n = parseInt(size[1]!, 16);
    at = le + 2;
    if (n === 0) break;
    if (text.length < at + n + 2) return { done: false };
    body += text.slice(at, at + n);
    if (text.slice(at + n, at + n + 2) !== '\r\n') return { error: 'chunk data not followed by CRLF' };
    at += n + 2;
  }
  // Trailer section: header lines, then an empty line.
  for (;;) {
    const le = text.indexOf('\r\n', at);
    if (le === -1) return { done: false };
    const line = text.slice(at, le);
    at = le + 2;
    if (line === '') return { done: true, end: at, body };
    if (!HEADER_LINE.test(line)) return { error: `malformed trailer line: ${JSON.stringify(line.slice(0, 80))}` };
  }
}

export interface ReadResult extends ParseResult {
  /** The server closed (or reset) the connection. */
  closed: boolean;
  /** The wait ran out before `n` responses, a close or an error. */
  timedOut: boolean;
  /** From the client's first write to the moment this read was satisfied. */
  elapsedMs: number;
}

/** One client connection that writes raw bytes and parses what comes back strictly. */
export class RawClient {
  readonly socket: Socket;
  /** Everything received, latin1. */
  text = '';
  closed = false;
  /** When the first byte was sent (performance.now()). */
  sentAt: number | undefined;
  #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.text += d;
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  send(bytes: string | Buffer): void {
    this.sentAt ??= performance.now();
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Sends, then half-closes (FIN): the client will send nothing more. */
  sendAndEnd(bytes: string | Buffer): void {
    this.sentAt ??= performance.now();
    this.socket.end(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  parse(bodiless?: (index: number) => boolean): ParseResult {
    return parseResponses(this.text, { closed: this.closed, ...(bodiless ? { bodiless } : {}) });
  }

  /**
   * Resolves once `n` final responses are complete, the connection closed, the bytes stopped
   * being well-formed, or `timeoutMs` passed: whichever comes first. Never rejects.
   */
  read(n: number, timeoutMs = 5_000, bodiless?: (index: number) => boolean): Promise<ReadResult> {
    return new Promise((resolve) => {
      const start = this.sentAt ?? performance.now();
      let timer: NodeJS.Timeout | undefined;
      const check = (timedOut: boolean): boolean => {
        const r = this.parse(bodiless);
        if (!timedOut && r.responses.length < n && !this.closed && r.error === undefined) return false;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve({ ...r, closed: this.closed, timedOut, elapsedMs: Math.round(performance.now() - start) });
        return true;
      };
      const wake = (): void => void check(false);
      if (check(false)) return;
      this.#waiters.add(wake);
      timer = setTimeout(() => check(true), timeoutMs);
    });
  }

  /** Resolves true once `pred(text)` holds (or the connection closed with it holding), false after `timeoutMs` or on close. */
  waitFor(pred: (text: string) => boolean, timeoutMs = 5_000): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const check = (timedOut: boolean): boolean => {
        const ok = pred(this.text);
        if (!ok && !timedOut && !this.closed) return false;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(ok);
        return true;
      };
      const wake = (): void => void check(false);
      if (check(false)) return;
      this.#waiters.add(wake);
      timer = setTimeout(() => check(true), timeoutMs);
    });
  }

  /** Ms from now until the server closes the connection, or undefined if it is still open after `timeoutMs`. */
  waitClose(timeoutMs: number): Promise<number | undefined> {
    const start = performance.now();
    return new Promise((resolve) => {
      if (this.closed) return resolve(0);
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(undefined);
      }, timeoutMs);
      const wake = (): void => {
        if (!this.closed) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(Math.round(performance.now() - start));
      };
      this.#waiters.add(wake);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/**
 * The head at the start of `text` (a 101 included), checked by the same rules as
 * parseResponses; undefined while incomplete, a string when malformed.
 */
export function parseHead(text: string): { status: number; reason: string; rawHeaders: Array<[string, string]>; end: number } | string | undefined {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const lines = text.slice(0, headEnd).split('\r\n');
  const m = STATUS_LINE.exec(lines[0]!);
  if (m === null) return `malformed status line: ${JSON.stringify(lines[0]!.slice(0, 200))}`;
  const rawHeaders: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const h = HEADER_LINE.exec(line);
    if (h === null) return `malformed header line: ${JSON.stringify(line.slice(0, 200))}`;
    rawHeaders.push([h[1]!, h[2]!]);
  }
  return { status: Number(m[1]), reason: m[2]!, rawHeaders, end: headEnd + 4 };
}

/** `METHOD target HTTP/1.1` with Host and the given extra header lines (each without CRLF). */
export function requestText(method: string, target: string, host: string | undefined, extra: string[] = [], body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, ...(host === undefined ? [] : [`Host: ${host}`]), ...extra];
  if (body.length > 0 && !extra.some((l) => /^(content-length|transfer-encoding):/i.test(l))) lines.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Sends raw bytes and returns everything the server wrote before closing (or 2 s). */
export function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.setTimeout(2_000, () => s.destroy());
    s.write(text);
  });
}
