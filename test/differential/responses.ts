// Random upstream answers for the upstream-client differential test (upstream.test.ts): what a
// scripted HTTP/1.1 origin writes back to one GET or HEAD, how the bytes are cut into writes, and
// whether it closes after them. A small grammar of status lines, header fields and bodies
// (RFC 9112 §4-§7), aimed at where response parsers disagree: Content-Length alone, repeated,
// conflicting or malformed; chunked with extensions, trailers and broken pieces; bodies
// delimited by the close; 1xx heads before the final one; HEAD, 204 and 304 with and without a
// length; Transfer-Encoding beside Content-Length or other than chunked; HTTP/1.0 with and
// without keep-alive; `Connection: close`; odd but valid heads, malformed heads; bytes after a
// complete answer; and any of these cut short by an early close.
//
// About a third of the answers are plain (a 200 with an honest Content-Length or chunked body),
// so the comparison is not only about errors.
//
// Strings here are latin1: each char is one byte (`'\xe9'` is the byte 0xE9).

import { caseSeed, Rng } from './random.js';

/** A cut in the upstream's writes: the bytes from `at` on go out in a later write. */
export interface Cut {
  readonly at: number;
  /** Wait a moment before the next write, so the client reads the parts separately. */
  readonly pause: boolean;
}

export interface UpstreamCase {
  /** `fixed <what>` or `seed <seed> case <index>`. */
  readonly name: string;
  /** The framing class (for the run's counts), `+stray` / `+cut` when modified. */
  readonly kind: string;
  /** The first request's method: the answer's meaning depends on it. */
  readonly method: 'GET' | 'HEAD';
  /** The upstream's answer to that request, exactly as written. */
  readonly bytes: Buffer;
  /** Ascending, each inside (0, bytes.length). */
  readonly cuts: readonly Cut[];
  /** The upstream closes (FIN) after the last write. */
  readonly close: boolean;
  /** The client's handler pauses reading (returns false) now and then, and resumes soon after. */
  readonly pauseReads: boolean;
  /**
   * When set, the upstream holds back the bytes from this offset (stray bytes after a complete
   * answer; at bytes.length, nothing but the close) until the client has the first answer, then
   * writes them and closes (when it does) at once, and the second request is sent that same
   * moment: they are in the client's socket, not yet read, when it picks a connection for it.
   */
  readonly hurryAt: number | undefined;
  /**
   * Where the bytes after a complete answer begin, when there are any: stray bytes, or the body
   * of an answer that has none (to a HEAD, a 204, a 304).
   */
  readonly strayAt: number | undefined;
}

/** One answer before modifiers: the text, and what the modifiers need to know of it. */
interface Answer {
  kind: string;
  method: 'GET' | 'HEAD';
  text: string;
  /** Offset just past the final head's blank line. */
  headEnd: number;
  /** Offset just past the answer as a client reads it (bytes after it are stray). */
  end: number;
  /** The body runs until the close: the upstream should close, and stray bytes are body. */
  untilClose: boolean;
}

const CRLF = '\r\n';
const REASONS: Record<number, string> = { 200: 'OK', 201: 'Created', 206: 'Partial Content', 302: 'Found', 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable' };
const ORDINARY: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['Date', ['Mon, 06 Jan 2025 10:00:00 GMT']],
  ['Server', ['nginx/1.25.3', 'app', '']],
  ['Content-Type', ['text/plain', 'application/json; charset=utf-8', 'application/octet-stream']],
  ['Cache-Control', ['no-store', 'max-age=60, public']],
  ['ETag', ['"v1"', 'W/"abc"']],
  ['Set-Cookie', ['a=1; Path=/', 'b=2; HttpOnly']],
  ['Vary', ['Accept-Encoding']],
  ['X-Request-Id', ['r-1']],
  ['Link', ['</a.css>; rel=preload; as=style']],
  ['X-Empty', ['']],
  ['X-Spaces', ['  padded  ', 'a  b', 'tab\tinside']],
  ['X-High', ['caf\xe9', '\xe2\x82\xac']],
];
const BAD_LENGTHS = ['-1', 'abc', '+5', '0x5', '1e1', '99999999999999999999', '', '5 5', '5;', '\t', '5.0', '\xd9\xa5' /* U+0665, an Arabic-Indic 5, in UTF-8 */];
const OTHER_CODINGS = ['gzip', 'identity', 'chunked, gzip', 'gzip, chunked', 'chunked, chunked', 'Chunked', 'CHUNKED', ' chunked', 'chunked ', 'x', 'chunked;q=1', ''];

