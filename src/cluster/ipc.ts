// The messages between a cluster primary and its workers. The primary asks, a worker answers
// with the same id; a worker also says when it is ready. The primary also sends
// `{ type: 'stop' }`, which a worker's CLI handles like SIGTERM.
//
// Discovery is shared: a worker says what it wants watched (`watch`, the whole demand each
// time), and the primary's discovery sends back what changed (`discovery`), and a heartbeat.

import type { ExplainRequest } from '../admin/explain.js';
import type { InstanceSnapshot } from '../core/instance.js';
import type { FleetDocs } from '../core/canary.js';
import type { WatchState } from '../discovery/consul-watch.js';
import type { ConsulState } from '../discovery/watch-source.js';

export type Ask =
  | { what: 'routes' | 'status' | 'metrics' }
  | { what: 'drain'; endpoint: string; drained: boolean }
  | { what: 'explain'; request: ExplainRequest };

export type Question = Ask & { type: 'ask'; id: number };

/** Everything one worker wants watched. */
export interface WatchDemand {
  type: 'watch';
  keys: Array<[string, { service: string; tags: readonly string[] }]>;
  catalog: boolean;
  kv: string | null;
}

export type Message = { type: 'ready' } | { type: 'answer'; id: number; value: unknown; error?: string } | WatchDemand;

/** What the primary's discovery learnt since it last told this worker (maybe nothing: a heartbeat). */
export interface DiscoveryNews {
  type: 'discovery';
  state: ConsulState;
  address: string;
  snapshots: InstanceSnapshot[];
  states: WatchState[];
  /** Present when the catalog's service list changed (or on a worker's first demand). */
  catalog?: Record<string, readonly string[]>;
  /** Present when the demanded KV key or its canary plan changed. */
  kv?: { key: string; docs: FleetDocs };
}

export function isQuestion(m: unknown): m is Question {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'ask';
}

export function isMessage(m: unknown): m is Message {
  const t = (m as { type?: unknown } | null)?.type;
  return t === 'ready' || t === 'answer' || t === 'watch';
}

export function isDiscoveryNews(m: unknown): m is DiscoveryNews {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'discovery';
}
