// buildRouteTable's slow-start marking: instances joining an already-discovered service get activeSince = deps.now().

import { describe, expect, it } from 'vitest';
import type { Instance, InstanceSnapshot } from '../../src/core/instance.js';
import { buildRouteTable, type RouteTable } from '../../src/core/route-table.js';
import { clockAt, config, depsOf, instance, rngOf } from './helpers.js';

const CONFIG = config(`
routes:
  - name: web
    service: web
    slowStart: 10s
`);

const W1 = instance('w1', { host: '10.0.1.1', port: 9001 });
const W2 = instance('w2', { host: '10.0.1.2', port: 9002 });
const W3 = instance('w3', { host: '10.0.1.3', port: 9003 });

function snaps(...instances: Instance[]): Map<string, InstanceSnapshot> {
  return new Map([['web', { key: 'web', instances }]]);
}

/** A table built at clock time `now`, on top of `previous`. */
function build(snapshots: Map<string, InstanceSnapshot>, now: number, previous?: RouteTable): RouteTable {
  return buildRouteTable(CONFIG, snapshots, depsOf(undefined, () => now), previous);
}

/** id → activeSince for the web route's upstreams. */
function since(t: RouteTable): Record<string, number> {
  return Object.fromEntries(t.routes[0]!.upstreams.map((u) => [u.id, u.stats.activeSince]));
}

describe('buildRouteTable: slow-start marking', () => {
  const CRITICAL_W2 = { ...W2, status: 'critical' as const };
  // Each step is one rebuild on top of the previous table: the web snapshot's instances (null: no
  // snapshot yet) and the clock time of the build. `since` is activeSince after the last step.
  it.each([
    { why: 'on first discovery, without a previous table, no instance is marked', steps: [[[W1, W2], 1_000]], since: { w1: -Infinity, w2: -Infinity } },
    {
      why: 'on first discovery after a table where the route had no snapshot yet, no instance is marked',
      steps: [[null, 500], [[W1, W2], 1_000]],
      since: { w1: -Infinity, w2: -Infinity },
    },
    {
      why: 'an instance newly appearing in the next snapshot is stamped with deps.now(); the others are not',
      steps: [[[W1, W2], 1_000], [[W1, W2, W3], 5_000]],
      since: { w1: -Infinity, w2: -Infinity, w3: 5_000 },
    },
    {
      why: 'an instance returning from critical is stamped as rejoining',
      steps: [[[W1, W2], 1_000], [[W1, CRITICAL_W2], 2_000], [[W1, W2], 7_000]],
      since: { w1: -Infinity, w2: 7_000 },
    },
    {
      why: 'an instance that left the snapshot and came back is stamped when it comes back',
      steps: [[[W1, W2], 1_000], [[W1], 2_000], [[W1, W2], 8_000]],
      since: { w1: -Infinity, w2: 8_000 },
    },
    {
      why: 'a later joiner is stamped with its own time and an earlier stamp is kept',
      steps: [[[W1], 1_000], [[W1, W2], 2_000], [[W1, W2, W3], 3_000]],
      since: { w1: -Infinity, w2: 2_000, w3: 3_000 },
    },
    {
      why: 'a new snapshot object with the same instances marks nobody',
      steps: [[[W1, W2], 1_000], [[W1, W2], 9_000]],
      since: { w1: -Infinity, w2: -Infinity },
    },
  ] as Array<{ why: string; steps: Array<[Instance[] | null, number]>; since: Record<string, number> }>)('$why', ({ steps, since: expected }) => {
    let table: RouteTable | undefined;
    for (const [instances, now] of steps) table = build(instances ? snaps(...instances) : new Map(), now, table);
    expect(since(table!)).toEqual(expected);
  });

  it('reusing a route (same config, same snapshot object) keeps it and marks nobody, even at a later time', () => {
    const s = snaps(W1, W2);
    const t1 = build(s, 1_000);
    const t2 = build(s, 9_000, t1);
    expect(t2.routes[0]).toBe(t1.routes[0]);
    expect(since(t2)).toEqual({ w1: -Infinity, w2: -Infinity });
  });

  it('a reloaded config over the same instances marks nobody', () => {
    const t1 = build(snaps(W1, W2), 1_000);
    const reloaded = config('routes:\n  - name: web\n    service: web\n    slowStart: 20s\n');
    const t2 = buildRouteTable(reloaded, snaps(W1, W2), depsOf(undefined, () => 9_000), t1);
    expect(since(t2)).toEqual({ w1: -Infinity, w2: -Infinity });
  });

  it('the rebuilt picker ramps the joiner: at factor 0.1 with rng 0.5 its turn goes to another instance', () => {
    const clock = clockAt(1_000);
    const t1 = buildRouteTable(CONFIG, snaps(W1, W2), depsOf(rngOf(0.5), clock.now));
    clock.set(5_000);
    const t2 = buildRouteTable(CONFIG, snaps(W1, W2, W3), depsOf(rngOf(0.5), clock.now), t1);
    const p = t2.routes[0]!.picker;
    // Round-robin answers w1, w2, w3 (ramping at age 0: rejected, re-picked as w1), w2.
    expect([p.pick()!.id, p.pick()!.id, p.pick()!.id, p.pick()!.id]).toEqual(['w1', 'w2', 'w1', 'w2']);
  });
});

describe('buildRouteTable: slow-start marking compares each route with itself', () => {
  // Two routes share one watch: a weighted one (which uses warning instances) and a round-robin
  // one (which does not). A warning instance that has been in the weighted route all along must
  // not be marked as a joiner there just because the other route never had it.
  const TWO = config(`
routes:
  - name: w
    service: web
    strategy: weighted
    slowStart: 30s
    match: { pathPrefix: /w }
  - name: rr
    service: web
    slowStart: 30s
`);
  const A = instance('a', { port: 1 });
  const B = instance('b', { port: 2, status: 'warning' });

  it('an unchanged warning instance on the weighted route keeps activeSince; the round-robin route marks it when it turns passing', () => {
    const s1 = new Map([['web', { key: 'web', instances: [A, B] }]]);
    const t1 = buildRouteTable(TWO, s1, depsOf(undefined, () => 1_000));
    const t2 = buildRouteTable(TWO, new Map([['web', { key: 'web', instances: [A, B] }]]), depsOf(undefined, () => 5_000), t1);
    expect(t2.routes[0]!.upstreams.find((u) => u.id === 'b')!.stats.activeSince).toBe(-Infinity);
    const passingB = { ...B, status: 'passing' as const };
    const t3 = buildRouteTable(TWO, new Map([['web', { key: 'web', instances: [A, passingB] }]]), depsOf(undefined, () => 9_000), t2);
    expect(t3.routes[1]!.upstreams.find((u) => u.id === 'b')!.stats.activeSince).toBe(9_000);
  });
});
