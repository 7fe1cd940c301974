// buildRouteTable: config routes joined with discovery snapshots, warning/critical handling, tags, incremental reuse.

import { staticSnapshot } from '../../src/core/static-endpoints.js';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/config.js';
import { parseHealthEntries, watchKey, type Instance, type InstanceSnapshot } from '../../src/core/instance.js';
import { buildRouteTable, knownStats, pruneStats, watchKeys, weightFor, type RouteTable } from '../../src/core/route-table.js';
import { existingStats } from '../../src/core/upstream.js';
import { config, depsOf, instance, rngOf } from './helpers.js';

const DEPS = depsOf();

const CONFIG = config(`
routes:
  - name: static
    match: { pathPrefix: /static }
    endpoints: [10.0.0.1:8001, { address: 10.0.0.2:8002, weight: 3 }]
  - name: rr
    match: { pathPrefix: /rr }
    service: web
  - name: weighted
    match: { pathPrefix: /w }
    service: web
    strategy: weighted
  - name: canary
    match: { pathPrefix: /canary }
    service: web
    tags: [canary]
  - name: random
    match: { pathPrefix: /random }
    service: web
    strategy: random
  - name: other
    service: other
`);

function snapshot(key: string, ...instances: Instance[]): InstanceSnapshot {
  return { key, instances };
}

function snapshots(...list: InstanceSnapshot[]): Map<string, InstanceSnapshot> {
  return new Map(list.map((s) => [s.key, s]));
}

const WEB = snapshot(
  'web',
  instance('web-1', { host: '10.0.1.1', port: 9001, passing: 2, warning: 1 }),
  instance('web-2', { host: '10.0.1.2', port: 9002, status: 'warning', passing: 5, warning: 3 }),
  instance('web-3', { host: '10.0.1.3', port: 9003, status: 'critical', passing: 4, warning: 4 }),
  instance('web-4', { host: '10.0.1.4', port: 9004, tags: ['canary'] }),
);
const CANARY = snapshot('web?tag=canary', instance('web-4', { host: '10.0.1.4', port: 9004, tags: ['canary'] }), instance('web-5', { host: '10.0.1.5', port: 9005 }));

function route(table: RouteTable, name: string) {
  const r = table.routes.find((x) => x.config.name === name);
  if (!r) throw new Error(`no route ${name}`);
  return r;
}

const ids = (table: RouteTable, name: string) => route(table, name).upstreams.map((u) => `${u.id}:${u.weight}:${u.status}`);

describe('watchKeys', () => {
  it('lists each Consul service and tag set once, static routes none', () => {
    expect([...watchKeys(CONFIG).entries()]).toEqual([
      ['web', { kind: 'consul', service: 'web', tags: [] }],
      ['web?tag=canary', { kind: 'consul', service: 'web', tags: ['canary'] }],
      ['other', { kind: 'consul', service: 'other', tags: [] }],
    ]);
  });
});

describe('weightFor', () => {
  it.each([
    { why: 'passing uses the passing weight', status: 'passing', useWarning: false, weight: 5 },
    { why: 'passing uses the passing weight under weighted too', status: 'passing', useWarning: true, weight: 5 },
    { why: 'warning takes no traffic outside weighted', status: 'warning', useWarning: false, weight: 0 },
    { why: 'warning uses the warning weight under weighted', status: 'warning', useWarning: true, weight: 2 },
    { why: 'critical never takes traffic', status: 'critical', useWarning: true, weight: 0 },
    { why: 'critical takes no traffic outside weighted either', status: 'critical', useWarning: false, weight: 0 },
  ] as const)('$why', ({ status, useWarning, weight }) => {
    expect(weightFor(instance('x', { status, passing: 5, warning: 2 }), useWarning)).toBe(weight);
  });

  it('a warning weight of 0 means no traffic while warning, even under weighted', () => {
    expect(weightFor(instance('x', { status: 'warning', passing: 5, warning: 0 }), true)).toBe(0);
  });
});