/** Case `index` of the run seeded with `seed`. */
export function generateResponse(seed: number, index: number): UpstreamCase {
  const rng = new Rng(caseSeed(seed, index));
  const answer = rng.weighted<(r: Rng) => Answer>([
    [18, contentLength],
    [4, repeatedLength],
    [3, conflictingLength],
    [4, badLength],
    [14, chunked],
    [5, brokenChunked],
    [6, untilClose],
    [6, informational],
    [8, bodiless],
    [3, teWithLength],
    [4, otherCoding],
    [5, http10],
    [5, connectionClose],
    [7, oddHead],
    [8, malformedHead],
  ])(rng);
  return finish(rng, `seed ${seed} case ${index}`, answer);
}

/** Stray bytes, early close, the close itself and the write cuts, on top of an answer. */
function finish(rng: Rng, name: string, a: Answer): UpstreamCase {
  let { text, kind, end } = a;
  // A HEAD now and then where the class did not ask for one: its body bytes, if still there,
  // are stray bytes after a complete answer.
  let method = a.method;
  if (method === 'GET' && rng.chance(0.05)) {
    method = 'HEAD';
    kind += '+head';
    end = a.headEnd;
    if (rng.chance(0.7)) text = text.slice(0, a.headEnd);
  }
  let strayAt: number | undefined;
  if (!a.untilClose && rng.chance(0.08)) {
    kind += '+stray';
    strayAt = text.length;
    text += rng.pick(['x', CRLF, '\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray', 'HTTP/1.1 2', '\x00\xff', 'garbage after the answer\r\n']);
  }
  let close = a.untilClose ? rng.chance(0.92) : rng.chance(0.25);
  let cut = false;
  if (text.length > 1 && rng.chance(0.14)) {
    // Early close: the upstream dies at any byte (mostly closing; else it just stops).
    kind += '+cut';
    text = text.slice(0, rng.int(text.length));
    close = rng.chance(0.9);
    cut = true;
  }
  // Stray bytes or a close right as the next request goes (not for an answer the close ends).
  const hurry = !cut && !a.untilClose && (strayAt !== undefined || close) && rng.chance(0.5);
  const bytes = Buffer.from(text, 'latin1');
  const hurryAt = hurry ? (strayAt ?? bytes.length) : undefined;
  // Bytes after the answer, for an answer whose end a client can tell (a HEAD's always).
  const after = (!a.untilClose || method === 'HEAD') && end < bytes.length ? end : undefined;
  return { name, kind, method, bytes, cuts: cuts(rng, bytes, a.headEnd), close, pauseReads: rng.chance(0.25), hurryAt, strayAt: after };
}

/** Where the writes are cut: often nowhere; else 1-4 points (8 in a large answer), many at a line end or the head's end. */
function cuts(rng: Rng, bytes: Buffer, headEnd: number): Cut[] {
  if (bytes.length < 2 || rng.chance(0.35)) return [];
  const points = new Set<number>();
  const n = rng.between(1, bytes.length > 8192 ? 8 : 4);
  for (let i = 0; i < n; i++) {
    const p = rng.weighted<() => number>([
      [40, () => rng.between(1, bytes.length - 1)],
      [25, () => headEnd + rng.between(-3, 2)],
      // Next to a CRLF: between CR and LF, just before, just after.
      [35, () => {
        const cr = bytes.indexOf(0x0d, rng.int(bytes.length));
        return cr === -1 ? 0 : cr + rng.between(0, 2);
      }],
    ])();
    if (p > 0 && p < bytes.length) points.add(p);
  }
  return [...points].sort((x, y) => x - y).map((at) => ({ at, pause: rng.chance(0.4) }));
}

