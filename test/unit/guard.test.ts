// A route's guard (allow/deny sets and token buckets): when a new route table may keep the old
// one's state, the per-request decision in SPEC's order (allow, deny, then a token), the bucket
// key of a request, and how route tables carry the guard across reloads and health changes.

import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/config.js';
import type { InstanceSnapshot } from '../../src/core/instance.js';
import { admitClient, guardFor, rateKeyOf, type RouteGuard } from '../../src/core/policy/guard.js';
import type { RoutePolicy } from '../../src/core/policy/route-policy.js';
import { buildRouteTable, type RouteTable } from '../../src/core/route-table.js';
import { config, depsOf, instance, routeConfig } from './helpers.js';

/** The policy of a one-route config whose route (a static endpoint) has `yaml` added. */
function policy(yaml: string): RoutePolicy | undefined {
  return routeConfig(`endpoints: [10.0.0.1:8001]\n${yaml}`).policy;
}

/** The guard a fresh table would make for `yaml`; fails the test when there is none. */
function guard(yaml: string, share = 1): RouteGuard {
  const g = guardFor(policy(yaml), undefined, share);
  if (g === undefined) throw new Error(`no guard for ${yaml}`);
  return g;
}

/** How many requests from `client` pass at `now` before the first refusal (at most 1000). */
function passing(g: RouteGuard, client: string, now: number, key = client): number {
  let n = 0;
  while (n < 1000 && admitClient(g, client, key, now) === undefined) n++;
  return n;
}

const LIMIT = 'rateLimit: { rate: 1/m, burst: 5 }';

describe('guardFor: whether a route has a guard at all', () => {
  it.each([
    { why: 'a route without any policy has none', yaml: '' },
    { why: 'a route whose policy only compresses has none (nothing to admit or refuse)', yaml: 'compress: true' },
    { why: 'a route whose policy only rewrites and sets headers has none', yaml: 'rewrite: { pathPrefix: /v2 }\nrequestHeaders: { set: { x-env: prod } }' },
    { why: 'a route whose policy only caps the body size has none', yaml: 'maxBodySize: 1KB' },
  ])('$why', ({ yaml }) => {
    expect(guardFor(policy(yaml), undefined)).toBeUndefined();
  });

  it.each([
    { why: 'an allow list alone makes an allow set and no limiter', yaml: 'allow: [10.0.0.0/8]', allow: true, deny: false, limiter: false },
    { why: 'a deny list alone makes a deny set and no limiter', yaml: 'deny: [10.0.0.0/8]', allow: false, deny: true, limiter: false },
    { why: 'a rate limit alone makes a limiter and no sets', yaml: LIMIT, allow: false, deny: false, limiter: true },
    { why: 'all three make all three', yaml: `allow: [10.0.0.0/8]\ndeny: [10.0.0.1]\n${LIMIT}`, allow: true, deny: true, limiter: true },
  ])('$why', ({ yaml, allow, deny, limiter }) => {
    const g = guard(yaml);
    expect({ allow: g.allow !== undefined, deny: g.deny !== undefined, limiter: g.limiter !== undefined }).toEqual({ allow, deny, limiter });
  });

  it('the limiter is made from the route policy\'s settings, at the share it is given', () => {
    const p = policy(LIMIT)!;
    const g = guardFor(p, undefined, 0.5)!;
    expect(g.limiter!.settings).toBe(p.rateLimit);
    expect(g.limiter!.share).toBe(0.5);
  });
});

