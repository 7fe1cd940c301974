// buildRouteTable's passive health: ejected instances leave rotation, panic routing, nextUnejectAt, retry budgets across rebuilds.

import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/config.js';
import type { Instance, InstanceSnapshot } from '../../src/core/instance.js';
import { buildRouteTable, type Route, type RouteTable } from '../../src/core/route-table.js';
import { config, depsOf, instance } from './helpers.js';

const CONFIG = config(`
routes:
  - name: web
    service: web
`);

const W1 = instance('w1', { host: '10.0.1.1', port: 9001 });
const W2 = instance('w2', { host: '10.0.1.2', port: 9002, passing: 3 });
const W3 = instance('w3', { host: '10.0.1.3', port: 9003, passing: 4 });
const SNAPS = snaps(W1, W2, W3);

function snaps(...instances: Instance[]): Map<string, InstanceSnapshot> {
  return new Map([['web', { key: 'web', instances }]]);
}

/** A table built at clock time `now`, on top of `previous`. */
function build(c: Config, snapshots: Map<string, InstanceSnapshot>, now: number, previous?: RouteTable): RouteTable {
  return buildRouteTable(c, snapshots, depsOf(undefined, () => now), previous);
}

/** Marks instance `id` (one of W1..W3) in `table` as ejected until `until`. */
function eject(table: RouteTable, id: string, until: number): void {
  const i = [W1, W2, W3].find((x) => x.id === id)!;
  table.stats.for(i.id, i.host, i.port).ejectedUntil = until;
}

/** The ids of a route's candidates whose stats are in its `ejected` set. */
const ejectedIds = (r: Route): string[] => r.candidates.filter((u) => r.ejected.has(u.stats)).map((u) => u.id);

const web = (t: RouteTable): Route => t.routes[0]!;
const ids = (list: Route['upstreams']) => list.map((u) => `${u.id}:${u.weight}:${u.status}`);

