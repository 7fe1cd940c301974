// An upstream is one instance as a route sees it: where to send, with what weight, plus live
// counters. Counters live in UpstreamStats, which outlives route-table rebuilds so that numbers
// (and, later, load-aware pickers) carry across Consul updates and config reloads.

import { formatHostPort } from './address.js';
import type { HealthStatus, Instance } from './instance.js';
import type { OutlierState } from './outlier.js';

export interface UpstreamStats extends OutlierState {
  /** The address these count for (with the instance's id, the stats' identity). */
  readonly host: string;
  readonly port: number;
  inflight: number;
  requests: number;
  failures: number;
  /** Peak-EWMA of the time to response headers, in ms, as of ewmaAt (see recordLatency). */
  ewmaMs: number;
  /** Clock time of the last latency sample; 0 before the first. */
  ewmaAt: number;
  /** Clock time this instance (re)joined a route's rotation; slow start ramps from here. */
  activeSince: number;
  /** The last pruneStats pass that found this instance in a route (route-table.ts). */
  sweep: number;
}

const EWMA_TAU_MS = 10_000;

/**
 * Folds one latency sample into the peak-EWMA: a sample above the estimate replaces it at once
 * (so a slowdown shows immediately); a lower one is blended in with weight 1 - e^(-dt/τ), τ = 10 s,
 * dt the time since the last sample (so the estimate follows a speed-up over seconds, however
 * many requests arrive meanwhile).
 */
export function recordLatency(stats: UpstreamStats, ms: number, now: number): void {
  if (stats.ewmaAt === 0 || ms > stats.ewmaMs) stats.ewmaMs = ms;
  else {
    const w = Math.exp(-Math.max(0, now - stats.ewmaAt) / EWMA_TAU_MS);
    stats.ewmaMs = stats.ewmaMs * w + ms * (1 - w);
  }
  stats.ewmaAt = now;
}

/** The estimate as seen at `now`: it decays toward zero while no samples come, so an avoided instance is tried again. */
export function decayedLatency(stats: UpstreamStats, now: number): number {
  const x = Math.max(0, now - stats.ewmaAt) / EWMA_TAU_MS;
  // A busy instance was sampled moments ago: e^-x ≈ 1 - x + x²/2 (error < x³/6 < 2e-10) spares exp().
  return stats.ewmaMs * (x < 1e-3 ? 1 - x + (x * x) / 2 : Math.exp(-x));
}

export interface Upstream {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** `http://host:port` (`https://` over TLS), the key of the connection pool. */
  readonly origin: string;
  /** Spoken to over TLS (the origin is https://). */
  readonly tls: boolean;
  readonly weight: number;
  /** Consul's view; `critical` only appears on a route in panic. */
  readonly status: HealthStatus;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly stats: UpstreamStats;
}

export function newStats(host = '', port = 0): UpstreamStats {
  return {
    host,
    port,
    inflight: 0,
    requests: 0,
    failures: 0,
    ewmaMs: 0,
    ewmaAt: 0,
    activeSince: Number.NEGATIVE_INFINITY,
    sweep: 0,
    consecutiveFailures: 0,
    ejectedUntil: 0,
    ejections: 0,
    probation: false,
  };
}

/**
 * The stats of every instance some route has used, shared by successive route tables: a table
 * build adds nothing to it, traffic does (InstanceUpstream.stats), and pruneStats in
 * route-table.ts deletes the stats of instances no route knows any more.
 *
 * Keyed by the instance's id alone (a string discovery already holds) while it is at the
 * address its stats were made for; the same id at another address (a port changed, an id
 * reused on another node) goes in a second map under the longer statsKey, so a lookup makes no
 * string while that map is empty.
 */
export class StatsBook {
  readonly #byId = new Map<string, UpstreamStats>();
  readonly #moved = new Map<string, UpstreamStats>();
  /** How many stats objects this book has made: a lookup that missed stays valid until it moves. */
  made = 0;

  get size(): number {
    return this.#byId.size + this.#moved.size;
  }

  find(id: string, host: string, port: number): UpstreamStats | undefined {
    const s = this.#byId.get(id);
    if (s !== undefined && s.host === host && s.port === port) return s;
    return this.#moved.size === 0 ? undefined : this.#moved.get(statsKey(id, host, port));
  }

