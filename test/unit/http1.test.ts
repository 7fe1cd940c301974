// parseRequestHead: the strict request-head parser of the fast path. What it returns a head for,
// the fast path serves; what it returns undefined for is handed to Node's own parser (llhttp).

import { describe, expect, it } from 'vitest';
import { MAX_FAST_HEADERS, parseRequestHead } from '../../src/proxy/http1.js';

const MAX = 16 * 1024;

/** The bytes of a head: the lines joined by CRLF, then the blank line. Latin1, so '\xNN' is byte NN. */
function head(...lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** Bytes exactly as written, latin1. */
function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** `count` distinct header lines after Host: `X-H1: v` ... */
function extraHeaders(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `X-H${i + 1}: v`);
}

describe('parseRequestHead: heads it accepts', () => {
  it('a simple GET with Host gives method, url, headers and the end of the head', () => {
    const buf = head('GET /index.html HTTP/1.1', 'Host: shop.test');
    expect(parseRequestHead(buf, MAX)).toEqual({
      method: 'GET',
      url: '/index.html',
      rawHeaders: ['Host', 'shop.test'],
      headers: { host: 'shop.test' },
      close: false,
      end: buf.length,
    });
  });

  it('end is just past CRLFCRLF and a pipelined second request after it is left untouched', () => {
    const first = head('GET /a HTTP/1.1', 'Host: h');
    const second = head('GET /b HTTP/1.1', 'Host: h', 'Connection: close');
    const buf = Buffer.concat([first, second]);
    const copy = Buffer.from(buf);
    const got = parseRequestHead(buf, MAX);
    expect(got?.url).toBe('/a');
    expect(got?.end).toBe(first.length);
    expect(got?.end).toBe('GET /a HTTP/1.1\r\nHost: h\r\n\r\n'.length);
    expect(got?.close).toBe(false);
    expect(got?.rawHeaders).toEqual(['Host', 'h']);
    expect(buf.equals(copy)).toBe(true);
    expect(buf.subarray(got?.end).equals(second)).toBe(true);
    // The rest parses on its own as the next request.
    const next = parseRequestHead(buf.subarray(got?.end), MAX);
    expect(next?.url).toBe('/b');
    expect(next?.close).toBe(true);
    expect(next?.end).toBe(second.length);
  });

  it('a body after the head is not part of it: end stops at the blank line', () => {
    const buf = bytes('GET / HTTP/1.1\r\nHost: h\r\n\r\nxyz');
    expect(parseRequestHead(buf, MAX)?.end).toBe(buf.length - 3);
  });

  it.each(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])('method %s without body headers is accepted', (method) => {
    const got = parseRequestHead(head(`${method} /x HTTP/1.1`, 'Host: h'), MAX);
    expect(got?.method).toBe(method);
    expect(got?.url).toBe('/x');
  });

  it.each([
    { why: 'the root path', target: '/' },
    { why: 'a query string is kept verbatim', target: '/search?q=a+b&page=2' },
    { why: 'a fragment is kept verbatim', target: '/a?b#c' },
    { why: 'percent-escapes are not decoded', target: '/a%20b/%2F' },
    { why: 'every visible ASCII punctuation is allowed', target: '/!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~' },
    { why: 'a double slash is kept', target: '//x' },
  ])('origin-form target: $why', ({ target }) => {
    expect(parseRequestHead(head(`GET ${target} HTTP/1.1`, 'Host: h'), MAX)?.url).toBe(target);
  });

  it.each([
    { why: 'no blank after the colon', line: 'X-A:v', value: 'v' },
    { why: 'one space after the colon is dropped', line: 'X-A: v', value: 'v' },
    { why: 'several spaces around are dropped', line: 'X-A:    v   ', value: 'v' },
    { why: 'tabs around are dropped', line: 'X-A:\t\tv\t', value: 'v' },
    { why: 'mixed SP/HTAB around are dropped', line: 'X-A: \t v \t ', value: 'v' },
    { why: 'inner blanks are kept', line: 'X-A:  a  b\tc  ', value: 'a  b\tc' },
    { why: 'a value of blanks only is empty', line: 'X-A: \t \t', value: '' },
    { why: 'a colon inside the value is kept', line: 'X-A: a:b: c', value: 'a:b: c' },
    { why: 'only SP/HTAB are trimmed: NBSP (0xa0) at the edges is kept', line: 'X-A: \xa0a\xa0 ', value: '\u00a0a\u00a0' },
    { why: 'only SP/HTAB are trimmed: a value of one NBSP stays', line: 'X-A:\xa0', value: '\u00a0' },
  ])('header value trimming: $why', ({ line, value }) => {
    const got = parseRequestHead(head('GET / HTTP/1.1', 'Host: h', line), MAX);
    expect(got?.rawHeaders).toEqual(['Host', 'h', 'X-A', value]);
    expect(got?.headers).toEqual({ host: 'h', 'x-a': value });
  });

  it('obs-text bytes 0x80-0xff in a value are kept, decoded as latin1', () => {
    const buf = Buffer.concat([
      bytes('GET / HTTP/1.1\r\nHost: h\r\nX-Name: '),
      Buffer.from([0x80, 0x41, 0xe9, 0x20, 0xff]),
      bytes('\r\n\r\n'),
    ]);
    const got = parseRequestHead(buf, MAX);
    expect(got?.headers['x-name']).toBe('\u0080A\u00e9 \u00ff');
    expect(got?.rawHeaders).toEqual(['Host', 'h', 'X-Name', '\u0080A\u00e9 \u00ff']);
    expect(got?.end).toBe(buf.length);
  });

  it.each([
    { why: 'no Connection header keeps the connection', line: undefined, close: false },
    { why: 'Connection: close closes', line: 'Connection: close', close: true },
    { why: 'Connection: CLOSE closes (case-insensitive)', line: 'Connection: CLOSE', close: true },
    { why: 'Connection: Close closes', line: 'Connection: Close', close: true },
    { why: 'a close surrounded by blanks closes', line: 'Connection:   close  ', close: true },
    { why: 'the header name in odd case still counts', line: 'CONNECTION: close', close: true },
    { why: 'Connection: keep-alive keeps', line: 'Connection: keep-alive', close: false },
    { why: 'Connection: Keep-Alive keeps', line: 'Connection: Keep-Alive', close: false },
    { why: 'Connection: KEEP-ALIVE keeps', line: 'Connection: KEEP-ALIVE', close: false },
  ])('$why', ({ line, close }) => {
    const lines = ['GET / HTTP/1.1', 'Host: h'];
    if (line !== undefined) lines.push(line);
    const got = parseRequestHead(head(...lines), MAX);
    expect(got).toBeDefined();
    expect(got?.close).toBe(close);
  });

  it('rawHeaders keeps the names as sent, in order; headers is keyed by lower-cased name', () => {
    const got = parseRequestHead(
      head('GET / HTTP/1.1', 'user-AGENT: curl/8', 'Host: h', 'X-Request-ID: abc', 'accept: */*', 'Connection: Keep-Alive'),
      MAX,
    );
    expect(got?.rawHeaders).toEqual([
      'user-AGENT', 'curl/8',
      'Host', 'h',
      'X-Request-ID', 'abc',
      'accept', '*/*',
      'Connection', 'Keep-Alive',
    ]);
    expect(got?.headers).toEqual({
      'user-agent': 'curl/8',
      host: 'h',
      'x-request-id': 'abc',
      accept: '*/*',
      connection: 'Keep-Alive',
    });
    expect(Object.keys(got?.headers ?? {})).toEqual(['user-agent', 'host', 'x-request-id', 'accept', 'connection']);
  });

  it('a Host in upper case is found', () => {
    expect(parseRequestHead(head('GET / HTTP/1.1', 'HOST: h'), MAX)?.headers).toEqual({ host: 'h' });
  });

  it('header names may use every token character', () => {
    const name = "!#$%&'*+-.^_`|~09azAZ";
    const got = parseRequestHead(head('GET / HTTP/1.1', 'Host: h', `${name}: v`), MAX);
    expect(got?.rawHeaders).toEqual(['Host', 'h', name, 'v']);
    expect(got?.headers[name.toLowerCase()]).toBe('v');
  });

  it.each([
    { why: 'with nothing after the colon', line: 'X-Empty:' },
    { why: 'with only a space after the colon', line: 'X-Empty: ' },
  ])('a header with an empty value is accepted, $why', ({ line }) => {
    const got = parseRequestHead(head('GET / HTTP/1.1', 'Host: h', line), MAX);
    expect(got?.rawHeaders).toEqual(['Host', 'h', 'X-Empty', '']);
    expect(got?.headers).toEqual({ host: 'h', 'x-empty': '' });
  });

  it('an empty Host is still a Host', () => {
    expect(parseRequestHead(head('GET / HTTP/1.1', 'Host:'), MAX)?.headers).toEqual({ host: '' });
  });

  it('a head of exactly maxHeaderSize bytes is accepted, one byte more is handed over', () => {
    const buf = head('GET /a HTTP/1.1', 'Host: h', 'X-Pad: 0123456789');
    expect(parseRequestHead(buf, buf.length)?.end).toBe(buf.length);
    expect(parseRequestHead(buf, buf.length + 1)?.end).toBe(buf.length);
    expect(parseRequestHead(buf, buf.length - 1)).toBeUndefined();
  });

  it('maxHeaderSize bounds the head only: bytes after the blank line do not count', () => {
    const first = head('GET /a HTTP/1.1', 'Host: h');
    const buf = Buffer.concat([first, bytes('x'.repeat(1000))]);
    expect(parseRequestHead(buf, first.length)?.end).toBe(first.length);
  });

  it('exactly MAX_FAST_HEADERS header lines are accepted', () => {
    const lines = ['Host: h', ...extraHeaders(MAX_FAST_HEADERS - 1)];
    expect(lines).toHaveLength(MAX_FAST_HEADERS);
    const got = parseRequestHead(head('GET / HTTP/1.1', ...lines), MAX);
    expect(got?.rawHeaders).toHaveLength(2 * MAX_FAST_HEADERS);
    expect(Object.keys(got?.headers ?? {})).toHaveLength(MAX_FAST_HEADERS);
    expect(got?.headers[`x-h${MAX_FAST_HEADERS - 1}`]).toBe('v');
  });
});

