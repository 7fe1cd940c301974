// Header translation between HTTP/2 and the pipeline's HTTP/1.1-shaped lists (RFC 9113
// §8.2-8.3), the gRPC status of Fairway's own answers, and the h2c preface check.

import { describe, expect, it } from 'vitest';
import { grpcMessage, grpcStatusOf, isGrpc } from '../../src/core/grpc.js';
import { fromH2Request, fromH2Response, teIsTrailers, toH2Request, toH2Response, trailerList } from '../../src/proxy/h2-headers.js';
import { PREFACE, prefaceVerdict } from '../../src/proxy/preface.js';

/** `name: value` lines as a flat list (the first colon after the name's first character splits). */
function raw(...lines: string[]): string[] {
  return lines.flatMap((l) => {
    const i = l.indexOf(':', 1);
    return [l.slice(0, i), l.slice(i + 1).trim()];
  });
}

function lines(list: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(`${list[i]}: ${list[i + 1]}`);
  return out;
}

const PSEUDO = [':method: GET', ':scheme: https', ':path: /a?b=1'];

describe('fromH2Request: an HTTP/2 request as the pipeline sees an HTTP/1.1 one', () => {
  it.each([
    {
      why: ':authority becomes Host, first, and the other pseudo-headers go',
      in: [...PSEUDO, ':authority: Example.com:8443', 'accept: */*'],
      out: ['host: Example.com:8443', 'accept: */*'],
    },
    {
      why: ':authority wins over a Host field the client also sent, wherever it came',
      in: ['host: other.test', ...PSEUDO, ':authority: a.test', 'x-a: 1'],
      out: ['host: a.test', 'x-a: 1'],
    },
    {
      why: 'a Host field alone (no :authority) is kept',
      in: [...PSEUDO, 'host: b.test'],
      out: ['host: b.test'],
    },
    {
      why: 'several cookie fields are joined with "; " into one, for an HTTP/1.1 upstream',
      in: [...PSEUDO, ':authority: a.test', 'cookie: a=1', 'x-b: 2', 'cookie: b=2', 'cookie: c=3'],
      out: ['host: a.test', 'x-b: 2', 'cookie: a=1; b=2; c=3'],
    },
    {
      why: 'connection-specific fields are dropped: connection, keep-alive, proxy-connection, transfer-encoding, upgrade',
      in: [...PSEUDO, ':authority: a.test', 'connection: close', 'keep-alive: 5', 'proxy-connection: x', 'transfer-encoding: chunked', 'upgrade: websocket', 'x-ok: 1'],
      out: ['host: a.test', 'x-ok: 1'],
    },
    {
      why: 'te stays only as trailers',
      in: [...PSEUDO, ':authority: a.test', 'te: trailers', 'te: gzip'],
      out: ['host: a.test', 'te: trailers'],
    },
    {
      why: 'names are lower-cased',
      in: [...PSEUDO, ':authority: a.test', 'X-Mixed: v'],
      out: ['host: a.test', 'x-mixed: v'],
    },
  ])('$why', ({ in: input, out }) => {
    expect(lines(fromH2Request(raw(...input)).rawHeaders)).toEqual(out);
  });

  it('folds the header object as Node does: repeated fields joined with ", ", set-cookie a list, cookie joined', () => {
    const { headers } = fromH2Request(raw(...PSEUDO, ':authority: a.test', 'x-a: 1', 'x-a: 2', 'cookie: a=1', 'cookie: b=2', 'content-type: application/grpc'));
    expect(headers).toEqual({ host: 'a.test', 'x-a': '1, 2', cookie: 'a=1; b=2', 'content-type': 'application/grpc' });
  });
});

describe('toH2Request: the upstream header list as an HTTP/2 request to an h2c upstream', () => {
  it('puts method, path, scheme http and Host as :authority, and keeps the rest', () => {
    expect(toH2Request(raw('Host: a.test', 'X-Forwarded-For: 1.2.3.4', 'accept: */*'), 'POST', '/svc/M', '10.0.0.1:50051')).toEqual({
      ':method': 'POST',
      ':scheme': 'http',
      ':path': '/svc/M',
      ':authority': 'a.test',
      'x-forwarded-for': '1.2.3.4',
      accept: '*/*',
    });
  });

  it('says :scheme https to an h2 upstream over TLS', () => {
    expect(toH2Request(raw('Host: a.test'), 'GET', '/', 'h:1', 'https')[':scheme']).toBe('https');
  });

  it("uses the instance's host:port as :authority when the list has no Host (rewrite.host: upstream)", () => {
    expect(toH2Request([], 'GET', '/', '10.0.0.1:50051')[':authority']).toBe('10.0.0.1:50051');
  });

  it('drops connection-specific fields and te other than trailers; repeated names become a list', () => {
    expect(toH2Request(raw('connection: x', 'upgrade: h2c', 'te: trailers', 'x-a: 1', 'x-a: 2', 'keep-alive: 1'), 'GET', '/', 'h:1')).toEqual({
      ':method': 'GET',
      ':scheme': 'http',
      ':path': '/',
      ':authority': 'h:1',
      te: 'trailers',
      'x-a': ['1', '2'],
    });
    expect(toH2Request(raw('te: deflate'), 'GET', '/', 'h:1').te).toBeUndefined();
  });
});

