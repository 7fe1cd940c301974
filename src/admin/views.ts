// The admin API's JSON views of the running proxy: pure functions of the route table, the
// metrics and the discovery state, so the HTTP layer only serializes them.

import { isEjected } from '../core/outlier.js';
import type { RouteTable } from '../core/route-table.js';
import { existingStats, UNUSED_STATS, type Upstream, type UpstreamStats } from '../core/upstream.js';
import type { WatchState } from '../discovery/consul-watch.js';
import type { ListenerStatus } from '../proxy/listeners.js';
import { VERSION } from '../version.js';

/** What the admin views read from the running proxy; nothing else reaches them. */
export interface AdminSource {
  readonly ready: boolean;
  readonly table: RouteTable;
  readonly configPath: string;
  readonly startedAt: number;
  readonly lastReload: { ok: boolean; at: string; problems: string[] } | undefined;
  readonly consulState: string;
  /** The Consul agent in use, or undefined when the config needs none. */
  readonly consulAddress: string | undefined;
  /** The blocking-query watches, with their health. */
  watchStates(): WatchState[];
  /** The clock ejections are measured on. */
  now(): number;
  /** Instance IDs drained by hand. */
  drained(): ReadonlySet<string>;
  /** Routes from Consul tags, when enabled. */
  readonly tagRoutes?: { prefix: string; routes: string[]; conflicts: string[] } | undefined;
  /** With `fleet:`: the fleet service, its passing Fairways and this process's rate-limit share. */
  readonly fleet?: { name: string; instances: number; rateShare: number } | undefined;
  /** With `fleet.configKey`: how the last read of the key went. */
  readonly fleetConfig?: object | undefined;
  /** The client-facing listeners and their certificates. */
  listeners?(): ListenerStatus[];
}

/** Recent traffic of one route's endpoint (the metrics module keeps it). */
export interface TrafficSource {
  traffic(route: string, stats: UpstreamStats, now: number): { rps: number; p50Ms: number | null; p99Ms: number | null } | undefined;
}

export interface EndpointView {
  id: string;
  address: string;
  port: number;
  weight: number;
  status: 'passing' | 'warning' | 'critical';
  /** Whether the route sends it traffic now. */
  active: boolean;
  inflight: number;
  requests: number;
  failures: number;
  ewmaMs: number | null;
  ejected: boolean;
  /** Taken out by hand (POST /api/endpoints/:id/drain). */
  draining: boolean;
  /** Over the last 10 s, on this route. */
  rps: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface RouteView {
  name: string;
  service: string | null;
  tags: readonly string[];
  strategy: string;
  /** Too few healthy instances: routing to all known ones. */
  panic: boolean;
  match: { host: string | null; pathPrefix: string; headers: Record<string, string> };
  endpoints: EndpointView[];
}

export function routesView(table: RouteTable, now: number, src: Pick<AdminSource, 'drained'> & Partial<TrafficSource>): RouteView[] {
  const drained = src.drained();
  return table.routes.map((route) => {
    const rc = route.config;
    // By upstream object (the lists share them), not stats: an instance never used has none,
    // and a view makes none (at 10,000 routes × 10, 100,000 objects).
    const active = new Set(route.upstreams);
    const seen = new Set<Upstream>();
    const endpoints: EndpointView[] = [];
    const add = (u: Upstream, weight: number) => {
      if (seen.has(u)) return;
      seen.add(u);
      const s = existingStats(u) ?? UNUSED_STATS;
      const on = active.has(u);
      const traffic = s === UNUSED_STATS ? undefined : src.traffic?.(rc.name, s, now);
      endpoints.push({
        id: u.id,
        address: u.host,
        port: u.port,
        weight: on ? weight : 0,
        status: u.status,
        active: on,
        inflight: s.inflight,
        requests: s.requests,
        failures: s.failures,
        ewmaMs: s.ewmaAt !== 0 ? round(s.ewmaMs) : null,
        ejected: isEjected(s, now),
        draining: drained.has(u.id),
        rps: traffic ? Math.round(traffic.rps * 10) / 10 : 0,
        p50Ms: traffic?.p50Ms ?? null,
        p99Ms: traffic?.p99Ms ?? null,
      });
    };
    for (const u of route.upstreams) add(u, u.weight);
    for (const u of route.candidates) add(u, u.weight);
    // Instances Consul knows but this route does not use now (critical, or warning outside
    // `weighted`), so an operator sees why an instance gets no traffic.
    for (const u of route.idle) add(u, 0);
    return {
      name: rc.name,
      service: rc.source.kind === 'consul' ? rc.source.service : null,
      tags: rc.source.kind === 'consul' ? rc.source.tags : [],
      strategy: rc.strategy,
      panic: route.panic,
      match: {
        host: rc.match.host ?? (rc.match.hostSuffix ? `*${rc.match.hostSuffix}` : null),
        pathPrefix: rc.match.pathPrefix,
        headers: Object.fromEntries(rc.match.headers),
      },
      endpoints,
    };
  });
}

export function statusView(app: AdminSource): Record<string, unknown> {
  const now = Date.now();
  return {
    version: VERSION,
    node: process.version,
    pid: process.pid,
    uptimeSeconds: Math.round((now - app.startedAt) / 1000),
    ready: app.ready,
    configFile: app.configPath,
    lastReload: app.lastReload ?? null,
    consul: app.consulState,
    consulAddress: app.consulAddress ?? null,
    watches: app.watchStates().map((w) => ({
      key: w.key,
      synced: w.synced,
      failing: w.failing,
      lastError: w.lastError ?? null,
      lastErrorStatus: w.lastErrorStatus ?? null,
      lastSuccessAgoMs: w.lastSuccessAt === undefined ? null : now - w.lastSuccessAt,
      index: w.index,
      updates: w.updates,
      errors: w.errors,
      lastApplyMs: w.lastApplyMs === undefined ? null : round(w.lastApplyMs),
    })),
    routes: app.table.routes.length,
    tagRoutes: app.tagRoutes ?? null,
    fleet: app.fleet ?? null,
    fleetConfig: app.fleetConfig ?? null,
    listeners: app.listeners?.() ?? [],
    process: processView(),
  };
}

/** Memory and handle counts, so leaks show from outside (the reliability tests read these). */
function processView(): Record<string, unknown> {
  const m = process.memoryUsage();
  const resources = process.getActiveResourcesInfo();
  const byType: Record<string, number> = {};
  for (const r of resources) byType[r] = (byType[r] ?? 0) + 1;
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    heapTotalBytes: m.heapTotal,
    externalBytes: m.external,
    activeHandles: resources.length,
    activeResources: byType,
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