// ---- building blocks --------------------------------------------------------------------

function status(rng: Rng): number {
  return rng.weighted([[70, 200], [5, 201], [5, 206], [5, 302], [6, 404], [5, 500], [4, 503]] as const);
}

function line(code: number, version = 'HTTP/1.1'): string {
  return `${version} ${code} ${REASONS[code] ?? 'Whatever'}${CRLF}`;
}

/** 0-4 everyday fields, as `Name: value` lines without their CRLF. */
function ordinary(rng: Rng, most = 4): string[] {
  return Array.from({ length: rng.between(0, most) }, () => {
    const [name, values] = rng.pick(ORDINARY);
    return `${name}: ${rng.pick(values)}`;
  });
}

/** The fields with `framing` placed among them at random. */
function place(rng: Rng, fields: string[], ...framing: string[]): string[] {
  const out = [...fields];
  for (const f of framing) out.splice(rng.int(out.length + 1), 0, f);
  return out;
}

function head(statusLine: string, fields: readonly string[]): string {
  return statusLine + fields.map((f) => f + CRLF).join('') + CRLF;
}

function answer(kind: string, h: string, body: string, untilClose = false, method: 'GET' | 'HEAD' = 'GET', end = h.length + body.length): Answer {
  return { kind, method, text: h + body, headEnd: h.length, end, untilClose };
}

function clName(rng: Rng): string {
  return rng.weighted([[70, 'Content-Length'], [20, 'content-length'], [10, 'CONTENT-LENGTH']] as const);
}

/** A body: empty, small, or larger than a socket read; any bytes. */
function body(rng: Rng): string {
  const size = rng.weighted<() => number>([
    [15, () => 0],
    [50, () => rng.between(1, 40)],
    [20, () => rng.between(41, 1500)],
    [15, () => rng.between(8_000, 70_000)],
  ])();
  if (size > 200) {
    // Large ones from a short random pattern: cheap to make, still not all one byte.
    const unit = Array.from({ length: 61 }, () => String.fromCharCode(rng.int(256))).join('');
    return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
  }
  return Array.from({ length: size }, () => String.fromCharCode(rng.chance(0.8) ? rng.between(0x20, 0x7e) : rng.int(256))).join('');
}

/** `data` in chunks of random sizes, hex in either case, with extensions and trailers. */
function chunks(rng: Rng, data: string): string {
  let out = '';
  let at = 0;
  const most = data.length > 4000 ? 9000 : 16;
  while (at < data.length) {
    const size = Math.min(data.length - at, rng.between(1, most));
    let hex = size.toString(16);
    if (rng.chance(0.3)) hex = hex.toUpperCase();
    if (rng.chance(0.05)) hex = `00${hex}`;
    out += `${hex}${extension(rng)}${CRLF}${data.slice(at, at + size)}${CRLF}`;
    at += size;
  }
  out += `${rng.pick(['0', '0', '0', '000'])}${extension(rng)}${CRLF}`;
  if (rng.chance(0.25)) {
    const t = rng.pick([['X-Checksum: abc'], ['X-A: 1', 'X-B: 2'], ['Server-Timing: db;dur=53'], ['X-Empty:'], ['x-lower: v']]);
    out += t.map((f) => f + CRLF).join('');
  }
  return out + CRLF;
}

function extension(rng: Rng): string {
  if (!rng.chance(0.15)) return '';
  return rng.pick([';a=b', ';a', ';name="quoted value"', ';a="q\\"x"', ';a=b;c=d', ';a="semi;colon"', ';A=B']);
}

// ---- the classes ------------------------------------------------------------------------

function contentLength(rng: Rng): Answer {
  const b = body(rng);
  return answer('content-length', head(line(status(rng)), place(rng, ordinary(rng), `${clName(rng)}: ${b.length}`)), b);
}

