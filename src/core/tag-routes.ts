// Routes from Consul tags, in the manner of fabio's `urlprefix-` tags: a service tagged
//   PREFIX.route=/api   PREFIX.host=example.com   PREFIX.strategy=least-request   PREFIX.stripPrefix=true
//   PREFIX.protocol=h2c (a gRPC service)
// gets a route to itself without anyone editing the config file. Only `route` is required.
// These routes come after the file's (file routes take precedence); a tag route whose host and
// path a file route already claims is left out and reported, and so is one a file route would
// always match first (a file route on /api, or on every host, before a tag route on /api/v2):
// it could never take a request. One that another service's tag route claims is left out too:
// a service already routed keeps its route (a newcomer does not take traffic over), and between
// newcomers the first by name wins. The tag routes kept are tried most specific first, as
// fabio does: a host before no host, then the longer path, so /api/v2 is not hidden by /api.
// Pure: the catalog's services-and-tags map in, routes and conflicts out.

import { formatPath, normalizeRoute, type Config, type RouteConfig } from './config.js';
import { routeSchema } from './config-schema.js';

export interface TagRoutes {
  routes: RouteConfig[];
  /** One sentence per service left out, for /api/status. */
  conflicts: string[];
}

const KEYS = new Set(['route', 'host', 'strategy', 'stripPrefix', 'protocol']);

export function routesFromTags(
  services: Readonly<Record<string, readonly string[]>>,
  prefix: string,
  fileRoutes: readonly RouteConfig[],
  /** Services that had a tag route before this change: they keep precedence. */
  established: ReadonlySet<string> = new Set(),
): TagRoutes {
  const routes: RouteConfig[] = [];
  const conflicts: string[] = [];
  const claimed = new Map<string, string>();
  for (const r of fileRoutes) if (r.match.headers.length === 0) claimed.set(matchKey(r), `file route "${r.name}"`);
  const names = new Set(fileRoutes.map((r) => r.name));

  const names0 = Object.keys(services).sort();
  const order = [...names0.filter((n) => established.has(n)), ...names0.filter((n) => !established.has(n))];
  for (const service of order) {
    const settings = new Map<string, string>();
    const problems: string[] = [];
    for (const tag of services[service]!) {
      if (!tag.startsWith(`${prefix}.`)) continue;
      const eq = tag.indexOf('=');
      const key = eq === -1 ? tag.slice(prefix.length + 1) : tag.slice(prefix.length + 1, eq);
      if (eq === -1 || !KEYS.has(key)) problems.push(`unknown tag "${tag}" (expected ${prefix}.route=/path, .host=, .strategy=, .stripPrefix=, .protocol=)`);
      else settings.set(key, tag.slice(eq + 1));
    }
    if (settings.size === 0 && problems.length === 0) continue;
    if (!settings.has('route')) {
      conflicts.push(`service "${service}": has ${prefix}.* tags but no ${prefix}.route=/path`);
      continue;
    }
    const name = `tag.${service}`;
    const raw = {
      name,
      match: { pathPrefix: settings.get('route'), ...(settings.has('host') ? { host: settings.get('host') } : {}) },
      service,
      ...(settings.has('strategy') ? { strategy: settings.get('strategy') } : {}),
      ...(settings.has('stripPrefix') ? { stripPrefix: settings.get('stripPrefix') === 'true' } : {}),
      ...(settings.has('protocol') ? { protocol: settings.get('protocol') } : {}),
    };
    const parsed = routeSchema.safeParse(raw);
    if (!parsed.success)
      for (const issue of parsed.error.issues) problems.push(`${prefix}.${tagKeyOf(issue.path)}: ${issue.message}`);
    if (problems.length > 0 || !parsed.success) {
      conflicts.push(`service "${service}": ${problems.join('; ')}`);
      continue;
    }
    if (names.has(name)) {
      conflicts.push(`service "${service}": a file route is already named "${name}"`);
      continue;
    }
    const route = normalizeRoute(parsed.data, fileRoutes.length + routes.length);
    const key = matchKey(route);
    const owner = claimed.get(key);
    if (owner !== undefined) {
      conflicts.push(`service "${service}": ${describeMatch(route)} is already routed by ${owner}`);
      continue;
    }
    const shadow = fileRoutes.find((r) => shadows(r, route));
    if (shadow !== undefined) {
      conflicts.push(`service "${service}": ${describeMatch(route)} would never be used: file route "${shadow.name}" (${describeMatch(shadow)}) matches every such request first`);
      continue;
    }
    claimed.set(key, `service "${service}"`);
    routes.push(route);
  }
  // Most specific first; sort is stable, so equals keep their order (established, then by name).
  routes.sort((a, b) => hostRank(a) - hostRank(b) || b.match.pathPrefix.length - a.match.pathPrefix.length);
  return { routes, conflicts };
}

