// Static endpoints as a provider: the snapshot a route's `endpoints:` make, of the same shape
// as Consul's, and made once per route entry so a rebuild keeps the route.

import { describe, expect, it } from 'vitest';
import { staticSnapshot } from '../../src/core/static-endpoints.js';
import { buildRouteTable } from '../../src/core/route-table.js';
import { config } from './helpers.js';

const CONFIG = config('routes:\n  - { name: s, endpoints: ["10.0.0.1:80", { address: "https://10.0.0.2:443", weight: 3 }] }\n  - { name: c, service: web }\n');
const deps = { rng: () => 0, now: () => 0 };

describe('staticSnapshot', () => {
  it('gives every endpoint as a passing instance at its weight, https ones marked as Consul marks them', () => {
    expect(staticSnapshot(CONFIG.routes[0]!)).toEqual({
      key: 'static:s',
      instances: [
        { id: '10.0.0.1:80', node: '', host: '10.0.0.1', port: 80, tags: [], meta: {}, weights: { passing: 1, warning: 1 }, status: 'passing' },
        { id: '10.0.0.2:443', node: '', host: '10.0.0.2', port: 443, tags: [], meta: { scheme: 'https' }, weights: { passing: 3, warning: 3 }, status: 'passing' },
      ],
    });
  });

  it('is undefined for a route whose instances come from Consul', () => {
    expect(staticSnapshot(CONFIG.routes[1]!)).toBeUndefined();
  });

  it('is one frozen object per route entry, so a rebuild finds the route unchanged', () => {
    const snap = staticSnapshot(CONFIG.routes[0]!);
    expect(staticSnapshot(CONFIG.routes[0]!)).toBe(snap);
    expect(Object.isFrozen(snap) && Object.isFrozen(snap!.instances[0])).toBe(true);
    const first = buildRouteTable(CONFIG, new Map(), deps);
    const again = buildRouteTable(CONFIG, new Map(), deps, first);
    expect(again.routes[0]).toBe(first.routes[0]);
  });

  it('its upstreams go over TLS where the endpoint says https, at its weight', () => {
    const route = buildRouteTable(CONFIG, new Map(), deps).routes[0]!;
    expect(route.upstreams.map((u) => [u.origin, u.weight])).toEqual([
      ['http://10.0.0.1:80', 1],
      ['https://10.0.0.2:443', 3],
    ]);
  });
});
