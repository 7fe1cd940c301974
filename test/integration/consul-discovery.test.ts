// Traffic through the real proxy to real backends discovered from a real Consul agent.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, startBackends, type Backend } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { baseConfig, Client, startFairway, until, waitReady } from '../support/fairway.js';

const consul = new ConsulApi(inject('consulAddress'));

interface Reg {
  service: string;
  id: string;
  backend: Backend;
  weight?: number;
  tags?: string[];
  check?: Record<string, unknown>;
}

async function register(r: Reg): Promise<void> {
  await consul.put('/v1/agent/service/register', {
    ID: r.id,
    Name: r.service,
    Address: '127.0.0.1',
    Port: r.backend.port,
    Tags: r.tags ?? [],
    Weights: { Passing: r.weight ?? 1, Warning: 1 },
    ...(r.check ? { Check: r.check } : {}),
  });
}

function endpointIds(app: Fairway, route: string): string[] {
  return (app.table.routes.find((r) => r.config.name === route)?.upstreams ?? []).map((u) => u.id).sort();
}

describe('Consul-discovered instances', () => {
  const service = `web-${randomUUID().slice(0, 8)}`;
  let backends: Backend[];
  let app: Fairway;
  let client: Client;
  const ids: string[] = [];

  beforeAll(async () => {
    backends = await startBackends(3);
    for (const [i, b] of backends.entries()) {
      const id = `${service}-${i + 1}`;
      ids.push(id);
      await register({ service, id, backend: b, weight: i + 1, tags: i === 2 ? ['v2'] : ['v1'] });
    }
    app = await startFairway(
      baseConfig({
        consul: { address: inject('consulAddress'), wait: '5s' },
        routes: [
          { name: 'rr', match: { pathPrefix: '/rr' }, service, strategy: 'round-robin' },
          { name: 'random', match: { pathPrefix: '/random' }, service, strategy: 'random' },
          { name: 'weighted', match: { pathPrefix: '/weighted' }, service, strategy: 'weighted' },
          { name: 'v2', match: { pathPrefix: '/v2' }, service, tags: ['v2'] },
        ],
      }),
    );
    await waitReady(app);
    client = new Client(app.proxyUrl);
  });

  afterAll(async () => {
    await client.close();
    await app.stop();
    for (const id of ids) await consul.put(`/v1/agent/service/deregister/${id}`);
    await Promise.all(backends.map((b) => b.close()));
  });

  it('shares one watch between routes that use the same service and tags', () => {
    const keys = app.watchStates().map((w) => w.key).sort();
    expect(keys).toEqual([service, `${service}?tag=v2`]);
  });

  it('round-robin: 300 requests over 3 instances give exactly 100 each', async () => {
    const counts = await client.spread(300, '/rr');
    expect(Object.fromEntries(counts)).toEqual({ b1: 100, b2: 100, b3: 100 });
  });

  it('random: 3000 requests give each instance 1000 ± 15%', async () => {
    const counts = await client.spread(3000, '/random');
    console.log('consul random spread:', Object.fromEntries(counts));
    expect(counts.size).toBe(3);
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThanOrEqual(150);
  });

  it('weighted with Weights.Passing 1/2/3: 3000 requests give 500/1000/1500 ± 5%', async () => {
    const counts = await client.spread(3000, '/weighted');
    console.log('consul weighted spread:', Object.fromEntries(counts));
    expect(Math.abs(counts.get('b1')! - 500)).toBeLessThanOrEqual(25);
    expect(Math.abs(counts.get('b2')! - 1000)).toBeLessThanOrEqual(50);
    expect(Math.abs(counts.get('b3')! - 1500)).toBeLessThanOrEqual(75);
  });

  it('a route with tags: [v2] sends only to instances carrying v2', async () => {
    const counts = await client.spread(60, '/v2');
    expect(Object.fromEntries(counts)).toEqual({ b3: 60 });
  });

  it('a newly registered instance joins the rotation, and leaves when deregistered', async () => {
    const extra = await startBackend('b4');
    const id = `${service}-4`;
    try {
      await register({ service, id, backend: extra });
      await until(() => endpointIds(app, 'rr').includes(id), 5_000, 'new instance in rotation');
      const counts = await client.spread(40, '/rr');
      expect(counts.get('b4')).toBe(10);
      await consul.put(`/v1/agent/service/deregister/${id}`);
      await until(() => !endpointIds(app, 'rr').includes(id), 5_000, 'instance gone');
      const after = await client.spread(30, '/rr');
      expect(after.get('b4')).toBeUndefined();
    } finally {
      await extra.close();
    }
  });
});

