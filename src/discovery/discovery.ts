// Keeps one Consul watch per watch key the config needs, shared by every route that uses it.
// On reload, `sync` keeps the watches whose keys stay, starts new ones and stops the rest.
// It emits data only: the latest snapshot per key, and a callback when one changes.

import type { Logger } from 'pino';
import { fingerprint, type Instance, type InstanceSnapshot } from '../core/instance.js';
import type { ConsulClient } from './consul-client.js';
import type { FleetDocs } from '../core/canary.js';
import { ConsulWatch, type WatchOptions, type WatchState } from './consul-watch.js';
import type { CheckStatus } from '../core/feed-diff.js';
import { ConsulFeed, FEED_CRITICAL_KEY, FEED_WARNING_KEY, FEED_SERVICES_KEY } from './feed.js';
import type { CatalogListener, ConsulState, KvListener, WatchKeys, WatchSource } from './watch-source.js';
import { WatchTally } from './watch-tally.js';

export type { ConsulState } from './watch-source.js';

/** The key of the catalog watch (routes from tags) among the health watches. */
export const CATALOG_KEY = '(catalog)';
/** Watch keys of KV watches: `(kv:fairway/config)`. */
const KV_PREFIX = '(kv:';

/** The watch key of the KV watch on `key`. */
export function kvWatchKey(key: string): string {
  return `${KV_PREFIX}${key})`;
}

/** Watches that are no service's: service names never start with '('. */
function isSpecial(key: string): boolean {
  return key.startsWith('(');
}

export interface DiscoveryOptions {
  waitMs: number;
  minIntervalMs?: number;
  rng?: () => number;
  onChange: (key: string) => void;
  /** A watch finished an attempt (its state changed), successful or not. */
  onState?: (key: string) => void;
  /** Above this many service watches, the feed replaces them (discovery/feed.ts); default: never. */
  maxWatches?: number;
  log: Logger;
}

/** A started watch, whatever it queries. */
interface RunningWatch {
  readonly state: WatchState;
  stop(): Promise<void>;
}

export class Discovery implements WatchSource {
  /** The latest instances per watch key. Each snapshot is frozen; the map only ever changes here. */
  readonly #snapshots = new Map<string, InstanceSnapshot>();
  readonly #watches = new Map<string, RunningWatch>();
  readonly #client: ConsulClient;
  readonly #opts: DiscoveryOptions;
  #waiters: Array<() => void> = [];
  /** The running watches' state as a whole, and whether all have answered once. */
  readonly #tally = new WatchTally<RunningWatch>();
  #lastFailing = new WeakMap<RunningWatch, boolean>();
  /** Set while more services are watched than maxWatches. */
  #feed: ConsulFeed | undefined;

  constructor(client: ConsulClient, options: DiscoveryOptions) {
    this.#client = client;
    this.#opts = options;
  }

  get client(): ConsulClient {
    return this.#client;
  }

  get snapshots(): ReadonlyMap<string, InstanceSnapshot> {
    return this.#snapshots;
  }

  get address(): string {
    return this.#client.address;
  }