describe('buildRouteTable: ejected instances', () => {
  /** A first table at t = 0, then the given ejections, then a rebuild at `now` on the same config and snapshot objects. */
  function afterEjecting(ejections: Record<string, number>, now: number): { first: RouteTable; second: RouteTable } {
    const first = build(CONFIG, SNAPS, 0);
    for (const [id, until] of Object.entries(ejections)) eject(first, id, until);
    return { first, second: build(CONFIG, SNAPS, now, first) };
  }

  it.each([
    { why: 'no ejection: every candidate is in upstreams and nothing is due', ejections: {}, now: 1_000, upstreams: ['w1', 'w2', 'w3'], ejected: [], next: Infinity },
    { why: 'an instance ejected until later leaves upstreams, stays a candidate, and sets nextUnejectAt', ejections: { w2: 5_000 }, now: 1_000, upstreams: ['w1', 'w3'], ejected: ['w2'], next: 5_000 },
    { why: 'with two ejected, nextUnejectAt is the earlier end', ejections: { w1: 8_000, w3: 5_000 }, now: 1_000, upstreams: ['w2'], ejected: ['w1', 'w3'], next: 5_000 },
    { why: 'an ejection that has already ended does not count', ejections: { w2: 500 }, now: 1_000, upstreams: ['w1', 'w2', 'w3'], ejected: [], next: Infinity },
    { why: 'an ejection ending exactly now has ended', ejections: { w2: 1_000 }, now: 1_000, upstreams: ['w1', 'w2', 'w3'], ejected: [], next: Infinity },
    { why: 'an ejection ending 1 ms from now still holds', ejections: { w2: 1_001 }, now: 1_000, upstreams: ['w1', 'w3'], ejected: ['w2'], next: 1_001 },
  ] as Array<{ why: string; ejections: Record<string, number>; now: number; upstreams: string[]; ejected: string[]; next: number }>)('$why', ({ ejections, now, upstreams, ejected, next }) => {
    const { second } = afterEjecting(ejections, now);
    const r = web(second);
    expect(r.candidates.map((u) => u.id)).toEqual(['w1', 'w2', 'w3']);
    expect(r.upstreams.map((u) => u.id)).toEqual(upstreams);
    expect(ejectedIds(r)).toEqual(ejected);
    expect(r.ejected.size).toBe(ejected.length);
    expect(second.nextUnejectAt).toBe(next);
    expect(r.panic).toBe(false);
  });

  it('an instance ejected since the last build is taken out on a rebuild of the same config and snapshot (the route is rebuilt)', () => {
    const { first, second } = afterEjecting({ w2: 5_000 }, 1_000);
    expect(web(second)).not.toBe(web(first));
    expect(web(first).upstreams.map((u) => u.id)).toEqual(['w1', 'w2', 'w3']);
  });

  it('the picker of a route with an ejected instance never picks it', () => {
    const { second } = afterEjecting({ w2: 5_000 }, 1_000);
    const picked = Array.from({ length: 6 }, () => web(second).picker.pick()!.id);
    expect(picked).toEqual(['w1', 'w3', 'w1', 'w3', 'w1', 'w3']);
  });

  it('a rebuild while the ejection still holds reuses the Route object and keeps nextUnejectAt', () => {
    const { second } = afterEjecting({ w2: 5_000 }, 1_000);
    const third = build(CONFIG, SNAPS, 4_999, second);
    expect(web(third)).toBe(web(second));
    expect(third.nextUnejectAt).toBe(5_000);
  });

  it('once the clock reaches ejectedUntil, a rebuild puts the instance back (a new Route) and nothing is due', () => {
    const { second } = afterEjecting({ w2: 5_000 }, 1_000);
    const third = build(CONFIG, SNAPS, 5_000, second);
    expect(web(third)).not.toBe(web(second));
    expect(web(third).upstreams.map((u) => u.id)).toEqual(['w1', 'w2', 'w3']);
    expect(web(third).ejected.size).toBe(0);
    expect(third.nextUnejectAt).toBe(Infinity);
  });

  it('a rebuild with no ejection change reuses the Route object', () => {
    const first = build(CONFIG, SNAPS, 0);
    const second = build(CONFIG, SNAPS, 60_000, first);
    expect(web(second)).toBe(web(first));
    expect(second.nextUnejectAt).toBe(Infinity);
  });

  it('nextUnejectAt is the earliest end across all routes, static ones included', () => {
    const two = config(`
routes:
  - name: web
    service: web
  - name: static
    endpoints: [10.0.0.9:8009]
`);
    const first = build(two, SNAPS, 0);
    eject(first, 'w1', 9_000);
    first.stats.for('10.0.0.9:8009', '10.0.0.9', 8009).ejectedUntil = 7_000;
    const second = build(two, SNAPS, 1_000, first);
    expect(second.routes[1]!.upstreams).toEqual([]);
    expect(second.nextUnejectAt).toBe(7_000);
  });
});

