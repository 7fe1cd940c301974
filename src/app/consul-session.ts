// Fairway's link to Consul: the client, discovery (watches) and the registrar, made together
// from the config's `consul` settings and replaced together when a reload changes them.
//
// A cluster worker has no client of its own: its discovery is the primary's, relayed over IPC
// (cluster/remote-discovery.ts), made once and kept across reloads (the primary follows the
// Consul settings).
//
// A replacement keeps serving what the old watches knew (the new discovery is seeded with their
// snapshots) until the new ones answer; the old client and watches stop once the reload that
// replaced them has swapped its table in (closeRetired). A config that needs no Consul (static
// endpoints only) makes no client at all.

import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import type { InstanceSnapshot } from '../core/instance.js';
import { ConsulClient } from '../discovery/consul-client.js';
import type { WatchState } from '../discovery/consul-watch.js';
import { Discovery } from '../discovery/discovery.js';
import { Registrar } from '../discovery/registrar.js';
import type { ConsulState, WatchSource } from '../discovery/watch-source.js';

const NO_SNAPSHOTS: ReadonlyMap<string, InstanceSnapshot> = new Map();

export interface ConsulSessionOptions {
  log: Logger;
  rng: () => number;
  /** A worker process watches, but registers nothing (the primary does). */
  registers: boolean;
  /** A watch's instances changed (by watch key). */
  onChange: (key: string) => void;
  /** Makes a discovery that is not this process's own (a worker's, relayed from the primary). */
  remote?: (onChange: (key: string) => void) => WatchSource;
}

/** Does this config need Consul at all (static endpoints alone do not)? */
export function needsConsul(config: Config): boolean {
  return config.services.length > 0 || config.consulTags !== undefined || config.fleet !== undefined || config.routes.some((r) => r.source.kind === 'consul');
}

export class ConsulSession {
  readonly #opts: ConsulSessionOptions;
  #client: ConsulClient | undefined;
  #discovery: WatchSource | undefined;
  #registrar: Registrar | undefined;
  /** The settings the current client was made with, to tell when a reload changes them. */
  #settings = '';
  /** Replaced by a reload, stopped once the new table is in. */
  #retired: Array<{ discovery: WatchSource; client: ConsulClient }> = [];

  constructor(opts: ConsulSessionOptions) {
    this.#opts = opts;
  }

  get discovery(): WatchSource | undefined {
    return this.#discovery;
  }

  get registrar(): Registrar | undefined {
    return this.#registrar;
  }

  get snapshots(): ReadonlyMap<string, InstanceSnapshot> {
    return this.#discovery?.snapshots ?? NO_SNAPSHOTS;
  }

  get state(): ConsulState {
    return this.#discovery?.state ?? 'unused';
  }

  watchStates(): WatchState[] {
    return this.#discovery?.watchStates() ?? [];
  }

  /** (Re)creates the client, discovery and registrar when `config.consul` changed. */
  async apply(config: Config): Promise<void> {
    if (this.#opts.remote) {
      if (this.#discovery === undefined && needsConsul(config)) this.#discovery = this.#opts.remote(this.#opts.onChange);
      return;
    }
    const settings = JSON.stringify(config.consul);
    if (this.#client !== undefined && settings === this.#settings) return;
    if (this.#client === undefined && !needsConsul(config)) return;
    const old = { discovery: this.#discovery, client: this.#client, registrar: this.#registrar };
    this.#settings = settings;
    const client = new ConsulClient(config.consul);
    const { log, rng, onChange } = this.#opts;
    this.#client = client;
    const discovery = new Discovery(client, { waitMs: config.consul.waitMs, maxWatches: config.consul.maxWatches, rng, log: log.child({ part: 'discovery' }), onChange });
    this.#discovery = discovery;
    this.#registrar = this.#opts.registers ? new Registrar(client, log.child({ part: 'registrar' })) : undefined;
    if (old.client !== undefined && old.discovery !== undefined) {
      log.info({ consul: config.consul.address }, 'consul settings changed; new client');
      // Until the new watches answer, routes keep the instances the old ones knew.
      discovery.seed(old.discovery.snapshots);
      old.registrar?.close();
      await old.registrar?.sync([]);
      this.#retired.push({ discovery: old.discovery, client: old.client });
    }
  }

  /** Stops the discovery and clients a reload replaced. */
  async closeRetired(): Promise<void> {
    await Promise.all(this.#retired.splice(0).map((r) => r.discovery.close().then(() => r.client.close())));
  }

  /** Deregisters what was registered, stops every watch and client. */
  async close(): Promise<void> {
    this.#registrar?.close();
    if (this.#registrar && !(await this.#registrar.sync([]))) this.#opts.log.warn('could not deregister every service; Consul may still list them');
    await this.#discovery?.close();
    await this.#client?.close();
    // Clients replaced by a reload that shutdown cut short.
    await this.closeRetired();
  }
}