describe('buildRouteTable: Weights.Warning 0 from Consul (regression)', () => {
  // Consul's answer, through parseHealthEntries, into a weighted route.
  const entry = (id: string, port: number, check: string, weights: { Passing?: number; Warning?: number }) => ({
    Node: { Node: 'n1', Address: '10.0.3.1' },
    Service: { ID: id, Service: 'web', Address: '10.0.3.1', Port: port, Weights: weights },
    Checks: [{ Status: check }],
  });
  const instances = parseHealthEntries([
    entry('quiet', 9001, 'warning', { Passing: 4, Warning: 0 }),
    entry('loud', 9002, 'warning', { Passing: 4, Warning: 2 }),
    entry('ok', 9003, 'passing', { Passing: 1, Warning: 0 }),
  ]);
  const table = buildRouteTable(CONFIG, snapshots(snapshot('web', ...instances)), DEPS);

  it('a warning instance with Weights.Warning 0 is left out of the weighted route', () => {
    expect(ids(table, 'weighted')).toEqual(['loud:2:warning', 'ok:1:passing']);
  });

  it('and is never picked there', () => {
    const r = route(table, 'weighted');
    const picked = new Set(Array.from({ length: 30 }, () => r.picker.pick()!.id));
    expect([...picked].sort()).toEqual(['loud', 'ok']);
  });

  it('a passing instance with Weights.Warning 0 still takes traffic at its passing weight', () => {
    expect(ids(table, 'rr')).toEqual(['ok:1:passing']);
  });
});

