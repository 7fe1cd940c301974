// Routes from Consul tags (routesFromTags, withTagRoutes): what a service's tags make, what
// wins when two claim the same host and path, and what is reported instead. Pure: catalog in,
// routes and conflicts out.

import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/core/config.js';
import { routesFromTags, withTagRoutes, type TagRoutes } from '../../src/core/tag-routes.js';
import { config } from './helpers.js';

const FILE = config(`
consulTags: { prefix: fw }
routes:
  - { name: api, match: { pathPrefix: /api }, service: api }
  - { name: canary, match: { pathPrefix: /shop, headers: { x-canary: "1" } }, service: shop-canary }
`);
const NONE: TagRoutes = { routes: [], conflicts: [] };
/** File routes on a host, a wildcard host, and a path alone, for the precedence cases. */
const HOSTS = config(`
consulTags: { prefix: fw }
routes:
  - { name: site, match: { pathPrefix: /, host: www.test }, service: site }
  - { name: tenants, match: { pathPrefix: /app, host: "*.tenants.test" }, service: tenants }
`);

/** A route in a few words, for readable expectations. */
const brief = (t: TagRoutes) =>
  t.routes.map((r) => `${r.name} ${r.match.host ?? ''}${r.match.pathPrefix} ${r.strategy}${r.stripPrefix ? ' strip' : ''}${r.protocol === 'http1' ? '' : ` ${r.protocol}`} -> ${r.source.kind === 'consul' ? r.source.service : '?'}`);

describe('routesFromTags', () => {
  it.each([
    {
      why: 'a service tagged PREFIX.route gets a route to itself, named tag.SERVICE',
      services: { web: ['fw.route=/web', 'v1'] },
      routes: ['tag.web /web round-robin -> web'],
      conflicts: [],
    },
    {
      why: 'host, strategy and stripPrefix tags shape the route',
      services: { web: ['fw.route=/w', 'fw.host=example.com', 'fw.strategy=least-request', 'fw.stripPrefix=true'] },
      routes: ['tag.web example.com/w least-request strip -> web'],
      conflicts: [],
    },
    { why: 'a service without the prefix\'s tags gets nothing', services: { db: ['primary', 'other.route=/db'] }, routes: [], conflicts: [] },
    {
      why: 'prefix tags without a route are reported, not routed',
      services: { web: ['fw.host=example.com'] },
      routes: [],
      conflicts: ['service "web": has fw.* tags but no fw.route=/path'],
    },
    {
      why: 'an unknown key is reported with the tags that are expected',
      services: { web: ['fw.route=/w', 'fw.weight=3'] },
      routes: [],
      conflicts: ['service "web": unknown tag "fw.weight=3" (expected fw.route=/path, .host=, .strategy=, .stripPrefix=, .protocol=)'],
    },
    {
      why: 'a protocol tag makes a gRPC service an h2c route',
      services: { greeter: ['fw.route=/helloworld.Greeter/', 'fw.protocol=h2c'] },
      routes: ['tag.greeter /helloworld.Greeter/ round-robin h2c -> greeter'],
      conflicts: [],
    },
    {
      why: 'protocol h2 makes an HTTP/2-over-TLS route, as it does in a file',
      services: { greeter: ['fw.route=/g/', 'fw.protocol=h2'] },
      routes: ['tag.greeter /g/ round-robin h2 -> greeter'],
      conflicts: [],
    },
    {
      why: 'an unknown protocol is reported under its tag',
      services: { greeter: ['fw.route=/g/', 'fw.protocol=grpc'] },
      routes: [],
      conflicts: ['service "greeter": fw.protocol: expected one of http1, h2, h2c'],
    },
    {
      why: 'a bad value is reported under the tag it came from',
      services: { web: ['fw.route=web'] },
      routes: [],
      conflicts: ['service "web": fw.route: expected a path starting with /'],
    },
    {
      why: 'a path a file route already serves stays the file route\'s',
      services: { rogue: ['fw.route=/api'] },
      routes: [],
      conflicts: ['service "rogue": path /api is already routed by file route "api"'],
    },
    {
      why: 'a file route that also matches headers claims no path for itself alone',
      services: { shop: ['fw.route=/shop'] },
      routes: ['tag.shop /shop round-robin -> shop'],
      conflicts: [],
    },
    {
      why: 'between two newcomers claiming one path, the first by name wins',
      services: { zeta: ['fw.route=/x'], alpha: ['fw.route=/x'] },
      routes: ['tag.alpha /x round-robin -> alpha'],
      conflicts: ['service "zeta": path /x is already routed by service "alpha"'],
    },
    {
      why: 'a service already routed keeps its path against a newcomer that sorts first',
      services: { alpha: ['fw.route=/x'], zeta: ['fw.route=/x'] },
      established: ['zeta'],
      routes: ['tag.zeta /x round-robin -> zeta'],
      conflicts: ['service "alpha": path /x is already routed by service "zeta"'],
    },
    {
      why: 'between two services already routed that now claim one path, the first by name wins',
      services: { zeta: ['fw.route=/x'], alpha: ['fw.route=/x'], beta: ['fw.route=/x'] },
      established: ['zeta', 'beta'],
      routes: ['tag.beta /x round-robin -> beta'],
      // Services already routed are reported first: they are considered first.
      conflicts: ['service "zeta": path /x is already routed by service "beta"', 'service "alpha": path /x is already routed by service "beta"'],
    },
    {
      why: 'a service left out for a bad tag claims nothing: the next one on its path gets the route',
      services: { alpha: ['fw.route=/x', 'fw.strategy=fastest'], beta: ['fw.route=/x'] },
      routes: ['tag.beta /x round-robin -> beta'],
      conflicts: ['service "alpha": fw.strategy: expected one of round-robin, random, weighted, least-request, ewma, consistent-hash, failover'],
    },
    {
      why: 'the same path on different hosts is no conflict',
      services: { a: ['fw.route=/x', 'fw.host=a.test'], b: ['fw.route=/x', 'fw.host=b.test'] },
      routes: ['tag.a a.test/x round-robin -> a', 'tag.b b.test/x round-robin -> b'],
      conflicts: [],
    },
    {
      why: 'a host and path a file route serves stay the file route\'s, the host compared without case',
      file: HOSTS.routes,
      services: { rogue: ['fw.route=/', 'fw.host=WWW.test'] },
      routes: [],
      conflicts: ['service "rogue": host www.test path / is already routed by file route "site"'],
    },
    {
      why: 'a wildcard host and path a file route serves stay the file route\'s',
      file: HOSTS.routes,
      services: { rogue: ['fw.route=/app', 'fw.host=*.tenants.test'] },
      routes: [],
      conflicts: ['service "rogue": host *.tenants.test path /app is already routed by file route "tenants"'],
    },
    {
      why: 'a file route on a host claims that host only: the same path on any host is routed',
      file: HOSTS.routes,
      services: { any: ['fw.route=/'], other: ['fw.route=/app', 'fw.host=a.other.test'] },
      routes: ['tag.other a.other.test/app round-robin -> other', 'tag.any / round-robin -> any'],
      conflicts: [],
    },
    {
      why: 'a tag route a file route always matches first is left out and reported: under its wildcard host, or under its path on any host',
      file: [...HOSTS.routes, ...FILE.routes],
      services: { one: ['fw.route=/app/x', 'fw.host=a.tenants.test'], v2: ['fw.route=/api/v2'] },
      routes: [],
      conflicts: [
        'service "one": host a.tenants.test path /app/x would never be used: file route "tenants" (host *.tenants.test path /app) matches every such request first',
        'service "v2": path /api/v2 would never be used: file route "api" (path /api) matches every such request first',
      ],
    },
    {
      why: 'a file route that asks for a header shadows nothing: requests without it go on to the tag route',
      file: FILE.routes,
      services: { shop: ['fw.route=/shop/new'] },
      routes: ['tag.shop /shop/new round-robin -> shop'],
      conflicts: [],
    },
    {
      why: 'tag routes are tried most specific first: a host before none, then the longer path',
      services: { a: ['fw.route=/v'], b: ['fw.route=/v/2'], c: ['fw.route=/', 'fw.host=h.test'] },
      routes: ['tag.c h.test/ round-robin -> c', 'tag.b /v/2 round-robin -> b', 'tag.a /v round-robin -> a'],
      conflicts: [],
    },
    {
      why: 'a key given twice takes the last of its tags',
      services: { web: ['fw.route=/a', 'fw.route=/b'] },
      routes: ['tag.web /b round-robin -> web'],
      conflicts: [],
    },
  ] as Array<{ why: string; file?: readonly RouteConfig[]; services: Record<string, string[]>; established?: string[]; routes: string[]; conflicts: string[] }>)(
    '$why',
    ({ file, services, established, routes, conflicts }) => {
      const got = routesFromTags(services, 'fw', file ?? FILE.routes, new Set(established));
      expect(brief(got)).toEqual(routes);
      expect(got.conflicts).toEqual(conflicts);
    },
  );

  it('a file route already named tag.SERVICE keeps the name', () => {
    const file = config('consulTags: { prefix: fw }\nroutes:\n  - { name: tag.web, match: { pathPrefix: /old }, service: web }\n');
    const got = routesFromTags({ web: ['fw.route=/new'] }, 'fw', file.routes);
    expect(got.routes).toEqual([]);
    expect(got.conflicts).toEqual(['service "web": a file route is already named "tag.web"']);
  });
});

