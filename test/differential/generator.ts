// Random HTTP/1.1 request pipelines for the differential tests: a small grammar of request
// lines, header fields and bodies (RFC 9112), with mutations aimed at where parsers disagree:
// odd methods, targets and versions, blanks in the wrong places, repeated and conflicting
// framing headers, obs-fold, control and non-ASCII bytes, heads at the size limit, Connection /
// Upgrade / Expect, bodies (Content-Length, chunked with extensions and trailers), writes cut at
// random points and a half-close after the pipeline.
//
// Most requests stay plain (a GET with a Host), so a healthy share of inputs is one the fast
// path serves itself: a differential test where one side never accepts anything proves nothing.
//
// Strings here are latin1: each char is one byte (`'\xe9'` is the byte 0xE9).

import { type Case } from './cases.js';
import { caseSeed, Rng } from './random.js';

export interface GeneratorOptions {
  /** maxHeaderSize values to draw from (heads get padded up to around them now and then). */
  readonly maxHeaderSizes: readonly number[];
}

interface Field {
  name: string;
  /** Between name and value: ': ' usually. */
  sep: string;
  value: string;
}

interface Request {
  method: string;
  target: string;
  version: string;
  /** Between method and target, and between target and version. */
  gaps: [string, string];
  /** Line ending of each line (request line, fields, blank line): CRLF nearly always. */
  eol: () => string;
  fields: Field[];
  /** Bytes after the head; a raw string so framing can disagree with it. */
  body: string;
  /** Lines inserted as they are (obs-fold continuations, lines without a colon, ...). */
  raw: Map<number, string>;
}

