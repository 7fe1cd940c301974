// An upstream is one instance as a route sees it: where to send, with what weight, plus live
// counters. Counters live in UpstreamStats, which outlives route-table rebuilds so that numbers
// (and, later, load-aware pickers) carry across Consul updates and config reloads.

import { formatHostPort } from './address.js';
import type { HealthStatus } from './instance.js';

export interface UpstreamStats {
  inflight: number;
  requests: number;
  failures: number;
  /** Time to response headers, exponentially weighted with a 10 s time constant. */
  ewmaMs: number;
  /** performance.now() of the last ewmaMs sample. */
  ewmaAt: number;
}

const EWMA_TAU_MS = 10_000;

/** Folds one latency sample into the upstream's moving average; older samples fade with time. */
export function recordLatency(stats: UpstreamStats, ms: number, now: number): void {
  if (stats.ewmaAt === 0) stats.ewmaMs = ms;
  else stats.ewmaMs += (ms - stats.ewmaMs) * (1 - Math.exp(-(now - stats.ewmaAt) / EWMA_TAU_MS));
  stats.ewmaAt = now;
}

export interface Upstream {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, the key of the connection pool. */
  readonly origin: string;
  readonly weight: number;
  readonly status: Exclude<HealthStatus, 'critical'>;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly stats: UpstreamStats;
}

export function newStats(): UpstreamStats {
  return { inflight: 0, requests: 0, failures: 0, ewmaMs: 0, ewmaAt: 0 };
}

export function originOf(host: string, port: number): string {
  return `http://${formatHostPort(host, port)}`;
}

/** Stats are shared per instance (id at address), whichever routes send to it. */
export function statsKey(id: string, host: string, port: number): string {
  return `${id}@${formatHostPort(host, port)}`;
}