describe('guardFor: what the next table keeps', () => {
  // Every `after` is parsed from fresh text, as a reload does: equal values, new objects.
  it.each([
    { why: 'unchanged allow, deny and limit keep the whole guard', before: `allow: [10.0.0.0/8]\n${LIMIT}`, after: `allow: [10.0.0.0/8]\n${LIMIT}`, guard: 'same', limiter: 'same' },
    { why: 'a change elsewhere in the policy (a header rule) keeps the whole guard', before: LIMIT, after: `${LIMIT}\nresponseHeaders: { remove: [server] }`, guard: 'same', limiter: 'same' },
    { why: 'a limit written with its default burst spelled out is the same limit', before: 'rateLimit: { rate: 5/s }', after: 'rateLimit: { rate: 5/s, burst: 5 }', guard: 'same', limiter: 'same' },
    { why: 'a limit keyed by ip spelled out is the same limit as the default key', before: 'rateLimit: { rate: 5/s }', after: 'rateLimit: { rate: 5/s, by: ip }', guard: 'same', limiter: 'same' },
    { why: 'an allow list added keeps the limiter (its buckets)', before: LIMIT, after: `allow: [127.0.0.0/8]\n${LIMIT}`, guard: 'new', limiter: 'same' },
    { why: 'a deny list changed keeps the limiter', before: `deny: [10.0.0.1]\n${LIMIT}`, after: `deny: [10.0.0.2]\n${LIMIT}`, guard: 'new', limiter: 'same' },
    { why: 'an allow list removed keeps the limiter', before: `allow: [127.0.0.0/8]\n${LIMIT}`, after: LIMIT, guard: 'new', limiter: 'same' },
    { why: 'a burst changed makes a new limiter', before: LIMIT, after: 'rateLimit: { rate: 1/m, burst: 50 }', guard: 'new', limiter: 'new' },
    { why: 'a rate changed makes a new limiter', before: LIMIT, after: 'rateLimit: { rate: 2/m, burst: 5 }', guard: 'new', limiter: 'new' },
    { why: 'a key changed makes a new limiter', before: LIMIT, after: 'rateLimit: { rate: 1/m, burst: 5, by: route }', guard: 'new', limiter: 'new' },
    { why: 'a key header renamed makes a new limiter', before: 'rateLimit: { rate: 1/m, by: "header:x-user" }', after: 'rateLimit: { rate: 1/m, by: "header:x-team" }', guard: 'new', limiter: 'new' },
    { why: 'a limit added where there was only an allow list makes a limiter', before: 'allow: [127.0.0.0/8]', after: `allow: [127.0.0.0/8]\n${LIMIT}`, guard: 'new', limiter: 'new' },
    { why: 'a limit removed leaves no limiter', before: `allow: [127.0.0.0/8]\n${LIMIT}`, after: 'allow: [127.0.0.0/8]', guard: 'new', limiter: 'none' },
  ])('$why', ({ before, after, guard: expectGuard, limiter: expectLimiter }) => {
    const old = guard(before);
    const next = guardFor(policy(after), old)!;
    expect(next === old ? 'same' : 'new').toBe(expectGuard);
    expect(next.limiter === undefined ? 'none' : next.limiter === old.limiter ? 'same' : 'new').toBe(expectLimiter);
  });

  it('a policy that no longer guards anything leaves no guard', () => {
    expect(guardFor(policy('compress: true'), guard(LIMIT))).toBeUndefined();
  });

  it('a kept guard takes the new share, and its buckets keep their fraction used', () => {
    const old = guard(LIMIT);
    expect(passing(old, '10.0.0.1', 0)).toBe(5);
    const kept = guardFor(policy(LIMIT), old, 0.5)!;
    expect(kept).toBe(old);
    expect(kept.limiter!.share).toBe(0.5);
    // A fresh client gets half of burst 5, rounded down.
    expect(passing(kept, '10.0.0.2', 0)).toBe(2);
    expect(passing(kept, '10.0.0.1', 0)).toBe(0);
  });

  it('a kept limiter under a changed allow list takes the new share too', () => {
    const old = guard(LIMIT);
    const next = guardFor(policy(`allow: [10.0.0.0/8]\n${LIMIT}`), old, 0.2)!;
    expect(next.limiter).toBe(old.limiter);
    expect(next.limiter!.share).toBe(0.2);
  });

  it('a kept limiter keeps what each client has spent', () => {
    const old = guard(LIMIT);
    expect(passing(old, '10.0.0.1', 0)).toBe(5);
    const next = guardFor(policy(`allow: [10.0.0.0/8]\n${LIMIT}`), old)!;
    expect(passing(next, '10.0.0.1', 1_000)).toBe(0);
    expect(passing(next, '10.0.0.2', 1_000)).toBe(5);
  });
});

