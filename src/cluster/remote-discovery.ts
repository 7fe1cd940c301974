// A worker's discovery: the primary's (cluster/discovery-hub.ts), relayed over IPC. It keeps
// the snapshots and watch states the primary sends and tells the primary what this worker
// wants watched; to the app it is a discovery like any other (WatchSource).
//
// If the primary goes quiet (no heartbeat for STALE_AFTER_MS), the worker keeps routing on
// the last snapshots and says so: its state turns `stale`, logged once.

import type { Logger } from 'pino';
import type { InstanceSnapshot } from '../core/instance.js';
import type { WatchState } from '../discovery/consul-watch.js';
import { CATALOG_KEY, kvWatchKey } from '../discovery/discovery.js';
import type { CatalogListener, ConsulState, KvListener, WatchKeys, WatchSource } from '../discovery/watch-source.js';
import { HEARTBEAT_MS } from './discovery-hub.js';
import { isDiscoveryNews, type DiscoveryNews, type WatchDemand } from './ipc.js';

export const STALE_AFTER_MS = 5 * HEARTBEAT_MS;

export interface RemoteDiscoveryOptions {
  onChange: (key: string) => void;
  log: Logger;
  /** Sends a demand to the primary (process.send in a worker). */
  send: (demand: WatchDemand) => void;
  /** Subscribes to the primary's messages; returns the unsubscribe. */
  subscribe: (onMessage: (m: unknown) => void) => () => void;
  now?: () => number;
}

export class RemoteDiscovery implements WatchSource {
  readonly #opts: RemoteDiscoveryOptions;
  readonly #now: () => number;
  readonly #snapshots = new Map<string, InstanceSnapshot>();
  readonly #states = new Map<string, WatchState>();
  #keys: WatchKeys = new Map();
  #catalog: CatalogListener | undefined;
  #kv: { key: string; onDocs: KvListener } | undefined;
  #state: ConsulState = 'connecting';
  #address = '';
  #heardAt: number;
  #saidStale = false;
  #waiters: Array<() => void> = [];
  /** Wanted watch keys not tried yet (see tried()), kept as states arrive, recounted when the wanted set changes. */
  #untried = 0;
  #told = false;
  readonly #unsubscribe: () => void;
  /** Looks at the silence now and then, so it is logged even when nobody asks for the state. */
  readonly #watchdog: NodeJS.Timeout;

  constructor(opts: RemoteDiscoveryOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#heardAt = this.#now();
    this.#unsubscribe = opts.subscribe((m) => isDiscoveryNews(m) && this.receive(m));
    this.#watchdog = setInterval(() => this.state, HEARTBEAT_MS).unref();
  }

  get snapshots(): ReadonlyMap<string, InstanceSnapshot> {
    return this.#snapshots;
  }

  get address(): string {
    return this.#address;
  }

  get state(): ConsulState {
    if (this.#keys.size === 0 && !this.#catalog && !this.#kv) return 'unused';
    const silentMs = this.#now() - this.#heardAt;
    if (silentMs <= STALE_AFTER_MS) return this.#state;
    if (!this.#saidStale) {
      this.#saidStale = true;
      this.#opts.log.warn({ silentMs }, 'no word from the primary’s discovery; routing on the last snapshots');
    }
    return 'stale';
  }

  async sync(keys: WatchKeys): Promise<void> {
    this.#keys = new Map(keys);
    for (const key of [...this.#snapshots.keys()]) if (!keys.has(key)) this.#snapshots.delete(key);
    this.#recount();
    this.#tell();
  }

  async watchCatalog(onServices: CatalogListener | undefined): Promise<void> {
    this.#catalog = onServices;
    this.#recount();
    this.#tell();
  }

  async watchKv(key: string | undefined, onDocs: KvListener | undefined): Promise<void> {
    this.#kv = key === undefined || onDocs === undefined ? undefined : { key, onDocs };
    this.#recount();
    this.#tell();
  }

  settled(): Promise<void> {
    if (this.#untried === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  watchStates(): WatchState[] {
    const out: WatchState[] = [];
    for (const key of this.#watched()) {
      const s = this.#states.get(key);
      if (s !== undefined) out.push({ ...s });
    }
    return out;
  }

  async close(): Promise<void> {
    clearInterval(this.#watchdog);
    this.#unsubscribe();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** A message from the primary's discovery. */
  receive(news: DiscoveryNews): void {
    this.#heardAt = this.#now();
    if (this.#saidStale) {
      this.#saidStale = false;
      this.#opts.log.info('the primary’s discovery is heard again');
    }
    this.#state = news.state;
    this.#address = news.address;
    for (const s of news.states) {
      if (this.#isWatched(s.key)) this.#untried += (tried(this.#states.get(s.key)) ? 1 : 0) - (tried(s) ? 1 : 0);
      this.#states.set(s.key, s);
    }
    for (const snapshot of news.snapshots) {
      // A key this worker dropped since (its demand crossed the news) is not taken back.
      if (!this.#keys.has(snapshot.key)) continue;
      this.#snapshots.set(snapshot.key, { key: snapshot.key, instances: Object.freeze(snapshot.instances) });
      this.#opts.onChange(snapshot.key);
    }
    if (news.catalog !== undefined) this.#catalog?.(news.catalog);
    if (news.kv !== undefined && this.#kv?.key === news.kv.key) this.#kv.onDocs(news.kv.docs);
    this.#wake();
  }

  /** The watch keys this worker wants: its health keys, the catalog's, its KV key's. */
  *#watched(): Iterable<string> {
    yield* this.#keys.keys();
    if (this.#catalog) yield CATALOG_KEY;
    if (this.#kv) yield kvWatchKey(this.#kv.key);
  }

  /** Sends the whole demand, once per event-loop turn however many (awaited) calls changed it. */
  #tell(): void {
    if (this.#told) return;
    this.#told = true;
    setImmediate(() => {
      this.#told = false;
      for (const key of [...this.#states.keys()]) if (!this.#isWatched(key)) this.#states.delete(key);
      this.#opts.send({ type: 'watch', keys: [...this.#keys], catalog: this.#catalog !== undefined, kv: this.#kv?.key ?? null });
      this.#wake();
    });
  }

  #isWatched(key: string): boolean {
    return this.#keys.has(key) || (key === CATALOG_KEY && this.#catalog !== undefined) || (this.#kv !== undefined && key === kvWatchKey(this.#kv.key));
  }

  #recount(): void {
    let n = 0;
    for (const key of this.#watched()) if (!tried(this.#states.get(key))) n++;
    this.#untried = n;
  }

  /** Called on every message: a count, not a walk of every wanted key (10,000 at scale), says whether all were tried. */
  #wake(): void {
    if (this.#waiters.length === 0 || this.#untried > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** Whether a watch has finished an attempt: it has read its first answer, or failed trying. */
function tried(state: WatchState | undefined): boolean {
  return state !== undefined && (state.synced || state.errors > 0);
}
