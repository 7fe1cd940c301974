// explainRequest and parseExplainQuery: "explain this request" as a pure function of a route
// table, a request description and the time. Tables are built from YAML as the proxy builds them.

import { describe, expect, it } from 'vitest';
import { explainRequest, parseExplainQuery, type ExplainReport, type ExplainRequest } from '../../src/admin/explain.js';
import type { Config } from '../../src/core/config.js';
import type { InstanceSnapshot } from '../../src/core/instance.js';
import { buildRouteTable, type RouteTable } from '../../src/core/route-table.js';
import { clockAt, config, depsOf, instance, rngOf } from './helpers.js';

const NOW = 1_000_000;

function tableOf(yaml: string, o: { snapshots?: InstanceSnapshot[]; drained?: string[]; rng?: () => number; now?: () => number } = {}): RouteTable {
  const snaps = new Map((o.snapshots ?? []).map((s) => [s.key, s]));
  return buildRouteTable(config(yaml), snaps, depsOf(o.rng ?? rngOf(0), o.now ?? (() => NOW)), undefined, new Set(o.drained ?? []));
}

/** A request: `url`, then `name:value` header lines; `client` is given when set. */
function req(url: string, headers: string[] = [], o: { method?: string; client?: string } = {}): ExplainRequest {
  const params = new URLSearchParams({ url });
  if (o.method) params.set('method', o.method);
  if (o.client) params.set('client', o.client);
  for (const h of headers) params.append('header', h);
  const parsed = parseExplainQuery(params);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.request;
}

function explain(table: RouteTable, r: ExplainRequest, now = NOW): ExplainReport {
  return explainRequest(table, r, now);
}

function step(report: ExplainReport, policy: string) {
  const s = report.policies.find((p) => p.policy === policy);
  if (!s) throw new Error(`no ${policy} step in ${JSON.stringify(report.policies)}`);
  return s;
}

describe('parseExplainQuery', () => {
  const cases: Array<{ why: string; query: string; error?: string; request?: Partial<ExplainRequest> }> = [
    {
      why: 'a whole URL with headers and a client is taken as written, header names lower-cased and values trimmed',
      query: 'url=http%3A%2F%2Fexample.com%2Fa%3Fb%3D1&method=POST&header=X-Canary:%201&header=accept:*/*&client=10.0.0.7',
      request: { method: 'POST', url: 'http://example.com/a?b=1', headers: [['x-canary', '1'], ['accept', '*/*']], client: '10.0.0.7', clientGiven: true },
    },
    { why: 'without method and client the request is a GET from 127.0.0.1, and says the client is the default', query: 'url=http://h/', request: { method: 'GET', client: '127.0.0.1', clientGiven: false } },
    { why: 'a path alone is fine with a host header', query: 'url=/x&header=host:h', request: { url: '/x' } },
    { why: 'an IPv6 client is an IP address too', query: 'url=http://h/&client=::1', request: { client: '::1' } },
    { why: 'no url is refused, saying it is required', query: 'method=GET', error: 'url: required' },
    { why: 'an unknown parameter is refused by name', query: 'url=http://h/&headers=a:b', error: 'unknown parameter "headers"' },
    { why: 'a url given twice is refused', query: 'url=http://h/&url=http://g/', error: 'url: give it once' },
    { why: 'a method with a blank in it is refused', query: 'url=http://h/&method=GE%20T', error: 'method: expected an HTTP method' },
    { why: 'a header without a colon is refused with the expected form', query: 'url=http://h/&header=x-canary', error: 'header: expected name:value' },
    { why: 'a header name with a blank is refused', query: 'url=http://h/&header=x%20canary:1', error: 'header: expected name:value' },
    { why: 'a header value with a line feed is refused', query: 'url=http://h/&header=x:a%0Ab', error: 'header x: the value holds a control character' },
    { why: 'a client that is no IP address is refused', query: 'url=http://h/&client=localhost', error: 'client: expected an IP address' },
    { why: 'a url with a blank is refused: it must be percent-encoded', query: 'url=http://h/a%20b', error: 'url: it holds a blank' },
    { why: 'a url of another scheme is refused', query: 'url=ftp://h/', error: 'url: expected http://host/path' },
    { why: 'a url whose host has userinfo is refused', query: 'url=http://u%40h/', error: 'url: the host of "http://u@h/" is not a valid host' },
    { why: 'a path alone without a host header is refused', query: 'url=/x', error: 'url: a path alone needs a host header' },
  ];
  for (const c of cases)
    it(c.why, () => {
      const got = parseExplainQuery(new URLSearchParams(c.query));
      if (c.error !== undefined) expect(got.ok ? 'accepted' : got.error).toContain(c.error);
      else expect(got.ok ? got.request : got.error).toMatchObject(c.request!);
    });
});

