// The cluster primary's discovery, shared by every worker: one set of Consul watches whatever
// `workers` is, so Consul sees the same load for eight workers as for one.
//
// Each worker sends its whole demand (health watch keys, the catalog, a KV key) when it
// changes; the hub watches their union. What changes is batched per event-loop turn and sent
// to the workers that asked for it; a worker's first demand is answered at once with
// everything already known, so a restarted worker routes on the current snapshots without
// waiting for Consul. A heartbeat every HEARTBEAT_MS tells workers the primary is alive: one
// that hears nothing for longer says its discovery is stale (cluster/remote-discovery.ts).

import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import type { FleetDocs } from '../core/canary.js';
import { ConsulClient } from '../discovery/consul-client.js';
import { CATALOG_KEY, Discovery, kvWatchKey } from '../discovery/discovery.js';
import type { WatchState } from '../discovery/consul-watch.js';
import type { DiscoveryNews, WatchDemand } from './ipc.js';

export const HEARTBEAT_MS = 2_000;

type Catalog = Record<string, readonly string[]>;

interface Peer {
  send: (news: DiscoveryNews) => void;
  demand: WatchDemand;
  /** The watch keys whose states this worker gets: its keys, the catalog's, its KV key's. */
  watched: Set<string>;
}

export class DiscoveryHub {
  readonly #log: Logger;
  readonly #peers = new Map<number, Peer>();
  #config: Config['consul'];
  #settings: string;
  #discovery: Discovery | undefined;
  #client: ConsulClient | undefined;
  #catalog: Catalog | undefined;
  #kv: { key: string; docs: FleetDocs } | undefined;
  /** What changed since the last flush. */
  readonly #changed = new Set<string>();
  readonly #stateChanged = new Set<string>();
  #catalogChanged = false;
  #kvChanged = false;
  #flushQueued = false;
  /** Demands are applied one at a time, so two syncs never interleave. */
  #applying: Promise<void> = Promise.resolve();
  readonly #heartbeat: NodeJS.Timeout;

  constructor(consul: Config['consul'], log: Logger) {
    this.#config = consul;
    this.#settings = JSON.stringify(consul);
    this.#log = log;
    this.#heartbeat = setInterval(() => this.#flush(true), HEARTBEAT_MS).unref();
  }