  /** Starts from what a replaced Discovery knew, until this one's own watches answer. */
  seed(previous: ReadonlyMap<string, InstanceSnapshot>): void {
    for (const [key, snapshot] of previous) if (!this.#snapshots.has(key)) this.#snapshots.set(key, snapshot);
  }

  /** Make the running watches exactly `keys`. Snapshots of dropped keys are forgotten. */
  async sync(keys: WatchKeys): Promise<void> {
    const stopping: Promise<void>[] = [];
    const feedMode = keys.size > (this.#opts.maxWatches ?? Number.POSITIVE_INFINITY);
    if (feedMode !== (this.#feed !== undefined)) stopping.push(this.#switchMode(feedMode, keys.size));
    for (const [key, watch] of this.#watches) {
      if (keys.has(key) || isSpecial(key)) continue;
      this.#drop(key, watch);
      this.#snapshots.delete(key);
      stopping.push(watch.stop());
      if (!feedMode) this.#opts.log.info({ watch: key }, 'consul watch stopped');
    }
    for (const [key, source] of keys) {
      if (this.#watches.has(key)) continue;
      if (this.#feed) this.#track(this.#feed, key, source);
      else this.#watchService(key, source);
    }
    // Snapshots no watch feeds any more (seeded from a replaced client, say) go too.
    for (const key of [...this.#snapshots.keys()]) if (!keys.has(key) && !this.#watches.has(key)) this.#snapshots.delete(key);
    await Promise.all(stopping);
    this.#wake();
  }

  /**
   * Between one blocking query per service and the feed (discovery/feed.ts): every service
   * watch stops (their snapshots stay in use until the new mode's reads answer).
   */
  async #switchMode(feedMode: boolean, keys: number): Promise<void> {
    const stopping: Promise<void>[] = [];
    for (const [key, watch] of this.#watches) {
      if (isSpecial(key)) continue;
      this.#drop(key, watch);
      stopping.push(watch.stop());
    }
    if (feedMode) {
      const feed = new ConsulFeed(this.#client, this.#opts.rng ?? Math.random, this.#opts.log, {
        onValue: (watch, instances) => {
          if (this.#watches.get(watch.key) !== watch) return;
          this.#snapshots.set(watch.key, { key: watch.key, instances: Object.freeze(instances) });
          this.#opts.onChange(watch.key);
        },
        onState: (watch, state, error) => this.#onState(watch, state, error),
      });
      this.#feed = feed;
      for (const [key, state] of [[FEED_CRITICAL_KEY, 'critical'], [FEED_WARNING_KEY, 'warning']] as const)
        this.#start<CheckStatus[]>(key, {
          query: (index, waitMs, signal) => this.#client.checksIn(state, { index, waitMs, signal }),
          fingerprint: (checks) => JSON.stringify(checks.map((c) => `${c.node} ${c.checkId} ${c.status} ${c.service}`).sort()),
          onValue: (checks) => feed.onChecks(state, checks),
        });
      this.#start<{ services: Record<string, string[]>; index: number }>(FEED_SERVICES_KEY, {
        query: (index, waitMs, signal) =>
          this.#client.catalogServices({ index, waitMs, signal }).then((r) => ({ ...r, value: r.value && { services: r.value, index: r.index } })),
        fingerprint: (v) => String(v.index),
        onValue: (v) => feed.onCatalog(v.services, v.index),
      });
    } else {
      this.#feed?.stop();
      this.#feed = undefined;
      for (const key of [FEED_CRITICAL_KEY, FEED_WARNING_KEY, FEED_SERVICES_KEY]) stopping.push(this.#special(key, undefined));
    }
    this.#opts.log.info({ services: keys, maxWatches: this.#opts.maxWatches }, feedMode ? 'discovery: three cluster-wide watches and bounded reads (feed)' : 'discovery: one blocking query per service');
    await Promise.all(stopping);
  }

  /** A service read by the feed, as a watch among the others (state, settled, logging). */
  #track(feed: ConsulFeed, key: string, source: { service: string; tags: readonly string[] }): void {
    this.#add(key, feed.track(key, source));
  }

  #watchService(key: string, { service, tags }: { service: string; tags: readonly string[] }): void {
    this.#start(key, {
        query: (index, waitMs, signal) => this.#client.healthService(service, tags, { index, waitMs, signal }),
        fingerprint,
        onValue: (instances: Instance[]) => {
          this.#snapshots.set(key, { key, instances: Object.freeze(instances) });
          this.#opts.onChange(key);
        },
      });
  }