describe('withTagRoutes', () => {
  it('without a catalog yet, the file\'s config is the config', () => {
    const r = withTagRoutes(FILE, undefined, NONE);
    expect(r.config).toBe(FILE);
    expect(r.changed).toBe(false);
  });

  it('appends tag routes after the file\'s, and says the set changed', () => {
    const r = withTagRoutes(FILE, { web: ['fw.route=/web'] }, NONE);
    expect(r.config.routes.map((x) => x.name)).toEqual(['api', 'canary', 'tag.web']);
    expect(r.changed).toBe(true);
  });

  it('an unchanged catalog keeps the very same route objects (their pickers survive a rebuild)', () => {
    const first = withTagRoutes(FILE, { web: ['fw.route=/web'] }, NONE);
    const again = withTagRoutes(FILE, { web: ['fw.route=/web'], other: ['unrelated'] }, first.tagRoutes);
    expect(again.changed).toBe(false);
    expect(again.tagRoutes.routes[0]).toBe(first.tagRoutes.routes[0]);
  });

  it('a service with a route in the previous tag routes keeps its path against a newcomer that sorts first', () => {
    const first = withTagRoutes(FILE, { zeta: ['fw.route=/x'] }, NONE);
    const after = withTagRoutes(FILE, { alpha: ['fw.route=/x'], zeta: ['fw.route=/x'] }, first.tagRoutes);
    expect(after.changed).toBe(false);
    expect(after.config.routes.map((x) => x.name)).toEqual(['api', 'canary', 'tag.zeta']);
    expect(after.tagRoutes.conflicts).toEqual(['service "alpha": path /x is already routed by service "zeta"']);
  });

  it('a service whose tags went away takes its route with it', () => {
    const first = withTagRoutes(FILE, { web: ['fw.route=/web'] }, NONE);
    const after = withTagRoutes(FILE, { web: [] }, first.tagRoutes);
    expect(after.changed).toBe(true);
    expect(after.config.routes.map((x) => x.name)).toEqual(['api', 'canary']);
  });
});