  /** The primary's config was reloaded: new Consul settings mean a new client, seeded with what the old one knew. */
  reconfigure(consul: Config['consul']): void {
    const settings = JSON.stringify(consul);
    if (settings === this.#settings) return;
    this.#config = consul;
    this.#settings = settings;
    const old = this.#discovery && { discovery: this.#discovery, client: this.#client! };
    if (!old) return;
    this.#log.info({ consul: consul.address }, 'consul settings changed; new client for the shared discovery');
    this.#discovery = undefined;
    this.#client = undefined;
    this.#ensure().seed(old.discovery.snapshots);
    this.#apply();
    void this.#applying.then(() => old.discovery.close()).then(() => old.client.close());
  }

  /** A worker's whole demand; what it newly asks for is answered at once with what is known of it. */
  demand(id: number, demand: WatchDemand, send: (news: DiscoveryNews) => void): void {
    const before = this.#peers.get(id)?.watched ?? new Set<string>();
    const watched = new Set(demand.keys.map(([k]) => k));
    if (demand.catalog) watched.add(CATALOG_KEY);
    if (demand.kv !== null) watched.add(kvWatchKey(demand.kv));
    const peer: Peer = { send, demand, watched };
    this.#peers.set(id, peer);
    if (watched.size > 0) this.#ensure();
    this.#apply();
    this.#welcome(peer, new Set([...watched].filter((k) => !before.has(k))));
  }

  /** A worker exited. */
  leave(id: number): void {
    if (this.#peers.delete(id)) this.#apply();
  }

  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#peers.clear();
    await this.#applying;
    await this.#discovery?.close();
    await this.#client?.close();
  }

  #ensure(): Discovery {
    if (this.#discovery) return this.#discovery;
    this.#client = new ConsulClient(this.#config);
    this.#discovery = new Discovery(this.#client, {
      waitMs: this.#config.waitMs,
      maxWatches: this.#config.maxWatches,
      log: this.#log,
      onChange: (key) => this.#mark(this.#changed, key),
      onState: (key) => this.#mark(this.#stateChanged, key),
    });
    return this.#discovery;
  }

  /** Watches the union of every worker's demand. */
  #apply(): void {
    const run = async (): Promise<void> => {
      const discovery = this.#discovery;
      if (!discovery) return;
      const keys = new Map<string, { service: string; tags: readonly string[] }>();
      let catalog = false;
      let kv: string | undefined;
      for (const { demand } of this.#peers.values()) {
        for (const [k, v] of demand.keys) keys.set(k, v);
        catalog ||= demand.catalog;
        // Workers read one config file: they differ only while a reload reaches them one by one.
        kv = demand.kv ?? kv;
      }
      await discovery.sync(keys);
      await discovery.watchCatalog(catalog ? (services) => this.#onCatalog(services as Catalog) : undefined);
      if (!catalog) this.#catalog = undefined;
      await discovery.watchKv(kv, kv === undefined ? undefined : (docs) => this.#onKv(kv, docs));
      if (kv === undefined || this.#kv?.key !== kv) this.#kv = undefined;
    };
    this.#applying = this.#applying.then(run).catch((err: Error) => this.#log.error({ err: err.message }, 'shared discovery could not apply the workers’ demand'));
  }

  #onCatalog(services: Catalog): void {
    this.#catalog = services;
    this.#catalogChanged = true;
    this.#queue();
  }

  #onKv(key: string, docs: FleetDocs): void {
    this.#kv = { key, docs };
    this.#kvChanged = true;
    this.#queue();
  }

  #mark(set: Set<string>, key: string): void {
    set.add(key);
    this.#queue();
  }

  #queue(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => this.#flush(false));
  }

  /** Sends each worker what changed among what it watches; with `always`, an empty message too (the heartbeat). */
  #flush(always: boolean): void {
    this.#flushQueued = false;
    const states: WatchState[] = [];
    for (const key of this.#stateChanged) {
      const s = this.#discovery?.stateOf(key);
      if (s !== undefined) states.push(s);
    }
    for (const peer of this.#peers.values()) {
      const news = this.#news(peer, this.#changed, states.filter((s) => peer.watched.has(s.key)));
      if (this.#catalogChanged && peer.demand.catalog && this.#catalog) news.catalog = this.#catalog;
      if (this.#kvChanged && this.#kv && peer.demand.kv === this.#kv.key) news.kv = this.#kv;
      if (always || news.snapshots.length > 0 || news.states.length > 0 || news.catalog || news.kv) peer.send(news);
    }
    this.#changed.clear();
    this.#stateChanged.clear();
    this.#catalogChanged = false;
    this.#kvChanged = false;
  }

  /** What is known of the watch keys a worker has just asked for (sent even when empty: it is a first word too). */
  #welcome(peer: Peer, added: Set<string>): void {
    const states = [...added].flatMap((k) => this.#discovery?.stateOf(k) ?? []);
    const news = this.#news(peer, added, states);
    if (added.has(CATALOG_KEY) && this.#catalog) news.catalog = this.#catalog;
    if (this.#kv && added.has(kvWatchKey(this.#kv.key))) news.kv = this.#kv;
    peer.send(news);
  }

  #news(peer: Peer, keys: Iterable<string>, states: WatchState[]): DiscoveryNews {
    const snapshots = this.#discovery?.snapshots;
    const out: DiscoveryNews = { type: 'discovery', state: this.#discovery?.state ?? 'unused', address: this.#config.address, snapshots: [], states };
    if (snapshots === undefined) return out;
    for (const key of keys) {
      const s = snapshots.get(key);
      if (s !== undefined && peer.watched.has(key)) out.snapshots.push(s);
    }
    return out;
  }
}