/** Whether `first` takes every request `later` could: no headers asked, its host and path cover `later`'s. */
function shadows(first: RouteConfig, later: RouteConfig): boolean {
  if (first.match.headers.length > 0 || !later.match.pathPrefix.startsWith(first.match.pathPrefix)) return false;
  const { host, hostSuffix } = first.match;
  if (host === undefined && hostSuffix === undefined) return true;
  if (host !== undefined) return later.match.host === host;
  const laterHost = later.match.host ?? later.match.hostSuffix;
  return laterHost !== undefined && laterHost.endsWith(hostSuffix!);
}

/** 0: an exact host, 1: a wildcard host, 2: any host. */
function hostRank(r: RouteConfig): number {
  return r.match.host !== undefined ? 0 : r.match.hostSuffix !== undefined ? 1 : 2;
}

function matchKey(r: RouteConfig): string {
  return `${r.match.host ?? (r.match.hostSuffix ? `*${r.match.hostSuffix}` : '')}|${r.match.pathPrefix}`;
}

function describeMatch(r: RouteConfig): string {
  const host = r.match.host ?? (r.match.hostSuffix ? `*${r.match.hostSuffix}` : undefined);
  return host === undefined ? `path ${r.match.pathPrefix}` : `host ${host} path ${r.match.pathPrefix}`;
}

/** The tag a schema problem came from (match.pathPrefix → route). */
function tagKeyOf(path: ReadonlyArray<PropertyKey>): string {
  const p = formatPath(path.filter((x): x is string | number => typeof x !== 'symbol'));
  if (p === 'match.pathPrefix') return 'route';
  if (p === 'match.host') return 'host';
  return p;
}

/**
 * `file` with the routes Consul tags ask for appended. Tag routes equal to one in `previous`
 * keep that object (so their pickers survive a rebuild); `changed` says whether the tag routes
 * differ from `previous` at all.
 */
export function withTagRoutes(
  file: Config,
  catalog: Readonly<Record<string, readonly string[]>> | undefined,
  previous: TagRoutes,
): { config: Config; tagRoutes: TagRoutes; changed: boolean } {
  const prefix = file.consulTags?.prefix;
  const established = new Set(previous.routes.map((r) => (r.source.kind === 'consul' ? r.source.service : '')));
  const found = prefix === undefined || catalog === undefined ? { routes: [], conflicts: [] } : routesFromTags(catalog, prefix, file.routes, established);
  const byValue = new Map(previous.routes.map((r) => [JSON.stringify(r), r]));
  const routes = found.routes.map((r) => byValue.get(JSON.stringify(r)) ?? r);
  const changed = routes.length !== previous.routes.length || routes.some((r, i) => r !== previous.routes[i]);
  const config = routes.length === 0 ? file : Object.freeze({ ...file, routes: Object.freeze([...file.routes, ...routes]) });
  return { config, tagRoutes: { routes, conflicts: found.conflicts }, changed };
}
