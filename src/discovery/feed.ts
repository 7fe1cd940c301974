// Discovery's feed mode, for more watched services than `consul.maxWatches`: instead of one
// blocking query (one connection) per service, three cluster-wide blocking queries say what
// changed, and bounded reads fetch just those services. Consul's connection count then stays
// the same for 100 services or 10,000.
//
// - The critical checks and the warning checks (/v1/health/state/critical and .../warning):
//   together, every check that is not passing. They stay small while most checks pass, and
//   Consul answers them from an index on check status, ~1 ms after any check changes even at
//   100,000 checks. A check entering, leaving or changing in them names its service (or, for a
//   node check, every service with an instance on that node): those are read at once. An
//   instance usually joins this way too: Consul starts a new check critical, then it passes.
// - The catalog's service list (/v1/catalog/services): Consul wakes it on any instance
//   registered, deregistered or changed (not on checks). Services whose tags changed are read
//   at once. Since the list cannot show an instance joining or leaving a service that keeps
//   its tags, each move of its index also takes a census (/v1/internal/ui/services: instance
//   and check counts and nodes per service) and reads the services whose line changed.
// - A catalog move that neither the tags nor the census explain (new weights, a new port or
//   meta on an instance) reads every watched service, after the urgent reads. What even that
//   misses (an instance swapped for another between two censuses, next to a change that did
//   show) a slow pass finds: every watched service is read again over TRICKLE_CYCLE_MS, spread
//   evenly. Where Consul has no census endpoint (it is internal: a 404 or 405), each move of
//   the catalog's index reads every watched service.
//
// Reads are plain (non-blocking) /v1/health/service reads, READS_IN_FLIGHT at a time. Measured
// on a dev agent (Consul 1.14): at 10,000 services × 10 the census is 7.2 MB and takes 0.5-0.9 s
// to answer, so an instance registered already passing is in use a second or two later;
// reading every service after each change (tried first) cost ~0.3 ms of Fairway CPU per
// service per change; /v1/health/state/any unfiltered would be 47 MB per change at 10,000 × 10,
// which is why fabio's approach is not used; filtered on Status it scans every check (above).
//
// The first answer of each feed also starts a full pass: a change between a service's first
// read and the feed's first answer would otherwise be missed.

import type { Logger } from 'pino';
import { touchedByCatalog, touchedByChecks, type CheckStatus } from '../core/feed-diff.js';
import { fingerprint, type Instance } from '../core/instance.js';
import type { ConsulClient } from './consul-client.js';
import { ConsulError } from '../core/errors.js';
import { digest, markFailed, markSucceeded, newWatchState, type WatchState } from './consul-watch.js';

/** Watch keys of the three feeds among Discovery's watches. */
export const FEED_CRITICAL_KEY = '(feed:critical)';
export const FEED_WARNING_KEY = '(feed:warning)';
export const FEED_SERVICES_KEY = '(feed:services)';

const READS_IN_FLIGHT = 8;
/** The slow pass reads every watched service once per cycle, a share each tick. */
const TRICKLE_CYCLE_MS = 300_000;
const TRICKLE_TICK_MS = 1_000;

/** What the feed tells its owner, one object for every service it reads. */
export interface FeedHooks {
  onValue: (watch: FeedWatch, instances: Instance[]) => void;
  /** After every read, successful or not. */
  onState: (watch: FeedWatch, state: Readonly<WatchState>, error?: Error) => void;
}

/**
 * One service the feed reads, and the handle its owner holds: one object per service, with no
 * closures (at 10,000 services, closures and their contexts per service cost 3 MB).
 */
export class FeedWatch {
  /** Digest of the instances last handed on. */
  print: string | undefined;
  /** Nodes the instances are on, each once, for node checks (an array: a Set per service cost ~350 bytes). */
  nodes: readonly string[] = [];
  failures = 0;
  retry: NodeJS.Timeout | undefined;
  readonly state: WatchState;

  constructor(
    readonly feed: ConsulFeed,
    readonly key: string,
    readonly service: string,
    readonly tags: readonly string[],
  ) {
    this.state = newWatchState(key);
  }

