// The route table: config routes joined with the instances discovery knows, each with a ready
// picker. Built by a pure function whenever the config or a snapshot changes, then swapped in
// whole, so a request sees one consistent table from start to end.
//
// Rebuilds are incremental by identity: a route whose config object and snapshot are the same
// objects as last time, and whose instances' ejections have not changed, keeps its Route (and
// so its picker's rotation) at no cost; upstream stats carry over per instance (made at first
// use, in a StatsBook every table shares), and stats of departed instances are dropped by
// pruneStats, which the caller runs now and then.
//
// Passive health is applied here too: ejected instances leave the picker's list until their
// ejection ends (the table says when: nextUnejectAt), and a route whose healthy share falls
// below its panicThreshold routes to every instance it knows instead.

import type { IncomingHttpHeaders } from 'node:http';
import type { Config, RouteConfig } from './config.js';
import { watchKey, withTags, type Instance, type InstanceSnapshot } from './instance.js';
import { isEjected } from './outlier.js';
import { pickerFor, usesWarning, type Picker, type PickerDeps } from './pickers/index.js';
import { guardFor, type RouteGuard } from './policy/guard.js';
import { rewritePath } from './policy/route-policy.js';
import { RetryBudget } from './retry-budget.js';
import { staticSnapshot } from './static-endpoints.js';
import { hostAndHeadersMatch, positionsByKey, routeMatcher, type Matcher } from './route-index.js';
import { existingStats, InstanceUpstream, StatsBook, type Upstream, type UpstreamStats } from './upstream.js';

export interface Route {
  readonly config: RouteConfig;
  /** The watch key for Consul-backed routes, undefined for static ones. */
  readonly key: string | undefined;
  readonly snapshot: InstanceSnapshot | undefined;
  /** Instances discovery says may take traffic (passing; warning on weighted routes). */
  readonly candidates: readonly Upstream[];
  /** Instances known but not candidates (critical, or warning outside weighted): panic only. */
  readonly idle: readonly Upstream[];
  /** The instances the picker chooses from: candidates not ejected, or all known in panic. */
  readonly upstreams: readonly Upstream[];
  readonly picker: Picker;
  /** Fewer than panicThreshold percent healthy: routing to every known instance. */
  readonly panic: boolean;
  /** Candidates that were ejected when this route was built. */
  readonly ejected: ReadonlySet<UpstreamStats>;
  /** Candidates taken out by hand (admin drain) when this route was built. */
  readonly drained: ReadonlySet<UpstreamStats>;
  readonly budget: RetryBudget;
  /** Allow/deny sets and rate-limit buckets (undefined: the route has none). */
  readonly guard: RouteGuard | undefined;
}

export interface RouteTable {
  readonly config: Config;
  readonly routes: readonly Route[];
  /** matchRoute over `routes`, indexed when there are many. */
  readonly match: Matcher;
  /**
   * Stats per instance, shared by every route sending to it and by every table built after
   * this one; made at the instance's first use, deleted by pruneStats once no route knows it.
   */
  readonly stats: StatsBook;
  /** The earliest time an ejection in this table ends (Infinity: none); rebuild then. */
  readonly nextUnejectAt: number;
  /** The exclusion count this table was built at, if it was given one (see buildRouteTable). */
  readonly exclusions: number | undefined;
  /**
   * Whether some instance the previous table knew may be known by no route now (a service lost
   * an instance, or the config changed): only then has pruneStats anything to find.
   */
  readonly departures: boolean;
}

/** The watch keys a config needs, each once: its routes' services, and the fleet's own. */
export function watchKeys(config: Config): Map<string, { service: string; tags: readonly string[] }> {
  const keys = new Map<string, { service: string; tags: readonly string[] }>();
  for (const r of config.routes)
    if (r.source.kind === 'consul') keys.set(watchKey(r.source.service, r.source.tags), r.source);
  if (config.fleet) keys.set(watchKey(config.fleet.name, []), { service: config.fleet.name, tags: [] });
  return keys;
}

/** What a table build needs besides its inputs: pickers' time and randomness, the rate-limit share. */
export interface TableDeps extends PickerDeps {
  /** The share of each route's rate limit this process enforces (workers, fleet); default 1. */
  rateShare?: () => number;
}

