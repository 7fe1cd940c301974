// The routing step of an explanation, in words: what a route matches, and every reason at once
// why a route does not take the request. The matcher itself (route-index.ts) decides; these
// sentences restate its rules, and explain.ts reports any disagreement between the two.

import type { IncomingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../../core/config.js';
import type { Route } from '../../core/route-table.js';
import { pathOnly } from './phrases.js';

export function label(route: Route, index: number): string {
  return `"${route.config.name}" (#${index + 1})`;
}

function hostPattern(rc: RouteConfig): string | undefined {
  return rc.match.host ?? (rc.match.hostSuffix === undefined ? undefined : `*${rc.match.hostSuffix}`);
}

export function matchText(rc: RouteConfig): string {
  const m = rc.match;
  const parts = [`path prefix ${m.pathPrefix}`, hostPattern(rc) === undefined ? 'any host' : `host ${hostPattern(rc)}`];
  for (const [name, value] of m.headers) parts.push(`header ${name}: ${value}`);
  return parts.join(', ');
}

/** Why `rc` does not take the request, every reason at once (none: it does). See hostAndHeadersMatch. */
export function mismatches(rc: RouteConfig, host: string, path: string, headers: IncomingHttpHeaders): string[] {
  const m = rc.match;
  const why: string[] = [];
  if (!path.startsWith(m.pathPrefix)) why.push(`path ${pathOnly(path)} does not start with ${m.pathPrefix}`);
  if (m.host !== undefined && m.host !== host) why.push(`host ${host} is not ${m.host}`);
  if (m.hostSuffix !== undefined && !host.endsWith(m.hostSuffix)) why.push(`host ${host} is not under *${m.hostSuffix}`);
  for (const [name, want] of m.headers) {
    const got = headers[name];
    if (got === undefined) why.push(`header ${name} is missing (it must be "${want}")`);
    else if (Array.isArray(got) ? !got.includes(want) : got !== want) why.push(`header ${name} is "${String(got)}", not "${want}"`);
  }
  return why;
}
