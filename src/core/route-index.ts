// Route matching for large tables, and the routes of each watch key (for rebuilds that are
// told which keys changed). Routes match by plain path prefix, first match in file order; a
// linear scan costs one startsWith per route (about 12 µs per request at 1,000 routes). This
// index is a character trie of the path prefixes: walking the request path visits exactly the
// routes whose prefix the path starts with, in prefix-length order, and the lowest file
// position among those whose host and headers also match wins.
// Cost: O(path length + matching prefixes) per request; O(Σ prefix lengths) to build.
// Small tables (<= 16 routes) keep the linear scan, which is faster there. The trie depends
// only on the configured prefixes, so it is built once per config and shared by every table
// rebuilt from it (a health change at 1,000 routes rebuilt ~8,000 trie nodes before).

import type { IncomingHttpHeaders } from 'node:http';
import type { Config, RouteConfig } from './config.js';
import type { Route, RouteTable } from './route-table.js';

/** `host`: bare (lower-case, no port), as matchRoute takes it. */
export type Matcher = (host: string | undefined, path: string, headers: IncomingHttpHeaders) => Route | undefined;

const LINEAR_UP_TO = 16;

interface Node {
  /** The next character of each child, one per child, in `kids` order. */
  readonly chars: string;
  readonly kids: readonly Node[];
  /** Positions (in file order, ascending) of the routes whose prefix ends here. */
  readonly here: readonly number[] | undefined;
}

interface Building {
  next: Map<string, Building> | undefined;
  here: number[] | undefined;
}

const NO_KIDS: readonly Node[] = Object.freeze([]);
const tries = new WeakMap<readonly RouteConfig[], Node>();

/**
 * The prefix trie of `configs`, in their order. Built with a Map per node, then kept with a
 * string of child characters and an array per node: a Map per node cost ~370 bytes each, 7 MB
 * at 10,000 routes, where a node has one child or a few.
 */
function trieOf(configs: readonly RouteConfig[]): Node {
  const known = tries.get(configs);
  if (known) return known;
  const root: Building = { next: undefined, here: undefined };
  configs.forEach((rc, position) => {
    let node = root;
    const prefix = rc.match.pathPrefix;
    for (let i = 0; i < prefix.length; i++) {
      const c = prefix[i]!; // a UTF-16 unit, as the walk reads the path
      node.next ??= new Map();
      let child = node.next.get(c);
      if (!child) node.next.set(c, (child = { next: undefined, here: undefined }));
      node = child;
    }
    (node.here ??= []).push(position);
  });
  const compact = (b: Building): Node => ({
    chars: b.next === undefined ? '' : [...b.next.keys()].join(''),
    kids: b.next === undefined ? NO_KIDS : [...b.next.values()].map(compact),
    // Copied to its length: an array grown by push keeps room for 17 (152 bytes for one route).
    here: b.here?.slice(),
  });
  const trie = compact(root);
  tries.set(configs, trie);
  return trie;
}

/** A matcher over `routes`, which are built from `configs` one for one, in the same order. */
export function routeMatcher(
  configs: readonly RouteConfig[],
  routes: readonly Route[],
  linear: (routes: readonly Route[], host: string | undefined, path: string, headers: IncomingHttpHeaders) => Route | undefined,
): Matcher {
  if (routes.length <= LINEAR_UP_TO) return (host, path, headers) => linear(routes, host, path, headers);
  const root = trieOf(configs);
  return (host, path, headers) => {
    const bareHost = host ?? '';
    let best = Infinity;
    let node: Node | undefined = root;
    for (let i = 0; node !== undefined; i++) {
      if (node.here !== undefined) {
        for (const position of node.here) {
          if (position >= best) break;
          if (hostAndHeadersMatch(routes[position]!, bareHost, headers)) {
            best = position;
            break;
          }
        }
      }
      if (i >= path.length) break;
      // One-character strings of an ASCII path are V8's cached ones: no allocation here.
      const k = node.chars.indexOf(path[i]!);
      node = k < 0 ? undefined : node.kids[k];
    }
    return best === Infinity ? undefined : routes[best];
  };
}

export function hostAndHeadersMatch(route: Route, bareHost: string, headers: IncomingHttpHeaders): boolean {
  const m = route.config.match;
  if (m.host !== undefined && m.host !== bareHost) return false;
  if (m.hostSuffix !== undefined && !bareHost.endsWith(m.hostSuffix)) return false;
  for (const [name, value] of m.headers) {
    const got = headers[name];
    if (Array.isArray(got) ? !got.includes(value) : got !== value) return false;
  }
  return true;
}

/**
 * Per config, the position of its route by watch key, or positions where routes share a key
 * (from a table built from it; an array only then: most keys have one route, 10,000 arrays fewer).
 */
const positionsCache = new WeakMap<Config, ReadonlyMap<string, number | readonly number[]>>();
export function positionsByKey(table: Pick<RouteTable, 'config' | 'routes'>): ReadonlyMap<string, number | readonly number[]> {
  let positions = positionsCache.get(table.config);
  if (positions === undefined) {
    const byKey = new Map<string, number | number[]>();
    table.routes.forEach((r, i) => {
      if (r.key === undefined) return;
      const at = byKey.get(r.key);
      if (at === undefined) byKey.set(r.key, i);
      else if (typeof at === 'number') byKey.set(r.key, [at, i]);
      else at.push(i);
    });
    positions = byKey;
    positionsCache.set(table.config, positions);
  }
  return positions;
}