export function buildRouteTable(
  config: Config,
  snapshots: ReadonlyMap<string, InstanceSnapshot>,
  deps: TableDeps,
  previous?: RouteTable,
  drained: ReadonlySet<string> = NONE,
  exclusions?: number,
  changed?: ReadonlySet<string>,
): RouteTable {
  // Stats carry forward as they are: successive tables share one book (copying it per build
  // cost O(instances) of garbage per health change: at 10,000 instances, tens of MB while a
  // thousand watches answer at start). A build makes stats only for instances it must stamp:
  // joiners of a slow start, drained ones.
  const stats = previous?.stats ?? new StatsBook();

  // The previous table's route for each entry: by position when the config is the same (every
  // health change), else found by config entry (reusable as it is) and by name (for its state).
  const sameConfig = previous?.config === config;
  const reusable = new Map<RouteConfig, Route>();
  const previousByName = new Map<string, Route>();
  if (!sameConfig)
    for (const r of previous?.routes ?? []) {
      reusable.set(r.config, r);
      previousByName.set(r.config.name, r);
    }

  const now = deps.now();
  // `exclusions`, when given, counts the instances ejected or drained (or undrained) so far:
  // the caller raises it with each. Unchanged since the previous table, and no ejection of that
  // table over yet, a route kept for its snapshot has its exclusions as built, and checking each
  // of its instances again (100,000 lookups per rebuild at 10,000 routes × 10) is skipped.
  // Without it, every kept route is checked.
  const exclusionsKept = exclusions !== undefined && previous?.exclusions === exclusions && now < previous.nextUnejectAt;
  // `changed`, when given, names every watch key whose snapshot may differ from the previous
  // table's: with the same config and exclusions, only their routes can differ, and they are all
  // the rebuild looks at (at 10,000 routes a walk of every route was ~1 ms per health change,
  // and a rebuild per 10 ms while discovery starts up: 3 s of CPU in all).
  if (changed !== undefined && sameConfig && exclusionsKept) return rebuildChanged(previous!, snapshots, changed, deps, now, drained, exclusions);
  let nextUnejectAt = Infinity;
  let departures = previous !== undefined && !sameConfig;
  const routes = config.routes.map((rc, i): Route => {
    const old = sameConfig ? previous!.routes[i] : reusable.get(rc);
    // The route before, built from this same entry, holds its key: a string already hashed,
    // where building it again cost about 7 ms of a 17 ms rebuild at 10,000 routes × 10.
    const key = old !== undefined ? old.key : rc.source.kind === 'consul' ? watchKey(rc.source.service, rc.source.tags) : undefined;
    const snapshot = key === undefined ? staticSnapshot(rc) : snapshots.get(key);
    const kept = old !== undefined && old.snapshot === snapshot && (exclusionsKept || sameExclusions(old, now, drained));
    const route = kept ? old : build(rc, key, snapshot, sameConfig ? old : previousByName.get(rc.name), config, deps, now, stats, drained);
    if (!kept && !departures && old !== undefined && old.snapshot !== snapshot) departures = lostAny(old, route);
    if (route.ejected.size > 0) for (const s of route.ejected) nextUnejectAt = Math.min(nextUnejectAt, s.ejectedUntil);
    return route;
  });

  return finish(config, routes, deps, stats, nextUnejectAt, exclusions, departures);
}

/** The table of `routes`, once their rate limits have this process's share. */
function finish(config: Config, routes: Route[], deps: TableDeps, stats: StatsBook, nextUnejectAt: number, exclusions: number | undefined, departures: boolean): RouteTable {
  // The share moves with the fleet's size, and routes kept as they were keep their limiters.
  const share = deps.rateShare?.() ?? 1;
  for (const r of routes) if (r.guard?.limiter !== undefined && r.guard.limiter.share !== share) r.guard.limiter.share = share;
  return { config, routes, match: routeMatcher(config.routes, routes, matchRoute), stats, nextUnejectAt, exclusions, departures };
}

/** `previous` with the routes of the watch keys in `changed` built again (see buildRouteTable). */
function rebuildChanged(
  previous: RouteTable,
  snapshots: ReadonlyMap<string, InstanceSnapshot>,
  changed: ReadonlySet<string>,
  deps: TableDeps,
  now: number,
  drained: ReadonlySet<string>,
  exclusions: number,
): RouteTable {
  const { config, stats } = previous;
  const positions = positionsByKey(previous);
  const routes = previous.routes.slice();
  let nextUnejectAt = previous.nextUnejectAt;
  let departures = false;
  for (const key of changed) {
    const snapshot = snapshots.get(key);
    const at = positions.get(key);
    for (const i of at === undefined ? [] : typeof at === 'number' ? [at] : at) {
      const old = routes[i]!;
      if (old.snapshot === snapshot) continue;
      const route = build(old.config, key, snapshot, old, config, deps, now, stats, drained);
      departures ||= lostAny(old, route);
      // Kept routes keep their ejections, whose earliest end is in previous.nextUnejectAt: a
      // rebuilt route's ended one may leave that too early, which costs one full rebuild then.
      for (const s of route.ejected) nextUnejectAt = Math.min(nextUnejectAt, s.ejectedUntil);
      routes[i] = route;
    }
  }
  return finish(config, routes, deps, stats, nextUnejectAt, exclusions, departures);
}