const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
const OTHER_METHODS = [
  'CONNECT', 'TRACE', 'PURGE', 'PROPFIND', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'M-SEARCH', 'QUERY',
  'LINK', 'SOURCE', 'PRI', 'FOO', 'BREW', 'get', 'Get', 'post', 'GETS', 'GE', 'G', 'GETGETGETGET', 'GET\x00', 'G\xc9T', '',
];
const SEGMENTS = ['a', 'b', 'api', 'v1', 'users', '42', 'index.html', 'x.y', 'caf\xc3\xa9', '%7e', '~', '-_.', "!$&'()*+,;=:@"];
const DOT_SEGMENTS = ['.', '..', '%2e', '%2E', '%2e%2e', '.%2e', '%2E.', '...', '..;', '.%00'];
const ODD_PATHS = [
  '/%zz', '/%', '/%2', '/%00', '/%0d%0a', '/a%2fb', '/a\\b', '/a|b', '/a^b', '/a`b', '/a{b}', '/a"b', '/a<b>', '/#frag', '/a#b', '//', '//a//b',
  '/\x7f', '/\x80', '/\xff', '/caf\xe9', '/a\x00b', '/a\tb', '/a b', '/a\rb', '/a\x0bb', '/a\x0cb', '/?', '/?a=1&b=2', '/?q=%20', '/a?b?c',
];
const ABSOLUTE = ['http://a/x', 'http://a', 'https://h:8443/p?q', 'HTTP://A/B', 'http://user@a/x', 'http://a:80/', 'ftp://a/x', 'http:/x', 'http://[::1]/x', 'a/b', 'x'];
const AUTHORITY = ['a:443', 'host:443', 'a', ':443', '[::1]:443', 'a:b'];
const VERSIONS = ['HTTP/1.0', 'HTTP/2.0', 'HTTP/2', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/1.10', 'HTTP/1.1 ', 'HTTP/1.1\t', 'http/1.1', 'HTTP/11', 'HTTP/1', 'HTTP/1.', 'HTTPS/1.1', 'HTTP/9.9', 'ICE/1.0', ''];
const HOSTS = ['a', 'example.com', 'app.test', 'EXAMPLE.COM', 'example.com.', 'a:8080', 'a:', '127.0.0.1', '[::1]:80', 'internal.example'];
const ODD_HOSTS = ['', 'user@a', 'a b', 'a/b', 'a\\b', 'a%20b', '-', 'a..b', '\xe9.test', 'a,b', 'a:99999', ':80'];
const ORDINARY: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['User-Agent', ['curl/8.5.0', 'Mozilla/5.0 (X11; Linux x86_64)', 'x']],
  ['Accept', ['*/*', 'text/html, application/json;q=0.9', '']],
  ['Accept-Encoding', ['gzip, br', 'identity']],
  ['Accept-Language', ['en-US,en;q=0.5']],
  ['Cookie', ['a=1; b=2', 'sid=abc']],
  ['Authorization', ['Bearer abc.def', 'Basic YTpi']],
  ['Cache-Control', ['no-cache', 'max-age=0']],
  ['If-None-Match', ['"v1"', 'W/"x"']],
  ['Referer', ['http://a/b']],
  ['X-Request-Id', ['client-id-1', 'r']],
  ['X-Forwarded-For', ['10.0.0.1', '1.2.3.4, 5.6.7.8']],
  ['X-Forwarded-Proto', ['https']],
  ['X-Forwarded-Host', ['outside.test']],
  ['X-Real-IP', ['9.9.9.9']],
  ['Forwarded', ['for=1.2.3.4']],
  ['Origin', ['http://a']],
  ['X-Custom', ['1', 'a b', ' lead', 'trail ', 'tab\tin', '\t', '']],
  ['Range', ['bytes=0-1']],
  ['TE', ['trailers', 'gzip']],
  ['Trailer', ['X-T']],
  ['Keep-Alive', ['timeout=5']],
  ['Via', ['1.1 other']],
];
// Names that mean something to the fast path or to Node, or to a JS object used as a map.
const SPECIAL: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['Connection', ['close', 'keep-alive', 'Close', 'CLOSE', 'Keep-Alive', 'upgrade', 'Upgrade', 'close, keep-alive', 'keep-alive, close', 'keep-alive, upgrade', 'close,', ',close', 'te', 'x-custom', 'x-forwarded-for', 'host', 'content-length', 'foo, bar', '']],
  ['Upgrade', ['websocket', 'h2c', 'foo', 'WebSocket', 'websocket, h2c', 'HTTP/2.0', '']],
  ['Expect', ['100-continue', '100-Continue', 'foo', '', '100-continue, foo']],
  ['Proxy-Connection', ['close', 'keep-alive']],
  ['HTTP2-Settings', ['AAMAAABkAARAAAAAAAIAAAAA']],
  ['Sec-WebSocket-Key', ['dGhlIHNhbXBsZSBub25jZQ==']],
  ['Sec-WebSocket-Version', ['13']],
  ['__proto__', ['x']],
  ['constructor', ['x']],
  ['toString', ['x']],
  ['hasOwnProperty', ['x']],
];
const LENGTHS = ['0', '5', ' 5', '5 ', '05', '+5', '-1', '5, 5', '5,5', '5, 6', 'abc', '0x5', '1e1', '99999999999999999999', '', '3'];
const CODINGS = ['chunked', 'Chunked', 'CHUNKED', 'gzip, chunked', 'chunked, gzip', 'identity', 'chunked, chunked', ' chunked', 'chunked ', 'chunked;q=1', 'x', ''];

/** Case `index` of the run seeded with `seed`. */
export function generateCase(seed: number, index: number, opts: GeneratorOptions): Case {
  const rng = new Rng(caseSeed(seed, index));
  const maxHeaderSize = rng.pick(opts.maxHeaderSizes);
  const count = rng.weighted([[55, 1], [25, 2], [12, 3], [8, 4]] as const);
  let text = '';
  const headEnds: number[] = [];
  for (let i = 0; i < count; i++) {
    const req = request(rng, maxHeaderSize);
    const { head, body } = serialise(req);
    text += head;
    headEnds.push(text.length);
    text += body;
  }
  // Now and then a byte-level mutation anywhere: what the grammar above would never write.
  if (rng.chance(0.06)) text = mutateBytes(rng, text);
  const bytes = Buffer.from(text, 'latin1');
  return { name: `seed ${seed} case ${index}`, bytes, splits: splits(rng, bytes.length, headEnds), fin: rng.chance(0.35), maxHeaderSize };
}

