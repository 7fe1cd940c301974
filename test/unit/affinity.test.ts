// The affinity key of a request (affinityHash) for header, cookie, ip and path keys, and cookieValue's Cookie header parsing.

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { hashString } from '../../src/core/pickers/hash.js';
import { affinityHash, cookieValue } from '../../src/proxy/affinity.js';
import { routeConfig } from './helpers.js';

describe('cookieValue', () => {
  it.each([
    { why: 'no Cookie header gives undefined', header: undefined, name: 'sid', value: undefined },
    { why: 'an empty Cookie header gives undefined', header: '', name: 'sid', value: undefined },
    { why: 'a single cookie is found', header: 'sid=abc', name: 'sid', value: 'abc' },
    { why: 'a cookie among several is found', header: 'a=1; sid=abc; b=2', name: 'sid', value: 'abc' },
    { why: 'the last cookie is found', header: 'a=1; b=2; sid=abc', name: 'sid', value: 'abc' },
    { why: 'separators without a space work', header: 'a=1;sid=abc;b=2', name: 'sid', value: 'abc' },
    { why: 'several spaces after the separator are skipped', header: 'a=1;   sid=abc', name: 'sid', value: 'abc' },
    { why: 'leading spaces before the first cookie are skipped', header: '  sid=abc', name: 'sid', value: 'abc' },
    { why: 'spaces around the value are trimmed', header: 'sid=  abc  ; b=2', name: 'sid', value: 'abc' },
    { why: 'a quoted value is unquoted', header: 'a=1; sid="abc"', name: 'sid', value: 'abc' },
    { why: 'an empty quoted value is empty', header: 'sid=""', name: 'sid', value: '' },
    { why: 'a lone quote is kept as it is', header: 'sid="', name: 'sid', value: '"' },
    { why: 'a value containing = is kept whole', header: 'sid=a=b==', name: 'sid', value: 'a=b==' },
    { why: 'an empty value is empty, not missing', header: 'sid=; b=2', name: 'sid', value: '' },
    { why: 'a longer name that starts with it is not it (sid2 vs sid)', header: 'sid2=x; sid=y', name: 'sid', value: 'y' },
    { why: 'only the longer name present gives undefined', header: 'sid2=x', name: 'sid', value: undefined },
    { why: 'a longer name that ends with it is not it (xsid vs sid)', header: 'xsid=1; sid=2', name: 'sid', value: '2' },
    { why: 'a shorter name is not it (si vs sid)', header: 'si=1', name: 'sid', value: undefined },
    { why: 'the name is a prefix of another cookie\'s value only', header: 'a=sid=1', name: 'sid', value: undefined },
    { why: 'names are case-sensitive', header: 'SID=1', name: 'sid', value: undefined },
    { why: 'the first of two same-named cookies wins', header: 'sid=1; sid=2', name: 'sid', value: '1' },
    { why: 'a cookie without = is skipped', header: 'flag; sid=3', name: 'sid', value: '3' },
    { why: 'a bare name without = is not a cookie with that name', header: 'a=1; sid', name: 'sid', value: undefined },
    { why: 'a trailing separator is harmless', header: 'sid=1;', name: 'sid', value: '1' },
  ])('$why', ({ header, name, value }) => {
    expect(cookieValue(header, name)).toBe(value);
  });
});

/** A minimal request: only what affinityHash reads. */
function req(o: { headers?: IncomingHttpHeaders; url?: string; ip?: string }): IncomingMessage {
  return { headers: o.headers ?? {}, url: o.url, socket: { remoteAddress: o.ip } } as unknown as IncomingMessage;
}

const hashed = (key: string) => routeConfig(`service: web\nstrategy: consistent-hash\nhashKey: "${key}"`);

describe('affinityHash', () => {
  it.each([
    { why: 'header: the named header\'s value', key: 'header:X-User', r: req({ headers: { 'x-user': 'alice' } }), of: 'alice' },
    { why: 'header: the first of repeated values', key: 'header:X-User', r: req({ headers: { 'x-user': ['bob', 'eve'] as unknown as string } }), of: 'bob' },
    { why: 'header: a missing header gives no key', key: 'header:X-User', r: req({ headers: { 'x-other': 'alice' } }), of: undefined },
    { why: 'header: an empty header gives no key', key: 'header:X-User', r: req({ headers: { 'x-user': '' } }), of: undefined },
    { why: 'cookie: the named cookie\'s value', key: 'cookie:sid', r: req({ headers: { cookie: 'theme=dark; sid=s-123' } }), of: 's-123' },
    { why: 'cookie: a differently cased cookie name is another cookie', key: 'cookie:SID', r: req({ headers: { cookie: 'sid=s-123; SID=S-9' } }), of: 'S-9' },
    { why: 'cookie: no such cookie gives no key', key: 'cookie:sid', r: req({ headers: { cookie: 'sid2=s-123' } }), of: undefined },
    { why: 'cookie: no Cookie header gives no key', key: 'cookie:sid', r: req({}), of: undefined },
    { why: 'cookie: an empty value gives no key', key: 'cookie:sid', r: req({ headers: { cookie: 'sid=' } }), of: undefined },
    { why: 'ip: the client socket address', key: 'ip', r: req({ ip: '10.0.0.7' }), of: '10.0.0.7' },
    { why: 'ip: an IPv6 client address', key: 'ip', r: req({ ip: '::ffff:10.0.0.7' }), of: '::ffff:10.0.0.7' },
    { why: 'ip: a socket without an address gives no key', key: 'ip', r: req({}), of: undefined },
    { why: 'path: the path without its query', key: 'path', r: req({ url: '/cart/items?id=3&x=1' }), of: '/cart/items' },
    { why: 'path: a path without a query', key: 'path', r: req({ url: '/cart' }), of: '/cart' },
    { why: 'path: a missing url counts as /', key: 'path', r: req({}), of: '/' },
    { why: 'path: the root with a query is /', key: 'path', r: req({ url: '/?q=1' }), of: '/' },
  ])('$why', ({ key, r, of }) => {
    expect(affinityHash(hashed(key), r)).toBe(of === undefined ? undefined : hashString(of));
  });

  it('two requests for one path with different queries get the same hash', () => {
    const rc = hashed('path');
    expect(affinityHash(rc, req({ url: '/a?x=1' }))).toBe(affinityHash(rc, req({ url: '/a?x=2' })));
  });

  it('a header key given in mixed case in the config matches Node\'s lower-cased header names', () => {
    expect(affinityHash(hashed('header:X-Tenant-ID'), req({ headers: { 'x-tenant-id': 't1' } }))).toBe(hashString('t1'));
  });

  it.each(['round-robin', 'random', 'weighted', 'least-request', 'ewma', 'failover'])(
    'a %s route has no affinity key, whatever the request carries',
    (strategy) => {
      const rc = routeConfig(`service: web\nstrategy: ${strategy}`);
      expect(affinityHash(rc, req({ headers: { cookie: 'sid=1', 'x-user': 'a' }, url: '/x', ip: '10.0.0.1' }))).toBeUndefined();
    },
  );
});
