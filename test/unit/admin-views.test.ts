// The admin API's JSON (SPEC "Admin"): /api/routes and /api/status are read by scripts,
// dashboards and `fairway status`, so their field names and meanings are a contract. Whole
// objects are compared, so a renamed or dropped field fails here, not in someone's tooling.

import { describe, expect, it } from 'vitest';
import { routesView, statusView, type AdminSource } from '../../src/admin/views.js';
import { buildRouteTable } from '../../src/core/route-table.js';
import { recordLatency } from '../../src/core/upstream.js';
import { VERSION } from '../../src/version.js';
import { config, depsOf, instance } from './helpers.js';

const CONFIG = config(`
routes:
  - name: web
    match: { host: web.example, pathPrefix: /app }
    service: web
    tags: [v2]
    strategy: weighted
  - name: files
    endpoints: [127.0.0.1:9300]
`);

function table() {
  const web = [instance('web-1', { host: '10.0.0.1', port: 9000, passing: 3, tags: ['v2'] }), instance('web-2', { host: '10.0.0.2', port: 9001, status: 'critical', tags: ['v2'] })];
  return buildRouteTable(CONFIG, new Map([['web?tag=v2', { key: 'web?tag=v2', instances: web }]]), depsOf());
}

describe('routesView', () => {
  it('gives each route its source, strategy and match, and every endpoint with its counters', () => {
    const t = table();
    const s = t.routes[0]!.upstreams[0]!.stats;
    s.inflight = 2;
    s.requests = 10;
    s.failures = 1;
    recordLatency(s, 12, 1_000);
    s.ejectedUntil = 5_000;
    const views = routesView(t, 2_000, { drained: () => new Set(['web-2']), traffic: () => ({ rps: 4.44, p50Ms: 3, p99Ms: 9 }) });
    expect(views).toEqual([
      {
        name: 'web',
        service: 'web',
        tags: ['v2'],
        strategy: 'weighted',
        panic: false,
        match: { host: 'web.example', pathPrefix: '/app', headers: {} },
        endpoints: [
          { id: 'web-1', address: '10.0.0.1', port: 9000, weight: 3, status: 'passing', active: true, inflight: 2, requests: 10, failures: 1, ewmaMs: 12, ejected: true, draining: false, rps: 4.4, p50Ms: 3, p99Ms: 9 },
          // Critical: known to Consul, not used, so weight 0 and no traffic figures.
          { id: 'web-2', address: '10.0.0.2', port: 9001, weight: 0, status: 'critical', active: false, inflight: 0, requests: 0, failures: 0, ewmaMs: null, ejected: false, draining: true, rps: 0, p50Ms: null, p99Ms: null },
        ],
      },
      {
        name: 'files',
        service: null,
        tags: [],
        strategy: 'round-robin',
        panic: false,
        match: { host: null, pathPrefix: '/', headers: {} },
        endpoints: [
          { id: '127.0.0.1:9300', address: '127.0.0.1', port: 9300, weight: 1, status: 'passing', active: true, inflight: 0, requests: 0, failures: 0, ewmaMs: null, ejected: false, draining: false, rps: 0, p50Ms: null, p99Ms: null },
        ],
      },
    ]);
  });
});

describe('statusView', () => {
  it('says the version, uptime, config file, last reload and Consul state', () => {
    const src: AdminSource = {
      ready: true,
      table: table(),
      configPath: '/etc/fairway/fairway.yaml',
      startedAt: Date.now() - 61_000,
      lastReload: { ok: false, at: '2026-12-03T07:00:00.000Z', problems: ['fairway.yaml:3 routes[0].timeout: expected a duration'] },
      consulState: 'unreachable',
      consulAddress: 'http://127.0.0.1:8500',
      watchStates: () => [],
      now: () => 0,
      drained: () => new Set(),
    };
    const view = statusView(src);
    expect(view).toMatchObject({
      version: VERSION,
      ready: true,
      configFile: '/etc/fairway/fairway.yaml',
      lastReload: src.lastReload,
      consul: 'unreachable',
      consulAddress: 'http://127.0.0.1:8500',
      watches: [],
      routes: 2,
      fleet: null,
      fleetConfig: null,
      tagRoutes: null,
    });
    expect(view.uptimeSeconds).toBeGreaterThanOrEqual(61);
    expect(view.uptimeSeconds).toBeLessThan(3_600);
  });
});
