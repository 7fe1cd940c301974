// The request target and Host as the edge normalises them before routing (SPEC "Edge rules").

import { describe, expect, it } from 'vitest';
import { CidrSet, parseCidr } from '../../src/core/cidr.js';
import { absoluteTarget, bareHost, normalizePath } from '../../src/core/request-target.js';
import { admit, ASTERISK, type Admitted } from '../../src/proxy/admit.js';
import type { ProxyRequest } from '../../src/proxy/messages.js';

describe('normalizePath', () => {
  it.each([
    { why: 'a plain path is returned as it is', in: '/a/b?x=1', want: '/a/b?x=1' },
    { why: 'a dot in a file name is no dot segment', in: '/a/b.txt', want: '/a/b.txt' },
    { why: '"." segments are removed', in: '/a/./b', want: '/a/b' },
    { why: '".." removes the segment before it', in: '/a/./b/../c', want: '/a/c' },
    { why: 'a trailing "." keeps the slash', in: '/a/.', want: '/a/' },
    { why: 'a trailing ".." keeps the slash', in: '/a/b/..', want: '/a/' },
    { why: 'percent-encoded dots count, in any case', in: '/a/%2e%2E/b/%2e', want: '/b/' },
    { why: 'a mixed ".%2e" is a dot-dot too', in: '/a/b/.%2e/c', want: '/a/c' },
    { why: 'the query is kept as sent, dots and all', in: '/a/../b?p=/../x', want: '/b?p=/../x' },
    { why: '%2f is no separator: "..%2f" is an ordinary segment', in: '/public/..%2fadmin', want: '/public/..%2fadmin' },
    { why: 'other percent-encoding is kept as sent', in: '/a/%41/./b', want: '/a/%41/b' },
    { why: 'three dots are an ordinary segment', in: '/a/.../b', want: '/a/.../b' },
    { why: 'the root stays the root', in: '/./', want: '/' },
    { why: 'empty segments are kept', in: '/a//./b', want: '/a//b' },
  ])('$why: $in', ({ in: path, want }) => {
    expect(normalizePath(path)).toBe(want);
  });

  it.each([
    { why: 'climbing above / at once', in: '/../etc/passwd' },
    { why: 'climbing above / later', in: '/a/../../b' },
    { why: 'climbing above / with encoded dots', in: '/%2e%2e/x' },
  ])('refuses $why', ({ in: path }) => {
    expect(normalizePath(path)).toBeUndefined();
  });
});

describe('bareHost', () => {
  it.each([
    { why: 'a plain host is kept', in: 'example.com', want: 'example.com' },
    { why: 'the port goes', in: 'example.com:8080', want: 'example.com' },
    { why: 'upper case is folded', in: 'Example.COM', want: 'example.com' },
    { why: 'a trailing dot goes, port and all', in: 'example.com.:80', want: 'example.com' },
    { why: 'an IPv6 literal keeps its brackets, loses its port', in: '[::1]:8080', want: '[::1]' },
    { why: 'an empty Host is an empty host', in: '', want: '' },
  ])('$why: $in', ({ in: value, want }) => {
    expect(bareHost(value)).toBe(want);
  });

  it.each([
    { why: 'userinfo', in: 'user@example.com' },
    { why: 'a blank', in: 'exa mple.com' },
    { why: 'a slash', in: 'example.com/x' },
    { why: 'a control byte', in: 'example.com\x01' },
    { why: 'a non-ASCII byte', in: 'ex\u00e4mple.com' },
  ])('refuses $why', ({ in: value }) => {
    expect(bareHost(value)).toBeUndefined();
  });
});

describe('absoluteTarget', () => {
  it.each([
    { why: 'origin-form is not absolute', in: '/x', want: undefined },
    { why: 'http with a path', in: 'http://Example.com:81/a?b', want: { authority: 'Example.com:81', path: '/a?b' } },
    { why: 'https without a path', in: 'https://a.test', want: { authority: 'a.test', path: '/' } },
    { why: 'a query straight after the authority', in: 'http://a.test?q=1', want: { authority: 'a.test', path: '/?q=1' } },
    { why: 'another scheme', in: 'ftp://a.test/', want: 'bad_target' },
    { why: 'no scheme at all', in: 'a.test/x', want: 'bad_target' },
    { why: 'userinfo in the authority', in: 'http://u:p@a.test/', want: 'bad_host' },
    { why: 'an empty authority', in: 'http:///x', want: 'bad_host' },
  ])('$why', ({ in: target, want }) => {
    expect(absoluteTarget(target)).toEqual(want);
  });
});

describe('admit', () => {
  const req = (url: string, headers: Record<string, string>, extra: Partial<ProxyRequest> = {}): ProxyRequest => ({
    method: 'GET',
    url,
    headers,
    rawHeaders: Object.entries(headers).flat(),
    socket: { remoteAddress: '127.0.0.1' },
    httpVersion: '1.1',
    ...extra,
  });

  it('routes by the normalised path and bare host, and rewrites url in place', () => {
    const r = req('/a/./b/../c', { host: 'Shop.Test:8080' });
    expect(admit(r, 200)).toEqual({ host: 'shop.test', authority: undefined });
    expect(r.url).toBe('/a/c');
  });

  it('lets an absolute-form authority win over Host', () => {
    const r = req('http://Example.COM./x', { host: 'other' });
    expect(admit(r, 200)).toEqual({ host: 'example.com', authority: 'Example.COM.' } satisfies Admitted);
    expect(r.url).toBe('/x');
  });

  it.each([
    { why: 'more header lines than maxHeaders', r: req('/', { host: 'a', b: '1', c: '2' }), code: 'headers_too_large' },
    { why: 'a path above the root', r: req('/../x', { host: 'a' }), code: 'bad_request' },
    { why: 'HTTP/1.1 without Host', r: req('/', {}), code: 'bad_request' },
    { why: 'a Host with userinfo', r: req('/', { host: 'a@b' }), code: 'bad_request' },
    { why: 'an asterisk with GET', r: req('*', { host: 'a' }), code: 'bad_request' },
    { why: 'an authority-form target outside CONNECT', r: req('a.test:443', { host: 'a' }), code: 'bad_request' },
  ])('refuses $why', ({ r, code }) => {
    expect(admit(r, 2)).toMatchObject({ code });
  });

  it('lets HTTP/1.0 go without Host', () => {
    expect(admit(req('/', {}, { httpVersion: '1.0' }), 200)).toEqual({ host: undefined, authority: undefined });
  });

  it('marks OPTIONS * as the server\'s own', () => {
    expect(admit(req('*', { host: 'a' }, { method: 'OPTIONS' }), 200)).toBe(ASTERISK);
  });
});

describe('CidrSet', () => {
  const set = new CidrSet(['10.0.0.0/8', '2001:db8::/32', '192.168.1.7'].map((c) => parseCidr(c)!));
  it.each([
    { ip: '10.200.1.1', want: true },
    { ip: '::ffff:10.0.0.7', want: true },
    { ip: '11.0.0.1', want: false },
    { ip: '2001:db8:1::5', want: true },
    { ip: '2001:db9::1', want: false },
    { ip: '192.168.1.7', want: true },
    { ip: '192.168.1.8', want: false },
    { ip: 'not-an-ip', want: false },
    { ip: undefined, want: false },
  ])('has($ip) is $want', ({ ip, want }) => {
    expect(set.has(ip)).toBe(want);
  });

  it.each(['10.0.0.0/33', '10.0.0/8', '::1/129', 'example.com', '10.0.0.0/x', '10.0.0.0/'])('parseCidr refuses %s', (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });
});
