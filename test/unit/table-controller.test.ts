// TableController: one owner for the route table; bursts of changes share one rebuild, drains by
// hand apply at once, and a stopped controller schedules nothing. Fake timers, so the
// coalescing window is exact.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { COALESCE_MS, TableController } from '../../src/app/table-controller.js';
import type { InstanceSnapshot } from '../../src/core/instance.js';
import type { RouteTable } from '../../src/core/route-table.js';
import { config, depsOf, instance } from './helpers.js';

const CONFIG = config('routes:\n  - { service: web }\n');

function controller() {
  let snapshots = new Map<string, InstanceSnapshot>();
  const swept: RouteTable[] = [];
  let builds = 0;
  const tables = new TableController({
    config: () => CONFIG,
    snapshots: () => {
      builds++;
      return snapshots;
    },
    deps: depsOf(),
    tick: () => performance.now(),
    onSwept: (t) => swept.push(t),
  });
  const set = (...ids: string[]) => {
    snapshots = new Map([['web', { key: 'web', instances: Object.freeze(ids.map((id) => instance(id, { port: 9000 + id.charCodeAt(0) }))) }]]);
  };
  return { tables, set, swept, builds: () => builds };
}

const ids = (t: RouteTable) => t.routes[0]!.upstreams.map((u) => u.id);

describe('TableController', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('applies a single change at once', () => {
    const c = controller();
    c.set('a');
    c.tables.soon();
    expect(ids(c.tables.table)).toEqual(['a']);
  });

  it('folds a burst of changes within the window into one more rebuild at its end', () => {
    const c = controller();
    c.set('a');
    c.tables.soon();
    const after = c.builds();
    for (const id of ['b', 'c', 'd']) {
      c.set('a', id);
      c.tables.soon();
    }
    expect(c.builds()).toBe(after);
    expect(c.tables.pending).toBe(true);
    expect(ids(c.tables.table)).toEqual(['a']);
    vi.advanceTimersByTime(COALESCE_MS);
    expect(c.builds()).toBe(after + 1);
    expect(ids(c.tables.table)).toEqual(['a', 'd']);
    expect(c.tables.pending).toBe(false);
  });

  it('now() runs a waiting rebuild at once and cancels its timer', () => {
    const c = controller();
    c.tables.soon();
    c.set('x');
    c.tables.soon();
    c.tables.now();
    const after = c.builds();
    vi.advanceTimersByTime(COALESCE_MS * 2);
    expect(c.builds()).toBe(after);
    expect(ids(c.tables.table)).toEqual(['x']);
  });

  it('drains an instance it knows, refuses one it does not, and undrains', () => {
    const c = controller();
    c.set('a', 'b');
    c.tables.now();
    expect(c.tables.setDrained('nope', true)).toBe(false);
    expect(c.tables.setDrained('a', true)).toBe(true);
    expect(ids(c.tables.table)).toEqual(['b']);
    expect([...c.tables.drained]).toEqual(['a']);
    expect(c.tables.setDrained('a', false)).toBe(true);
    expect(ids(c.tables.table).sort()).toEqual(['a', 'b']);
  });

  it('sweeps once, a second after a rebuild that lost an instance, and reports the table', () => {
    const c = controller();
    c.set('a', 'b');
    c.tables.now();
    vi.advanceTimersByTime(2_000);
    // Instances only arrived: nothing to sweep.
    expect(c.swept).toHaveLength(0);
    c.set('a');
    c.tables.now();
    expect(c.swept).toHaveLength(0);
    vi.advanceTimersByTime(1_000);
    expect(c.swept).toHaveLength(1);
    expect(c.swept[0]).toBe(c.tables.table);
    // The same instance again, in a new snapshot (a health change, say): no sweep.
    c.set('a');
    c.tables.now();
    vi.advanceTimersByTime(2_000);
    expect(c.swept).toHaveLength(1);
  });

  it('an ejection it is told of takes the instance out at the next rebuild, the snapshot unchanged', () => {
    const c = controller();
    c.set('a', 'b');
    c.tables.now();
    const b = c.tables.table.routes[0]!.upstreams.find((u) => u.id === 'b')!;
    b.stats.ejectedUntil = performance.now() + 60_000;
    vi.advanceTimersByTime(COALESCE_MS);
    c.tables.ejected();
    expect(ids(c.tables.table)).toEqual(['a']);
  });

  it('a change named by its watch key rebuilds that key\'s routes; now(), or a new snapshot map, looks at every route', () => {
    const two = config('routes:\n  - { match: { pathPrefix: /a }, service: a }\n  - { match: { pathPrefix: /b }, service: b }\n');
    const snap = (key: string, id: string): InstanceSnapshot => ({ key, instances: Object.freeze([instance(id, { port: 9000 + id.length })]) });
    let snapshots = new Map([['a', snap('a', 'a1')], ['b', snap('b', 'b1')]]);
    const tables = new TableController({ config: () => two, snapshots: () => snapshots, deps: depsOf(), tick: () => performance.now(), onSwept: () => undefined });
    tables.now();
    const of = (i: number) => tables.table.routes[i]!.upstreams.map((u) => u.id);
    // Both change in the same map, but only a is named: b's route is the one built before.
    snapshots.set('a', snap('a', 'a22')).set('b', snap('b', 'b22'));
    vi.advanceTimersByTime(COALESCE_MS);
    tables.soon('a');
    expect([of(0), of(1)]).toEqual([['a22'], ['b1']]);
    vi.advanceTimersByTime(COALESCE_MS);
    tables.now();
    expect(of(1)).toEqual(['b22']);
    // A new map (a new discovery): the next named change looks at every route all the same.
    snapshots = new Map([['a', snap('a', 'a333')], ['b', snap('b', 'b333')]]);
    vi.advanceTimersByTime(COALESCE_MS);
    tables.soon('a');
    expect([of(0), of(1)]).toEqual([['a333'], ['b333']]);
    tables.stop();
  });

  it('schedules nothing once stopped', () => {
    const c = controller();
    c.tables.now();
    c.tables.soon();
    c.tables.stop();
    const after = c.builds();
    vi.advanceTimersByTime(10_000);
    expect(c.builds()).toBe(after);
    expect(c.swept).toHaveLength(0);
  });
});