/** The same length twice: in two fields, or as a list in one. */
function repeatedLength(rng: Rng): Answer {
  const b = body(rng);
  const n = String(b.length);
  const framing = rng.pick([[`Content-Length: ${n}`, `content-length: ${n}`], [`Content-Length: ${n}, ${n}`], [`Content-Length: ${n},${n}`], [`Content-Length: ${n}`, `Content-Length: ${n}`, `Content-Length: ${n}`]]);
  return answer('content-length repeated', head(line(status(rng)), place(rng, ordinary(rng), ...framing)), b);
}

function conflictingLength(rng: Rng): Answer {
  const b = body(rng);
  const n = b.length;
  const other = String(n + rng.pick([1, -1, 10]));
  const framing = rng.pick([[`Content-Length: ${n}`, `Content-Length: ${other}`], [`Content-Length: ${n}, ${other}`], [`Content-Length: ${other}`, `Content-Length: ${n}`]]);
  return answer('content-length conflicting', head(line(200), place(rng, ordinary(rng), ...framing)), b);
}

function badLength(rng: Rng): Answer {
  const b = body(rng);
  // Blanks around a valid number are allowed (OWS); the rest are not numbers at all.
  const value = rng.chance(0.2) ? rng.pick([` ${b.length}`, `${b.length} `, `\t${b.length}`, `0${b.length}`]) : rng.pick(BAD_LENGTHS);
  return answer('content-length malformed', head(line(200), place(rng, ordinary(rng), `Content-Length: ${value}`)), b);
}

function chunked(rng: Rng): Answer {
  const te = rng.weighted([[85, 'chunked'], [10, 'Chunked'], [5, 'gzip, chunked']] as const);
  return answer('chunked', head(line(status(rng)), place(rng, ordinary(rng), `Transfer-Encoding: ${te}`)), chunks(rng, body(rng)));
}

/** A chunked body with one thing wrong: a size, a missing CRLF, a short chunk, the end. */
function brokenChunked(rng: Rng): Answer {
  const good = chunks(rng, body(rng).slice(0, 200));
  const broken = rng.pick([
    `z\r\n${good}`,
    `-1\r\n${good}`,
    `0x5\r\nhello\r\n${good}`,
    `ffffffffffffffffff\r\nab\r\n${good}`,
    ` 5\r\nhello\r\n${good}`,
    `5 \r\nhello\r\n${good}`,
    `5\r\nhello${good}`, // no CRLF after the data
    `5\r\nhelloXX\r\n${good}`, // more data than the size
    `5\nhello\r\n${good}`, // bare LF after the size
    `5\r\nhello\n${good}`, // bare LF after the data
    `5;a=\r\nhello\r\n${good}`,
    `5;a="unterminated\r\nhello\r\n${good}`,
    `5\r\nhel`, // the upstream stops inside a chunk
    good.slice(0, -2), // no final CRLF
    '0\r\nX-T: 1\r\n', // trailers never end
    '0\r\nX T: 1\r\n\r\n', // a bad trailer name
    '0\r\n\n', // bare LF ends the trailers
  ]);
  return answer('chunked broken', head(line(200), place(rng, ordinary(rng), 'Transfer-Encoding: chunked')), broken);
}

/** No framing: the body runs until the upstream closes. */
function untilClose(rng: Rng): Answer {
  const fields = ordinary(rng);
  if (rng.chance(0.3)) fields.push(rng.pick(['Connection: close', 'Connection: keep-alive']));
  return answer('close-delimited', head(line(status(rng)), fields), body(rng), true);
}

/** 1xx heads (100, 102, 103 with Link fields) before a final answer of its own class. */
function informational(rng: Rng): Answer {
  const interim = Array.from({ length: rng.between(1, 2) }, () =>
    rng.pick([
      'HTTP/1.1 100 Continue\r\n\r\n',
      'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n',
      'HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\nLink: </b.js>; rel=preload\r\nX-Hint: 1\r\n\r\n',
      'HTTP/1.1 102 Processing\r\n\r\n',
      'HTTP/1.1 199 Whatever\r\nX-Info: 1\r\n\r\n',
    ]),
  ).join('');
  const final = rng.pick([contentLength, chunked, untilClose])(rng);
  return { ...final, kind: `1xx then ${final.kind}`, text: interim + final.text, headEnd: interim.length + final.headEnd, end: interim.length + final.end };
}