describe('buildRouteTable: upstreams per route', () => {
  const table = buildRouteTable(CONFIG, snapshots(WEB, CANARY), DEPS);

  it.each([
    { why: 'static endpoints become passing upstreams named host:port with their weights', name: 'static', upstreams: ['10.0.0.1:8001:1:passing', '10.0.0.2:8002:3:passing'] },
    { why: 'round-robin takes passing instances only, at their passing weight', name: 'rr', upstreams: ['web-1:2:passing', 'web-4:1:passing'] },
    { why: 'weighted also takes warning instances, at their warning weight; critical never', name: 'weighted', upstreams: ['web-1:2:passing', 'web-2:3:warning', 'web-4:1:passing'] },
    { why: 'random, like round-robin, skips warning instances', name: 'random', upstreams: ['web-1:2:passing', 'web-4:1:passing'] },
    { why: 'a tagged route reads its own watch key and keeps only instances carrying the tags', name: 'canary', upstreams: ['web-4:1:passing'] },
    { why: 'a Consul route with no snapshot yet has no upstreams', name: 'other', upstreams: [] },
  ])('$why', ({ name, upstreams }) => {
    expect(ids(table, name)).toEqual(upstreams);
  });

  it('keeps routes in file order with their watch keys and snapshots', () => {
    expect(table.routes.map((r) => [r.config.name, r.key, r.snapshot])).toEqual([
      ['static', undefined, staticSnapshot(CONFIG.routes[0]!)],
      ['rr', 'web', WEB],
      ['weighted', 'web', WEB],
      ['canary', 'web?tag=canary', CANARY],
      ['random', 'web', WEB],
      ['other', 'other', undefined],
    ]);
    expect(table.config).toBe(CONFIG);
  });

  it('an upstream carries origin, tags and meta of its instance', () => {
    const u = route(table, 'canary').upstreams[0]!;
    expect({ host: u.host, port: u.port, origin: u.origin, tags: u.tags, meta: u.meta }).toEqual({
      host: '10.0.1.4',
      port: 9004,
      origin: 'http://10.0.1.4:9004',
      tags: ['canary'],
      meta: {},
    });
  });

  it('upstreams are frozen but their stats stay writable', () => {
    const u = route(table, 'rr').upstreams[0]!;
    expect(Object.isFrozen(u)).toBe(true);
    expect(Object.isFrozen(u.stats)).toBe(false);
  });

  it('a route with no upstreams picks nothing', () => {
    expect(route(table, 'other').picker.pick()).toBeUndefined();
  });

  it.each([
    { why: 'round-robin rotates through its upstreams', name: 'rr', picks: 4, seq: ['web-1', 'web-4', 'web-1', 'web-4'] },
    // Due times web-1 (w2): 1/4, 3/4; web-2 (w3): 1/6, 1/2, 5/6; web-4 (w1): 1/2, tied with web-2 and listed after it.
    { why: 'weighted follows the weights 2:3:1 by midpoint deadlines', name: 'weighted', picks: 6, seq: ['web-2', 'web-1', 'web-2', 'web-4', 'web-1', 'web-2'] },
    { why: 'static weighted endpoints are used by round-robin without weights', name: 'static', picks: 3, seq: ['10.0.0.1:8001', '10.0.0.2:8002', '10.0.0.1:8001'] },
  ])('each route gets the picker of its strategy: $why', ({ name, picks, seq }) => {
    const r = route(buildRouteTable(CONFIG, snapshots(WEB, CANARY), DEPS), name);
    expect(Array.from({ length: picks }, () => r.picker.pick()!.id)).toEqual(seq);
  });

  it('the random route draws from the rng it was built with', () => {
    const t = buildRouteTable(CONFIG, snapshots(WEB, CANARY), depsOf(rngOf(0.9, 0.1)));
    const r = route(t, 'random');
    expect([r.picker.pick()!.id, r.picker.pick()!.id]).toEqual(['web-4', 'web-1']);
  });

  it('routes sending to the same instance share one stats object, listed once in the table', () => {
    const a = route(table, 'rr').upstreams.find((u) => u.id === 'web-4')!;
    const b = route(table, 'canary').upstreams.find((u) => u.id === 'web-4')!;
    expect(a.stats).toBe(b.stats);
    expect(table.stats.find('web-4', '10.0.1.4', 9004)).toBe(a.stats);
  });

  it('makes stats at first use only, for any instance a route knows (idle ones included), once per instance', () => {
    const fresh = buildRouteTable(CONFIG, snapshots(WEB, CANARY), DEPS);
    expect(fresh.stats.size).toBe(0);
    for (const r of fresh.routes) expect([...knownStats(r)]).toEqual([]);
    for (const r of fresh.routes) for (const u of [...r.candidates, ...r.idle]) expect(existingStats(u)).toBeUndefined();
    for (const r of fresh.routes)
      for (const u of [...r.candidates, ...r.idle]) {
        const made = u.stats;
        expect(existingStats(u)).toBe(made);
      }
    expect([...fresh.stats.values()].map((s) => `${s.host}:${s.port}`).sort()).toEqual(
      ['10.0.0.1:8001', '10.0.0.2:8002', '10.0.1.1:9001', '10.0.1.2:9002', '10.0.1.3:9003', '10.0.1.4:9004'].sort(),
    );
  });

  it('the same id at a second address gets stats of its own, and each is found by its address', () => {
    const moved = buildRouteTable(CONFIG, snapshots(snapshot('web', ...WEB.instances, instance('web-1', { host: '10.0.9.9', port: 9999 })), CANARY), DEPS, table);
    const [a, b] = route(moved, 'rr').upstreams.filter((u) => u.id === 'web-1').map((u) => u.stats);
    expect(a).toBe(route(table, 'rr').upstreams.find((u) => u.id === 'web-1')!.stats);
    expect(moved.stats.find('web-1', '10.0.1.1', 9001)).toBe(a);
    expect(moved.stats.find('web-1', '10.0.9.9', 9999)).toBe(b);
    expect(b).toBeDefined();
    expect(b).not.toBe(a);
    expect(moved.stats.find('web-1', '10.0.9.9', 9001)).toBeUndefined();
  });
});

