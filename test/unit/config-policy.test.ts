// Route traffic policy in the config: what validate says about each bad value (file:line, key
// path, what was expected), and what a good one becomes.

import { describe, expect, it } from 'vitest';
import { formatProblem, loadConfig, type RouteConfig } from '../../src/core/config.js';
import { rewritePath } from '../../src/core/policy/route-policy.js';
import { upstreamPath } from '../../src/core/route-table.js';

/** The problems of a one-route config whose route has `policy` (YAML flow text) added. */
function problemsOf(policy: string, head = '  - service: web\n'): string[] {
  const text = `routes:\n${head}${policy}`;
  const r = loadConfig(text, 'fairway.yaml', {});
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.problems.map((p) => formatProblem(p).replace(/^fairway\.yaml:/, ''));
}

function routeOf(yaml: string): RouteConfig {
  const r = loadConfig(`routes:\n  - ${yaml}\n`, 'fairway.yaml', {});
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config.routes[0]!;
}

describe('validate: a bad policy value names its line, key path and what was expected', () => {
  it.each([
    { why: 'a bad CIDR in allow', policy: '    allow: [10.0.0.0/33]\n', line: '3:13 routes[0].allow[0]: expected an IP address or CIDR block, e.g. 10.0.0.0/8 or 2001:db8::/32' },
    { why: 'a bad address in deny', policy: '    deny: [10.0.0.300]\n', line: '3:12 routes[0].deny[0]: expected an IP address or CIDR block, e.g. 10.0.0.0/8 or 2001:db8::/32' },
    { why: 'an empty allow list, which would refuse everyone', policy: '    allow: []\n', line: '3:12 routes[0].allow: expected at least one IP address or CIDR block' },
    { why: 'a rate written in words', policy: '    rateLimit: { rate: ten/s }\n', line: '3:24 routes[0].rateLimit.rate: expected a rate such as 100/s, 5/m or 1000/h' },
    { why: 'a rate of zero', policy: '    rateLimit: { rate: 0/s }\n', line: '3:24 routes[0].rateLimit.rate: expected a rate such as 100/s, 5/m or 1000/h' },
    { why: 'a burst of zero', policy: '    rateLimit: { rate: 5/s, burst: 0 }\n', line: '3:36 routes[0].rateLimit.burst: expected a whole number from 1 to 10000000' },
    { why: 'an unknown rate key', policy: '    rateLimit: { rate: 5/s, by: cookie }\n', line: '3:33 routes[0].rateLimit.by: expected ip, route or header:NAME' },
    { why: 'a rateLimit without its rate', policy: '    rateLimit: { burst: 5 }\n', line: '3:16 routes[0].rateLimit.rate: required: expected a rate such as 100/s, 5/m or 1000/h' },
    { why: 'a size in made-up units', policy: '    maxBodySize: 10XB\n', line: '3:18 routes[0].maxBodySize: expected a size such as 10MB, 512KB or a number of bytes' },
    {
      why: 'a redirect with status 200, which is no redirect',
      policy: '    redirect: { to: "https://example.com{path}", status: 200 }\n',
      line: '3:58 routes[0].redirect.status: expected one of 301, 302, 303, 307, 308',
    },
    {
      why: 'a redirect template with an unknown variable',
      policy: '    redirect: { to: "https://example.com{url}" }\n',
      line: '3:21 routes[0].redirect.to: unknown variable {url}; expected one of {scheme}, {host}, {path}, {query}',
    },
    { why: 'a header rule that sets a hop-by-hop header', policy: '    requestHeaders: { set: { connection: close } }\n', line: '3:42 routes[0].requestHeaders.set.connection: "connection" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'a header rule that removes a framing header', policy: '    responseHeaders: { remove: [Content-Length] }\n', line: '3:33 routes[0].responseHeaders.remove[0]: "content-length" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'a request rule on Host, which rewrite.host owns', policy: '    requestHeaders: { set: { host: example.com } }\n', line: '3:36 routes[0].requestHeaders.set.host: "host" is set by rewrite.host (preserve, upstream or a name)' },
    { why: 'a header name with a blank', policy: '    requestHeaders: { remove: ["x bad"] }\n', line: '3:32 routes[0].requestHeaders.remove[0]: expected a header name (letters, digits and !#$%&\'*+.^_`|~-)' },
    { why: 'a rewrite that climbs', policy: '    rewrite: { pathPrefix: /v2/../admin }\n', line: '3:28 routes[0].rewrite.pathPrefix: expected a path without . or .. segments' },
    { why: 'a rewrite host that is no host', policy: '    rewrite: { host: "a b" }\n', line: '3:22 routes[0].rewrite.host: expected preserve, upstream or a host name' },
    { why: 'compress as a word', policy: '    compress: yes\n', line: '3:15 routes[0].compress: expected true or false' },
  ])('$why', ({ policy, line }) => {
    expect(problemsOf(policy, policy.includes('redirect') ? '  - name: old\n' : undefined)).toEqual([line]);
  });

  it('a redirect route takes no service', () => {
    expect(problemsOf('    redirect: { to: "https://example.com{path}" }\n')).toEqual([
      '2:14 routes[0].service: a route with `redirect` answers itself; it takes no `service` or `endpoints`',
    ]);
  });

  it('stripPrefix and rewrite.pathPrefix together are refused', () => {
    expect(problemsOf('    stripPrefix: true\n    rewrite: { pathPrefix: /v2 }\n')).toEqual([
      '4:28 routes[0].rewrite.pathPrefix: expected either stripPrefix or rewrite.pathPrefix, not both (rewrite.pathPrefix: / strips)',
    ]);
  });
});