describe('admitClient: allow, then deny, then a token', () => {
  const YAML = `allow: [10.0.0.0/8, "2001:db8::/32"]\ndeny: [10.9.0.0/16]\nrateLimit: { rate: 1/m, burst: 2 }`;
  it.each([
    { why: 'a client inside the allow list and outside the deny list is admitted', client: '10.1.2.3', verdict: undefined },
    { why: 'a client outside the allow list is refused as not on it', client: '192.168.1.1', verdict: 'client 192.168.1.1 is not on the route\'s allow list' },
    { why: 'a client inside both lists is refused by the deny list', client: '10.9.1.1', verdict: 'client 10.9.1.1 is on the route\'s deny list' },
    { why: 'an IPv4 client seen on a dual-stack socket matches its IPv4 block', client: '::ffff:10.1.2.3', verdict: undefined },
    { why: 'an IPv4-mapped client inside the deny list is refused by it', client: '::ffff:10.9.0.1', verdict: 'client ::ffff:10.9.0.1 is on the route\'s deny list' },
    { why: 'an IPv6 client inside an IPv6 block is admitted', client: '2001:db8::7', verdict: undefined },
    { why: 'an empty address (no socket address known) is on no allow list', client: '', verdict: 'client  is not on the route\'s allow list' },
    { why: 'a string that is no address is on no allow list', client: 'localhost', verdict: 'client localhost is not on the route\'s allow list' },
  ])('$why', ({ client, verdict }) => {
    const v = admitClient(guard(YAML), client, client, 0);
    expect(v === undefined ? undefined : v.code === 'forbidden' ? v.detail : v.code).toBe(verdict);
  });

  it('a deny list alone admits everyone outside it', () => {
    const g = guard('deny: [10.0.0.0/8]');
    expect(admitClient(g, '192.168.1.1', '', 0)).toBeUndefined();
    expect(admitClient(g, '10.0.0.1', '', 0)?.code).toBe('forbidden');
  });

  it('a client refused by the allow list spends no token, however often it asks', () => {
    const g = guard(`allow: [10.0.0.0/8]\nrateLimit: { rate: 1/m, burst: 2, by: route }`);
    for (let i = 0; i < 10; i++) expect(admitClient(g, '192.168.1.1', '', 0)?.code).toBe('forbidden');
    // The route's one bucket is still full.
    expect(passing(g, '10.0.0.1', 0, '')).toBe(2);
    expect(g.limiter!.size).toBe(1);
  });

  it('a client refused by the deny list spends no token either', () => {
    const g = guard(`deny: [10.0.0.1]\nrateLimit: { rate: 1/m, burst: 2, by: route }`);
    for (let i = 0; i < 10; i++) expect(admitClient(g, '10.0.0.1', '', 0)?.code).toBe('forbidden');
    expect(passing(g, '10.0.0.2', 0, '')).toBe(2);
  });

  it('a client that has spent its burst is refused with the limiter and its decision', () => {
    const g = guard('rateLimit: { rate: 1/m, burst: 2 }');
    expect(passing(g, '10.0.0.1', 0)).toBe(2);
    const v = admitClient(g, '10.0.0.1', '10.0.0.1', 0);
    expect(v).toEqual({ code: 'rate_limited', decision: { allowed: false, remaining: 0, retryAfterMs: 60_000, resetMs: 120_000, limit: 2 }, limiter: g.limiter });
  });

  it('a refused request takes nothing: one interval after the burst, exactly one more passes', () => {
    const g = guard('rateLimit: { rate: 1/m, burst: 2 }');
    expect(passing(g, '10.0.0.1', 0)).toBe(2);
    for (let i = 0; i < 20; i++) expect(admitClient(g, '10.0.0.1', '10.0.0.1', 30_000)?.code).toBe('rate_limited');
    expect(passing(g, '10.0.0.1', 60_000)).toBe(1);
  });

  it('each key has its own bucket', () => {
    const g = guard('rateLimit: { rate: 1/m, burst: 2 }');
    expect(passing(g, '10.0.0.1', 0)).toBe(2);
    expect(passing(g, '10.0.0.2', 0)).toBe(2);
  });

  it('a guard without a limiter admits every allowed client every time', () => {
    const g = guard('allow: [10.0.0.0/8]');
    expect(passing(g, '10.0.0.1', 0)).toBe(1000);
  });
});

