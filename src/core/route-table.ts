// The route table: config routes joined with the instances discovery knows, each with a ready
// picker. Built by a pure function whenever the config or a snapshot changes, then swapped in
// whole, so a request sees one consistent table from start to end.
//
// Rebuilds are incremental by identity: a route whose config object and snapshot are the same
// objects as last time keeps its Route (and so its picker's rotation); upstream stats carry over
// per instance.

import type { IncomingHttpHeaders } from 'node:http';
import type { Config, RouteConfig } from './config.js';
import { watchKey, withTags, type Instance, type InstanceSnapshot } from './instance.js';
import { pickerFor, usesWarning, type Picker, type PickerDeps } from './pickers/index.js';
import { newStats, originOf, statsKey, type Upstream, type UpstreamStats } from './upstream.js';

export interface Route {
  readonly config: RouteConfig;
  /** The watch key for Consul-backed routes, undefined for static ones. */
  readonly key: string | undefined;
  readonly snapshot: InstanceSnapshot | undefined;
  readonly upstreams: readonly Upstream[];
  readonly picker: Picker;
}

export interface RouteTable {
  readonly config: Config;
  readonly routes: readonly Route[];
  /** Stats per instance (see statsKey), shared by every route sending to it. */
  readonly stats: ReadonlyMap<string, UpstreamStats>;
}


/** The watch keys a config needs, each once. */
export function watchKeys(config: Config): Map<string, { service: string; tags: readonly string[] }> {
  const keys = new Map<string, { service: string; tags: readonly string[] }>();
  for (const r of config.routes)
    if (r.source.kind === 'consul') keys.set(watchKey(r.source.service, r.source.tags), r.source);
  return keys;
}

export function buildRouteTable(
  config: Config,
  snapshots: ReadonlyMap<string, InstanceSnapshot>,
  deps: PickerDeps,
  previous?: RouteTable,
): RouteTable {
  const oldStats = previous?.stats;
  const stats = new Map<string, UpstreamStats>();
  const statsFor = (id: string, host: string, port: number): UpstreamStats => {
    const k = statsKey(id, host, port);
    let s = stats.get(k) ?? oldStats?.get(k);
    if (!s) s = newStats();
    stats.set(k, s);
    return s;
  };

  const reusable = new Map<RouteConfig, Route>();
  const previousByName = new Map<string, Route>();
  for (const r of previous?.routes ?? []) {
    reusable.set(r.config, r);
    previousByName.set(r.config.name, r);
  }

  const routes = config.routes.map((rc): Route => {
    const key = rc.source.kind === 'consul' ? watchKey(rc.source.service, rc.source.tags) : undefined;
    const snapshot = key === undefined ? undefined : snapshots.get(key);
    const old = reusable.get(rc);
    if (old && old.snapshot === snapshot) {
      for (const u of old.upstreams) stats.set(statsKey(u.id, u.host, u.port), u.stats);
      if (snapshot && rc.source.kind === 'consul')
        for (const i of withTags(snapshot.instances, rc.source.tags)) statsFor(i.id, i.host, i.port);
      return old;
    }
    const upstreams = upstreamsFor(rc, snapshot, statsFor);
    const before = previousByName.get(rc.name);
    if (key !== undefined && before?.snapshot !== undefined) markJoiners(upstreams, before, deps.now());
    return { config: rc, key, snapshot, upstreams, picker: pickerFor(rc, upstreams, deps) };
  });

  return { config, routes, stats };
}

function upstreamsFor(
  rc: RouteConfig,
  snapshot: InstanceSnapshot | undefined,
  statsFor: (id: string, host: string, port: number) => UpstreamStats,
): Upstream[] {
  if (rc.source.kind === 'static') {
    return rc.source.endpoints.map((e) => {
      const id = `${e.host}:${e.port}`;
      return freezeUpstream({
        id,
        host: e.host,
        port: e.port,
        origin: originOf(e.host, e.port),
        weight: e.weight,
        status: 'passing',
        tags: [],
        meta: {},
        stats: statsFor(id, e.host, e.port),
      });
    });
  }
  if (!snapshot) return [];
  const useWarning = usesWarning(rc);
  const out: Upstream[] = [];
  for (const i of withTags(snapshot.instances, rc.source.tags)) {
    // Counters are kept for idle instances too, so they survive a spell of being critical.
    const stats = statsFor(i.id, i.host, i.port);
    const weight = weightFor(i, useWarning);
    if (weight === 0) continue;
    out.push(
      freezeUpstream({
        id: i.id,
        host: i.host,
        port: i.port,
        origin: originOf(i.host, i.port),
        weight,
        status: i.status === 'warning' ? 'warning' : 'passing',
        tags: i.tags,
        meta: i.meta,
        stats,
      }),
    );
  }
  return out;
}

/**
 * Stamps instances that joined (or rejoined) a route's rotation, compared with the same route
 * (by name) in the previous table, so slow start can ramp them. The first discovery of a
 * service ramps nobody: nobody was there to protect them from.
 */
function markJoiners(upstreams: readonly Upstream[], before: Route, now: number): void {
  const was = new Set(before.upstreams.map((u) => u.stats));
  for (const u of upstreams) if (!was.has(u.stats)) u.stats.activeSince = now;
}

/** The weight an instance gets on a route; 0 means it takes no traffic there. */
export function weightFor(i: Instance, useWarning: boolean): number {
  if (i.status === 'passing') return i.weights.passing;
  if (i.status === 'warning' && useWarning) return i.weights.warning;
  return 0;
}

function freezeUpstream(u: Upstream): Upstream {
  // Freeze the upstream itself, not its stats: those are the live counters.
  return Object.freeze(u);
}

/**
 * The first route, in file order, that takes this request. `host` is the Host header as sent;
 * `path` the request target's path (query excluded or not: only its prefix is compared).
 */
export function matchRoute(
  routes: readonly Route[],
  host: string | undefined,
  path: string,
  headers: IncomingHttpHeaders,
): Route | undefined {
  const bareHost = host === undefined ? '' : stripPort(host).toLowerCase();
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    const m = route.config.match;
    if (m.host !== undefined && m.host !== bareHost) continue;
    if (m.hostSuffix !== undefined && !bareHost.endsWith(m.hostSuffix)) continue;
    if (!path.startsWith(m.pathPrefix)) continue;
    if (m.headers.length > 0 && !headersMatch(m.headers, headers)) continue;
    return route;
  }
  return undefined;
}

function headersMatch(want: RouteConfig['match']['headers'], headers: IncomingHttpHeaders): boolean {
  for (const [name, value] of want) {
    const got = headers[name];
    if (Array.isArray(got) ? !got.includes(value) : got !== value) return false;
  }
  return true;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The path sent upstream: with the route's prefix removed when stripPrefix is set. */
export function upstreamPath(rc: RouteConfig, url: string): string {
  if (!rc.stripPrefix || rc.match.pathPrefix === '/') return url;
  const rest = url.slice(rc.match.pathPrefix.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