  /** Forgets this service. */
  async stop(): Promise<void> {
    this.feed.forget(this);
  }
}

export class ConsulFeed {
  readonly #client: ConsulClient;
  readonly #rng: () => number;
  readonly #tracked = new Map<string, FeedWatch>();
  /** Read first: services a feed named. */
  readonly #urgent = new Set<string>();
  /** Read after: the full passes. */
  readonly #pass = new Set<string>();
  readonly #inFlight = new Set<string>();
  /** Keys named again while their read was in flight: read once more after it. */
  readonly #again = new Set<string>();
  readonly #abort = new AbortController();
  /** The last answer of each checks feed. */
  readonly #checks = new Map<'critical' | 'warning', CheckStatus[]>();
  #catalog: Readonly<Record<string, readonly string[]>> | undefined;
  #catalogIndex = 0;
  /** The last census, per service name; undefined until the first (or after a failed one). */
  #census: Map<string, number> | undefined;
  #censusRunning = false;
  #censusAgain = false;
  #censusUnsupported = false;
  /** A catalog move since the last census named services by their tags. */
  #tagsMoved = false;
  #trickleOrder: string[] = [];
  readonly #trickle: NodeJS.Timeout;
  readonly #log: Logger;

  readonly #hooks: FeedHooks;

  constructor(client: ConsulClient, rng: () => number, log: Logger, hooks: FeedHooks) {
    this.#client = client;
    this.#rng = rng;
    this.#log = log;
    this.#hooks = hooks;
    this.#trickle = setInterval(() => this.#trickleTick(), TRICKLE_TICK_MS).unref();
  }

  /** Starts reading `key`; the returned watch's stop() forgets it. */
  track(key: string, source: { service: string; tags: readonly string[] }): FeedWatch {
    const t = new FeedWatch(this, key, source.service, source.tags);
    this.#tracked.set(key, t);
    this.#pass.add(key);
    this.#pump();
    return t;
  }