describe('explainRequest: which route, and why not the others', () => {
  const table = tableOf(`
routes:
  - name: canary
    match: { pathPrefix: /api, headers: { x-canary: "1" } }
    endpoints: [10.0.0.1:9001]
  - name: api-host
    match: { host: api.example.com, pathPrefix: /api }
    endpoints: [10.0.0.2:9002]
  - name: wild
    match: { host: "*.example.com", pathPrefix: /api }
    endpoints: [10.0.0.3:9003]
  - name: static
    match: { pathPrefix: /static }
    endpoints: [10.0.0.4:9004]
`);
  const cases: Array<{ why: string; request: ExplainRequest; route: string | null; rejected: string[][] }> = [
    {
      why: 'a request without the canary header skips the canary route, then the host route, and takes the wildcard',
      request: req('http://www.example.com/api/x'),
      route: 'wild',
      rejected: [['header x-canary is missing (it must be "1")'], ['host www.example.com is not api.example.com']],
    },
    { why: 'the canary header with the right value takes the first route', request: req('http://www.example.com/api/x', ['x-canary:1']), route: 'canary', rejected: [] },
    {
      why: 'a canary header with another value is named with the value it had',
      request: req('http://API.Example.com:8080/api', ['x-canary:2']),
      route: 'api-host',
      rejected: [['header x-canary is "2", not "1"']],
    },
    {
      why: 'a request no route takes lists every route with every reason, path and host and header alike',
      request: req('http://other.test/nope'),
      route: null,
      rejected: [
        ['path /nope does not start with /api', 'header x-canary is missing (it must be "1")'],
        ['path /nope does not start with /api', 'host other.test is not api.example.com'],
        ['path /nope does not start with /api', 'host other.test is not under *.example.com'],
        ['path /nope does not start with /static'],
      ],
    },
    {
      why: 'dot segments are removed before matching, as the edge does',
      request: req('http://h/api/../static/a.css'),
      route: 'static',
      rejected: [['path /static/a.css does not start with /api', 'header x-canary is missing (it must be "1")'], ['path /static/a.css does not start with /api', 'host h is not api.example.com'], ['path /static/a.css does not start with /api', 'host h is not under *.example.com']],
    },
  ];
  for (const c of cases)
    it(c.why, () => {
      const r = explain(table, c.request);
      expect(r.route?.name ?? null).toBe(c.route);
      expect(r.rejected.map((x) => x.reasons)).toEqual(c.rejected);
      expect(r.text.join('\n')).not.toContain('Warning');
    });

  it('no route is a 404 no_route outcome, and the text ends with it', () => {
    const r = explain(table, req('http://other.test/nope'));
    expect(r.outcome).toMatchObject({ status: 404, code: 'no_route', by: 'routing' });
    expect(r.text.at(-1)).toBe('Result: 404 no_route (no route matches).');
    expect(r.text).toContain('Route "static" (#4) did not match: path /nope does not start with /static.');
  });

  it('the matched route is named with its position and its match, and the normalised path is said', () => {
    const r = explain(table, req('http://h/api/../static/a.css'));
    expect(r.route).toEqual({ name: 'static', index: 4, match: 'path prefix /static, any host' });
    expect(r.text).toContain('The path /api/../static/a.css is normalised to /static/a.css before routing.');
  });

  it('the edge refusals come before routing: a path above / is 400, CONNECT is 405', () => {
    expect(explain(table, req('http://h/../etc')).outcome).toMatchObject({ status: 400, code: 'bad_request', by: 'edge' });
    expect(explain(table, req('http://h/', [], { method: 'CONNECT' })).outcome).toMatchObject({ status: 405, code: 'method_not_allowed' });
  });

  it('a large table (the indexed matcher) gives the same route and reasons as a small one', () => {
    const many = Array.from({ length: 20 }, (_, i) => `  - { name: r${i}, match: { pathPrefix: /r${i}/ }, endpoints: [10.0.0.1:9001] }`).join('\n');
    const big = tableOf(`routes:\n${many}\n  - { name: last, match: { pathPrefix: /r1 }, endpoints: [10.0.0.1:9001] }\n`);
    const r = explain(big, req('http://h/r1x'));
    expect(r.route?.name).toBe('last');
    expect(r.rejected).toHaveLength(20);
    expect(r.text.join('\n')).not.toContain('Warning');
  });
});

