// matchRoute (host, wildcard, path prefix, headers; first match in file order) and upstreamPath (stripPrefix).

import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/core/config.js';
import { bareHost } from '../../src/core/request-target.js';
import { buildRouteTable, matchRoute, upstreamPath, type Route } from '../../src/core/route-table.js';
import { config, depsOf } from './helpers.js';

const ROUTES = buildRouteTable(
  config(`
routes:
  - name: exact-host
    match: { host: API.example.com }
    endpoints: [10.0.0.1:1]
  - name: wildcard
    match: { host: "*.example.com", pathPrefix: /w }
    endpoints: [10.0.0.1:2]
  - name: header
    match: { pathPrefix: /h, headers: { X-Env: canary, X-Team: core } }
    endpoints: [10.0.0.1:3]
  - name: api-prefix
    match: { pathPrefix: /api }
    endpoints: [10.0.0.1:4]
  - name: api-v2-shadowed
    match: { pathPrefix: /api/v2 }
    endpoints: [10.0.0.1:5]
  - name: catch-all-other
    match: { host: other.test, pathPrefix: / }
    endpoints: [10.0.0.1:6]
`),
  new Map(),
  depsOf(),
).routes;

function matched(host: string | undefined, path: string, headers: IncomingHttpHeaders = {}): string | undefined {
  // As the edge hands it over: Host made bare (lower-case, no port) by bareHost.
  return matchRoute(ROUTES, host === undefined ? undefined : bareHost(host), path, headers)?.config.name;
}

describe('matchRoute', () => {
  it.each([
    { why: 'an exact host matches', host: 'api.example.com', path: '/', route: 'exact-host' },
    { why: 'the host is compared case-insensitively', host: 'Api.Example.COM', path: '/', route: 'exact-host' },
    { why: 'the port in the Host header is ignored', host: 'api.example.com:8080', path: '/x', route: 'exact-host' },
    { why: 'a wildcard matches a subdomain', host: 'shop.example.com', path: '/w/cart', route: 'wildcard' },
    { why: 'a wildcard matches a deeper subdomain', host: 'a.b.example.com:443', path: '/w', route: 'wildcard' },
    { why: 'a wildcard is case-insensitive', host: 'SHOP.EXAMPLE.COM', path: '/w', route: 'wildcard' },
    { why: 'a wildcard does not match the bare domain', host: 'example.com', path: '/w', route: undefined },
    { why: 'a wildcard does not match a look-alike domain', host: 'badexample.com', path: '/w', route: undefined },
    { why: 'a wildcard route still needs its path prefix', host: 'shop.example.com', path: '/x', route: undefined },
    { why: 'a route without host matches any host', host: 'anything.test', path: '/api/users', route: 'api-prefix' },
    { why: 'a route without host matches a missing Host header', host: undefined, path: '/api', route: 'api-prefix' },
    { why: 'a host route does not match a missing Host header', host: undefined, path: '/', route: undefined },
    { why: 'the path prefix is a plain string prefix, as nginx location', host: 'x.test', path: '/apix', route: 'api-prefix' },
    { why: 'the prefix counts the query string as part of the target', host: 'x.test', path: '/api?q=1', route: 'api-prefix' },
    { why: 'the path prefix is case-sensitive', host: 'x.test', path: '/API', route: undefined },
    { why: 'the first match in file order wins over a longer prefix', host: 'x.test', path: '/api/v2/users', route: 'api-prefix' },
    { why: 'an exact host earlier in the file wins over a prefix route', host: 'api.example.com', path: '/api', route: 'exact-host' },
    { why: 'a bracketed IPv6 Host with a port matches no host route', host: '[::1]:8080', path: '/', route: undefined },
    { why: 'a bracketed IPv6 Host still reaches host-less routes', host: '[::1]:8080', path: '/api', route: 'api-prefix' },
    { why: 'a catch-all on another host takes what is left for that host', host: 'other.test:80', path: '/zzz', route: 'catch-all-other' },
    { why: 'nothing matches: undefined', host: 'nowhere.test', path: '/zzz', route: undefined },
  ])('$why', ({ host, path, route }) => {
    expect(matched(host, path)).toBe(route);
  });

  it.each([
    { why: 'all listed headers with their exact values match', headers: { 'x-env': 'canary', 'x-team': 'core' }, route: 'header' },
    { why: 'extra request headers do not matter', headers: { 'x-env': 'canary', 'x-team': 'core', accept: '*/*' }, route: 'header' },
    { why: 'one header missing: no match', headers: { 'x-env': 'canary' }, route: undefined },
    { why: 'a different value: no match', headers: { 'x-env': 'prod', 'x-team': 'core' }, route: undefined },
    { why: 'values are case-sensitive', headers: { 'x-env': 'Canary', 'x-team': 'core' }, route: undefined },
    { why: 'an array-valued header matches when it contains the value', headers: { 'x-env': ['prod', 'canary'], 'x-team': 'core' }, route: 'header' },
    { why: 'an array-valued header without the value does not match', headers: { 'x-env': ['prod', 'dev'], 'x-team': 'core' }, route: undefined },
  ])('headers: $why', ({ headers, route }) => {
    expect(matched('x.test', '/h', headers as IncomingHttpHeaders)).toBe(route);
  });

  it('an empty route list matches nothing', () => {
    expect(matchRoute([], 'x.test', '/', {})).toBeUndefined();
  });

  it('returns the Route object itself', () => {
    expect(matchRoute(ROUTES, 'api.example.com', '/', {})).toBe(ROUTES[0]);
  });

  // The schema cannot express an IPv6 host, so this route is built by hand to check that the
  // port is stripped after the closing bracket, not at the last colon inside the literal.
  it.each([
    { why: 'with a port', host: '[::1]:80', hit: true },
    { why: 'without a port', host: '[::1]', hit: true },
    { why: 'a different address', host: '[::2]:80', hit: false },
  ])('an IPv6 Host $why is stripped to the bracketed literal', ({ host, hit }) => {
    const base = ROUTES[0]!;
    const v6: Route = { ...base, config: { ...base.config, match: { pathPrefix: '/', headers: [], host: '[::1]' } } };
    expect(matchRoute([v6], bareHost(host), '/', {}) === v6).toBe(hit);
  });
});