describe('toH2Response: an answer (or trailers) for an HTTP/2 client', () => {
  it('drops connection-specific fields, te and pseudo-headers; repeated names (set-cookie) become a list', () => {
    expect(toH2Response(raw('Content-Type: text/plain', 'Connection: close', 'Transfer-Encoding: chunked', 'Keep-Alive: timeout=5', 'set-cookie: a=1', 'set-cookie: b=2', 'te: trailers', ':status: 200'))).toEqual({
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    });
  });

  it('keeps the first of a repeated field Node takes once (it throws on two), and drops HTTP2-Settings', () => {
    expect(toH2Response(raw('Date: d1', 'Date: d2', 'ETag: "a"', 'ETag: "b"', 'Vary: a', 'Vary: b', 'HTTP2-Settings: AAAA'))).toEqual({ date: 'd1', etag: '"a"', vary: ['a', 'b'] });
    expect(toH2Request(raw('host: h', 'User-Agent: one', 'User-Agent: two', 'HTTP2-Settings: AAAA'), 'GET', '/', 'h:1')).toEqual({ ':method': 'GET', ':scheme': 'http', ':path': '/', ':authority': 'h', 'user-agent': 'one' });
  });
});

describe('fromH2Response and trailerList: what an h2c upstream answers, as the forwarder takes it', () => {
  it('gives the raw list as byte pairs without pseudo-headers', () => {
    expect(fromH2Response([':status', '200', 'content-type', 'application/grpc', 'grpc-encoding', 'identity']).map(String)).toEqual(['content-type', 'application/grpc', 'grpc-encoding', 'identity']);
  });

  it('flattens trailers, lists into lines, pseudo and connection-specific names dropped', () => {
    expect(trailerList({ 'grpc-status': '0', 'x-list': ['a', 'b'] as unknown as string, connection: 'close' })).toEqual(['grpc-status', '0', 'x-list', 'a', 'x-list', 'b']);
    expect(trailerList(undefined)).toEqual([]);
  });
});

describe('teIsTrailers', () => {
  it.each([
    { why: 'trailers is', value: 'trailers', is: true },
    { why: 'any case and blanks around are', value: ' Trailers ', is: true },
    { why: 'a transfer coding is not', value: 'gzip', is: false },
    { why: 'trailers beside a coding is not (HTTP/2 allows only trailers)', value: 'trailers, deflate', is: false },
    { why: 'no te is not', value: undefined, is: false },
  ])('$why', ({ value, is }) => {
    expect(teIsTrailers(value)).toBe(is);
  });
});

describe('gRPC view of Fairway answers', () => {
  it.each([
    { why: 'an instance that failed is UNAVAILABLE', code: 'upstream_error', status: 14 },
    { why: 'no healthy instance is UNAVAILABLE', code: 'no_healthy_upstream', status: 14 },
    { why: 'an upstream timeout is DEADLINE_EXCEEDED', code: 'upstream_timeout', status: 4 },
    { why: 'no route is UNIMPLEMENTED', code: 'no_route', status: 12 },
    { why: 'an allow/deny refusal is PERMISSION_DENIED', code: 'forbidden', status: 7 },
    { why: 'a rate limit is RESOURCE_EXHAUSTED', code: 'rate_limited', status: 8 },
  ] as const)('$why', ({ code, status }) => {
    expect(grpcStatusOf(code)).toBe(status);
  });

  it('a request is gRPC when its content-type starts with application/grpc', () => {
    expect([isGrpc('application/grpc'), isGrpc('application/grpc+proto'), isGrpc('application/json'), isGrpc(undefined)]).toEqual([true, true, false, false]);
  });

  it('grpc-message is percent-encoded outside printable ASCII, and % itself', () => {
    expect(grpcMessage('no route: ü 100%')).toBe('no route: %C3%BC 100%25');
  });
});

describe('prefaceVerdict: h2c with prior knowledge, told from HTTP/1.1 by the first bytes', () => {
  it.each([
    { why: 'the whole preface is HTTP/2', bytes: PREFACE, verdict: 'h2' },
    { why: 'the preface with frames after it is HTTP/2', bytes: Buffer.concat([PREFACE, Buffer.from([0, 0, 0, 4])]), verdict: 'h2' },
    { why: 'the start of the preface waits for more', bytes: PREFACE.subarray(0, 10), verdict: undefined },
    { why: 'an HTTP/1.1 request line is HTTP/1.1 at once', bytes: Buffer.from('GET / HTTP/1.1\r\n'), verdict: 'http1' },
    { why: 'a method starting like the preface but differing is HTTP/1.1', bytes: Buffer.from('PRIX / HTTP/1.1\r\n'), verdict: 'http1' },
    { why: 'a PRI request that is not the exact preface is HTTP/1.1', bytes: Buffer.from('PRI * HTTP/2.0\r\nHost: x\r\n\r\n'), verdict: 'http1' },
  ])('$why', ({ bytes, verdict }) => {
    expect(prefaceVerdict(bytes)).toBe(verdict);
  });
});