describe('buildRouteTable: panicThreshold', () => {
  const critical = (i: Instance): Instance => ({ ...i, status: 'critical' });
  const warning = (i: Instance): Instance => ({ ...i, status: 'warning' });

  it.each([
    {
      why: '1 of 3 healthy (two critical) under 50 %: panic, all three known instances, critical ones at their passing weight',
      threshold: 50, instances: [W1, critical(W2), critical(W3)], ejected: [], panic: true,
      upstreams: ['w1:1:passing', 'w2:3:critical', 'w3:4:critical'],
    },
    {
      why: '1 of 3 healthy (two ejected) under 50 %: panic, the ejected ones back in upstreams',
      threshold: 50, instances: [W1, W2, W3], ejected: ['w2', 'w3'], panic: true,
      upstreams: ['w1:1:passing', 'w2:3:passing', 'w3:4:passing'],
    },
    {
      why: '1 of 3 healthy (one critical, one ejected): panic with all three',
      threshold: 50, instances: [W1, W2, critical(W3)], ejected: ['w2'], panic: true,
      upstreams: ['w1:1:passing', 'w2:3:passing', 'w3:4:critical'],
    },
    { why: '2 of 3 healthy (67 %) is above 50 %: no panic', threshold: 50, instances: [W1, W2, critical(W3)], ejected: [], panic: false, upstreams: ['w1:1:passing', 'w2:3:passing'] },
    { why: '2 of 3 healthy with one ejected: no panic, the ejected one left out', threshold: 50, instances: [W1, W2, W3], ejected: ['w3'], panic: false, upstreams: ['w1:1:passing', 'w2:3:passing'] },
    { why: 'exactly the threshold healthy (1 of 2 at 50 %) is not panic', threshold: 50, instances: [W1, critical(W2)], ejected: [], panic: false, upstreams: ['w1:1:passing'] },
    { why: 'threshold 100 panics as soon as one instance is unhealthy', threshold: 100, instances: [W1, W2, critical(W3)], ejected: [], panic: true, upstreams: ['w1:1:passing', 'w2:3:passing', 'w3:4:critical'] },
    { why: 'a warning instance outside weighted is not healthy and joins in panic at its passing weight', threshold: 50, instances: [W1, warning(W2), warning(W3)], ejected: [], panic: true, upstreams: ['w1:1:passing', 'w2:3:warning', 'w3:4:warning'] },
    { why: '0 of 3 healthy under 50 %: panic sends to all of them', threshold: 50, instances: [critical(W1), critical(W2), critical(W3)], ejected: [], panic: true, upstreams: ['w1:1:critical', 'w2:3:critical', 'w3:4:critical'] },
    { why: 'threshold 0 never panics, even with 0 of 3 healthy: upstreams empty', threshold: 0, instances: [critical(W1), critical(W2), critical(W3)], ejected: [], panic: false, upstreams: [] },
    { why: 'threshold 0 never panics with every instance ejected either', threshold: 0, instances: [W1, W2, W3], ejected: ['w1', 'w2', 'w3'], panic: false, upstreams: [] },
    { why: 'a service with no instances at all is not in panic', threshold: 50, instances: [], ejected: [], panic: false, upstreams: [] },
  ] as Array<{ why: string; threshold: number; instances: Instance[]; ejected: string[]; panic: boolean; upstreams: string[] }>)(
    '$why',
    ({ threshold, instances, ejected, panic, upstreams }) => {
      const c = config(`routes:\n  - name: web\n    service: web\n    panicThreshold: ${threshold}\n`);
      const s = snaps(...instances);
      const first = build(c, s, 0);
      for (const id of ejected) eject(first, id, 10_000);
      const r = web(build(c, s, 1_000, first));
      expect(r.panic).toBe(panic);
      expect(ids(r.upstreams)).toEqual(upstreams);
    },
  );

  it('a route in panic picks among every known instance', () => {
    const c = config('routes:\n  - name: web\n    service: web\n    panicThreshold: 50\n');
    const r = web(build(c, snaps(W1, critical(W2), critical(W3)), 0));
    expect(Array.from({ length: 3 }, () => r.picker.pick()!.id).sort()).toEqual(['w1', 'w2', 'w3']);
  });
});