describe('health checks', () => {
  // Consul wakes a blocking query when its answer changes; a watch that only saw changes when
  // its wait ran out would take up to consul.wait (30 s here). The 2 s bounds tell the two apart
  // with room for a loaded machine; the figures are printed.
  it('evicts an instance within 2 s of Consul marking it critical, and brings it back within 2 s of passing', async () => {
    const service = `hc-${randomUUID().slice(0, 8)}`;
    const backends = await startBackends(3);
    const ids = backends.map((_, i) => `${service}-${i + 1}`);
    for (const [i, b] of backends.entries())
      await register({ service, id: ids[i]!, backend: b, check: { HTTP: `http://${b.address}/health`, Interval: '1s', Timeout: '1s' } });
    await until(async () => (await Promise.all(ids.map((id) => consul.instanceStatus(service, id)))).every((s) => s === 'passing'), 10_000, 'checks passing');

    const app = await startFairway(baseConfig({ consul: { address: inject('consulAddress'), wait: '30s' }, routes: [{ service }] }));
    const client = new Client(app.proxyUrl, 4);
    try {
      await waitReady(app);
      expect(endpointIds(app, service)).toEqual([...ids].sort());
      const sick = backends[1]!;
      sick.healthy = false;
      // The moment Consul itself reports the instance critical (polled every 10 ms).
      await until(async () => (await consul.instanceStatus(service, ids[1]!)) === 'critical', 10_000, 'consul marks critical');
      const markedAt = Date.now();
      await until(() => !endpointIds(app, service).includes(ids[1]!), 10_000, 'eviction');
      const evictMs = Date.now() - markedAt;
      console.log(`evicted ${evictMs} ms after Consul reported critical`);
      expect(evictMs).toBeLessThan(2_000);
      const before = sick.hits;
      const counts = await client.spread(200, '/');
      expect(sick.hits).toBe(before);
      expect(counts.get('status 503')).toBeUndefined();

      sick.healthy = true;
      await until(async () => (await consul.instanceStatus(service, ids[1]!)) === 'passing', 10_000, 'consul marks passing');
      const passingAt = Date.now();
      await until(() => endpointIds(app, service).includes(ids[1]!), 10_000, 'back in rotation');
      const backMs = Date.now() - passingAt;
      console.log(`back in rotation ${backMs} ms after Consul reported passing`);
      expect(backMs).toBeLessThan(2_000);
      const again = await client.spread(30, '/');
      expect(again.get('b2')).toBe(10);
    } finally {
      await client.close();
      await app.stop();
      for (const id of ids) await consul.put(`/v1/agent/service/deregister/${id}`);
      await Promise.all(backends.map((b) => b.close()));
    }
  });

  it('a warning instance gets traffic only on weighted routes, at Weights.Warning', async () => {
    const service = `warn-${randomUUID().slice(0, 8)}`;
    const backends = await startBackends(2);
    const ids = [`${service}-1`, `${service}-2`];
    await register({ service, id: ids[0]!, backend: backends[0]!, weight: 3 });
    await consul.put('/v1/agent/service/register', {
      ID: ids[1],
      Name: service,
      Address: '127.0.0.1',
      Port: backends[1]!.port,
      Weights: { Passing: 5, Warning: 1 },
      Check: { TTL: '30s', Status: 'warning' },
    });
    const app = await startFairway(
      baseConfig({
        consul: { address: inject('consulAddress'), wait: '5s' },
        routes: [
          { name: 'plain', match: { pathPrefix: '/plain' }, service },
          { name: 'weighted', match: { pathPrefix: '/weighted' }, service, strategy: 'weighted' },
        ],
      }),
    );
    const client = new Client(app.proxyUrl, 4);
    try {
      await waitReady(app);
      const plain = await client.spread(20, '/plain');
      expect(Object.fromEntries(plain)).toEqual({ b1: 20 });
      const weighted = await client.spread(40, '/weighted');
      expect(Object.fromEntries(weighted)).toEqual({ b1: 30, b2: 10 });
    } finally {
      await client.close();
      await app.stop();
      for (const id of ids) await consul.put(`/v1/agent/service/deregister/${id}`);
      await Promise.all(backends.map((b) => b.close()));
    }
  });

  it('a service whose instances all go away answers 503 no_healthy_upstream, not 404', async () => {
    const service = `gone-${randomUUID().slice(0, 8)}`;
    const backend = await startBackend('only');
    await register({ service, id: `${service}-1`, backend });
    const app = await startFairway(baseConfig({ consul: { address: inject('consulAddress'), wait: '5s' }, routes: [{ service }] }));
    const client = new Client(app.proxyUrl, 1);
    try {
      await waitReady(app);
      expect((await client.get('/')).status).toBe(200);
      await consul.put(`/v1/agent/service/deregister/${service}-1`);
      await until(() => endpointIds(app, service).length === 0, 5_000, 'instance gone');
      const r = await client.get('/');
      expect(r.status).toBe(503);
      expect(r.headers['x-fairway-error']).toBe('no_healthy_upstream');
    } finally {
      await client.close();
      await app.stop();
      await backend.close();
    }
  });
});

describe('ConsulClient blocking health queries against the real agent', () => {
  it('a wait that runs out unchanged gives no instances and the same index; a change then gives the new set', async () => {
    const { ConsulClient } = await import('../../src/discovery/consul-client.js');
    const client = new ConsulClient({ address: inject('consulAddress') });
    const service = `blk-${randomUUID().slice(0, 8)}`;
    const backend = await startBackend('blk');
    try {
      await register({ service, id: `${service}-1`, backend });
      const first = await client.healthService(service, [], { index: 0, waitMs: 1_000 });
      expect(first.value?.map((i) => i.id)).toEqual([`${service}-1`]);
      const quiet = await client.healthService(service, [], { index: first.index, waitMs: 1_000 });
      expect(quiet.value).toBeUndefined();
      expect(quiet.index).toBe(first.index);
      const changed = client.healthService(service, [], { index: quiet.index, waitMs: 10_000 });
      await register({ service, id: `${service}-2`, backend });
      const next = await changed;
      expect(next.index).toBeGreaterThan(first.index);
      expect(next.value?.map((i) => i.id).sort()).toEqual([`${service}-1`, `${service}-2`]);
    } finally {
      await consul.put(`/v1/agent/service/deregister/${service}-1`);
      await consul.put(`/v1/agent/service/deregister/${service}-2`);
      await client.close();
      await backend.close();
    }
  });
});