describe('parseRequestHead: heads it hands over to Node (undefined)', () => {
  it.each([
    { why: 'an empty buffer', buf: bytes('') },
    { why: 'only part of the request line', buf: bytes('GET / HT') },
    { why: 'a request line without headers or blank line', buf: bytes('GET / HTTP/1.1\r\n') },
    { why: 'headers without the blank line', buf: bytes('GET / HTTP/1.1\r\nHost: h\r\n') },
    { why: 'the blank line cut after its CR', buf: bytes('GET / HTTP/1.1\r\nHost: h\r\n\r') },
    { why: 'a head ended by LF LF only', buf: bytes('GET / HTTP/1.1\nHost: h\n\n') },
    { why: 'a head ended by CRLF LF', buf: bytes('GET / HTTP/1.1\r\nHost: h\r\n\n') },
  ])('incomplete head: $why', ({ buf }) => {
    expect(parseRequestHead(buf, MAX)).toBeUndefined();
  });

  it.each([
    { why: 'a head one byte over maxHeaderSize', extra: 1 },
    { why: 'a head far over maxHeaderSize', extra: 5000 },
  ])('size: $why', ({ extra }) => {
    const buf = head('GET / HTTP/1.1', 'Host: h', `X-Pad: ${'p'.repeat(100 + extra)}`);
    expect(parseRequestHead(buf, buf.length - extra)).toBeUndefined();
  });

  it('size: a complete head is handed over when maxHeaderSize cuts off its blank line', () => {
    const buf = head('GET / HTTP/1.1', 'Host: h');
    expect(parseRequestHead(buf, buf.length - 2)).toBeUndefined();
  });

  it.each([
    { why: 'HTTP/1.0', line: 'GET / HTTP/1.0' },
    { why: 'HTTP/2', line: 'GET / HTTP/2' },
    { why: 'HTTP/2.0', line: 'GET / HTTP/2.0' },
    { why: 'HTTP/0.9 style (no version)', line: 'GET /' },
    { why: 'HTTP/1.10', line: 'GET / HTTP/1.10' },
    { why: 'a lower-case protocol name', line: 'GET / http/1.1' },
    { why: 'the HTTP/2 preface', line: 'PRI * HTTP/2.0' },
    { why: 'a lower-case method (get)', line: 'get / HTTP/1.1' },
    { why: 'a mixed-case method (Get)', line: 'Get / HTTP/1.1' },
    { why: 'an unknown method (FOO)', line: 'FOO / HTTP/1.1' },
    { why: 'CONNECT', line: 'CONNECT h:443 HTTP/1.1' },
    { why: 'CONNECT with an origin-form target', line: 'CONNECT / HTTP/1.1' },
    { why: 'PROPFIND (WebDAV)', line: 'PROPFIND / HTTP/1.1' },
    { why: 'TRACE', line: 'TRACE / HTTP/1.1' },
    { why: 'a too-long method', line: 'GETGETGET / HTTP/1.1' },
    { why: 'an absolute-form target', line: 'GET http://x/ HTTP/1.1' },
    { why: 'the asterisk target', line: 'OPTIONS * HTTP/1.1' },
    { why: 'a target not starting with /', line: 'GET a/b HTTP/1.1' },
    { why: 'an empty target', line: 'GET  HTTP/1.1' },
    { why: 'a target with a space', line: 'GET /a b HTTP/1.1' },
    { why: 'a target with a tab', line: 'GET /a\tb HTTP/1.1' },
    { why: 'a target with a control byte', line: 'GET /a\x01b HTTP/1.1' },
    { why: 'a target with NUL', line: 'GET /a\x00 HTTP/1.1' },
    { why: 'a target with DEL', line: 'GET /a\x7f HTTP/1.1' },
    { why: 'a target with a byte 0x80', line: 'GET /a\x80 HTTP/1.1' },
    { why: 'a target with a byte 0xff', line: 'GET /\xff HTTP/1.1' },
    { why: 'two spaces after the method', line: 'GET  / HTTP/1.1' },
    { why: 'two spaces before the version', line: 'GET /  HTTP/1.1' },
    { why: 'a tab as separator', line: 'GET\t/ HTTP/1.1' },
    { why: 'a trailing space after the version', line: 'GET / HTTP/1.1 ' },
    { why: 'a leading space before the method', line: ' GET / HTTP/1.1' },
  ])('request line: $why', ({ line }) => {
    expect(parseRequestHead(head(line, 'Host: h'), MAX)).toBeUndefined();
  });

  it('request line: a leading empty line (CRLF before the request line)', () => {
    expect(parseRequestHead(bytes('\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n'), MAX)).toBeUndefined();
  });

  it.each([
    { why: 'Content-Length', line: 'Content-Length: 5' },
    { why: 'Content-Length: 0', line: 'Content-Length: 0' },
    { why: 'content-length in lower case', line: 'content-length: 0' },
    { why: 'CONTENT-LENGTH in upper case', line: 'CONTENT-LENGTH: 0' },
    { why: 'Transfer-Encoding', line: 'Transfer-Encoding: chunked' },
    { why: 'transfer-encoding in lower case', line: 'transfer-encoding: chunked' },
    { why: 'Transfer-Encoding: identity', line: 'Transfer-Encoding: identity' },
    { why: 'Upgrade', line: 'Upgrade: websocket' },
    { why: 'UPGRADE in upper case', line: 'UPGRADE: h2c' },
    { why: 'Expect', line: 'Expect: 100-continue' },
    { why: 'expect in lower case', line: 'expect: 100-continue' },
    { why: 'HTTP2-Settings', line: 'HTTP2-Settings: AAMAAABkAAQAAP__' },
    { why: 'http2-settings in lower case', line: 'http2-settings: x' },
    { why: 'an empty Content-Length', line: 'Content-Length:' },
  ])('body or handshake header: $why', ({ line }) => {
    expect(parseRequestHead(head('GET / HTTP/1.1', 'Host: h', line), MAX)).toBeUndefined();
  });

  it('body header: POST with a body is handed over even though the method is known', () => {
    expect(parseRequestHead(bytes('POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc'), MAX)).toBeUndefined();
  });

  it.each([
    { why: 'two Host headers', lines: ['Host: a', 'Host: b'] },
    { why: 'two identical Host headers', lines: ['Host: a', 'Host: a'] },
    { why: 'Host and host', lines: ['Host: a', 'host: b'] },
    { why: 'host and HOST', lines: ['host: a', 'HOST: a'] },
    { why: 'a repeated ordinary header', lines: ['Host: h', 'Accept: a', 'Accept: b'] },
    { why: 'a repeat with different case', lines: ['Host: h', 'X-Trace: 1', 'x-trace: 2'] },
    { why: 'a repeat whose first value is empty', lines: ['Host: h', 'X-E:', 'X-E: v'] },
    { why: 'a repeated Connection', lines: ['Host: h', 'Connection: keep-alive', 'Connection: close'] },
    { why: 'a repeated Cookie', lines: ['Host: h', 'Cookie: a=1', 'Cookie: b=2'] },
  ])('repeated header: $why', ({ lines }) => {
    expect(parseRequestHead(head('GET / HTTP/1.1', ...lines), MAX)).toBeUndefined();
  });

  it.each(['Proxy-Connection: close', 'proxy-connection: keep-alive'])('%s is handed over (Node reads it as Connection)', (line) => {
    expect(parseRequestHead(head('GET / HTTP/1.1', 'Host: h', line), MAX)).toBeUndefined();
  });

  it.each(['Constructor', 'toString', 'hasOwnProperty'])('a header named %s (an Object.prototype name) is no repeat: accepted', (name) => {
    const got = parseRequestHead(head('GET / HTTP/1.1', 'Host: h', `${name}: v`), MAX);
    expect(got?.headers[name.toLowerCase()]).toBe('v');
  });

  it.each([
    { why: 'no headers at all', lines: [] },
    { why: 'headers but no Host', lines: ['Accept: */*', 'User-Agent: t'] },
    { why: 'a header merely containing host in its name', lines: ['X-Host: h'] },
    { why: 'a Host-like name with trailing characters', lines: ['Hostname: h'] },
  ])('missing Host: $why', ({ lines }) => {
    expect(parseRequestHead(head('GET / HTTP/1.1', ...lines), MAX)).toBeUndefined();
  });

  it.each([
    { why: 'a __proto__ header', line: '__proto__: x' },
    { why: 'a __PROTO__ header', line: '__PROTO__: x' },
  ])('$why is handed over (no prototype games)', ({ line }) => {
    expect(parseRequestHead(head('GET / HTTP/1.1', 'Host: h', line), MAX)).toBeUndefined();
  });

  it.each([
    { why: 'obs-fold with a leading space', lines: ['Host: h', 'X-A: a', ' continued'] },
    { why: 'obs-fold with a leading tab', lines: ['Host: h', 'X-A: a', '\tcontinued'] },
    { why: 'a header line starting with a space', lines: ['Host: h', ' X-A: a'] },
    { why: 'a line without a colon', lines: ['Host: h', 'X-A a'] },
    { why: 'a line that is only a name', lines: ['Host: h', 'X-A'] },
    { why: 'an empty header name', lines: ['Host: h', ': v'] },
    { why: 'a space before the colon', lines: ['Host : h'] },
    { why: 'a tab before the colon', lines: ['Host\t: h'] },
    { why: 'a space inside the name', lines: ['Host: h', 'X A: v'] },
    { why: 'a non-token character in the name', lines: ['Host: h', 'X(A): v'] },
    { why: 'a slash in the name', lines: ['Host: h', 'X/A: v'] },
    { why: 'a byte 0x80 in the name', lines: ['Host: h', 'X\x80: v'] },
    { why: 'a bare LF inside the head', lines: ['Host: h\nX-A: v'] },
    { why: 'a bare LF at the end of a value', lines: ['Host: h\n', 'X-A: v'] },
    { why: 'a bare CR inside the head', lines: ['Host: h\rX-A: v'] },
    { why: 'a bare CR at the end of a value', lines: ['Host: h', 'X-A: v\r'] },
    { why: 'a NUL in a value', lines: ['Host: h', 'X-A: a\x00b'] },
    { why: 'a NUL in the Host value', lines: ['Host: h\x00'] },
    { why: 'a control byte 0x01 in a value', lines: ['Host: h', 'X-A: \x01'] },
    { why: 'a control byte 0x1f in a value', lines: ['Host: h', 'X-A: a\x1f'] },
    { why: 'a vertical tab in a value', lines: ['Host: h', 'X-A: a\x0bb'] },
    { why: 'a form feed in a value', lines: ['Host: h', 'X-A: a\x0cb'] },
    { why: 'DEL in a value', lines: ['Host: h', 'X-A: a\x7fb'] },
  ])('malformed or unusual header line: $why', ({ lines }) => {
    expect(parseRequestHead(head('GET / HTTP/1.1', ...lines), MAX)).toBeUndefined();
  });

  it('a bare LF inside the request line is handed over', () => {
    expect(parseRequestHead(bytes('GET / HTTP/1.1\nHost: h\r\n\r\n'), MAX)).toBeUndefined();
  });

  it('a bare CR inside the request line is handed over', () => {
    expect(parseRequestHead(bytes('GET / HTTP/1.1\rHost: h\r\n\r\n'), MAX)).toBeUndefined();
  });

  it.each([
    { why: 'Connection: upgrade', value: 'upgrade' },
    { why: 'Connection: Upgrade', value: 'Upgrade' },
    { why: 'Connection: close, foo', value: 'close, foo' },
    { why: 'Connection: keep-alive, close', value: 'keep-alive, close' },
    { why: 'Connection: keep-alive, Upgrade', value: 'keep-alive, Upgrade' },
    { why: 'Connection: TE', value: 'TE' },
    { why: 'an empty Connection', value: '' },
    { why: 'Connection naming another header', value: 'X-Debug' },
    { why: 'Connection: closed', value: 'closed' },
    { why: 'Connection: keepalive', value: 'keepalive' },
  ])('Connection other than a lone close or keep-alive: $why', ({ value }) => {
    expect(parseRequestHead(head('GET / HTTP/1.1', 'Host: h', `Connection: ${value}`), MAX)).toBeUndefined();
  });

  it('more than MAX_FAST_HEADERS header lines are handed over', () => {
    const lines = ['Host: h', ...extraHeaders(MAX_FAST_HEADERS)];
    expect(lines).toHaveLength(MAX_FAST_HEADERS + 1);
    expect(parseRequestHead(head('GET / HTTP/1.1', ...lines), MAX)).toBeUndefined();
  });
});

