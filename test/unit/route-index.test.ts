// The prefix-trie matcher used for large route tables gives exactly the linear scan's answer
// (first match in file order), checked on generated tables and requests with a seeded rng.

import { describe, expect, it } from 'vitest';
import { bareHost } from '../../src/core/request-target.js';
import { buildRouteTable, matchRoute } from '../../src/core/route-table.js';
import { config, depsOf, seeded } from './helpers.js';

// Non-ASCII too: a prefix with characters outside one byte, and one outside the BMP (two UTF-16 units).
const SEGMENTS = ['a', 'ab', 'api', 'api/v1', 'api/v2', 'b', 'static', 'x', 'é', 'éa', '😀', '😀b'];
const HOSTS = [undefined, 'example.com', '*.example.com', 'other.test'];

function generated(seed: number, routes: number) {
  const rng = seeded(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  let yaml = 'routes:\n';
  for (let i = 0; i < routes; i++) {
    const prefix = rng() < 0.1 ? '/' : `/${pick(SEGMENTS)}${rng() < 0.5 ? '/' : ''}${rng() < 0.3 ? pick(SEGMENTS) : ''}`;
    const host = pick(HOSTS);
    yaml += `  - name: r${i}\n    endpoints: [127.0.0.1:${1000 + i}]\n    match:\n      pathPrefix: "${prefix}"\n`;
    if (host) yaml += `      host: "${host}"\n`;
    if (rng() < 0.15) yaml += `      headers: { x-canary: "1" }\n`;
  }
  const requests = Array.from({ length: 500 }, () => ({
    // Bare, as the edge hands hosts to the matcher (bareHost: lower-case, no port).
    host: bareHost(pick(['example.com', 'api.example.com', 'other.test:8080', 'EXAMPLE.com', 'none'])),
    path: `/${pick(SEGMENTS)}${rng() < 0.5 ? `/${pick(SEGMENTS)}` : ''}${rng() < 0.3 ? '?q=1' : ''}`,
    headers: rng() < 0.3 ? { 'x-canary': '1' } : {},
  }));
  return { yaml, requests };
}

describe('route index', () => {
  it.each([
    { why: 'a table small enough for the linear scan', seed: 1, routes: 10 },
    { why: 'a table just past the linear threshold', seed: 2, routes: 17 },
    { why: 'a large table with many shared prefixes', seed: 3, routes: 300 },
    { why: 'another large table', seed: 4, routes: 1000 },
  ])('matches exactly as the linear scan: $why', ({ seed, routes, }) => {
    const { yaml, requests } = generated(seed, routes);
    const table = buildRouteTable(config(yaml), new Map(), depsOf());
    let matched = 0;
    for (const r of requests) {
      const want = matchRoute(table.routes, r.host, r.path, r.headers);
      expect(table.match(r.host, r.path, r.headers)?.config.name, `${r.host} ${r.path}`).toBe(want?.config.name);
      if (want) matched++;
    }
    // The generated requests must exercise matches, not only misses.
    expect(matched).toBeGreaterThan(requests.length / 5);
  });

  it('the root prefix matches everything not matched earlier', () => {
    const table = buildRouteTable(config(`routes:\n${Array.from({ length: 20 }, (_, i) => `  - name: r${i}\n    endpoints: [127.0.0.1:${2000 + i}]\n    match: { pathPrefix: /p${i}/ }\n`).join('')}  - name: fallback\n    endpoints: [127.0.0.1:3000]\n`), new Map(), depsOf());
    expect(table.match(undefined, '/p7/x', {})?.config.name).toBe('r7');
    expect(table.match(undefined, '/nothing', {})?.config.name).toBe('fallback');
    expect(table.match(undefined, '', {})?.config.name).toBe(undefined);
  });
});
