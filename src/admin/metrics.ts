// Prometheus metrics. The hot path only bumps plain numbers (per route and endpoint, kept
// here, and the instance stats the proxy keeps anyway); prom-client turns them into text at
// scrape time through custom collectors, so a request costs no label lookups. Label values are
// bounded: routes and endpoints come from config and discovery, never from request paths.
// Endpoints carry their service ID and their address (`addr`): IDs repeat across Consul nodes.

import { collectDefaultMetrics, Registry } from 'prom-client';
import { LatencyWindow } from './latency-window.js';
import { isEjected } from '../core/outlier.js';
import { routeKnows, type Route, type RouteTable } from '../core/route-table.js';
import { formatHostPort } from '../core/address.js';
import { existingStats, UNUSED_STATS, type Upstream, type UpstreamStats } from '../core/upstream.js';
import type { WatchState } from '../discovery/consul-watch.js';
import type { ListenerStatus } from '../proxy/listeners.js';
import type { FinishedExchange, RequestObserver } from '../proxy/observer.js';

/** Latency histogram bounds, in seconds: 1 ms to 30 s. */
export const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** The client protocols requests are counted by; index i counts in byClass[i * CLASSES.length + class]. */
const PROTOCOLS = ['http1', 'http2'] as const;

/** Counters of one (route, endpoint) pair. */
export class EndpointCounters {
  readonly byClass = new Float64Array(CLASSES.length * PROTOCOLS.length);
  /** Cumulative-free bucket counts; the last slot is +Inf. */
  readonly buckets = new Float64Array(BUCKETS.length + 1);
  sumSeconds = 0;
  count = 0;
  readonly window = new LatencyWindow();

  record(status: number, ms: number, now: number, protocol: (typeof PROTOCOLS)[number] = 'http1'): void {
    const c = Math.floor(status / 100) - 1;
    if (c >= 0 && c < CLASSES.length) this.byClass[(protocol === 'http2' ? CLASSES.length : 0) + c]! += 1;
    const seconds = ms / 1000;
    let b = 0;
    while (b < BUCKETS.length && seconds > BUCKETS[b]!) b++;
    this.buckets[b]! += 1;
    this.sumSeconds += seconds;
    this.count++;
    this.window.record(ms, now);
  }
}

/** What the metrics read from the running proxy at scrape time. */
export interface MetricsSource {
  readonly table: RouteTable;
  now(): number;
  watchStates(): WatchState[];
  drained(): ReadonlySet<string>;
  listeners?(): ListenerStatus[];
}