/** HEAD, 204 and 304: no body whatever the length says (one that still comes is stray). */
function bodiless(rng: Rng): Answer {
  const n = rng.pick(['0', '5', '1234']);
  const framing = rng.weighted<() => string[]>([
    [40, () => []],
    [40, () => [`Content-Length: ${n}`]],
    [10, () => ['Transfer-Encoding: chunked']],
    [10, () => [`Content-Length: ${n}`, `Content-Length: ${n}`]],
  ])();
  const which = rng.pick(['HEAD', '204', '304'] as const);
  const code = which === 'HEAD' ? status(rng) : Number(which);
  const statusLine = which === '204' ? 'HTTP/1.1 204 No Content\r\n' : which === '304' ? 'HTTP/1.1 304 Not Modified\r\n' : line(code);
  const h = head(statusLine, place(rng, ordinary(rng), ...framing));
  const trailing = rng.chance(0.1) ? 'hello' : '';
  return answer(`${which} ${framing.length === 0 ? 'without' : 'with'} framing`, h, trailing, false, which === 'HEAD' ? 'HEAD' : 'GET', h.length);
}

function teWithLength(rng: Rng): Answer {
  const b = body(rng);
  const encoded = chunks(rng, b);
  const length = rng.pick([b.length, encoded.length, 3]);
  return answer('transfer-encoding with content-length', head(line(200), place(rng, ordinary(rng), 'Transfer-Encoding: chunked', `Content-Length: ${length}`)), encoded);
}

/** A coding other than plain `chunked` (or chunked written oddly): framed by close, or chunked. */
function otherCoding(rng: Rng): Answer {
  const coding = rng.pick(OTHER_CODINGS);
  const b = body(rng);
  const fields = place(rng, ordinary(rng), `Transfer-Encoding: ${coding}`);
  if (rng.chance(0.3)) fields.push(`Transfer-Encoding: ${rng.pick(['chunked', 'gzip'])}`);
  // Whether the body is then chunked or runs to the close: both, so either reading is tested.
  const isChunked = rng.chance(0.5);
  return answer('transfer-encoding other', head(line(200), fields), isChunked ? chunks(rng, b) : b, !isChunked);
}

function http10(rng: Rng): Answer {
  const b = body(rng);
  const keepAlive = rng.chance(0.5) ? [rng.pick(['Connection: keep-alive', 'Connection: Keep-Alive', 'connection: keep-alive'])] : [];
  const framing = rng.weighted<() => string[]>([
    [60, () => [`Content-Length: ${b.length}`]],
    [30, () => []],
    [10, () => ['Transfer-Encoding: chunked']],
  ])();
  const fields = place(rng, ordinary(rng), ...keepAlive, ...framing);
  const text = framing[0]?.startsWith('Transfer') === true ? chunks(rng, b) : b;
  return answer(`HTTP/1.0 ${keepAlive.length > 0 ? 'keep-alive' : 'plain'}`, head(line(200, 'HTTP/1.0'), fields), text, framing.length === 0);
}