function request(rng: Rng, maxHeaderSize: number): Request {
  // Most requests are the everyday shape; the rest get one or more mutations.
  const plain = rng.chance(0.45);
  const m = (p: number): boolean => !plain && rng.chance(p);
  const lf = m(0.04);
  const req: Request = {
    method: m(0.2) ? (rng.chance(0.5) ? rng.pick(KNOWN_METHODS) : rng.pick(OTHER_METHODS)) : rng.weighted([[80, 'GET'], [5, 'HEAD'], [5, 'POST'], [3, 'PUT'], [3, 'DELETE'], [2, 'OPTIONS'], [2, 'PATCH']] as const),
    target: m(0.25) ? oddTarget(rng) : path(rng),
    version: m(0.06) ? rng.pick(VERSIONS) : 'HTTP/1.1',
    gaps: [m(0.04) ? rng.pick(['  ', '\t', '', ' \t']) : ' ', m(0.04) ? rng.pick(['  ', '\t', '', ' \t']) : ' '],
    eol: lf ? () => (rng.chance(0.5) ? '\n' : rng.chance(0.9) ? '\r\n' : '\r') : () => '\r\n',
    fields: [],
    body: '',
    raw: new Map(),
  };
  if (req.method === 'CONNECT' && rng.chance(0.7)) req.target = rng.pick(AUTHORITY);
  if (req.method === 'OPTIONS' && rng.chance(0.3)) req.target = '*';

  // Host: once nearly always; sometimes twice, absent, or odd.
  const hostValue = (): string => (m(0.08) ? rng.pick(ODD_HOSTS) : rng.pick(HOSTS));
  const hostPlaces = plain ? 1 : rng.weighted([[90, 1], [5, 0], [5, 2]] as const);
  const hostAt = rng.int(3);
  const ordinary = rng.between(0, plain ? 4 : 6);
  for (let i = 0; i < ordinary; i++) {
    const [name, values] = rng.pick(ORDINARY);
    req.fields.push({ name, sep: ': ', value: rng.pick(values) });
  }
  for (let i = 0; i < hostPlaces; i++) req.fields.splice(i === 0 ? Math.min(hostAt, req.fields.length) : rng.int(req.fields.length + 1), 0, { name: 'Host', sep: ': ', value: hostValue() });

  if (m(0.3)) specials(rng, req);
  if (m(0.25)) framing(rng, req);
  if (m(0.05)) manyFields(rng, req);
  if (m(0.15)) for (const f of req.fields) f.name = recase(rng, f.name);
  if (m(0.2)) oddField(rng, req);
  if (m(0.05)) pad(rng, req, maxHeaderSize);
  else if (rng.chance(0.02)) pad(rng, req, maxHeaderSize);
  return req;
}

function path(rng: Rng): string {
  const depth = rng.between(0, 3);
  let p = '';
  for (let i = 0; i < depth; i++) p += `/${rng.pick(SEGMENTS)}`;
  if (p === '' || rng.chance(0.15)) p += '/';
  if (rng.chance(0.2)) p += `?${rng.pick(['a=1', 'q=x%20y', 'a=1&b=2', '', 'x=/../'])}`;
  return p;
}

function oddTarget(rng: Rng): string {
  return rng.weighted<() => string>([
    [30, () => {
      // Dot segments, plain and percent-encoded, somewhere in a path.
      const parts = Array.from({ length: rng.between(1, 4) }, () => (rng.chance(0.5) ? rng.pick(DOT_SEGMENTS) : rng.pick(SEGMENTS)));
      return `/${parts.join('/')}${rng.chance(0.3) ? '/' : ''}`;
    }],
    [25, () => rng.pick(ODD_PATHS)],
    [15, () => rng.pick(ABSOLUTE)],
    [5, () => '*'],
    [5, () => rng.pick(AUTHORITY)],
    [5, () => ''],
    [5, () => `/${'x'.repeat(rng.between(100, 3000))}`],
    [10, () => path(rng) + String.fromCharCode(rng.int(256))],
  ])();
}