  /**
   * Watches the catalog's list of services and their tags (for routes from Consul tags), or
   * stops doing so when `onServices` is undefined.
   */
  async watchCatalog(onServices: CatalogListener | undefined): Promise<void> {
    await this.#special(CATALOG_KEY, onServices && {
      query: (index, waitMs, signal) => this.#client.catalogServices({ index, waitMs, signal }),
      fingerprint: (services: Record<string, string[]>) => JSON.stringify(Object.entries(services).sort(([a], [b]) => (a < b ? -1 : 1))),
      onValue: onServices,
    });
  }

  /**
   * Watches one Consul KV key (routes from `fleet.configKey`) and its canary plan in one read of
   * the key's prefix: `onDocs` gets each one's text and ModifyIndex, null while there is no such
   * key. Undefined stops the watch.
   */
  async watchKv(key: string | undefined, onDocs: KvListener | undefined): Promise<void> {
    for (const k of this.#watches.keys()) if (k.startsWith(KV_PREFIX) && k !== (key === undefined ? undefined : kvWatchKey(key))) await this.#special(k, undefined);
    if (key === undefined) return;
    const print = (e: FleetDocs['main']) => (e === null ? '-' : `${e.modifyIndex} ${e.text}`);
    await this.#special(kvWatchKey(key), onDocs && {
      query: (index, waitMs, signal) => this.#client.kvWithCanary(key, { index, waitMs, signal }),
      // Other keys under the prefix wake the read too; only these two make news.
      fingerprint: (docs: FleetDocs) => `${print(docs.main)}\0${print(docs.canary)}`,
      onValue: onDocs,
    });
  }

  /** Starts a watch that is no service's (catalog, KV) unless running, or stops it (spec undefined). */
  async #special<T>(key: string, spec: Pick<WatchOptions<T>, 'query' | 'fingerprint' | 'onValue'> | undefined): Promise<void> {
    const running = this.#watches.get(key);
    if (spec === undefined) {
      if (!running) return;
      this.#drop(key, running);
      await running.stop();
      return;
    }
    if (running) return;
    this.#start(key, spec);
  }

  #start<T>(key: string, spec: Pick<WatchOptions<T>, 'query' | 'fingerprint' | 'onValue'>): void {
    const watch: ConsulWatch<T> = new ConsulWatch<T>({
      key,
      waitMs: this.#opts.waitMs,
      ...(this.#opts.minIntervalMs === undefined ? {} : { minIntervalMs: this.#opts.minIntervalMs }),
      ...(this.#opts.rng ? { rng: this.#opts.rng } : {}),
      query: spec.query,
      fingerprint: spec.fingerprint,
      // A value from a watch that a sync has since replaced is dropped.
      onValue: (value) => {
        if (this.#watches.get(key) === watch) spec.onValue(value);
      },
      onState: (state, error) => this.#onState(watch, state, error),
    });
    this.#add(key, watch);
    watch.start();
    this.#opts.log.info({ watch: key }, 'consul watch started');
  }

  /** Resolves once every watch has finished its first attempt, successful or not. */
  settled(): Promise<void> {
    if (this.#tally.allTried) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  get state(): ConsulState {
    return this.#tally.state;
  }

  /** One watch's state (a copy), or undefined when no such watch runs. */
  stateOf(key: string): WatchState | undefined {
    const w = this.#watches.get(key);
    return w && { ...w.state };
  }

  watchStates(): WatchState[] {
    return [...this.#watches.values()].map((w) => ({ ...w.state }));
  }

  async close(): Promise<void> {
    this.#feed?.stop();
    await Promise.all([...this.#watches.values()].map((w) => w.stop()));
    for (const [key, w] of [...this.#watches]) this.#drop(key, w);
    this.#wake();
  }

  #add(key: string, watch: RunningWatch): void {
    this.#watches.set(key, watch);
    this.#tally.add(watch);
  }

  /** Forgets a watch that is no longer running (its stop is the caller's). */
  #drop(key: string, watch: RunningWatch): void {
    this.#watches.delete(key);
    this.#tally.drop(watch);
  }

  #onState(watch: RunningWatch, state: Readonly<WatchState>, error?: Error): void {
    const wasFailing = this.#lastFailing.get(watch) ?? false;
    if (error) {
      // Log the first failure and then every 10th, so an outage is visible but not a flood.
      if (!wasFailing || state.errors % 10 === 0)
        this.#opts.log.warn({ watch: state.key, errors: state.errors, err: error.message }, 'consul watch failing; serving last known instances');
    } else if (wasFailing) {
      this.#opts.log.info({ watch: state.key }, 'consul watch recovered');
    }
    this.#lastFailing.set(watch, state.failing);
    // A stopped watch's last answer may still come in: the tally counts running ones only.
    this.#tally.tried(watch, state);
    this.#opts.onState?.(state.key);
    this.#wake();
  }

  #wake(): void {
    if (this.#waiters.length === 0 || !this.#tally.allTried) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