  /** The stats of instance `id` at host:port, made at first ask. */
  for(id: string, host: string, port: number): UpstreamStats {
    let s = this.find(id, host, port);
    if (s === undefined) {
      s = newStats(host, port);
      if (this.#byId.has(id)) this.#moved.set(statsKey(id, host, port), s);
      else this.#byId.set(id, s);
      this.made++;
    }
    return s;
  }

  *values(): Generator<UpstreamStats> {
    yield* this.#byId.values();
    yield* this.#moved.values();
  }

  /** Deletes every entry `keep` refuses; returns how many. */
  prune(keep: (s: UpstreamStats) => boolean): number {
    let n = 0;
    for (const map of [this.#byId, this.#moved])
      for (const [k, s] of map)
        if (!keep(s)) {
          map.delete(k);
          n++;
        }
    return n;
  }
}

/**
 * An instance on one route: its fields read through to the discovered instance, so 100,000 of
 * them cost one small object each. Two things are made at first use, since most routes of a
 * large table are never used by a given process: the origin string, and the stats (at 10,000
 * routes × 10, 100,000 of each saved: about 15 MB of heap for the stats with their map entries).
 * Frozen by the route table; the private caches stay writable.
 */
export class InstanceUpstream implements Upstream {
  #origin: string | undefined;
  /** The stats once found or made; before that, book.made when a lookup last found none (-1: never looked). */
  #stats: UpstreamStats | number = -1;

  constructor(
    readonly instance: Instance,
    readonly weight: number,
    readonly book: StatsBook,
    /** Over TLS: `https://` origin. */
    readonly tls: boolean,
  ) {}

  get id(): string {
    return this.instance.id;
  }
  get host(): string {
    return this.instance.host;
  }
  get port(): number {
    return this.instance.port;
  }
  get status(): HealthStatus {
    return this.instance.status;
  }
  get tags(): readonly string[] {
    return this.instance.tags;
  }
  get meta(): Readonly<Record<string, string>> {
    return this.instance.meta;
  }
  get origin(): string {
    return (this.#origin ??= originOf(this.instance.host, this.instance.port, this.tls));
  }
  /** This instance's stats, made on first use (traffic, an ejection, a drain, a slow-start stamp). */
  get stats(): UpstreamStats {
    if (typeof this.#stats === 'number') this.#stats = this.book.for(this.instance.id, this.instance.host, this.instance.port);
    return this.#stats;
  }
  /** Its stats if any exist yet, made by no one: for sweeps, rebuilds and views. */
  get existingStats(): UpstreamStats | undefined {
    if (typeof this.#stats !== 'number') return this.#stats;
    if (this.#stats === this.book.made) return undefined;
    const found = this.book.find(this.instance.id, this.instance.host, this.instance.port);
    this.#stats = found ?? this.book.made;
    return found;
  }
}

/** `u`'s stats if it has any yet (an InstanceUpstream makes them at first use; others always have them). */
export function existingStats(u: Upstream): UpstreamStats | undefined {
  return u instanceof InstanceUpstream ? u.existingStats : u.stats;
}

/** What views show for an instance without stats: nothing sent to it yet. Never written. */
export const UNUSED_STATS: Readonly<UpstreamStats> = Object.freeze(newStats());

export function originOf(host: string, port: number, tls = false): string {
  return `${tls ? 'https' : 'http'}://${formatHostPort(host, port)}`;
}

/**
 * The origins among `open` (those with connections) that some upstream still names. Compared
 * by address, so no origin string is made per upstream: at 10,000 routes × 10, every sweep
 * would otherwise make (and keep) 100,000 of them.
 */
export function originsInUse(open: Iterable<string>, upstreams: Iterable<Upstream>): Set<string> {
  const byAddress = new Map<string, Map<number, string[]>>();
  for (const origin of open) {
    const m = /^(https?):\/\/(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(origin);
    if (m === null) continue;
    const host = m[2] ?? m[3]!;
    const port = Number(m[4]);
    let ports = byAddress.get(host);
    if (ports === undefined) byAddress.set(host, (ports = new Map()));
    ports.set(port, [...(ports.get(port) ?? []), origin]);
  }
  const kept = new Set<string>();
  if (byAddress.size === 0) return kept;
  for (const u of upstreams) {
    const origins = byAddress.get(u.host)?.get(u.port);
    if (origins !== undefined) for (const o of origins) if (o.startsWith('https:') === u.tls) kept.add(o);
  }
  return kept;
}

/** Stats are shared per instance (id at address), whichever routes send to it. */
export function statsKey(id: string, host: string, port: number): string {
  return `${id}@${formatHostPort(host, port)}`;
}