const NO_ENDPOINT = '-';
/**
 * How often Node's event-loop delay monitor samples (ms). prom-client's default, 10, is a timer
 * that wakes an idle Fairway 100 times a second: 1 % of a core doing nothing (measured: 101
 * wakeups and 10 ms of CPU per second, against 14 and 1 at 100). Lag that matters to a proxy
 * lasts longer than this anyway.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export class Metrics implements RequestObserver {
  readonly registry = new Registry();
  /** route name → instance stats (or null for answers made without an upstream) → counters. */
  readonly #counters = new Map<string, Map<UpstreamStats | null, { id: string; addr: string; c: EndpointCounters }>>();
  readonly #retries = new Map<string, number>();
  /** `route policy` → answers made or changed by a route policy (forbidden, rate limited, ...). */
  readonly #policy = new Map<string, { route: string; policy: string; n: number }>();
  /** `id addr` → ejections, with the two labels kept apart. */
  readonly #ejections = new Map<string, { endpoint: string; addr: string; n: number }>();
  readonly #reloads = { ok: 0, failed: 0 };
  #source: MetricsSource | undefined;
  /** The time of the exchange being recorded (the proxy's per-request clock: no extra read). */
  readonly #clock: () => number;

  constructor(clock: () => number = () => performance.now()) {
    this.#clock = clock;
    collectDefaultMetrics({ register: this.registry, prefix: 'fairway_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    this.#collector('fairway_requests_total', 'Requests answered, by route, endpoint, status class and client protocol', 'counter', () => {
      const out: Sample[] = [];
      this.#each((route, endpoint, addr, c) => {
        PROTOCOLS.forEach((protocol, p) =>
          CLASSES.forEach((cls, i) => {
            const n = c.byClass[p * CLASSES.length + i]!;
            if (n > 0) out.push({ labels: { route, endpoint, addr, class: cls, protocol }, value: n });
          }),
        );
      });
      return out;
    });
    this.#collector('fairway_request_duration_seconds', 'Time from request to the end of the answer', 'histogram', () => {
      const out: Sample[] = [];
      this.#each((route, endpoint, addr, c) => {
        let cumulative = 0;
        for (let b = 0; b <= BUCKETS.length; b++) {
          cumulative += c.buckets[b]!;
          const le = b < BUCKETS.length ? String(BUCKETS[b]) : '+Inf';
          out.push({ metricName: 'fairway_request_duration_seconds_bucket', labels: { route, endpoint, addr, le }, value: cumulative });
        }
        out.push({ metricName: 'fairway_request_duration_seconds_sum', labels: { route, endpoint, addr }, value: c.sumSeconds });
        out.push({ metricName: 'fairway_request_duration_seconds_count', labels: { route, endpoint, addr }, value: c.count });
      });
      return out;
    });
    this.#collector('fairway_inflight_requests', 'Requests in flight to an endpoint', 'gauge', () =>
      this.#endpoints().map(({ route, id, addr, stats }) => ({ labels: { route, endpoint: id, addr }, value: stats.inflight })),
    );
    this.#collector(
      'fairway_endpoint_state',
      'Endpoint state (1 for the current one)',
      'gauge',
      () => this.#endpoints().map(({ route, id, addr, state }) => ({ labels: { route, endpoint: id, addr, state }, value: 1 })),
      'max',
    );
    this.#collector('fairway_retries_total', 'Retries sent, by route', 'counter', () =>
      [...this.#retries].map(([route, n]) => ({ labels: { route }, value: n })),
    );
    this.#collector('fairway_policy_actions_total', 'Requests a route policy answered or changed, by route and policy', 'counter', () =>
      [...this.#policy.values()].map(({ route, policy, n }) => ({ labels: { route, policy }, value: n })),
    );
    this.#collector('fairway_ejections_total', 'Passive outlier ejections, by endpoint', 'counter', () =>
      [...this.#ejections.values()].map(({ endpoint, addr, n }) => ({ labels: { endpoint, addr }, value: n })),
    );
    this.#collector('fairway_consul_watch_updates_total', 'Instance-set changes received, by watch', 'counter', () =>
      (this.#source?.watchStates() ?? []).map((w) => ({ labels: { watch: w.key }, value: w.updates })),
    );
    this.#collector('fairway_consul_watch_errors_total', 'Failed Consul queries, by watch', 'counter', () =>
      (this.#source?.watchStates() ?? []).map((w) => ({ labels: { watch: w.key }, value: w.errors })),
    );
    this.#collector(
      'fairway_consul_last_success_age_seconds',
      'Seconds since a watch last heard from Consul',
      'gauge',
      () =>
        (this.#source?.watchStates() ?? [])
          .filter((w) => w.lastSuccessAt !== undefined)
          .map((w) => ({ labels: { watch: w.key }, value: (Date.now() - w.lastSuccessAt!) / 1000 })),
      'max',
    );
    this.#collector('fairway_tls_handshake_errors_total', 'TLS handshakes that failed, by listener', 'counter', () =>
      (this.#source?.listeners?.() ?? []).filter((l) => l.tls).map((l) => ({ labels: { listener: l.address }, value: l.handshakeErrors })),
    );
    // Every worker reads the same files: the latest notAfter of them, not a sum.
    this.#collector(
      'fairway_tls_certificate_expiry_seconds',
      'Unix time when the certificate in service expires (notAfter), by listener and certificate file',
      'gauge',
      () => (this.#source?.listeners?.() ?? []).flatMap((l) => l.certificates.map((c) => ({ labels: { listener: l.address, certificate: c.cert }, value: c.notAfterSeconds }))),
      'max',
    );
    // Every worker of a cluster reloads the same file: the count is the same in each, not a sum.
    this.#collector(
      'fairway_config_reloads_total',
      'Config reloads, by result',
      'counter',
      () => [
        { labels: { result: 'ok' }, value: this.#reloads.ok },
        { labels: { result: 'failed' }, value: this.#reloads.failed },
      ],
      'max',
    );
  }

  attach(source: MetricsSource): void {
    this.#source = source;
  }

  onExchange(ex: FinishedExchange): void {
    const route = ex.route?.config.name ?? NO_ENDPOINT;
    const u = ex.upstream;
    const counters = this.countersFor(route, u?.stats ?? null, u?.id ?? NO_ENDPOINT, u ? formatHostPort(u.host, u.port) : NO_ENDPOINT);
    counters.record(ex.status, ex.durationMs, this.#clock(), ex.protocol);
    if (ex.policy !== undefined) {
      const key = `${route} ${ex.policy}`;
      const entry = this.#policy.get(key);
      if (entry) entry.n++;
      else this.#policy.set(key, { route, policy: ex.policy, n: 1 });
    }
  }

  onRetry(route: Route): void {
    const name = route.config.name;
    this.#retries.set(name, (this.#retries.get(name) ?? 0) + 1);
  }

  onEjection(u: Upstream): void {
    const addr = formatHostPort(u.host, u.port);
    const key = `${u.id} ${addr}`;
    const entry = this.#ejections.get(key);
    if (entry) entry.n++;
    else this.#ejections.set(key, { endpoint: u.id, addr, n: 1 });
  }

  onReload(ok: boolean): void {
    if (ok) this.#reloads.ok++;
    else this.#reloads.failed++;
  }

  countersFor(route: string, stats: UpstreamStats | null, id: string, addr: string): EndpointCounters {
    let byEndpoint = this.#counters.get(route);
    if (!byEndpoint) this.#counters.set(route, (byEndpoint = new Map()));
    let entry = byEndpoint.get(stats);
    if (!entry) byEndpoint.set(stats, (entry = { id, addr, c: new EndpointCounters() }));
    return entry.c;
  }

  /** Recent rate and latency of one route's endpoint, if it has served anything. */
  traffic(route: string, stats: UpstreamStats, now: number): { rps: number; p50Ms: number | null; p99Ms: number | null } | undefined {
    return this.#counters.get(route)?.get(stats)?.c.window.read(now);
  }

  /** Drops counters of routes and endpoints the table no longer has, so labels stay bounded. */
  prune(table: RouteTable): void {
    // Runs once a second under churn: nothing is built per route or per instance (a Set of each
    // route's instances was 10,000 Sets a second at 10,000 routes), and nothing at all while no
    // route has counted anything.
    if (this.#counters.size === 0 && this.#policy.size === 0) return;
    const live = new Map<string, Route>();
    for (const r of table.routes) live.set(r.config.name, r);
    for (const [route, byEndpoint] of this.#counters) {
      if (route === NO_ENDPOINT) continue;
      const r = live.get(route);
      if (!r) {
        this.#counters.delete(route);
        continue;
      }
      for (const stats of byEndpoint.keys()) if (stats !== null && !routeKnows(r, stats)) byEndpoint.delete(stats);
    }
    // Answers made before any route (a listener's redirectToHttps) stay counted.
    for (const [key, { route }] of this.#policy) if (route !== NO_ENDPOINT && !live.has(route)) this.#policy.delete(key);
  }

  #each(fn: (route: string, endpoint: string, addr: string, c: EndpointCounters) => void): void {
    for (const [route, byEndpoint] of this.#counters) for (const { id, addr, c } of byEndpoint.values()) fn(route, id, addr, c);
  }

  #endpoints(): Array<{ route: string; id: string; addr: string; stats: Readonly<UpstreamStats>; state: string }> {
    const src = this.#source;
    if (!src) return [];
    const now = src.now();
    const drained = src.drained();
    const out: Array<{ route: string; id: string; addr: string; stats: Readonly<UpstreamStats>; state: string }> = [];
    for (const r of src.table.routes)
      for (const u of r.candidates.length > 0 ? r.candidates : r.upstreams) {
        // Read, not made: a scrape must not give stats to every instance it lists.
        const stats = existingStats(u) ?? UNUSED_STATS;
        const state = drained.has(u.id) ? 'draining' : isEjected(stats, now) ? 'ejected' : u.status;
        out.push({ route: r.config.name, id: u.id, addr: formatHostPort(u.host, u.port), stats, state });
      }
    return out;
  }

  /**
   * A metric computed at scrape time. `aggregator` says how a cluster primary combines the
   * workers' values: summed (counts, in-flight), or the largest (states, ages).
   */
  #collector(name: string, help: string, type: 'counter' | 'gauge' | 'histogram', values: () => Sample[], aggregator: 'sum' | 'max' = 'sum'): void {
    this.registry.registerMetric({
      name,
      help,
      type,
      get: async () => ({ name, help, type, values: values(), aggregator }),
    } as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}
