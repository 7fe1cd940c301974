// Metrics.prune keeps the counters of endpoints a route still knows and drops the rest; the
// metrics and route views read those counters without making any for unused instances.

import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/admin/metrics.js';
import { routesView } from '../../src/admin/views.js';
import { buildRouteTable, type RouteTable } from '../../src/core/route-table.js';
import { config, depsOf, instance } from './helpers.js';

const CONFIG = config(`
routes:
  - name: web
    match: { pathPrefix: /web }
    service: web
  - name: api
    match: { pathPrefix: /api }
    service: api
`);

function table(webInstances: string[], previous?: RouteTable) {
  const web = webInstances.map((id, k) => instance(id, { host: '10.0.0.1', port: 9000 + k }));
  return buildRouteTable(CONFIG, new Map([['web', { key: 'web', instances: web }], ['api', { key: 'api', instances: [instance('api-1', { host: '10.0.0.2', port: 9100 })] }]]), depsOf(), previous);
}

describe('Metrics.prune', () => {
  it('drops the counters of instances and routes the table no longer has, and keeps the rest', () => {
    const before = table(['web-1', 'web-2']);
    const m = new Metrics(() => 1_000);
    const s1 = before.stats.for('web-1', '10.0.0.1', 9000);
    const s2 = before.stats.for('web-2', '10.0.0.1', 9001);
    const api = before.stats.for('api-1', '10.0.0.2', 9100);
    for (const [route, s] of [['web', s1], ['web', s2], ['api', api], ['gone', s1]] as const) m.countersFor(route, s, s.host, `${s.host}:${s.port}`).window.record(5, 1_000);
    expect(m.traffic('web', s2, 1_000)).toBeDefined();

    // web-2 leaves; web-1 keeps its stats object (same id, same address).
    const after = table(['web-1'], before);
    expect(after.stats.find('web-1', '10.0.0.1', 9000)).toBe(s1);
    m.prune(after);
    expect(m.traffic('web', s1, 1_000)).toBeDefined();
    expect(m.traffic('web', s2, 1_000)).toBeUndefined();
    expect(m.traffic('api', api, 1_000)).toBeDefined();
    expect(m.traffic('gone', s1, 1_000)).toBeUndefined();
  });
});

describe('reading views of a table', () => {
  it('makes no stats: a /metrics scrape and /api/routes list instances never used without giving them counters', async () => {
    const t = table(['web-1', 'web-2']);
    const m = new Metrics(() => 1_000);
    m.attach({ table: t, now: () => 1_000, watchStates: () => [], drained: () => new Set() });
    const text = await m.registry.metrics();
    expect(text).toMatch(/fairway_inflight_requests\{[^}]*endpoint="web-2"[^}]*\} 0/);
    const views = routesView(t, 1_000, { drained: () => new Set() });
    expect(views.find((r) => r.name === 'web')!.endpoints.map((e) => [e.id, e.requests, e.active])).toEqual([
      ['web-1', 0, true],
      ['web-2', 0, true],
    ]);
    expect(t.stats.size).toBe(0);
    // Once used, an instance's counters show there.
    t.routes[0]!.upstreams[1]!.stats.requests = 3;
    expect(routesView(t, 1_000, { drained: () => new Set() })[0]!.endpoints.map((e) => e.requests)).toEqual([0, 3]);
  });
});