describe('rateKeyOf: the bucket a request spends from', () => {
  const headers: Record<string, string | string[]> = { 'x-user': 'alice', 'x-team': ['red', 'blue'] };
  it.each([
    { why: 'a route without a limiter has the empty key', yaml: 'allow: [10.0.0.0/8]', key: '' },
    { why: 'by ip (the default) is the client address', yaml: 'rateLimit: { rate: 5/s }', key: '10.0.0.7' },
    { why: 'by route is one key for every client', yaml: 'rateLimit: { rate: 5/s, by: route }', key: '' },
    { why: 'by header is the header\'s value', yaml: 'rateLimit: { rate: 5/s, by: "header:x-user" }', key: 'alice' },
    { why: 'by header names the header in any case, looked up lower-cased', yaml: 'rateLimit: { rate: 5/s, by: "header:X-User" }', key: 'alice' },
    { why: 'by header with the header sent twice is both values joined', yaml: 'rateLimit: { rate: 5/s, by: "header:x-team" }', key: 'red, blue' },
    { why: 'by header without the header is the empty key (one shared bucket)', yaml: 'rateLimit: { rate: 5/s, by: "header:x-tenant" }', key: '' },
  ])('$why', ({ yaml, key }) => {
    const g = guardFor(policy(yaml), undefined)!;
    expect(rateKeyOf(g.limiter, '10.0.0.7', headers)).toBe(key);
  });

  it('no limiter at all is the empty key', () => {
    expect(rateKeyOf(undefined, '10.0.0.7', headers)).toBe('');
  });
});