function connectionClose(rng: Rng): Answer {
  const b = body(rng);
  const value = rng.pick(['close', 'Close', 'CLOSE', 'keep-alive, close', 'close, keep-alive', 'Upgrade, close']);
  const isChunked = rng.chance(0.35);
  const framing = isChunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${b.length}`;
  return answer('connection: close', head(line(status(rng)), place(rng, ordinary(rng), `Connection: ${value}`, framing)), isChunked ? chunks(rng, b) : b);
}

/** Valid but unusual: reasons, status codes, many fields, long values, odd names, Keep-Alive. */
function oddHead(rng: Rng): Answer {
  const b = body(rng);
  const statusLine = rng.pick([
    'HTTP/1.1 200 \r\n',
    'HTTP/1.1 200 O K with spaces\r\n',
    'HTTP/1.1 200 caf\xe9\r\n',
    'HTTP/1.1 200 tab\there\r\n',
    'HTTP/1.1 299 Custom\r\n',
    'HTTP/1.1 599 Custom\r\n',
    'HTTP/1.1 404 \r\n',
    line(200),
  ]);
  let fields = ordinary(rng);
  rng.weighted<() => void>([
    [25, () => {
      fields = fields.concat(Array.from({ length: rng.between(40, 250) }, (_, i) => `X-Field-${i}: ${i}`));
    }],
    [20, () => fields.push(`X-Long: ${'v'.repeat(rng.between(1000, 8000))}`)],
    [25, () => fields.push(...['X-1: a', 'A-B-C-9: b', '0: digit', 'x-9-y: c', "!#$%&'*+-.^_`|~: tchars"].filter(() => rng.chance(0.6)))],
    [15, () => fields.push(rng.pick(['Keep-Alive: timeout=5', 'Keep-Alive: timeout=1', 'Keep-Alive: timeout=0', 'Keep-Alive: max=1', 'Connection: keep-alive']))],
    [15, () => fields.push(rng.pick(['X-Empty:', 'X-Empty: ', 'X-OWS:   v   ', 'X-Tab:\tv\t']))],
  ])();
  return answer('odd head', head(statusLine, place(rng, fields, `Content-Length: ${b.length}`)), b);
}

/** One thing wrong in the head; the rest an ordinary Content-Length answer. */
function malformedHead(rng: Rng): Answer {
  const b = body(rng);
  const cl = `Content-Length: ${b.length}`;
  const fields = place(rng, ordinary(rng), cl);
  const at = rng.int(fields.length + 1);
  const insert = (f: string): void => {
    fields.splice(at, 0, f);
  };
  let statusLine = line(200);
  let eol = (s: string): string => s;
  rng.weighted<() => void>([
    [20, () => {
      statusLine = rng.pick([
        'HTTP/1.1 20 OK\r\n', 'HTTP/1.1 2000 OK\r\n', 'HTTP/1.1 OK\r\n', 'HTTP/1.1  200 OK\r\n', 'HTTP/2 200 OK\r\n', 'HTTP/2.0 200 OK\r\n',
        'HTTP/1.2 200 OK\r\n', 'http/1.1 200 OK\r\n', 'HTTP/1.1 200 OK\n', 'ICY 200 OK\r\n', 'HTTP/1.1 -20 OK\r\n', '\r\nHTTP/1.1 200 OK\r\n',
        'HTTP/1.1 0200 OK\r\n', 'HTTP/1.1 200 OK\x00\r\n', 'HTTP/1.1 200 OK\rX\r\n', 'HTTP/1.1\t200 OK\r\n', ' HTTP/1.1 200 OK\r\n', 'HTTP/1.1 200\r\n',
      ]);
    }],
    [12, () => insert(rng.pick(['X-A: a\r\n folded', 'X-A: a\r\n\tfolded', 'X-A:\r\n b']))],
    [12, () => insert(rng.pick(['X-A : b', 'X-A\t: b', 'Content-Length : 0']))],
    [16, () => insert(`X-Ctl: a${rng.pick(['\x00', '\x01', '\x7f', '\x0b', '\x1b', '\r', '\x0c'])}b`)],
    [12, () => {
      // Bare LF: on one line, or ending every line.
      if (rng.chance(0.5)) insert('X-Lf: v\n');
      else eol = (s) => s.replaceAll(CRLF, '\n');
    }],
    [12, () => {
      // A head over 16 KiB: one huge field or many.
      if (rng.chance(0.5)) insert(`X-Huge: ${'h'.repeat(rng.between(16_400, 24_000))}`);
      else for (let i = 0, n = rng.between(700, 1000); i < n; i++) insert(`X-Many-${i}: ${'m'.repeat(12)}`);
    }],
    [10, () => insert(rng.pick(['no colon', ': empty name', 'X A: b', 'X(y): b', 'X\xe9: b', 'X\x00: b']))],
  ])();
  const h = eol(head(statusLine, fields));
  return answer('malformed head', h, b);
}