/** Connection, Upgrade, Expect, Proxy-Connection and friends, one or two of them. */
function specials(rng: Rng, req: Request): void {
  const n = rng.between(1, 2);
  for (let i = 0; i < n; i++) {
    const [name, values] = rng.pick(SPECIAL);
    req.fields.splice(rng.int(req.fields.length + 1), 0, { name, sep: ': ', value: rng.pick(values) });
    if (name === 'Upgrade' && rng.chance(0.7)) req.fields.push({ name: 'Connection', sep: ': ', value: rng.pick(['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'Upgrade, HTTP2-Settings']) });
  }
  // The smuggling shape of issue #18: an upgrade offer with a request right behind it.
  if (rng.chance(0.1)) req.body = 'GET /SMUGGLED HTTP/1.1\r\nHost: internal.example\r\n\r\n';
}

/** Content-Length and Transfer-Encoding, alone, repeated or together, with a body. */
function framing(rng: Rng, req: Request): void {
  const kind = rng.weighted([[35, 'cl'], [30, 'chunked'], [8, 'cl+cl'], [10, 'cl+te'], [5, 'te+te'], [7, 'te-odd'], [5, 'body-only']] as const);
  const body = randomBody(rng);
  const add = (name: string, value: string): void => {
    req.fields.splice(rng.int(req.fields.length + 1), 0, { name, sep: ': ', value });
  };
  switch (kind) {
    case 'cl': {
      const honest = rng.chance(0.75);
      add('Content-Length', honest ? String(body.length) : rng.pick(LENGTHS));
      req.body = body;
      break;
    }
    case 'chunked':
      add('Transfer-Encoding', 'chunked');
      req.body = chunked(rng, body);
      break;
    case 'cl+cl': {
      const n = String(body.length);
      add('Content-Length', n);
      add(rng.pick(['Content-Length', 'content-length']), rng.chance(0.5) ? n : rng.pick(LENGTHS));
      req.body = body;
      break;
    }
    case 'cl+te':
      add('Content-Length', rng.chance(0.5) ? String(body.length) : rng.pick(LENGTHS));
      add('Transfer-Encoding', rng.pick(CODINGS));
      req.body = chunked(rng, body);
      break;
    case 'te+te':
      add('Transfer-Encoding', rng.pick(CODINGS));
      add('Transfer-Encoding', rng.pick(CODINGS));
      req.body = chunked(rng, body);
      break;
    case 'te-odd':
      add('Transfer-Encoding', rng.pick(CODINGS));
      req.body = rng.chance(0.5) ? chunked(rng, body) : body;
      break;
    case 'body-only':
      // Bytes after a head that declares no body: they are the next request, or garbage.
      req.body = body;
      break;
  }
}

function randomBody(rng: Rng): string {
  return rng.weighted<() => string>([
    [50, () => 'hello'.slice(0, rng.between(0, 5))],
    [30, () => Array.from({ length: rng.between(1, 40) }, () => String.fromCharCode(rng.between(0x20, 0x7e))).join('')],
    [20, () => Array.from({ length: rng.between(1, 20) }, () => String.fromCharCode(rng.int(256))).join('')],
  ])();
}

/** `body` in chunks, with chunk extensions, trailers, and now and then a broken piece. */
function chunked(rng: Rng, body: string): string {
  let out = '';
  let at = 0;
  while (at < body.length) {
    const size = Math.min(body.length - at, rng.between(1, 8));
    let hex = size.toString(16);
    if (rng.chance(0.2)) hex = hex.toUpperCase();
    if (rng.chance(0.05)) hex = `0${hex}`;
    const ext = rng.chance(0.15) ? rng.pick([';a=b', ';a', ' ;a=b', ';a="q"', ';\xe9', ';a=b\tc']) : '';
    out += `${hex}${ext}\r\n${body.slice(at, at + size)}\r\n`;
    at += size;
  }
  out += rng.chance(0.1) ? '0;done\r\n' : '0\r\n';
  if (rng.chance(0.15)) out += rng.pick(['X-T: 1\r\n', 'X-T: 1\r\nX-U: 2\r\n', 'Content-Length: 5\r\n', 'X-T : 1\r\n']);
  out += '\r\n';
  if (rng.chance(0.08)) {
    // A broken chunk: bad size, missing CRLF, or a size that overruns the data.
    out = rng.pick([`z\r\n${out}`, out.replace('\r\n', '\n'), `ffffffffffffffffff\r\n${out}`, `5\r\nab\r\n${out}`, out.slice(0, -2), `-1\r\n${out}`]);
  }
  return out;
}

/** Around MAX_FAST_HEADERS (64) and a little over: where the fast path's own count limit sits. */
function manyFields(rng: Rng, req: Request): void {
  const n = rng.between(55, 75);
  for (let i = 0; i < n; i++) req.fields.push({ name: `X-F${i}`, sep: ': ', value: String(i) });
}

function recase(rng: Rng, name: string): string {
  return rng.weighted<() => string>([
    [30, () => name.toLowerCase()],
    [30, () => name.toUpperCase()],
    [40, () => Array.from(name, (c) => (rng.chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('')],
  ])();
}

/** One odd header line: obs-fold, blanks before the colon, an empty name, controls, non-ASCII. */
function oddField(rng: Rng, req: Request): void {
  const at = rng.int(req.fields.length + 1);
  const field = (name: string, sep: string, value: string): void => {
    req.fields.splice(at, 0, { name, sep, value });
  };
  const ctl = (): string => rng.pick(['\x00', '\r', '\n', '\x7f', '\x01', '\x0b', '\x0c', '\x1b', '\t']);
  const high = (): string => rng.pick(['\xe9', '\xff', '\x80', '\xc3\xa9', '\xe2\x82\xac', '\xa0', '\xf0\x9f\x98\x80']);
  rng.weighted<() => void>([
    [12, () => req.raw.set(at, rng.pick([' folded', '\tfolded', ' ', '  x: y']))],
    [12, () => field('X-Odd', rng.pick([' : ', '\t: ', ' :', '::', ':', ':\t', ':\t\t']), 'v')],
    [8, () => field('', ': ', 'v')],
    [6, () => field(' X-Lead', ': ', 'v')],
    [10, () => field(`X${ctl()}Name`, ': ', 'v')],
    [14, () => field('X-Ctl', ': ', `a${ctl()}b`)],
    [6, () => field('X-Ctl', ': ', `${ctl()}`)],
    [12, () => field('X-High', ': ', `a${high()}b`)],
    [6, () => field(`X-${high()}`, ': ', 'v')],
    [6, () => req.raw.set(at, rng.pick(['no colon here', 'X-NoColon', ':', '\x00', '\xe9']))],
    [8, () => field(rng.pick(['X(y)', 'X/y', 'X@y', 'X[y]', 'X{y}', 'X"y', 'X,y', 'X;y', 'X=y', 'X?y', 'X\\y', "X!#$%&'*+.^_`|~y"]), ': ', 'v')],
  ])();
}

/** Pads the head with one long header to land near `max` bytes (just under, at, or just over). */
function pad(rng: Rng, req: Request, max: number): void {
  const { head } = serialise(req);
  const target = max + rng.between(-8, 40);
  const fill = target - head.length - 'X-Pad: \r\n'.length;
  if (fill > 0) req.fields.push({ name: 'X-Pad', sep: ': ', value: 'p'.repeat(fill) });
}

function serialise(req: Request): { head: string; body: string } {
  let head = `${req.method}${req.gaps[0]}${req.target}${req.gaps[1]}${req.version}${req.eol()}`;
  req.fields.forEach((f, i) => {
    const raw = req.raw.get(i);
    if (raw !== undefined) head += `${raw}${req.eol()}`;
    head += `${f.name}${f.sep}${f.value}${req.eol()}`;
  });
  const last = req.raw.get(req.fields.length);
  if (last !== undefined) head += `${last}${req.eol()}`;
  head += req.eol();
  return { head, body: req.body };
}

function mutateBytes(rng: Rng, text: string): string {
  const at = rng.int(text.length + 1);
  const byte = String.fromCharCode(rng.pick([0x00, 0x09, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0x80, 0xff, rng.int(256)]));
  return rng.weighted<() => string>([
    [40, () => text.slice(0, at) + byte + text.slice(at + 1)],
    [30, () => text.slice(0, at) + byte + text.slice(at)],
    [30, () => text.slice(0, at) + text.slice(at + 1)],
  ])();
}

/** Where the writes are cut: usually nowhere; else 1-3 points, often right at a head's end. */
function splits(rng: Rng, length: number, headEnds: readonly number[]): number[] {
  if (length < 2 || rng.chance(0.6)) return [];
  const points = new Set<number>();
  const n = rng.between(1, 3);
  for (let i = 0; i < n; i++) {
    const near = rng.pick(headEnds) + rng.between(-4, 2);
    const p = rng.chance(0.5) ? near : rng.between(1, length - 1);
    if (p > 0 && p < length) points.add(p);
  }
  return [...points].sort((a, b) => a - b);
}
