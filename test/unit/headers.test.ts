// Header rewriting between client and upstream: hop-by-hop removal, X-Forwarded-*, duplicate Host.

import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, encodeResponseHead, requestIdOf, upstreamRequestHeaders } from '../../src/proxy/headers.js';

const FWD = { clientIp: '10.1.1.1', proto: 'http' as const };

/** Raw header pairs from `name: value` lines, the shape Node's rawHeaders has. */
function raw(...lines: string[]): string[] {
  return lines.flatMap((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  });
}

/** Pairs back into `name: value` lines, for readable expectations. */
function pairs(list: readonly string[] | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(`${list[i]}: ${list[i + 1]}`);
  return out;
}

describe('upstreamRequestHeaders', () => {
  it.each([
    {
      why: 'a plain request keeps its headers, name case preserved, and gains X-Forwarded-*',
      in: ['Host: shop.test', 'Accept: */*', 'X-Request-ID: abc'],
      out: ['Host: shop.test', 'Accept: */*', 'X-Request-ID: abc', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: shop.test'],
    },
    {
      why: 'every hop-by-hop header is removed',
      in: [
        'Host: h',
        'Connection: keep-alive',
        'Keep-Alive: timeout=5',
        'Proxy-Connection: keep-alive',
        'Proxy-Authenticate: Basic',
        'Proxy-Authorization: Basic eA==',
        'TE: trailers',
        'Trailer: X-Sum',
        'Transfer-Encoding: chunked',
        'Upgrade: h2c',
        'Accept: */*',
      ],
      out: ['Host: h', 'Accept: */*', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h'],
    },
    {
      why: 'headers named in Connection are removed too, whatever their case',
      in: ['Host: h', 'Connection: close, X-Debug , x-trace', 'x-debug: 1', 'X-Trace: 2', 'X-Keep: 3'],
      out: ['Host: h', 'X-Keep: 3', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h'],
    },
    {
      why: 'a Connection header in odd case is still recognized',
      in: ['Host: h', 'CONNECTION: X-Debug', 'X-Debug: 1'],
      out: ['Host: h', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h'],
    },
    {
      why: 'an existing X-Forwarded-For is appended to with ", "',
      in: ['Host: h', 'X-Forwarded-For: 203.0.113.7'],
      out: ['Host: h', 'x-forwarded-for: 203.0.113.7, 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h'],
    },
    {
      why: 'two X-Forwarded-For headers are joined in order, then appended to',
      in: ['Host: h', 'X-Forwarded-For: 203.0.113.7', 'x-forwarded-for: 198.51.100.2, 192.0.2.1'],
      out: ['Host: h', 'x-forwarded-for: 203.0.113.7, 198.51.100.2, 192.0.2.1, 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h'],
    },
    {
      why: 'client-sent X-Forwarded-Proto and X-Forwarded-Host are replaced by what this hop saw',
      in: ['X-Forwarded-Proto: https', 'Host: real.test', 'X-Forwarded-Host: spoofed.test'],
      out: ['Host: real.test', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: real.test'],
    },
    {
      why: 'Expect is removed (undici manages it)',
      in: ['Host: h', 'Expect: 100-continue', 'Content-Length: 5'],
      out: ['Host: h', 'Content-Length: 5', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h'],
    },
    {
      why: 'without a Host header there is no X-Forwarded-Host',
      in: ['Accept: */*'],
      out: ['Accept: */*', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http'],
    },
    {
      why: 'Host and Content-Length named in Connection are kept: the request would change meaning without them',
      in: ['Host: h', 'Connection: Host, Content-Length, X-Debug', 'Content-Length: 5', 'X-Debug: 1'],
      out: ['Host: h', 'Content-Length: 5', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h'],
    },
    {
      why: 'Host and Content-Length are kept whatever case Connection names them in',
      in: ['host: h', 'connection: HOST,content-LENGTH', 'content-length: 0'],
      out: ['host: h', 'content-length: 0', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h'],
    },
    {
      why: 'repeated ordinary headers are all kept in order',
      in: ['Host: h', 'Cookie: a=1', 'Cookie: b=2'],
      out: ['Host: h', 'Cookie: a=1', 'Cookie: b=2', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h'],
    },
  ])('$why', ({ in: input, out }) => {
    expect(pairs(upstreamRequestHeaders(raw(...input), FWD))).toEqual(out);
  });

  it('an https client sets X-Forwarded-Proto to https', () => {
    expect(pairs(upstreamRequestHeaders(raw('Host: h'), { clientIp: '::1', proto: 'https' }))).toEqual([
      'Host: h',
      'x-forwarded-for: ::1',
      'x-forwarded-proto: https',
      'x-forwarded-host: h',
    ]);
  });

  it.each([
    { why: 'two Host headers', in: ['Host: a.test', 'Accept: */*', 'Host: b.test'] },
    { why: 'two Host headers in different case', in: ['Host: a.test', 'host: a.test'] },
  ])('returns undefined for $why (the request gets a 400)', ({ in: input }) => {
    expect(upstreamRequestHeaders(raw(...input), FWD)).toBeUndefined();
  });

  it('does not modify its input', () => {
    const input = raw('Host: h', 'Connection: X-A', 'X-A: 1');
    const copy = [...input];
    upstreamRequestHeaders(input, FWD);
    expect(input).toEqual(copy);
  });
});

describe('clientResponseHeaders', () => {
  const buf = (...lines: string[]) => raw(...lines).map((s) => Buffer.from(s, 'latin1'));

  it.each([
    {
      why: 'ordinary headers pass through as strings, case preserved',
      in: ['Content-Type: text/plain', 'X-Backend: web-1', 'Set-Cookie: a=1', 'Set-Cookie: b=2'],
      out: ['Content-Type: text/plain', 'X-Backend: web-1', 'Set-Cookie: a=1', 'Set-Cookie: b=2'],
    },
    {
      why: 'hop-by-hop headers are removed',
      in: ['Connection: keep-alive', 'Keep-Alive: timeout=5', 'Transfer-Encoding: chunked', 'Upgrade: websocket', 'Trailer: X-Sum', 'Proxy-Authenticate: Basic', 'Content-Length: 2'],
      out: ['Content-Length: 2'],
    },
    {
      why: 'headers named in Connection are removed, even when they come before it',
      in: ['X-Internal: 1', 'Content-Type: text/plain', 'connection: X-Internal, x-debug', 'X-Debug: yes'],
      out: ['Content-Type: text/plain'],
    },
    {
      why: 'Connection: close names nothing that is kept',
      in: ['Connection: close', 'Content-Type: text/html'],
      out: ['Content-Type: text/html'],
    },
    {
      why: 'latin1 bytes in values are kept as they came',
      in: ['Content-Disposition: attachment; filename="caf\u00e9.txt"'],
      out: ['Content-Disposition: attachment; filename="caf\u00e9.txt"'],
    },
    { why: 'no headers at all stays empty', in: [], out: [] },
  ])('$why', ({ in: input, out }) => {
    expect(pairs(clientResponseHeaders(buf(...input)))).toEqual(out);
  });
});

describe('upstreamRequestHeaders: X-Request-Id', () => {
  const raw = (lines: string[]) => lines.flatMap((l) => { const i = l.indexOf(': '); return [l.slice(0, i), l.slice(i + 2)]; });
  it.each([
    { why: 'the given id replaces any the client sent, once', in: ['Host: h', 'X-Request-ID: client', 'x-request-id: dup'], id: 'chosen', want: ['chosen'] },
    { why: 'without a given id the client\'s header passes untouched', in: ['Host: h', 'X-Request-ID: client'], id: undefined, want: ['client'] },
  ])('$why', ({ in: lines, id, want }) => {
    const out = upstreamRequestHeaders(raw(lines), { clientIp: '10.1.1.1', proto: 'http', ...(id === undefined ? {} : { requestId: id }) })!;
    const ids = out.filter((_, i) => i % 2 === 1 && out[i - 1]!.toLowerCase() === 'x-request-id');
    expect(ids).toEqual(want);
  });
});

describe('requestIdOf', () => {
  it.each([
    { why: 'a client id is kept', value: 'abc', want: 'abc' },
    { why: 'a missing id is made fresh', value: undefined, want: 'fresh' },
    { why: 'an empty id is made fresh', value: '', want: 'fresh' },
    { why: 'an id longer than 200 characters is made fresh', value: 'x'.repeat(201), want: 'fresh' },
    { why: 'several ids (an array) are replaced by a fresh one', value: ['a', 'b'], want: 'fresh' },
  ])('$why', ({ value, want }) => {
    expect(requestIdOf(value, () => 'fresh')).toBe(want);
  });
});

describe('encodeResponseHead', () => {
  const buffers = (...lines: string[]): Buffer[] => raw(...lines).map((s) => Buffer.from(s, 'latin1'));
  const framer = (lines: string) => ({ seen: [] as boolean[], framing(sized: boolean) { this.seen.push(sized); return lines; } });

  it.each([
    { why: 'ordinary headers pass byte for byte, in order, name case kept', in: ['Server: nginx', 'Content-Type: text/plain', 'Content-Length: 13'] },
    { why: 'hop-by-hop headers are dropped', in: ['Connection: keep-alive', 'Keep-Alive: timeout=5', 'Transfer-Encoding: chunked', 'Trailer: x', 'Upgrade: h2c', 'X-Kept: 1'] },
    { why: 'headers whose length matches a hop-by-hop name are kept', in: ['Set-Cookie: a=1', 'Expires: 0', 'X-Frame-Opt: y'] },
    { why: 'latin1 bytes in values survive', in: ['X-Name: caf\xe9'] },
    { why: 'Connection: close names nothing to drop', in: ['Connection: close', 'X-A: 1'] },
    { why: 'no headers at all', in: [] },
  ])('matches clientResponseHeaders: $why', ({ in: lines }) => {
    const f = framer('x-framing: yes\r\n');
    const got = encodeResponseHead('HTTP/1.1 200 OK\r\n', buffers(...lines), f);
    const kept = pairs(clientResponseHeaders(buffers(...lines)))!;
    expect(got?.toString('latin1')).toBe(`HTTP/1.1 200 OK\r\n${kept.map((l) => `${l}\r\n`).join('')}x-framing: yes\r\n\r\n`);
  });

  it.each([
    { why: 'Content-Length present', in: ['content-length: 5'], sized: true },
    { why: 'Content-Length in any case', in: ['CONTENT-LENGTH: 5'], sized: true },
    { why: 'no Content-Length', in: ['X-Other-Length: 5'], sized: false },
  ])('tells the framer whether the head is sized: $why', ({ in: lines, sized }) => {
    const f = framer('');
    encodeResponseHead('HTTP/1.1 200 OK\r\n', buffers(...lines), f);
    expect(f.seen).toEqual([sized]);
  });

  it('gives up (undefined) when Connection names a header to drop', () => {
    expect(encodeResponseHead('HTTP/1.1 200 OK\r\n', buffers('Connection: X-Secret', 'X-Secret: s'), framer(''))).toBeUndefined();
  });

  it('handles more header pairs than its scratch space holds at first', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `X-H${i}: ${i}`);
    const got = encodeResponseHead('HTTP/1.1 200 OK\r\n', buffers(...lines), framer(''))!.toString('latin1');
    expect(got.split('\r\n').length).toBe(1 + 200 + 2);
    expect(got).toContain('X-H199: 199\r\n\r\n');
  });
});
