// Seeing inside a running Fairway: exact Prometheus counts after known traffic and reloads,
// one access-log line per request with X-Request-Id passed upstream, drain/undrain by hand
// behind the admin token, and routes that appear and disappear with Consul tags.

import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { startBackend, startBackends } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { baseConfig, Client, startFairwayLogged, until, waitReady } from '../support/fairway.js';
import { sample } from '../support/prometheus.js';

const consul = new ConsulApi(inject('consulAddress'));

/** Fairway in-process with its log lines captured. */
const start = startFairwayLogged;

describe('metrics', () => {
  it('counts known traffic exactly, by route, endpoint and class, with histogram totals', async () => {
    const backends = await startBackends(2);
    const [a, b] = backends.map((x) => x.address);
    const { app } = await start(
      baseConfig({
        consul: { address: inject('consulAddress') },
        routes: [
          { name: 'web', match: { pathPrefix: '/web' }, endpoints: [a, b] },
          { name: 'gone', match: { pathPrefix: '/gone' }, service: `absent-${randomUUID().slice(0, 8)}` },
        ],
      }),
    );
    const client = new Client(app.proxyUrl, 2);
    try {
      await waitReady(app);
      for (let i = 0; i < 10; i++) expect((await client.get('/web')).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await client.get('/nowhere')).status).toBe(404);
      for (let i = 0; i < 2; i++) expect((await client.get('/gone')).status).toBe(503);
      const res = await fetch(`${app.adminUrl}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const text = await res.text();
      for (const addr of [a, b]) {
        expect(sample(text, 'fairway_requests_total', { route: 'web', endpoint: addr!, addr: addr!, class: '2xx', protocol: 'http1' })).toBe(5);
        expect(sample(text, 'fairway_request_duration_seconds_count', { route: 'web', endpoint: addr!, addr: addr! })).toBe(5);
        expect(sample(text, 'fairway_request_duration_seconds_bucket', { route: 'web', endpoint: addr!, addr: addr!, le: '+Inf' })).toBe(5);
        expect(sample(text, 'fairway_request_duration_seconds_sum', { route: 'web', endpoint: addr!, addr: addr! })).toBeGreaterThan(0);
        expect(sample(text, 'fairway_inflight_requests', { route: 'web', endpoint: addr!, addr: addr! })).toBe(0);
        expect(sample(text, 'fairway_endpoint_state', { route: 'web', endpoint: addr!, addr: addr!, state: 'passing' })).toBe(1);
      }
      expect(sample(text, 'fairway_requests_total', { route: '-', endpoint: '-', addr: '-', class: '4xx', protocol: 'http1' })).toBe(3);
      expect(sample(text, 'fairway_requests_total', { route: 'gone', endpoint: '-', addr: '-', class: '5xx', protocol: 'http1' })).toBe(2);
      expect(sample(text, 'fairway_config_reloads_total', { result: 'ok' })).toBe(0);
      expect(text).toMatch(/^fairway_consul_watch_updates_total\{watch="absent-[^"]+"\} 1$/m);
      expect(text).toMatch(/^fairway_process_cpu_user_seconds_total /m);
    } finally {
      await client.close();
      await app.stop();
      await Promise.all(backends.map((x) => x.close()));
    }
  });
});

describe('reload metrics', () => {
  it('counts reloads that took and reloads refused, apart', async () => {
    const backend = await startBackend('b1');
    const { app } = await start(baseConfig({ routes: [{ endpoints: [backend.address] }] }));
    const count = async (result: string) => sample(await (await fetch(`${app.adminUrl}/metrics`)).text(), 'fairway_config_reloads_total', { result });
    try {
      expect([await count('ok'), await count('failed')]).toEqual([0, 0]);
      // The file as it runs (touched, or an edit undone): nothing swapped, no reload counted.
      expect((await app.reload()).ok).toBe(true);
      expect(await count('ok')).toBe(0);
      writeFileSync(app.configPath, JSON.stringify(baseConfig({ routes: [{ name: 'renamed', endpoints: [backend.address] }] })));
      expect((await app.reload()).ok).toBe(true);
      writeFileSync(app.configPath, 'routes:\n  - endpoints: [not-an-address]\n');
      expect((await app.reload()).ok).toBe(false);
      expect((await app.reload()).ok).toBe(false);
      expect([await count('ok'), await count('failed')]).toEqual([1, 2]);
    } finally {
      await app.stop();
      await backend.close();
    }
  });
});

describe('access log', () => {
  it('writes one line per request and passes a trusted peer\'s X-Request-Id upstream, making one when absent', async () => {
    const backend = await startBackend('b1');
    const { app, lines } = await start(baseConfig({ server: { trustedProxies: ['127.0.0.1', '::1'] }, routes: [{ endpoints: [backend.address] }] }));
    const client = new Client(app.proxyUrl, 1);
    try {
      await client.get('/given?x=1', { 'x-request-id': 'req-42' });
      expect(backend.last?.headers['x-request-id']).toBe('req-42');
      await client.get('/fresh');
      const made = backend.last?.headers['x-request-id'] as string;
      expect(made).toMatch(/^[0-9a-f-]{36}$/);
      await until(() => lines.filter((l) => l.msg === 'request').length === 2, 2_000, 'two access lines');
      const [first, second] = lines.filter((l) => l.msg === 'request');
      expect(first).toMatchObject({ part: 'access', requestId: 'req-42', method: 'GET', path: '/given?x=1', status: 200, route: 'route-0', upstream: backend.address, attempts: 1, bytes: 2 });
      expect(typeof first!.ms).toBe('number');
      expect(second).toMatchObject({ requestId: made, path: '/fresh', status: 200 });
    } finally {
      await client.close();
      await app.stop();
      await backend.close();
    }
  });

  it('with sample: 0 logs only the errors', async () => {
    const backend = await startBackend('b1');
    const { app, lines } = await start(baseConfig({ accessLog: { sample: 0 }, routes: [{ match: { pathPrefix: '/ok' }, endpoints: [backend.address] }] }));
    const client = new Client(app.proxyUrl, 1);
    try {
      for (let i = 0; i < 5; i++) await client.get('/ok');
      await client.get('/missing');
      await until(() => lines.some((l) => l.msg === 'request'), 2_000, 'an access line');
      const access = lines.filter((l) => l.msg === 'request');
      expect(access).toHaveLength(1);
      expect(access[0]).toMatchObject({ status: 404, error: 'no_route' });
    } finally {
      await client.close();
      await app.stop();
      await backend.close();
    }
  });
});

describe('drain by hand', () => {
  it('needs the admin token, takes the endpoint out of rotation, and puts it back', async () => {
    const backends = await startBackends(2);
    const { app } = await start(baseConfig({ admin: { listen: '127.0.0.1:0', token: 's3cret' }, routes: [{ endpoints: backends.map((x) => x.address) }] }));
    const client = new Client(app.proxyUrl, 1);
    const id = encodeURIComponent(backends[1]!.address);
    const post = (action: string, token?: string) =>
      fetch(`${app.adminUrl}/api/endpoints/${id}/${action}`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
    try {
      expect((await post('drain')).status).toBe(401);
      expect((await post('drain', 'wrong')).status).toBe(401);
      expect((await post('drain', 's3cret')).status).toBe(200);
      expect(Object.fromEntries(await client.spread(10, '/', 1))).toEqual({ b1: 10 });
      const view = (await (await fetch(`${app.adminUrl}/api/routes`)).json()) as Array<{ endpoints: Array<{ id: string; draining: boolean }> }>;
      expect(view[0]!.endpoints.find((e) => e.id === backends[1]!.address)?.draining).toBe(true);
      expect((await post('undrain', 's3cret')).status).toBe(200);
      expect(Object.fromEntries(await client.spread(10, '/', 1))).toEqual({ b1: 5, b2: 5 });
      expect((await fetch(`${app.adminUrl}/api/endpoints/nobody/drain`, { method: 'POST', headers: { authorization: 'Bearer s3cret' } })).status).toBe(404);
      // A malformed escape in the id is a 400, not a crash.
      expect((await fetch(`${app.adminUrl}/api/endpoints/%ZZ/drain`, { method: 'POST', headers: { authorization: 'Bearer s3cret' } })).status).toBe(400);
      expect((await fetch(`${app.adminUrl}/-/healthz`)).status).toBe(200);
    } finally {
      await client.close();
      await app.stop();
      await Promise.all(backends.map((x) => x.close()));
    }
  });
});

describe('routes from Consul tags', () => {
  // Consul wakes the catalog watch when a service comes or goes; one that waited out its query
  // instead would take up to consul.wait (30 s here). 2 s tells the two apart with room for a
  // loaded machine; the figures are printed.
  it('a tagged service gets a route within 2 s, conflicts are reported, and the route goes with the service', async () => {
    const suffix = randomUUID().slice(0, 8);
    const [tagged, rival] = [`tagged-${suffix}`, `rival-${suffix}`];
    const backends = await startBackends(2);
    const { app } = await start(
      baseConfig({
        consul: { address: inject('consulAddress'), wait: '30s' },
        consulTags: { prefix: 'fairway' },
        routes: [{ name: 'file', match: { pathPrefix: `/file-${suffix}` }, endpoints: [backends[1]!.address] }],
      }),
    );
    const client = new Client(app.proxyUrl, 1);
    const status = async () => ((await (await fetch(`${app.adminUrl}/api/status`)).json()) as { tagRoutes: { routes: string[]; conflicts: string[] } }).tagRoutes;
    try {
      await waitReady(app);
      expect((await client.get(`/api-${suffix}/x`)).status).toBe(404);
      await consul.put('/v1/agent/service/register', {
        ID: `${tagged}-1`, Name: tagged, Address: '127.0.0.1', Port: backends[0]!.port,
        Tags: [`fairway.route=/api-${suffix}`, 'fairway.strategy=least-request', 'fairway.stripPrefix=true'],
      });
      const registeredAt = Date.now();
      await until(async () => (await client.get(`/api-${suffix}/x`)).status === 200, 2_000, 'traffic through the tag route');
      console.log(`tag route serving ${Date.now() - registeredAt} ms after registration`);
      expect(backends[0]!.last?.url).toBe('/x');
      expect((await status()).routes).toContain(`tag.${tagged}`);

      // A second service claiming the same path, and one shadowed by a file route.
      await consul.put('/v1/agent/service/register', { ID: `${rival}-1`, Name: rival, Address: '127.0.0.1', Port: backends[1]!.port, Tags: [`fairway.route=/api-${suffix}`] });
      await until(async () => (await status()).conflicts.some((c) => c.includes(rival)), 2_000, 'conflict reported');
      expect((await status()).conflicts.find((c) => c.includes(rival))).toBe(`service "${rival}": path /api-${suffix} is already routed by service "${tagged}"`);
      expect((await client.get(`/api-${suffix}/x`)).body).toBe('b1');

      await consul.put(`/v1/agent/service/deregister/${tagged}-1`);
      await consul.put(`/v1/agent/service/deregister/${rival}-1`);
      const goneAt = Date.now();
      await until(async () => (await client.get(`/api-${suffix}/x`)).status === 404, 2_000, 'route gone');
      console.log(`tag route gone ${Date.now() - goneAt} ms after deregistration`);
    } finally {
      await client.close();
      await app.stop();
      await Promise.all(backends.map((x) => x.close()));
    }
  });
});