describe('a good policy becomes plain data', () => {
  it('a route without policy keys has no policy (the hot path pays one check)', () => {
    expect(routeOf('service: web').policy).toBeUndefined();
  });

  it('a redirect route needs no service or endpoints', () => {
    const r = routeOf('{ name: old, match: { pathPrefix: /old }, redirect: { to: "https://example.com/new{path}", status: 301 } }');
    expect(r.policy?.redirect?.status).toBe(301);
    expect(r.source).toEqual({ kind: 'static', endpoints: [] });
  });

  it('burst defaults to one second of the rate, at least 1', () => {
    expect(routeOf('{ service: web, rateLimit: { rate: 100/s } }').policy?.rateLimit?.burst).toBe(100);
    expect(routeOf('{ service: web, rateLimit: { rate: 5/m } }').policy?.rateLimit?.burst).toBe(1);
  });

  it('rewrite.host maps preserve to undefined, upstream to null and a name to itself, lower-cased', () => {
    expect(routeOf('{ service: web, rewrite: { host: preserve } }').policy?.rewrite?.host).toBeUndefined();
    expect(routeOf('{ service: web, rewrite: { host: upstream } }').policy?.rewrite?.host).toBeNull();
    expect(routeOf('{ service: web, rewrite: { host: API.internal } }').policy?.rewrite?.host).toBe('api.internal');
  });

  it('header rules are lower-cased, and a set name is removed first so it replaces', () => {
    const p = routeOf('{ service: web, requestHeaders: { set: { X-Env: prod }, remove: [X-Debug] } }').policy!;
    expect(p.requestHeaders).toEqual({ set: [['x-env', 'prod']], remove: ['x-debug', 'x-env'] });
  });
});

describe('rewrite.pathPrefix replaces the matched prefix', () => {
  it.each([
    { why: 'a prefix replaced by another', matched: '/api', to: '/v2', url: '/api/users?id=1', out: '/v2/users?id=1' },
    { why: 'the bare prefix becomes the replacement', matched: '/api', to: '/v2', url: '/api', out: '/v2' },
    { why: 'a query right after the prefix stays', matched: '/api', to: '/v2', url: '/api?x=1', out: '/v2?x=1' },
    { why: 'a replacement ending in / does not double the slash', matched: '/api', to: '/v2/', url: '/api/x', out: '/v2/x' },
    { why: 'a prefix ending in / keeps the separator', matched: '/api/', to: '/v2', url: '/api/x', out: '/v2/x' },
    { why: '/ as the replacement strips the prefix', matched: '/api/', to: '/', url: '/api/x', out: '/x' },
    { why: 'a plain-string prefix match keeps the rest as it is', matched: '/api', to: '/v2', url: '/apix', out: '/v2x' },
  ])('$why', ({ matched, to, url, out }) => {
    expect(rewritePath(matched, to, url)).toBe(out);
  });

  it('upstreamPath uses the rewrite when the route has one', () => {
    expect(upstreamPath(routeOf('{ service: web, match: { pathPrefix: /api }, rewrite: { pathPrefix: /v2 } }'), '/api/x')).toBe('/v2/x');
  });
});