describe('parseRequestHead on hostile input (results, not timings)', () => {
  it('a value of 10,000 spaces is accepted and trimmed to empty', () => {
    const got = parseRequestHead(head('GET / HTTP/1.1', 'Host: h', `X-A:${' '.repeat(10_000)}`), MAX);
    expect(got?.headers['x-a']).toBe('');
    expect(got?.rawHeaders).toEqual(['Host', 'h', 'X-A', '']);
  });

  it('a value of 10,000 spaces around one character is trimmed to that character', () => {
    const got = parseRequestHead(head('GET / HTTP/1.1', 'Host: h', `X-A:${' '.repeat(10_000)}x${' '.repeat(10_000)}`), 32 * 1024);
    expect(got?.headers['x-a']).toBe('x');
  });

  it('10,000 spaces then a NUL are refused', () => {
    expect(parseRequestHead(head('GET / HTTP/1.1', 'Host: h', `X-A:${' '.repeat(10_000)}\x00`), MAX)).toBeUndefined();
  });

  it('a Host of 10,000 spaces is an empty Host', () => {
    expect(parseRequestHead(head('GET / HTTP/1.1', `Host:${' '.repeat(10_000)}`), MAX)?.headers).toEqual({ host: '' });
  });

  it('a 16 KiB value of repeated characters is accepted whole', () => {
    const value = 'a'.repeat(16 * 1024);
    const buf = head('GET / HTTP/1.1', 'Host: h', `X-Big: ${value}`);
    const got = parseRequestHead(buf, 32 * 1024);
    expect(got?.headers['x-big']).toBe(value);
    expect(got?.end).toBe(buf.length);
  });

  it('the same 16 KiB value is handed over when maxHeaderSize is 16 KiB', () => {
    const buf = head('GET / HTTP/1.1', 'Host: h', `X-Big: ${'a'.repeat(16 * 1024)}`);
    expect(parseRequestHead(buf, 16 * 1024)).toBeUndefined();
  });

  it.each([
    { why: 'a 16 KiB name without a colon', line: 'a'.repeat(16 * 1024) },
    { why: 'a 16 KiB name then a space before the colon', line: `${'a'.repeat(16 * 1024)} : v` },
    { why: 'a 16 KiB value ending in a control byte', line: `X-A: ${'a'.repeat(16 * 1024)}\x01` },
    { why: 'a 16 KiB line of colons (empty name)', line: ':'.repeat(16 * 1024) },
    { why: 'a 16 KiB line of tabs (obs-fold)', line: '\t'.repeat(16 * 1024) },
    { why: 'a 16 KiB line of alternating name and blank', line: 'a '.repeat(8 * 1024) },
  ])('hostile header line is refused: $why', ({ line }) => {
    expect(parseRequestHead(head('GET / HTTP/1.1', 'Host: h', line), 32 * 1024)).toBeUndefined();
  });

  it('a 16 KiB header name is accepted as a name', () => {
    const name = 'n'.repeat(16 * 1024);
    const got = parseRequestHead(head('GET / HTTP/1.1', 'Host: h', `${name}: v`), 32 * 1024);
    expect(got?.rawHeaders).toEqual(['Host', 'h', name, 'v']);
  });

  it('a 16 KiB target is accepted whole; with a space at its end it is refused', () => {
    const target = `/${'x'.repeat(16 * 1024)}`;
    expect(parseRequestHead(head(`GET ${target} HTTP/1.1`, 'Host: h'), 32 * 1024)?.url).toBe(target);
    expect(parseRequestHead(head(`GET ${target}  HTTP/1.1`, 'Host: h'), 32 * 1024)).toBeUndefined();
  });

  it('16 KiB of CRLF pairs before the head is refused', () => {
    const buf = bytes(`${'\r\n'.repeat(8 * 1024)}GET / HTTP/1.1\r\nHost: h\r\n\r\n`);
    expect(parseRequestHead(buf, 32 * 1024)).toBeUndefined();
  });
});
