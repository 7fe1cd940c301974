// What the app needs from discovery, whoever does the watching: a Discovery of its own (one
// process, or the cluster primary), or the primary's, relayed to a worker over IPC
// (cluster/remote-discovery.ts). The app cannot tell them apart.

import type { InstanceSnapshot } from '../core/instance.js';
import type { FleetDocs } from '../core/canary.js';
import type { WatchState } from './consul-watch.js';

/**
 * `unreachable`: no answer at all (down, wrong address); `error`: Consul answered with an
 * error (a 403 for a bad ACL token, a 500 without a leader); the watch's lastError says which.
 * `stale`: a worker has heard nothing from the primary's discovery for a while; it routes on
 * the last snapshots it was sent.
 */
export type ConsulState = 'unused' | 'connecting' | 'connected' | 'unreachable' | 'error' | 'stale';

/** The health watches a config needs: watch key → the service and tags it queries. */
export type WatchKeys = ReadonlyMap<string, { service: string; tags: readonly string[] }>;

export type CatalogListener = (services: Readonly<Record<string, readonly string[]>>) => void;
/** The key's value and its canary plan's (core/canary.ts); null where there is no such key. */
export type KvListener = (docs: FleetDocs) => void;

export interface WatchSource {
  /** The latest instances per watch key; each snapshot is frozen. */
  readonly snapshots: ReadonlyMap<string, InstanceSnapshot>;
  readonly state: ConsulState;
  /** The Consul address watched, for status pages. */
  readonly address: string;
  /** Make the health watches exactly `keys`; snapshots of dropped keys are forgotten. */
  sync(keys: WatchKeys): Promise<void>;
  /** Watch the catalog's service list (routes from tags), or stop (undefined). */
  watchCatalog(onServices: CatalogListener | undefined): Promise<void>;
  /** Watch one KV key (fleet.configKey) and its canary plan, or stop (undefined). */
  watchKv(key: string | undefined, onDocs: KvListener | undefined): Promise<void>;
  /** Resolves once every watch has finished its first attempt, successful or not. */
  settled(): Promise<void>;
  watchStates(): WatchState[];
  close(): Promise<void>;
}