describe('upstreamPath', () => {
  const rc = (pathPrefix: string, stripPrefix: boolean): RouteConfig =>
    config(`routes:\n  - endpoints: [a:1]\n    stripPrefix: ${stripPrefix}\n    match: { pathPrefix: "${pathPrefix}" }\n`).routes[0]!;

  it.each([
    { why: 'the prefix is removed, keeping the rest', prefix: '/api', strip: true, url: '/api/x', out: '/x' },
    { why: 'the prefix alone becomes /', prefix: '/api', strip: true, url: '/api', out: '/' },
    { why: 'a query right after the prefix keeps a leading /', prefix: '/api', strip: true, url: '/api?q=1', out: '/?q=1' },
    { why: 'the query string is kept', prefix: '/api', strip: true, url: '/api/x?q=1&r=2', out: '/x?q=1&r=2' },
    { why: 'a prefix ending in / leaves the rest rooted', prefix: '/api/', strip: true, url: '/api/x/y', out: '/x/y' },
    { why: 'plain-prefix matches are stripped the same way', prefix: '/api', strip: true, url: '/apix', out: '/x' },
    { why: 'prefix / is left alone', prefix: '/', strip: true, url: '/api/x', out: '/api/x' },
    { why: 'stripPrefix false leaves the path unchanged', prefix: '/api', strip: false, url: '/api/x', out: '/api/x' },
    { why: 'stripPrefix false keeps the query too', prefix: '/api', strip: false, url: '/api?q=1', out: '/api?q=1' },
  ])('$why', ({ prefix, strip, url, out }) => {
    expect(upstreamPath(rc(prefix, strip), url)).toBe(out);
  });
});