describe('explainRequest: policies', () => {
  const table = tableOf(`
routes:
  - name: internal
    match: { pathPrefix: /internal }
    endpoints: [10.0.0.1:9001]
    allow: [10.0.0.0/8, 192.168.1.7]
    deny: [10.9.0.0/16]
    rateLimit: { rate: 1/m, burst: 5 }
  - name: keyed
    match: { pathPrefix: /keyed }
    endpoints: [10.0.0.1:9001]
    rateLimit: { rate: 10/s, burst: 2, by: "header:x-api-key" }
  - name: upload
    match: { pathPrefix: /upload }
    endpoints: [10.0.0.1:9001]
    maxBodySize: 10MB
  - name: old
    match: { pathPrefix: /old }
    redirect: { to: "https://example.com/new{path}{query}", status: 301 }
  - name: api
    match: { pathPrefix: /api }
    endpoints: [10.0.0.1:9001]
    rewrite: { pathPrefix: /v2, host: upstream }
    requestHeaders: { set: { x-env: prod }, remove: [x-debug] }
    responseHeaders: { set: { strict-transport-security: "max-age=31536000" }, remove: [server] }
    compress: true
  - name: named
    match: { pathPrefix: /named }
    endpoints: [10.0.0.1:9001]
    rewrite: { host: backend.internal }
  - name: plain
    endpoints: [10.0.0.1:9001]
`);
  const internal = table.routes[0]!;

  const cases: Array<{ why: string; request: ExplainRequest; policy: string; effect: string; detail: string }> = [
    { why: 'a client in the allow list passes it', request: req('http://h/internal', [], { client: '10.0.0.7' }), policy: 'allow', effect: 'passes', detail: 'allow: 10.0.0.7 is in [10.0.0.0/8, 192.168.1.7]' },
    { why: 'a client outside the allow list is refused with 403', request: req('http://h/internal', [], { client: '172.16.0.1' }), policy: 'allow', effect: 'refuses', detail: 'allow: 172.16.0.1 is not in [10.0.0.0/8, 192.168.1.7] → 403 forbidden' },
    { why: 'the default client 127.0.0.1 is outside it too', request: req('http://h/internal'), policy: 'allow', effect: 'refuses', detail: 'allow: 127.0.0.1 is not in [10.0.0.0/8, 192.168.1.7] → 403 forbidden' },
    { why: 'a client in the deny list is refused even though allowed', request: req('http://h/internal', [], { client: '10.9.1.1' }), policy: 'deny', effect: 'refuses', detail: 'deny: 10.9.1.1 is in [10.9.0.0/16] → 403 forbidden' },
    { why: 'after a refusal the rate limit is not reached, and says so', request: req('http://h/internal', [], { client: '172.16.0.1' }), policy: 'rateLimit', effect: 'not-reached', detail: '; not reached: allow answers first' },
    { why: 'a fresh client finds a full bucket', request: req('http://h/internal', [], { client: '10.0.0.8' }), policy: 'rateLimit', effect: 'passes', detail: 'rate limit: 5 of 5 tokens left for 10.0.0.8 (1/m, burst 5; explain takes none)' },
    { why: 'a header-keyed limit names the header and its value', request: req('http://h/keyed', ['x-api-key:k1']), policy: 'rateLimit', effect: 'passes', detail: 'rate limit: 2 of 2 tokens left for x-api-key: k1' },
    { why: 'a header-keyed limit without the header says those requests share one bucket', request: req('http://h/keyed'), policy: 'rateLimit', effect: 'passes', detail: 'for requests without x-api-key (one shared bucket)' },
    { why: 'a Content-Length over maxBodySize is refused with 413', request: req('http://h/upload', ['content-length:10485761'], { method: 'POST' }), policy: 'maxBodySize', effect: 'refuses', detail: 'maxBodySize: Content-Length 10485761 is over 10MiB → 413 body_too_large' },
    { why: 'a Content-Length within maxBodySize passes', request: req('http://h/upload', ['content-length:10485760'], { method: 'POST' }), policy: 'maxBodySize', effect: 'passes', detail: 'Content-Length 10485760 is within 10MiB' },
    { why: 'a chunked body is counted while it streams', request: req('http://h/upload', ['transfer-encoding:chunked'], { method: 'POST' }), policy: 'maxBodySize', effect: 'passes', detail: 'counted as it streams' },
    { why: 'a redirect says where to, path and query filled in', request: req('http://h/old/a?b=1'), policy: 'redirect', effect: 'redirects', detail: 'redirect: 301 to https://example.com/new/old/a?b=1; Fairway answers itself and proxies nothing' },
    { why: 'rewrite replaces the prefix and sends the instance address as Host', request: req('http://h/api/x?q=1'), policy: 'rewrite', effect: 'changes', detail: 'rewrite: path /api/x → /v2/x, Host → upstream (10.0.0.1:9001)' },
    { why: 'rewrite to a name sends that name as Host', request: req('http://h/named'), policy: 'rewrite', effect: 'changes', detail: 'rewrite: Host → backend.internal' },
    { why: 'request header rules say which of the removed headers the request has', request: req('http://h/api', ['x-debug:1']), policy: 'requestHeaders', effect: 'changes', detail: 'requestHeaders: set x-env: prod, remove x-debug (sent: removed)' },
    { why: 'response header rules act on the upstream answers', request: req('http://h/api'), policy: 'responseHeaders', effect: 'changes', detail: "responseHeaders, on the upstream's answers: set strict-transport-security: max-age=31536000, remove server" },
    { why: 'compress picks br when the client takes both', request: req('http://h/api', ['accept-encoding:gzip, br']), policy: 'compress', effect: 'may-change', detail: 'compress: br when the answer is compressible' },
    { why: 'compress does nothing for a client without Accept-Encoding', request: req('http://h/api'), policy: 'compress', effect: 'no-effect', detail: 'compress: none, the request sends no Accept-Encoding' },
    { why: 'compress never acts on HEAD', request: req('http://h/api', ['accept-encoding:gzip'], { method: 'HEAD' }), policy: 'compress', effect: 'no-effect', detail: 'compress: never for HEAD' },
  ];
  for (const c of cases)
    it(c.why, () => {
      const s = step(explain(table, c.request), c.policy);
      expect(s.effect).toBe(c.effect);
      expect(s.detail).toContain(c.detail);
    });

  it('a refused request is a policy outcome, and the picker is not asked', () => {
    const r = explain(table, req('http://h/internal', [], { client: '172.16.0.1' }));
    expect(r.outcome).toEqual({ status: 403, code: 'forbidden', by: 'policy', detail: 'allow' });
    expect(r.upstream).toMatchObject({ picked: false, choice: null });
    expect(r.text.at(-1)).toBe('Result: 403 forbidden (allow).');
  });

  it('explain takes no token: the count is the same after two explanations, and falls only with real requests', () => {
    const limiter = internal.guard!.limiter!;
    const tokens = () => step(explain(table, req('http://h/internal', [], { client: '10.0.0.9' })), 'rateLimit').tokens!;
    expect(tokens()).toMatchObject({ left: 5, of: 5, key: '10.0.0.9' });
    limiter.take('10.0.0.9', NOW);
    limiter.take('10.0.0.9', NOW);
    expect(tokens().left).toBe(3);
    expect(tokens().left).toBe(3);
    expect(limiter.take('10.0.0.9', NOW).remaining).toBe(2);
  });

  it('an empty bucket is a 429 with the time to retry, and the picker is not asked', () => {
    const limiter = internal.guard!.limiter!;
    for (let i = 0; i < 5; i++) limiter.take('10.0.0.10', NOW);
    const r = explain(table, req('http://h/internal', [], { client: '10.0.0.10' }));
    const s = step(r, 'rateLimit');
    expect(s).toMatchObject({ effect: 'refuses', status: 429, code: 'rate_limited', tokens: { left: 0, of: 5, retryAfterMs: 60_000 } });
    expect(s.detail).toContain('→ 429 rate_limited, retry after 60 s');
    expect(r.outcome).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(r.upstream?.picked).toBe(false);
  });

  it('a redirect is the outcome, with its Location, and what follows is not reached', () => {
    const r = explain(table, req('http://h/old/a?b=1'));
    expect(r.outcome).toEqual({ status: 301, code: null, by: 'policy', detail: 'redirect to https://example.com/new/old/a?b=1' });
    expect(step(r, 'redirect').location).toBe('https://example.com/new/old/a?b=1');
  });

  it('a rewrite shows the path and Host the upstream gets', () => {
    const r = explain(table, req('http://h/api/x?q=1'));
    expect(r.pathUpstream).toBe('/v2/x?q=1');
    expect(r.hostUpstream).toBe('10.0.0.1:9001');
    expect(r.outcome.detail).toBe('proxied to 10.0.0.1:9001 as GET /v2/x?q=1 with Host 10.0.0.1:9001');
  });

  it('without rewrite the Host is the one the client sent, port and all', () => {
    const r = explain(table, req('http://Shop.Example:8080/x'));
    expect(r.route?.name).toBe('plain');
    expect(r.hostUpstream).toBe('Shop.Example:8080');
    expect(r.policies).toEqual([]);
    expect(r.text).toContain('Route "plain" has no traffic policy.');
  });
});