  /** Stops reading what `t` reads (FeedWatch.stop). */
  forget(t: FeedWatch): void {
    clearTimeout(t.retry);
    if (this.#tracked.get(t.key) !== t) return;
    this.#tracked.delete(t.key);
    this.#urgent.delete(t.key);
    this.#pass.delete(t.key);
  }

  /** A new answer of the critical or the warning checks feed. */
  onChecks(state: 'critical' | 'warning', checks: CheckStatus[]): void {
    const before = this.#checks.get(state);
    this.#checks.set(state, checks);
    if (before === undefined) return this.#fullPass();
    const touched = touchedByChecks(before, checks);
    for (const [key, t] of this.#tracked) {
      if (touched.services.has(t.service)) this.#urgentRead(key);
      else if (touched.nodes.size > 0 && t.nodes.some((n) => touched.nodes.has(n))) this.#urgentRead(key);
    }
    this.#pump();
  }

  /** A new answer of the catalog feed (the index moved). */
  onCatalog(services: Readonly<Record<string, readonly string[]>>, index: number): void {
    const before = this.#catalog;
    this.#catalog = services;
    if (index === this.#catalogIndex) return;
    this.#catalogIndex = index;
    void this.#takeCensus();
    if (before === undefined) return this.#fullPass();
    const touched = touchedByCatalog(before, services);
    if (touched.size > 0) this.#tagsMoved = true;
    for (const [key, t] of this.#tracked) if (touched.has(t.service)) this.#urgentRead(key);
    this.#pump();
  }

  /** Reads the census and the services whose line changed since the last one; one at a time. */
  async #takeCensus(): Promise<void> {
    if (this.#censusUnsupported) return this.#fullPass();
    if (this.#censusRunning) {
      this.#censusAgain = true;
      return;
    }
    this.#censusRunning = true;
    const tagsMoved = this.#tagsMoved;
    this.#tagsMoved = false;
    try {
      const census = (await this.#client.serviceCensus(this.#abort.signal)).value;
      const before = this.#census;
      this.#census = census;
      if (before === undefined || census === undefined) return;
      let named = tagsMoved;
      for (const [name, line] of census) if (before.get(name) !== line) named = true;
      for (const name of before.keys()) if (!census.has(name)) named = true;
      for (const [key, t] of this.#tracked) if (before.get(t.service) !== census.get(t.service)) this.#urgentRead(key);
      // The catalog moved and nothing here says where: an instance's weights, port or meta.
      if (!named) this.#fullPass();
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      const status = err instanceof ConsulError ? err.status : undefined;
      if (status === 404 || status === 405) {
        this.#censusUnsupported = true;
        this.#log.warn({ err: (err as Error).message }, 'this Consul has no /v1/internal/ui/services; every catalog change reads every watched service');
      }
      // Whatever changed since the last census is unknown: read everything, start a new baseline.
      this.#census = undefined;
      this.#fullPass();
    } finally {
      this.#censusRunning = false;
      if (this.#censusAgain && !this.#abort.signal.aborted) {
        this.#censusAgain = false;
        void this.#takeCensus();
      }
      this.#pump();
    }
  }

  /** Part of the slow pass: the next share of the watched services, read after anything urgent. */
  #trickleTick(): void {
    if (this.#tracked.size === 0) return;
    if (this.#trickleOrder.length === 0) this.#trickleOrder = [...this.#tracked.keys()];
    const share = Math.ceil((this.#tracked.size * TRICKLE_TICK_MS) / TRICKLE_CYCLE_MS);
    for (const key of this.#trickleOrder.splice(0, share)) if (this.#tracked.has(key) && !this.#urgent.has(key)) this.#pass.add(key);
    this.#pump();
  }

  stop(): void {
    clearInterval(this.#trickle);
    this.#abort.abort();
    for (const t of this.#tracked.values()) clearTimeout(t.retry);
    this.#tracked.clear();
    this.#urgent.clear();
    this.#pass.clear();
  }

  #fullPass(): void {
    for (const key of this.#tracked.keys()) if (!this.#urgent.has(key)) this.#pass.add(key);
    this.#pump();
  }

  #urgentRead(key: string): void {
    if (this.#inFlight.has(key)) this.#again.add(key);
    else {
      this.#pass.delete(key);
      this.#urgent.add(key);
    }
  }

  #pump(): void {
    while (this.#inFlight.size < READS_IN_FLIGHT && !this.#abort.signal.aborted) {
      const key = first(this.#urgent) ?? first(this.#pass);
      if (key === undefined) return;
      this.#urgent.delete(key);
      this.#pass.delete(key);
      if (this.#inFlight.has(key)) {
        this.#again.add(key);
        continue;
      }
      const t = this.#tracked.get(key);
      if (t !== undefined) void this.#read(t);
    }
  }

  async #read(t: FeedWatch): Promise<void> {
    const { key } = t;
    this.#inFlight.add(key);
    const { state } = t;
    try {
      const res = await this.#client.healthService(t.service, t.tags, { index: 0, waitMs: 0, signal: this.#abort.signal });
      if (this.#tracked.get(key) !== t) return;
      t.failures = 0;
      markSucceeded(state);
      state.index = res.index;
      const instances = res.value ?? [];
      const print = digest(fingerprint(instances));
      if (!state.synced || print !== t.print) {
        state.synced = true;
        t.print = print;
        t.nodes = [...new Set(instances.map((i) => i.node))];
        state.updates++;
        this.#hooks.onValue(t, instances);
        state.lastApplyMs = performance.now() - res.receivedAt;
      }
      this.#hooks.onState(t, state);
    } catch (err) {
      if (this.#abort.signal.aborted || this.#tracked.get(key) !== t) return;
      t.failures++;
      const delay = markFailed(state, err as Error, t.failures, this.#rng);
      this.#hooks.onState(t, state, err as Error);
      clearTimeout(t.retry);
      t.retry = setTimeout(() => {
        this.#urgentRead(key);
        this.#pump();
      }, delay).unref();
    } finally {
      this.#inFlight.delete(key);
      if (this.#again.delete(key)) this.#urgent.add(key);
      // The next read waits a turn: the connection that carried this answer is back in the
      // pool only then, and a read sent sooner would open another one.
      setImmediate(() => this.#pump());
    }
  }
}

function first<T>(set: Set<T>): T | undefined {
  for (const v of set) return v;
  return undefined;
}