describe('route tables carry guards across rebuilds', () => {
  const DEPS = depsOf();
  const TEXT = (burstB: number, allowOpen = '') => `
routes:
  - name: a
    match: { pathPrefix: /a }
    endpoints: [10.0.0.1:8001]
    rateLimit: { rate: 1/m, burst: 5 }
  - name: b
    match: { pathPrefix: /b }
    endpoints: [10.0.0.1:8001]
    rateLimit: { rate: 1/m, burst: ${burstB} }
  - name: open
    match: { pathPrefix: /open }
    endpoints: [10.0.0.1:8001]
${allowOpen}
  - name: web
    match: { pathPrefix: /web }
    service: web
    rateLimit: { rate: 1/m, burst: 3 }
`;
  const WEB1: InstanceSnapshot = { key: 'web', instances: [instance('web-1', { host: '10.0.1.1', port: 9001 })] };
  const WEB2: InstanceSnapshot = { key: 'web', instances: [instance('web-1', { host: '10.0.1.1', port: 9001, status: 'critical' }), instance('web-2', { host: '10.0.1.2', port: 9002 })] };
  const snaps = (s: InstanceSnapshot) => new Map([[s.key, s]]);
  const route = (t: RouteTable, name: string) => t.routes.find((r) => r.config.name === name)!;
  const table = (c: Config, previous?: RouteTable, s = WEB1) => buildRouteTable(c, snaps(s), DEPS, previous);

  it('a reload (a new config object) whose route keeps its rate limit keeps the same limiter, and its buckets', () => {
    const first = table(config(TEXT(5)));
    expect(passing(route(first, 'a').guard!, '10.0.0.1', 0)).toBe(5);
    const reloaded = config(TEXT(5));
    const second = table(reloaded, first);
    expect(second.config).not.toBe(first.config);
    expect(route(second, 'a').guard!.limiter).toBe(route(first, 'a').guard!.limiter);
    expect(passing(route(second, 'a').guard!, '10.0.0.1', 1_000)).toBe(0);
  });

  it('a reload that changes one route\'s limit gives that route a new limiter and leaves the others\' alone', () => {
    const first = table(config(TEXT(5)));
    const second = table(config(TEXT(50)), first);
    expect(route(second, 'a').guard!.limiter).toBe(route(first, 'a').guard!.limiter);
    expect(route(second, 'web').guard!.limiter).toBe(route(first, 'web').guard!.limiter);
    expect(route(second, 'b').guard!.limiter).not.toBe(route(first, 'b').guard!.limiter);
    expect(route(second, 'b').guard!.limiter!.settings.burst).toBe(50);
    expect(passing(route(second, 'b').guard!, '10.0.0.1', 0)).toBe(50);
  });

  it('a reload that gives an unlimited route an allow list guards it from then on', () => {
    const first = table(config(TEXT(5)));
    expect(route(first, 'open').guard).toBeUndefined();
    const second = table(config(TEXT(5, '    allow: [127.0.0.0/8]')), first);
    const g = route(second, 'open').guard!;
    expect(g.limiter).toBeUndefined();
    expect(admitClient(g, '127.0.0.1', '', 0)).toBeUndefined();
    expect(admitClient(g, '10.0.0.1', '', 0)?.code).toBe('forbidden');
  });

  it('a reload that reorders routes keeps each route\'s own limiter, found by name', () => {
    const first = table(config(TEXT(5)));
    const c = config(TEXT(5));
    const swapped: Config = { ...c, routes: [c.routes[1]!, c.routes[0]!, ...c.routes.slice(2)] };
    const second = table(swapped, first);
    expect(route(second, 'a').guard!.limiter).toBe(route(first, 'a').guard!.limiter);
    expect(route(second, 'b').guard!.limiter).toBe(route(first, 'b').guard!.limiter);
  });

  it('a reload that renames a route gives it a fresh limiter', () => {
    const first = table(config(TEXT(5)));
    const second = table(config(TEXT(5).replace('name: a', 'name: a2')), first);
    expect(route(second, 'a2').guard!.limiter).not.toBe(route(first, 'a').guard!.limiter);
  });

  it('a health change (same config, new snapshot) rebuilds the Consul route but keeps its guard and limiter', () => {
    const c = config(TEXT(5));
    const first = table(c);
    expect(passing(route(first, 'web').guard!, '10.0.0.1', 0)).toBe(3);
    const second = table(c, first, WEB2);
    expect(route(second, 'web')).not.toBe(route(first, 'web'));
    expect(route(second, 'web').upstreams.map((u) => u.id)).toEqual(['web-2']);
    expect(route(second, 'web').guard).toBe(route(first, 'web').guard);
    expect(passing(route(second, 'web').guard!, '10.0.0.1', 1_000)).toBe(0);
    // The static routes are not rebuilt at all.
    expect(route(second, 'a')).toBe(route(first, 'a'));
  });

  it('a reload and a health change at once keep the limiter too', () => {
    const first = table(config(TEXT(5)));
    const second = table(config(TEXT(5)), first, WEB2);
    expect(route(second, 'web').guard!.limiter).toBe(route(first, 'web').guard!.limiter);
  });

  it('a table built with a rate share hands it to every limiter', () => {
    const t = buildRouteTable(config(TEXT(5)), snaps(WEB1), { ...DEPS, rateShare: () => 0.5 });
    expect(route(t, 'a').guard!.limiter!.share).toBe(0.5);
    expect(route(t, 'web').guard!.limiter!.share).toBe(0.5);
  });
});