describe('buildRouteTable: retry budgets', () => {
  const yaml = (budget: string) => `${budget}\nroutes:\n  - name: web\n    service: web\n  - name: api\n    service: web\n    match: { pathPrefix: /api }\n`;
  const first = build(config(yaml('retryBudget: { ratio: 0.2, minPerSecond: 5 }')), SNAPS, 0);

  it('a new route gets a budget with the config\'s ratio and floor, one per route', () => {
    const t = build(config(yaml('retryBudget: { ratio: 0.5, minPerSecond: 1 }')), SNAPS, 0);
    expect([t.routes[0]!.budget.ratio, t.routes[0]!.budget.minPerSecond]).toEqual([0.5, 1]);
    expect(t.routes[0]!.budget).not.toBe(t.routes[1]!.budget);
  });

  it.each([
    { why: 'a reload with the same retryBudget carries each route\'s budget to the rebuilt route of the same name', budget: 'retryBudget: { ratio: 0.2, minPerSecond: 5 }', kept: true },
    { why: 'a reload that leaves retryBudget to its defaults (the same values) carries the budgets too', budget: '', kept: true },
    { why: 'a reload that changes the ratio replaces the budgets', budget: 'retryBudget: { ratio: 0.3, minPerSecond: 5 }', kept: false },
    { why: 'a reload that changes minPerSecond replaces the budgets', budget: 'retryBudget: { ratio: 0.2, minPerSecond: 6 }', kept: false },
  ])('$why', ({ budget, kept }) => {
    const reloaded = config(yaml(budget));
    const second = build(reloaded, SNAPS, 1_000, first);
    second.routes.forEach((r, i) => {
      expect(r).not.toBe(first.routes[i]);
      expect(r.budget === first.routes[i]!.budget).toBe(kept);
      expect([r.budget.ratio, r.budget.minPerSecond]).toEqual([reloaded.retryBudget.ratio, reloaded.retryBudget.minPerSecond]);
    });
  });

  it('a route renamed on reload gets a fresh budget', () => {
    const renamed = config('routes:\n  - name: www\n    service: web\n');
    expect(build(renamed, SNAPS, 1_000, first).routes[0]!.budget).not.toBe(web(first).budget);
  });

  it('a rebuild for an ejection change keeps the budget, and what it has spent', () => {
    const c = config(yaml(''));
    const t1 = build(c, SNAPS, 0);
    for (let i = 0; i < 50; i++) web(t1).budget.tryRetry(0);
    eject(t1, 'w1', 5_000);
    const t2 = build(c, SNAPS, 1_000, t1);
    expect(web(t2)).not.toBe(web(t1));
    expect(web(t2).budget).toBe(web(t1).budget);
    expect(web(t2).budget.tryRetry(1_000)).toBe(false);
  });
});

describe('buildRouteTable: what a rebuild tells its caller', () => {
  it.each([
    { why: 'the first table', before: undefined, after: [W1, W2], departures: false },
    { why: 'a service that gained an instance', before: [W1], after: [W1, W2], departures: false },
    { why: 'a health change (a new snapshot, the same instances)', before: [W1, W2], after: [W1, { ...W2, status: 'critical' as const }], departures: false },
    { why: 'a service that lost an instance', before: [W1, W2], after: [W1], departures: true },
    { why: 'an instance that moved to another port (its stats are another instance\'s)', before: [W1, W2], after: [W1, { ...W2, port: 9999 }], departures: true },
  ])('departures: $why → $departures', ({ before, after, departures }) => {
    const first = before === undefined ? undefined : build(CONFIG, snaps(...before), 0);
    expect(build(CONFIG, snaps(...after), 0, first).departures).toBe(departures);
  });

  it('departures: a new config may drop any instance', () => {
    const first = build(CONFIG, SNAPS, 0);
    const other = config('routes:\n  - { service: web, strategy: random }\n');
    expect(buildRouteTable(other, SNAPS, depsOf(undefined, () => 0), first).departures).toBe(true);
  });

  it('exclusions: with the count given and unchanged, kept routes are not checked again; a new count, or an ejection of the previous table running out, checks them', () => {
    const deps = depsOf(undefined, () => 1_000);
    const first = buildRouteTable(CONFIG, SNAPS, deps, undefined, undefined, 7);
    // Ejected behind the caller's back (the count not raised): not seen. The caller's contract.
    first.stats.for(W2.id, W2.host, W2.port).ejectedUntil = 5_000;
    const same = buildRouteTable(CONFIG, SNAPS, deps, first, undefined, 7);
    expect(web(same)).toBe(web(first));
    // Told of it: the route is rebuilt without the instance.
    const told = buildRouteTable(CONFIG, SNAPS, deps, same, undefined, 8);
    expect(told.routes[0]!.upstreams.map((u) => u.id)).toEqual(['w1', 'w3']);
    expect(told.nextUnejectAt).toBe(5_000);
    // The ejection ends: at or past nextUnejectAt every kept route is checked, the count unchanged.
    const back = buildRouteTable(CONFIG, SNAPS, depsOf(undefined, () => 5_000), told, undefined, 8);
    expect(back.routes[0]!.upstreams.map((u) => u.id)).toEqual(['w1', 'w2', 'w3']);
  });
});