describe('buildRouteTable: incremental rebuilds', () => {
  const first = buildRouteTable(CONFIG, snapshots(WEB, CANARY), DEPS);

  it('same config and same snapshot objects keep every Route object, picker rotation included', () => {
    route(first, 'rr').picker.pick();
    const second = buildRouteTable(CONFIG, snapshots(WEB, CANARY), DEPS, first);
    second.routes.forEach((r, i) => expect(r).toBe(first.routes[i]));
    expect(route(second, 'rr').picker.pick()!.id).toBe('web-4');
    expect(second.stats).toBe(first.stats);
  });

  it('a new snapshot object rebuilds only the routes reading it, carrying stats per instance', () => {
    const statsBefore = route(first, 'rr').upstreams[0]!.stats;
    statsBefore.requests = 41;
    const web2 = snapshot('web', ...WEB.instances);
    const second = buildRouteTable(CONFIG, snapshots(web2, CANARY), DEPS, first);
    for (const name of ['rr', 'weighted', 'random']) expect(route(second, name)).not.toBe(route(first, name));
    for (const name of ['static', 'canary', 'other']) expect(route(second, name)).toBe(route(first, name));
    const after = route(second, 'rr').upstreams[0]!;
    expect(after.id).toBe('web-1');
    expect(after.stats).toBe(statsBefore);
    expect(after.stats.requests).toBe(41);
    expect(route(second, 'rr').snapshot).toBe(web2);
  });

  it('an instance that left the snapshot keeps its stats until pruneStats drops them; a new one gets fresh stats, stamped as joining now', () => {
    const web2 = snapshot('web', instance('web-1', { host: '10.0.1.1', port: 9001, passing: 2 }), instance('web-9', { host: '10.0.1.9', port: 9009 }));
    const used = buildRouteTable(CONFIG, snapshots(WEB, CANARY), DEPS);
    const web2Stats = route(used, 'weighted').upstreams.find((u) => u.id === 'web-2')!.stats;
    for (const r of used.routes) for (const u of r.upstreams) void u.stats;
    const second = buildRouteTable(CONFIG, snapshots(web2, CANARY), depsOf(undefined, () => 5_000), used);
    expect(second.stats.find('web-2', '10.0.1.2', 9002)).toBe(web2Stats);
    // Only web-2's stats go: web-3 (critical) was never used, so it never had any.
    expect(pruneStats(second)).toBe(1);
    expect(second.stats.find('web-2', '10.0.1.2', 9002)).toBeUndefined();
    expect(second.stats.find('web-1', '10.0.1.1', 9001)).toBe(route(used, 'rr').upstreams[0]!.stats);
    expect(second.stats.find('web-9', '10.0.1.9', 9009)).toEqual({ host: '10.0.1.9', port: 9009, inflight: 0, requests: 0, failures: 0, ewmaMs: 0, ewmaAt: 0, activeSince: 5_000, consecutiveFailures: 0, ejectedUntil: 0, ejections: 0, probation: false, sweep: expect.any(Number) });
    // web-4 is still served by the reused canary route, so its stats stay.
    expect(second.stats.find('web-4', '10.0.1.4', 9004)).toBe(route(used, 'canary').upstreams.find((u) => u.id === 'web-4')!.stats);
  });

  it('an instance keeps its stats through a spell of being critical', () => {
    const at = (status: 'passing' | 'critical') => snapshot('web', instance('web-1', { host: '10.0.1.1', port: 9001, status }));
    const t1 = buildRouteTable(CONFIG, snapshots(at('passing'), CANARY), DEPS);
    const s1 = route(t1, 'rr').upstreams[0]!.stats;
    s1.failures = 3;
    const t2 = buildRouteTable(CONFIG, snapshots(at('critical'), CANARY), DEPS, t1);
    expect(ids(t2, 'rr')).toEqual([]);
    expect(t2.stats.find('web-1', '10.0.1.1', 9001)).toBe(s1);
    // A rebuild that reuses every route (same snapshots) must not lose the idle instance either.
    const t3 = buildRouteTable(CONFIG, new Map([...snapshots(CANARY), ['web', t2.routes[1]!.snapshot!]]), DEPS, t2);
    expect(route(t3, 'rr')).toBe(route(t2, 'rr'));
    expect(t3.stats.find('web-1', '10.0.1.1', 9001)).toBe(s1);
    const t4 = buildRouteTable(CONFIG, snapshots(at('passing'), CANARY), DEPS, t3);
    expect(route(t4, 'rr').upstreams[0]!.stats).toBe(s1);
    expect(s1.failures).toBe(3);
  });

  it('a snapshot arriving for a route that had none gives it upstreams', () => {
    const other = snapshot('other', instance('o-1', { host: '10.0.2.1', port: 7000 }));
    const second = buildRouteTable(CONFIG, snapshots(WEB, CANARY, other), DEPS, first);
    expect(ids(second, 'other')).toEqual(['o-1:1:passing']);
    expect(route(second, 'other').picker.pick()!.id).toBe('o-1');
  });

  it('a snapshot going away empties the routes reading it', () => {
    const second = buildRouteTable(CONFIG, snapshots(CANARY), DEPS, first);
    expect(ids(second, 'rr')).toEqual([]);
    expect(route(second, 'rr').picker.pick()).toBeUndefined();
  });

  it('a reloaded config (new route objects) rebuilds every route but keeps stats per instance', () => {
    const reloaded: Config = config(`
routes:
  - name: static
    endpoints: [10.0.0.1:8001]
  - name: rr
    service: web
`);
    const second = buildRouteTable(reloaded, snapshots(WEB, CANARY), DEPS, first);
    pruneStats(second);
    expect(second.routes.map((r) => r.config.name)).toEqual(['static', 'rr']);
    expect(route(second, 'static')).not.toBe(route(first, 'static'));
    expect(route(second, 'static').upstreams[0]!.stats).toBe(route(first, 'static').upstreams[0]!.stats);
    expect(route(second, 'rr').upstreams[0]!.stats).toBe(route(first, 'rr').upstreams[0]!.stats);
    expect(second.stats.find('10.0.0.2:8002', '10.0.0.2', 8002)).toBeUndefined();
  });

  it('without a previous table every stats object is new', () => {
    const second = buildRouteTable(CONFIG, snapshots(WEB, CANARY), DEPS);
    expect(route(second, 'rr').upstreams[0]!.stats).not.toBe(route(first, 'rr').upstreams[0]!.stats);
  });

  it('watch keys used for snapshots match watchKey()', () => {
    expect(route(first, 'canary').key).toBe(watchKey('web', ['canary']));
  });
});

describe('pruneStats', () => {
  it('deletes nothing while every instance with stats is still known', () => {
    const t = buildRouteTable(CONFIG, snapshots(WEB, CANARY), DEPS);
    for (const r of t.routes) for (const u of r.upstreams) void u.stats;
    const n = t.stats.size;
    expect(n).toBeGreaterThan(0);
    expect(pruneStats(t)).toBe(0);
    expect(t.stats.size).toBe(n);
  });

  it('sees stats made through another route of the same instance, so keeps them', () => {
    const t = buildRouteTable(CONFIG, snapshots(WEB, CANARY), DEPS);
    const rr = route(t, 'rr').upstreams.find((u) => u.id === 'web-4')!;
    const canary = route(t, 'canary').upstreams.find((u) => u.id === 'web-4')!;
    // The canary's upstream looks before any stats exist, then rr's makes them.
    expect(existingStats(canary)).toBeUndefined();
    const made = rr.stats;
    expect(existingStats(canary)).toBe(made);
    const alone = buildRouteTable(CONFIG, snapshots(CANARY), DEPS, t);
    expect(pruneStats(alone)).toBe(0);
    expect(alone.stats.find('web-4', '10.0.1.4', 9004)).toBe(made);
  });
});
