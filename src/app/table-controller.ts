// The route table in force, and when it is rebuilt.
//
// One owner for the table: a rebuild makes a new table from the config, the instances
// discovery knows and the table before it (pure: core/route-table.ts) and swaps it in whole, so
// no request sees half a change. Every reason to rebuild comes here:
// - a discovery change or an ejection: `soon()`, coalesced, so a burst (a thousand watches
//   answering at start, or a wave of failures ejecting instances one after another) costs one
//   rebuild per COALESCE_MS instead of one per event. A single change is applied at once.
//   Ejections used to rebuild inside the request callback that saw the failure. A discovery
//   change names its watch key, and while nothing else happened the rebuild looks at those
//   routes only;
// - a reload, a drain by hand, the first discovery: `now()`;
// - an ejection running out: by timer.
// Dropping the counters and pools of instances that left walks every instance: it runs at most
// once per SWEEP_EVERY_MS, never inside the rebuild that puts a change in use, and only after a
// rebuild that may have lost an instance (a health change loses none: at 10,000 routes × 10 a
// sweep took 20 ms of CPU, once a second while checks flapped).

import type { Config } from '../core/config.js';
import { buildRouteTable, pruneStats, type RouteTable, type TableDeps } from '../core/route-table.js';
import type { InstanceSnapshot } from '../core/instance.js';

/** Changes within this window share one rebuild. */
export const COALESCE_MS = 10;
const SWEEP_EVERY_MS = 1_000;

export interface TableControllerOptions {
  /** The config in force. */
  config: () => Config;
  /** What discovery knows now, by watch key. */
  snapshots: () => ReadonlyMap<string, InstanceSnapshot>;
  deps: TableDeps;
  /** Ticks the request clock and returns it (ejection and slow-start times are on it). */
  tick: () => number;
  /** After a sweep: the table without departed instances (metrics and pools prune by it). */
  onSwept: (table: RouteTable) => void;
}

export class TableController {
  readonly #opts: TableControllerOptions;
  #table: RouteTable;
  /** Instance IDs taken out of rotation by hand (admin drain). */
  readonly #drained = new Set<string>();
  /** Ejections and drain changes so far: a rebuild re-checks exclusions only when it moved. */
  #exclusions = 0;
  #rebuildTimer: NodeJS.Timeout | undefined;
  #lastRebuildAt = Number.NEGATIVE_INFINITY;
  #unejectTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #lastSweepAt = Number.NEGATIVE_INFINITY;
  /** A rebuild since the last sweep may have lost an instance. */
  #departures = false;
  /** The watch keys changed since the last rebuild; undefined when that rebuild must look at every route. */
  #changed: Set<string> | undefined = new Set();
  /** The snapshot map the table was last built from (a new discovery brings a new one). */
  #builtFrom: ReadonlyMap<string, InstanceSnapshot> | undefined;
  #stopped = false;

  constructor(opts: TableControllerOptions) {
    this.#opts = opts;
    this.#table = buildRouteTable(opts.config(), new Map(), opts.deps);
  }

  get table(): RouteTable {
    return this.#table;
  }

  get drained(): ReadonlySet<string> {
    return this.#drained;
  }

  /** Whether a coalesced rebuild is waiting for its window to end. */
  get pending(): boolean {
    return this.#rebuildTimer !== undefined;
  }

  /**
   * A rebuild for a discovery change (the snapshot of watch key `key`) or an ejection (no key):
   * at once when none ran in the last COALESCE_MS, else once at the end of that window.
   */
  soon(key?: string): void {
    if (key === undefined) this.#changed = undefined;
    else this.#changed?.add(key);
    if (this.#rebuildTimer !== undefined) return;
    const wait = this.#lastRebuildAt + COALESCE_MS - performance.now();
    if (wait <= 0) {
      this.#rebuild();
      return;
    }
    this.#rebuildTimer = setTimeout(() => {
      this.#rebuildTimer = undefined;
      this.#rebuild();
    }, wait);
  }

  /** Rebuilds and swaps the table now, looking at every route. */
  now(): void {
    this.#changed = undefined;
    this.#rebuild();
  }

  #rebuild(): void {
    clearTimeout(this.#rebuildTimer);
    this.#rebuildTimer = undefined;
    const now = this.#opts.tick();
    this.#lastRebuildAt = performance.now();
    const snapshots = this.#opts.snapshots();
    // Only the keys named since the last rebuild, when that rebuild read this same map.
    const changed = snapshots === this.#builtFrom ? this.#changed : undefined;
    this.#changed = new Set();
    this.#builtFrom = snapshots;
    const table = buildRouteTable(this.#opts.config(), snapshots, this.#opts.deps, this.#table, this.#drained, this.#exclusions, changed);
    this.#table = table;
    // Ejections end by time, not by an event: rebuild when the next one is due.
    clearTimeout(this.#unejectTimer);
    if (table.nextUnejectAt !== Infinity && !this.#stopped) {
      this.#unejectTimer = setTimeout(() => this.now(), Math.max(1, table.nextUnejectAt - now + 1));
      this.#unejectTimer.unref();
    }
    this.#departures ||= table.departures;
    if (this.#departures && this.#sweepTimer === undefined && !this.#stopped) {
      this.#sweepTimer = setTimeout(() => this.#sweep(), Math.max(0, this.#lastSweepAt + SWEEP_EVERY_MS - this.#lastRebuildAt));
      this.#sweepTimer.unref();
    }
  }

  #sweep(): void {
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#lastSweepAt = performance.now();
    this.#departures = false;
    pruneStats(this.#table);
    this.#opts.onSwept(this.#table);
  }

  /** Passive outlier detection ejected an instance: a rebuild soon takes it out. */
  ejected(): void {
    this.#exclusions++;
    this.soon();
  }

  /**
   * Takes an instance (by Consul service ID, or host:port for static endpoints) out of every
   * route by hand, or puts it back. False when no route knows that ID.
   */
  setDrained(id: string, drained: boolean): boolean {
    const known = this.#table.routes.some((r) => r.candidates.some((u) => u.id === id) || r.snapshot?.instances.some((i) => i.id === id));
    if (!known && !this.#drained.has(id)) return false;
    if (drained) this.#drained.add(id);
    else this.#drained.delete(id);
    this.#exclusions++;
    this.now();
    return true;
  }

  /**
   * For shutdown: no more timed rebuilds or sweeps. Health changes during the drain still
   * apply (soon() and now() keep working).
   */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#unejectTimer);
    clearTimeout(this.#rebuildTimer);
    this.#rebuildTimer = undefined;
    clearTimeout(this.#sweepTimer);
  }
}