describe('buildRouteTable: a rebuild told which watch keys changed', () => {
  // Six routes over four services: two share `web`, one is static, one has tags.
  const MANY = config(`
routes:
  - { name: web, match: { pathPrefix: /web }, service: web }
  - { name: web-again, match: { pathPrefix: /again }, service: web, strategy: random }
  - { name: api, match: { pathPrefix: /api }, service: api }
  - { name: v2, match: { pathPrefix: /v2 }, service: api, tags: [v2] }
  - { name: jobs, match: { pathPrefix: /jobs }, service: jobs }
  - { name: fixed, match: { pathPrefix: /fixed }, endpoints: ["10.0.9.9:80"] }
`);
  const snapshotOf = (key: string, ...instances: Instance[]): InstanceSnapshot => ({ key, instances });
  const start = new Map<string, InstanceSnapshot>([
    ['web', snapshotOf('web', W1, W2)],
    ['api', snapshotOf('api', W3)],
    ['api?tag=v2', snapshotOf('api?tag=v2', W3)],
    ['jobs', snapshotOf('jobs', W1)],
  ]);
  const deps = depsOf(undefined, () => 1_000);
  const view = (t: RouteTable) => t.routes.map((r) => [r.config.name, ids(r.upstreams), ids(r.idle), r.panic]);

  it('rebuilds the routes of those keys only, to the same result a full rebuild gives', () => {
    const first = buildRouteTable(MANY, start, deps, undefined, undefined, 0);
    expect(first.routes[3]!.key).toBe('api?tag=v2');
    const next = new Map(start).set('web', snapshotOf('web', W1)).set('api?tag=v2', snapshotOf('api?tag=v2', W3, W2));
    const told = buildRouteTable(MANY, next, deps, first, undefined, 0, new Set(['web', 'api?tag=v2']));
    const full = buildRouteTable(MANY, next, deps, first, undefined, 0);
    expect(view(told)).toEqual(view(full));
    // The routes of other keys are the previous table's own objects; those of the named keys are new.
    expect(told.routes.map((r, i) => r === first.routes[i])).toEqual([false, false, true, false, true, true]);
    expect(told.departures).toBe(true);
    expect(told.match(undefined, '/again/x', {})?.config.name).toBe('web-again');
    expect(told.match(undefined, '/again/x', {})).toBe(told.routes[1]);
  });

  it('a key named whose snapshot is the same object keeps its routes, and loses no instance', () => {
    const first = buildRouteTable(MANY, start, deps, undefined, undefined, 0);
    const told = buildRouteTable(MANY, start, deps, first, undefined, 0, new Set(['jobs', 'gone']));
    expect(told.routes.every((r, i) => r === first.routes[i])).toBe(true);
    expect(told.departures).toBe(false);
  });

  it('looks at every route when the config, the exclusion count or an ejection\'s end says so', () => {
    const first = buildRouteTable(MANY, start, deps, undefined, undefined, 0);
    // jobs changed, and only web is named: told so, the rebuild cannot see it (the caller names
    // every change), until something else makes it look at every route.
    const next = new Map(start).set('jobs', snapshotOf('jobs', W2));
    const jobs = (t: RouteTable) => t.routes[4]!.upstreams.map((u) => u.id);
    const named = new Set(['web']);
    expect(jobs(buildRouteTable(MANY, next, deps, first, undefined, 0, named))).toEqual(['w1']);
    expect(jobs(buildRouteTable(MANY, next, deps, first, undefined, 1, named))).toEqual(['w2']);
    const reloaded = config('routes:\n  - { service: web }\n');
    expect(buildRouteTable(reloaded, next, deps, first, undefined, 0, named).routes.map((r) => r.config.name)).toEqual(['web']);
    // An ejection that ends at 1,500: at 2,000 every route is looked at again.
    first.stats.for(W3.id, W3.host, W3.port).ejectedUntil = 1_500;
    const ejected = buildRouteTable(MANY, start, deps, first, undefined, 1);
    expect(ejected.nextUnejectAt).toBe(1_500);
    expect(jobs(buildRouteTable(MANY, next, deps, ejected, undefined, 1, named))).toEqual(['w1']);
    expect(jobs(buildRouteTable(MANY, next, depsOf(undefined, () => 2_000), ejected, undefined, 1, named))).toEqual(['w2']);
  });
});
