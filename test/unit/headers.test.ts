// Header rewriting between client and upstream: hop-by-hop removal, X-Forwarded-* and the
// trust model, duplicate Host, and the checks on upstream response heads.

import { applyHeaderRules, headerRules } from '../../src/core/policy/header-rules.js';
import { describe, expect, it } from 'vitest';
import { CidrSet, parseCidr } from '../../src/core/cidr.js';
import { InvalidHeaderError } from '../../src/core/errors.js';
import {
  clientAddressOf,
  clientResponseHeaders,
  encodeResponseHead,
  reasonPhrase,
  requestIdOf,
  upstreamRequestHeaders,
  type ForwardedFor,
} from '../../src/proxy/headers.js';

/** An untrusted peer (the default: no trustedProxies). */
const FWD: ForwardedFor = { peer: '10.1.1.1', proto: 'http', trusted: undefined, requestId: 'rid' };
/** The tail every untrusted request gets after its own headers. */
const tail = (host?: string) => ['x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', ...(host === undefined ? [] : [`x-forwarded-host: ${host}`]), 'x-real-ip: 10.1.1.1', 'x-request-id: rid'];
const cidrs = (...list: string[]) => new CidrSet(list.map((c) => parseCidr(c)!));

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
      why: 'a plain request keeps its headers, name case preserved, gains X-Forwarded-* and X-Real-IP, and its X-Request-Id is replaced',
      in: ['Host: shop.test', 'Accept: */*', 'X-Request-ID: abc'],
      out: ['Host: shop.test', 'Accept: */*', ...tail('shop.test')],
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
      out: ['Host: h', 'Accept: */*', ...tail('h')],
    },
    {
      why: 'headers named in Connection are removed too, whatever their case',
      in: ['Host: h', 'Connection: close, X-Debug , x-trace', 'x-debug: 1', 'X-Trace: 2', 'X-Keep: 3'],
      out: ['Host: h', 'X-Keep: 3', ...tail('h')],
    },
    {
      why: 'a Connection header in odd case is still recognized',
      in: ['Host: h', 'CONNECTION: X-Debug', 'X-Debug: 1'],
      out: ['Host: h', ...tail('h')],
    },
    {
      why: 'an untrusted peer\'s X-Forwarded-For is replaced, not appended to',
      in: ['Host: h', 'X-Forwarded-For: 203.0.113.7', 'x-forwarded-for: 198.51.100.2'],
      out: ['Host: h', ...tail('h')],
    },
    {
      why: 'an untrusted peer\'s X-Forwarded-Proto, -Host and X-Real-IP are replaced by what this hop saw',
      in: ['X-Forwarded-Proto: https', 'Host: real.test', 'X-Forwarded-Host: spoofed.test', 'X-Real-IP: 6.6.6.6'],
      out: ['Host: real.test', ...tail('real.test')],
    },
    {
      why: 'Expect is removed (undici manages it)',
      in: ['Host: h', 'Expect: 100-continue', 'Content-Length: 5'],
      out: ['Host: h', 'Content-Length: 5', ...tail('h')],
    },
    {
      why: 'without a Host header there is no X-Forwarded-Host',
      in: ['Accept: */*'],
      out: ['Accept: */*', ...tail()],
    },
    {
      why: 'Host and Content-Length named in Connection are kept: the request would change meaning without them',
      in: ['Host: h', 'Connection: Host, Content-Length, X-Debug', 'Content-Length: 5', 'X-Debug: 1'],
      out: ['Host: h', 'Content-Length: 5', ...tail('h')],
    },
    {
      why: 'Host and Content-Length are kept whatever case Connection names them in',
      in: ['host: h', 'connection: HOST,content-LENGTH', 'content-length: 0'],
      out: ['host: h', 'content-length: 0', ...tail('h')],
    },
    {
      why: 'repeated ordinary headers are all kept in order',
      in: ['Host: h', 'Cookie: a=1', 'Cookie: b=2'],
      out: ['Host: h', 'Cookie: a=1', 'Cookie: b=2', ...tail('h')],
    },
  ])('$why', ({ in: input, out }) => {
    expect(pairs(upstreamRequestHeaders(raw(...input), FWD))).toEqual(out);
  });

  it('an https client sets X-Forwarded-Proto to https', () => {
    expect(pairs(upstreamRequestHeaders(raw('Host: h'), { ...FWD, peer: '::1', proto: 'https' }))).toEqual([
      'Host: h',
      'x-forwarded-for: ::1',
      'x-forwarded-proto: https',
      'x-forwarded-host: h',
      'x-real-ip: ::1',
      'x-request-id: rid',
    ]);
  });

  it('an absolute-form authority replaces Host and becomes X-Forwarded-Host', () => {
    expect(pairs(upstreamRequestHeaders(raw('Host: other', 'Accept: */*'), { ...FWD, authority: 'example.com:8080' }))).toEqual([
      'Host: example.com:8080',
      'Accept: */*',
      ...tail('example.com:8080'),
    ]);
  });

  it('an absolute-form authority is sent as Host when the client sent none (HTTP/1.0)', () => {
    expect(pairs(upstreamRequestHeaders(raw('Accept: */*'), { ...FWD, authority: 'a.test' }))).toEqual(['Accept: */*', 'host: a.test', ...tail('a.test')]);
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

describe('upstreamRequestHeaders from a trusted proxy', () => {
  const trusted = cidrs('10.0.0.0/8');
  const viaLb: ForwardedFor = { peer: '10.1.1.1', proto: 'http', trusted, requestId: 'lb-id' };
  it.each([
    {
      why: 'its X-Forwarded-For is appended to, its -Proto and -Host kept, X-Real-IP is the client it vouches for',
      in: ['Host: h', 'X-Forwarded-For: 203.0.113.7', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: shop.test'],
      out: ['Host: h', 'x-forwarded-for: 203.0.113.7, 10.1.1.1', 'x-forwarded-proto: https', 'x-forwarded-host: shop.test', 'x-real-ip: 203.0.113.7', 'x-request-id: lb-id'],
    },
    {
      why: 'two X-Forwarded-For headers are joined in order, then appended to',
      in: ['Host: h', 'X-Forwarded-For: 203.0.113.7', 'x-forwarded-for: 198.51.100.2, 10.9.9.9'],
      out: ['Host: h', 'x-forwarded-for: 203.0.113.7, 198.51.100.2, 10.9.9.9, 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h', 'x-real-ip: 198.51.100.2', 'x-request-id: lb-id'],
    },
    {
      why: 'without X-Forwarded-* of its own, this hop\'s values are used',
      in: ['Host: h'],
      out: ['Host: h', 'x-forwarded-for: 10.1.1.1', 'x-forwarded-proto: http', 'x-forwarded-host: h', 'x-real-ip: 10.1.1.1', 'x-request-id: lb-id'],
    },
  ])('$why', ({ in: input, out }) => {
    expect(pairs(upstreamRequestHeaders(raw(...input), viaLb))).toEqual(out);
  });
});

describe('clientAddressOf', () => {
  const trusted = cidrs('10.0.0.0/8', '::1');
  it.each([
    { why: 'no X-Forwarded-For: the peer', xff: undefined, want: '10.0.0.1' },
    { why: 'the right-most entry that is not a trusted proxy', xff: '1.1.1.1, 2.2.2.2, 10.0.0.5', want: '2.2.2.2' },
    { why: 'entries left of it could be forged by the client and are ignored', xff: '6.6.6.6, 2.2.2.2', want: '2.2.2.2' },
    { why: 'all entries trusted: the left-most', xff: '10.0.0.9, ::1', want: '10.0.0.9' },
    { why: 'blanks around entries are trimmed', xff: ' 3.3.3.3 ,10.0.0.2 ', want: '3.3.3.3' },
  ])('$why', ({ xff, want }) => {
    expect(clientAddressOf(xff, '10.0.0.1', trusted)).toBe(want);
  });
});

describe('reasonPhrase', () => {
  it.each([
    { why: 'plain ASCII is kept', text: 'Not Found', want: 'Not Found' },
    { why: 'an empty phrase is kept', text: '', want: '' },
    { why: 'U+010D U+010A (CR LF once encoded as latin1) is replaced', text: 'OK\u010d\u010aSet-Cookie: x=1', want: 'Standard' },
    { why: 'UTF-8 text is replaced', text: '成功', want: 'Standard' },
    { why: 'DEL is replaced', text: 'Not\x7fFound', want: 'Standard' },
    { why: 'a control byte is replaced', text: '\x01bad', want: 'Standard' },
    { why: 'latin1 obs-text is replaced', text: 'caf\u00e9', want: 'Standard' },
  ])('$why', ({ text, want }) => {
    expect(reasonPhrase(200, text, 'Standard')).toBe(want);
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
    { why: 'a 200 keeps its Content-Length', in: ['Content-Length: 5'], out: ['Content-Length: 5'] },
  ])('$why', ({ in: input, out }) => {
    expect(pairs(clientResponseHeaders(buf(...input), 200))).toEqual(out);
  });

  it('drops Content-Length from a 204 (RFC 9110 §8.6)', () => {
    expect(pairs(clientResponseHeaders(buf('content-length: 5', 'X-A: 1'), 204))).toEqual(['X-A: 1']);
  });

  it.each([
    { why: 'a CR in a value', name: 'X-A', value: 'a\rb' },
    { why: 'a LF in a value', name: 'X-A', value: 'a\nSet-Cookie: x' },
    { why: 'a NUL in a value', name: 'X-A', value: 'a\x00b' },
    { why: 'DEL in a value', name: 'X-A', value: 'a\x7fb' },
    { why: 'a space in a name', name: 'X A', value: '1' },
    { why: 'an empty name', name: '', value: '1' },
  ])('throws InvalidHeaderError for $why, as encodeResponseHead does', ({ name, value }) => {
    const head = [Buffer.from(name, 'latin1'), Buffer.from(value, 'latin1')];
    expect(() => clientResponseHeaders(head, 200)).toThrow(InvalidHeaderError);
    expect(() => encodeResponseHead('HTTP/1.1 200 OK\r\n', 200, head, { framing: () => '' })).toThrow(InvalidHeaderError);
  });
});

describe('upstreamRequestHeaders: X-Request-Id', () => {
  it.each([
    { why: 'the given id replaces any an untrusted client sent, once', trusted: undefined },
    { why: 'the given id replaces a trusted peer\'s too (the caller took it over with requestIdOf)', trusted: cidrs('10.0.0.0/8') },
  ])('$why', ({ trusted }) => {
    const out = upstreamRequestHeaders(raw('Host: h', 'X-Request-ID: client', 'x-request-id: dup'), { ...FWD, trusted, requestId: 'chosen' })!;
    const ids = out.filter((_, i) => i % 2 === 1 && out[i - 1]!.toLowerCase() === 'x-request-id');
    expect(ids).toEqual(['chosen']);
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
    const got = encodeResponseHead('HTTP/1.1 200 OK\r\n', 200, buffers(...lines), f);
    const kept = pairs(clientResponseHeaders(buffers(...lines), 200))!;
    expect(got?.toString('latin1')).toBe(`HTTP/1.1 200 OK\r\n${kept.map((l) => `${l}\r\n`).join('')}x-framing: yes\r\n\r\n`);
  });

  it.each([
    { why: 'Content-Length present', in: ['content-length: 5'], sized: true },
    { why: 'Content-Length in any case', in: ['CONTENT-LENGTH: 5'], sized: true },
    { why: 'no Content-Length', in: ['X-Other-Length: 5'], sized: false },
  ])('tells the framer whether the head is sized: $why', ({ in: lines, sized }) => {
    const f = framer('');
    encodeResponseHead('HTTP/1.1 200 OK\r\n', 200, buffers(...lines), f);
    expect(f.seen).toEqual([sized]);
  });

  it('leaves Content-Length out of a 204 and tells the framer it is unsized', () => {
    const f = framer('');
    expect(encodeResponseHead('HTTP/1.1 204 No Content\r\n', 204, buffers('content-length: 5', 'X-A: 1'), f)?.toString('latin1')).toBe('HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n');
    expect(f.seen).toEqual([false]);
  });

  it('gives up (undefined) when Connection names a header to drop', () => {
    expect(encodeResponseHead('HTTP/1.1 200 OK\r\n', 200, buffers('Connection: X-Secret', 'X-Secret: s'), framer(''))).toBeUndefined();
  });

  it.each([
    { why: 'removed names go in any case, set ones come after the kept headers', in: ['Server: nginx', 'X-A: 1', 'SERVER: again'], set: { 'x-hsts': 'max-age=1' }, remove: ['server'] },
    { why: 'a set name replaces every line the upstream sent of it', in: ['X-Env: dev', 'X-Env: test', 'X-B: 2'], set: { 'x-env': 'prod' }, remove: [] },
    { why: 'names that only share a length with a rule are kept', in: ['X-Bebug: 1', 'X-Debug: 2'], set: {}, remove: ['x-debug'] },
  ] as Array<{ why: string; in: string[]; set: Record<string, string>; remove: string[] }>)('applies the route\'s response header rules as applyHeaderRules does: $why', ({ in: lines, set, remove }) => {
    const rules = headerRules(set, remove)!;
    const got = encodeResponseHead('HTTP/1.1 200 OK\r\n', 200, buffers(...lines), framer('x-framing: yes\r\n'), rules)?.toString('latin1');
    const kept = pairs(applyHeaderRules(clientResponseHeaders(buffers(...lines), 200), rules))!;
    expect(got).toBe(`HTTP/1.1 200 OK\r\n${kept.map((l) => `${l}\r\n`).join('')}x-framing: yes\r\n\r\n`);
  });

  it('handles more header pairs than its scratch space holds at first', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `X-H${i}: ${i}`);
    const got = encodeResponseHead('HTTP/1.1 200 OK\r\n', 200, buffers(...lines), framer(''))!.toString('latin1');
    expect(got.split('\r\n').length).toBe(1 + 200 + 2);
    expect(got).toContain('X-H199: 199\r\n\r\n');
  });
});