/** Whether `after` no longer knows some instance `before` knew. */
function lostAny(before: Route, after: Route): boolean {
  if (before.candidates.length + before.idle.length === 0) return false;
  const now = byId(after.candidates, after.idle);
  for (const list of [before.candidates, before.idle]) for (const u of list) if (!sameInstance(now.get(u.id), u)) return true;
  return false;
}

/**
 * Upstreams by id, for comparing two builds of a route. They are compared by id and address,
 * the identity of their stats (sameInstance), so no stats are made for those that stay.
 */
function byId(...lists: ReadonlyArray<readonly Upstream[]>): Map<string, Upstream> {
  const map = new Map<string, Upstream>();
  for (const list of lists) for (const u of list) map.set(u.id, u);
  return map;
}

/** Whether `was` (found by `u`'s id) is `u`'s instance still: the same address. */
function sameInstance(was: Upstream | undefined, u: Upstream): boolean {
  return was !== undefined && was.host === u.host && was.port === u.port;
}

const NONE: ReadonlySet<string> = new Set();
const NO_UPSTREAMS: readonly Upstream[] = Object.freeze([]);
const NO_STATS: ReadonlySet<UpstreamStats> = new Set();

/** Whether every candidate of `old` is ejected and drained now exactly as at build time. */
function sameExclusions(old: Route, now: number, drained: ReadonlySet<string>): boolean {
  // Run for every route on every rebuild: the set lookups are skipped where both sides are
  // empty, the common case (at 10,000 routes × 10 instances, a rebuild went from 10 to 5.5 ms).
  const anyEjected = old.ejected.size > 0;
  const anyDrained = drained.size > 0 || old.drained.size > 0;
  for (const c of old.candidates) {
    const s = existingStats(c);
    if (s === undefined) {
      // Never used: neither ejected nor stamped as drained.
      if (anyDrained && drained.has(c.id)) return false;
      continue;
    }
    const ejected = isEjected(s, now);
    if (anyEjected ? ejected !== old.ejected.has(s) : ejected) return false;
    if (anyDrained && drained.has(c.id) !== old.drained.has(s)) return false;
  }
  return true;
}

function build(
  rc: RouteConfig,
  key: string | undefined,
  snapshot: InstanceSnapshot | undefined,
  before: Route | undefined,
  config: Config,
  deps: TableDeps,
  now: number,
  book: StatsBook,
  drainedIds: ReadonlySet<string>,
): Route {
  const { candidates, idle } = upstreamsFor(rc, snapshot, book);
  // Most routes have every candidate healthy: they share one empty set for each exclusion and
  // use the candidates' array as their upstreams (at 10,000 routes, 30,000 objects fewer).
  let ejected: Set<UpstreamStats> | undefined;
  let drained: Set<UpstreamStats> | undefined;
  const healthy: Upstream[] = [];
  for (const u of candidates) {
    if (drainedIds.has(u.id)) {
      (drained ??= new Set()).add(u.stats);
      continue;
    }
    const s = existingStats(u);
    if (s !== undefined && isEjected(s, now)) (ejected ??= new Set()).add(s);
    else healthy.push(u);
  }
  const known = candidates.length + idle.length;
  const panic = rc.panicThreshold > 0 && known > 0 && healthy.length * 100 < rc.panicThreshold * known;
  // Panic ignores health, not the operator: drained instances stay out.
  const upstreams = panic
    ? [...candidates, ...idle].filter((u) => !drainedIds.has(u.id))
    : healthy.length === candidates.length
      ? candidates
      : healthy;
  if (key !== undefined && before?.snapshot !== undefined) markJoiners(upstreams, before, now);
  const budget =
    before && before.budget.ratio === config.retryBudget.ratio && before.budget.minPerSecond === config.retryBudget.minPerSecond
      ? before.budget
      : new RetryBudget(config.retryBudget);
  const guard = guardFor(rc.policy, before?.guard, deps.rateShare?.() ?? 1);
  return { config: rc, key, snapshot, candidates, idle, upstreams, picker: pickerFor(rc, upstreams, deps), panic, ejected: ejected ?? NO_STATS, drained: drained ?? NO_STATS, budget, guard };
}

/** The counters of every instance `route` knows that has any: candidates and idle (upstreams come from those). */
export function* knownStats(route: Route): Generator<UpstreamStats> {
  for (const u of route.candidates) {
    const s = existingStats(u);
    if (s !== undefined) yield s;
  }
  for (const u of route.idle) {
    const s = existingStats(u);
    if (s !== undefined) yield s;
  }
}