describe('explainRequest: the pick', () => {
  it('round-robin: the explanation makes one real pick, so two in a row name the two instances in turn', () => {
    const table = tableOf('routes:\n  - endpoints: [10.0.0.1:9001, 10.0.0.2:9002]\n');
    const first = explain(table, req('http://h/'));
    const second = explain(table, req('http://h/'));
    expect([first.upstream?.choice?.id, second.upstream?.choice?.id]).toEqual(['10.0.0.1:9001', '10.0.0.2:9002']);
    expect(first.upstream?.how).toBe('round-robin over 2: each in turn, weights ignored');
    expect(first.text.join('\n')).toContain('this moved its rotation on by one, as a request does');
    expect(first.upstream?.candidates.map((c) => [c.id, c.chosen])).toEqual([['10.0.0.1:9001', true], ['10.0.0.2:9002', false]]);
  });

  it('weighted: the weights are listed', () => {
    const table = tableOf('routes:\n  - strategy: weighted\n    endpoints: [10.0.0.1:9001, { address: 10.0.0.2:9002, weight: 3 }]\n');
    expect(explain(table, req('http://h/')).upstream?.how).toBe('weighted round-robin over 2 (earliest deadline first), by weight: 10.0.0.1:9001 1, 10.0.0.2:9002 3');
  });

  it('a drained instance is listed as drained and out of rotation, and never chosen', () => {
    const table = tableOf('routes:\n  - endpoints: [10.0.0.1:9001, 10.0.0.2:9002]\n', { drained: ['10.0.0.1:9001'] });
    const r = explain(table, req('http://h/'));
    expect(r.upstream?.candidates[0]).toMatchObject({ id: '10.0.0.1:9001', state: 'drained', inRotation: false, chosen: false, note: 'drained by hand; out of rotation' });
    expect(r.upstream?.choice?.id).toBe('10.0.0.2:9002');
  });

  it('an ejected instance says when it comes back', () => {
    const yaml = 'routes:\n  - endpoints: [10.0.0.1:9001, 10.0.0.2:9002]\n';
    const before = tableOf(yaml);
    before.routes[0]!.candidates[0]!.stats.ejectedUntil = NOW + 5_000;
    const table = buildRouteTable(before.config, new Map(), depsOf(rngOf(0), () => NOW), before);
    const c = explain(table, req('http://h/')).upstream!.candidates[0]!;
    expect(c).toMatchObject({ state: 'ejected', inRotation: false, note: 'ejected after consecutive failures, back in 5 s; out of rotation' });
  });

  const WEB: InstanceSnapshot = {
    key: 'web',
    instances: [
      instance('web-1', { host: '10.0.1.1', port: 9001, tags: ['primary'], status: 'critical' }),
      instance('web-2', { host: '10.0.1.2', port: 9002, tags: ['backup'] }),
      instance('web-3', { host: '10.0.1.3', port: 9003, tags: ['backup'], status: 'critical' }),
    ],
  };

  it('panic: too few healthy instances, so the critical ones are in rotation too, and it says so', () => {
    const table = tableOf('routes:\n  - service: web\n    panicThreshold: 50\n', { snapshots: [WEB] });
    const r = explain(table, req('http://h/'));
    expect(r.upstream?.panic).toBe(true);
    expect(r.text).toContain('Panic: 1 of 3 known instances healthy, below panicThreshold 50%: routing to every known instance but drained ones.');
    expect(r.upstream?.candidates.find((c) => c.id === 'web-1')).toMatchObject({ state: 'idle', inRotation: true, note: 'critical in Consul; in rotation anyway: panic' });
  });

  it('failover: the primary tier has no healthy instance, so the backup tier is active', () => {
    const table = tableOf('routes:\n  - service: web\n    strategy: failover\n', { snapshots: [WEB] });
    const r = explain(table, req('http://h/'));
    expect(r.upstream?.how).toBe('failover by tag over tiers [primary, backup]: active tier backup (no healthy instance in primary); within it round-robin over 1: each in turn, weights ignored');
    expect(r.upstream?.choice?.id).toBe('web-2');
    expect(r.upstream?.candidates.find((c) => c.id === 'web-2')).toMatchObject({ tier: 'backup', note: 'in rotation; tier backup (active)' });
  });

  it('slow start: a joining instance shows its share of the ramp and when it ends', () => {
    const yaml = 'routes:\n  - service: web\n    slowStart: 10s\n';
    const clock = clockAt(NOW);
    const deps = depsOf(rngOf(0), clock.now);
    const one: InstanceSnapshot = { key: 'web', instances: [instance('a', { port: 1 })] };
    const two: InstanceSnapshot = { key: 'web', instances: [instance('a', { port: 1 }), instance('b', { port: 2 })] };
    const cfg: Config = config(yaml);
    const first = buildRouteTable(cfg, new Map([['web', one]]), deps);
    const table = buildRouteTable(cfg, new Map([['web', two]]), deps, first);
    const r = explain(table, req('http://h/'), NOW + 5_000);
    expect(r.upstream?.candidates.find((c) => c.id === 'b')).toMatchObject({ slowStartShare: 0.55, note: 'in rotation; slow start: 55% of its share, full in 5 s' });
    expect(r.upstream?.candidates.find((c) => c.id === 'a')?.slowStartShare).toBeUndefined();
  });

  it('consistent-hash: the key is named with its value, and the same key gives the same instance', () => {
    const table = tableOf('routes:\n  - strategy: consistent-hash\n    hashKey: header:x-user\n    endpoints: [10.0.0.1:9001, 10.0.0.2:9002, 10.0.0.3:9003]\n');
    const a = explain(table, req('http://h/', ['x-user:u1']));
    expect(a.upstream?.how).toContain('consistent-hash on header x-user "u1": the owner of the next point on the ring among 3');
    expect(explain(table, req('http://h/', ['x-user:u1'])).upstream?.choice).toEqual(a.upstream?.choice);
    expect(explain(table, req('http://h/')).upstream?.how).toBe('consistent-hash on header x-user: the request has none, so a random one of 3');
  });

  it('a route with no instance is a 503 that says discovery knows none', () => {
    const table = tableOf('routes:\n  - service: web\n    tags: [v2]\n');
    const r = explain(table, req('http://h/'));
    expect(r.outcome).toMatchObject({ status: 503, code: 'no_healthy_upstream', by: 'upstream' });
    expect(r.text).toContain('Discovery knows no instance of web with tags v2.');
  });
});