/**
 * Every instance some route knows, in rotation or idle (a generator: no array of them all). An
 * idle one (critical) keeps its connections: it may pass again, and idle ones time out anyway.
 */
export function* knownUpstreams(table: RouteTable): Generator<Upstream> {
  for (const r of table.routes) {
    yield* r.candidates;
    yield* r.idle;
  }
}

/** Whether `route` knows the instance counted by `stats` (as a candidate or idle). */
export function routeKnows(route: Route, stats: UpstreamStats): boolean {
  for (const s of knownStats(route)) if (s === stats) return true;
  return false;
}

let sweeps = 0;

/**
 * Deletes from the table's book the stats of instances no route knows any more; returns how
 * many. Older tables that still hold such an instance keep the stats they already read.
 */
export function pruneStats(table: RouteTable): number {
  // Found by marking each known stats object with this pass's number: a Set of every known
  // one (100,000 at 10,000 routes × 10) was a large object made once a second under churn,
  // which only a full collection frees.
  const pass = (sweeps = (sweeps + 1) | 0);
  for (const r of table.routes) for (const s of knownStats(r)) s.sweep = pass;
  return table.stats.prune((s) => s.sweep === pass);
}

/**
 * The route's instances as upstreams: `candidates` may take traffic; `idle` are known but not
 * (critical, or warning outside weighted), used only in panic, at their passing weight.
 */
function upstreamsFor(
  rc: RouteConfig,
  snapshot: InstanceSnapshot | undefined,
  book: StatsBook,
): { candidates: readonly Upstream[]; idle: readonly Upstream[] } {
  const candidates: Upstream[] = [];
  const idle: Upstream[] = [];
  if (!snapshot) return { candidates, idle };
  const useWarning = usesWarning(rc);
  for (const i of rc.source.kind === 'consul' ? withTags(snapshot.instances, rc.source.tags) : snapshot.instances) {
    // Idle instances get upstreams too, so stats they have survive a spell of being critical.
    const weight = weightFor(i, useWarning);
    // Over TLS when the instance says so (meta `scheme: https`: Consul's, or an https:// static
    // endpoint's, core/static-endpoints.ts), or when the route speaks h2.
    const tls = i.meta.scheme === 'https' || rc.protocol === 'h2';
    if (weight === 0) idle.push(Object.freeze(new InstanceUpstream(i, i.weights.passing, book, tls)));
    else candidates.push(Object.freeze(new InstanceUpstream(i, weight, book, tls)));
  }
  // Kept at their length (grown by push, ten keep room for 17), and most routes share one empty idle list.
  return { candidates: candidates.slice(), idle: idle.length === 0 ? NO_UPSTREAMS : idle.slice() };
}

/**
 * Stamps instances that joined (or rejoined) a route's rotation, compared with the same route
 * (by name) in the previous table, so slow start can ramp them. The first discovery of a
 * service ramps nobody: nobody was there to protect them from.
 */
function markJoiners(upstreams: readonly Upstream[], before: Route, now: number): void {
  const was = byId(before.upstreams);
  for (const u of upstreams) if (!sameInstance(was.get(u.id), u)) u.stats.activeSince = now;
}

/** The weight an instance gets on a route; 0 means it takes no traffic there. */
export function weightFor(i: Instance, useWarning: boolean): number {
  if (i.status === 'passing') return i.weights.passing;
  if (i.status === 'warning' && useWarning) return i.weights.warning;
  return 0;
}

/**
 * The first route, in file order, that takes this request. `host` is the bare host the edge
 * made of Host or an absolute-form target (lower-case, no port, no trailing dot: bareHost in
 * request-target.ts); `path` the normalised path (query excluded or not: only its prefix is
 * compared).
 */
export function matchRoute(
  routes: readonly Route[],
  host: string | undefined,
  path: string,
  headers: IncomingHttpHeaders,
): Route | undefined {
  const bareHost = host ?? '';
  for (let i = 0; i < routes.length; i++) {
    const route = routes[i]!;
    if (path.startsWith(route.config.match.pathPrefix) && hostAndHeadersMatch(route, bareHost, headers)) return route;
  }
  return undefined;
}

/** The path sent upstream: with the route's prefix removed (stripPrefix) or replaced (rewrite.pathPrefix). */
export function upstreamPath(rc: RouteConfig, url: string): string {
  const replacement = rc.policy?.rewrite?.pathPrefix;
  if (replacement !== undefined) return rewritePath(rc.match.pathPrefix, replacement, url);
  if (!rc.stripPrefix || rc.match.pathPrefix === '/') return url;
  const rest = url.slice(rc.match.pathPrefix.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
