// The load-aware and sticky strategies proven on real traffic through the proxy: least-request
// and peak-EWMA avoid a slow instance, consistent hashing keeps keys in place and moves ~1/N of
// them when an instance leaves, failover uses the backup tier only while no primary is healthy.

import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { baseConfig, Client, startFairway, until, waitReady } from '../support/fairway.js';

const consul = new ConsulApi(inject('consulAddress'));

describe('load-aware strategies with one slow instance (50 ms)', () => {
  it.each([
    ['ewma', (share: number) => expect(share).toBeLessThan(0.1)],
    ['least-request', (share: number) => expect(share).toBeLessThan(0.1)],
    ['round-robin', (share: number) => expect(Math.abs(share - 1 / 3)).toBeLessThan(0.01)],
  ] as const)('%s: share of 2000 requests sent to the slow instance', async (strategy, check) => {
    const backends = await startBackends(3);
    backends[2]!.delayMs = 50;
    const app = await startFairway(baseConfig({ routes: [{ endpoints: backends.map((b) => b.address), strategy }] }));
    const client = new Client(app.proxyUrl, 16);
    try {
      const counts = await client.spread(2000, '/', 16);
      const share = (counts.get('b3') ?? 0) / 2000;
      console.log(`${strategy}: slow instance got ${(share * 100).toFixed(1)}% of 2000`, Object.fromEntries(counts));
      expect([...counts.keys()].every((k) => k.startsWith('b'))).toBe(true);
      check(share);
    } finally {
      await client.close();
      await app.stop();
      await Promise.all(backends.map((b) => b.close()));
    }
  });
});

describe('consistent-hash over Consul instances', () => {
  it('keeps every key on one instance, and moves 5-15% of 10,000 keys when one of 10 leaves', async () => {
    const service = `hash-${randomUUID().slice(0, 8)}`;
    const backends = await startBackends(10);
    const ids = backends.map((_, i) => `${service}-${i}`);
    for (const [i, b] of backends.entries())
      await consul.put('/v1/agent/service/register', { ID: ids[i], Name: service, Address: '127.0.0.1', Port: b.port });
    const app = await startFairway(
      baseConfig({ consul: { address: inject('consulAddress'), wait: '5s' }, routes: [{ service, strategy: 'consistent-hash', hashKey: 'header:x-user' }] }),
    );
    const client = new Client(app.proxyUrl, 16);
    const placeAll = async (): Promise<string[]> => {
      const out: string[] = new Array(10_000);
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < 10_000) {
            const k = next++;
            out[k] = (await client.get('/', { 'x-user': `user-${k}` })).body;
          }
        }),
      );
      return out;
    };
    try {
      await waitReady(app);
      const before = await placeAll();
      // Same key, same instance: 5 more requests for each of 200 keys.
      for (let k = 0; k < 200; k++)
        for (let r = 0; r < 5; r++) expect((await client.get('/', { 'x-user': `user-${k}` })).body).toBe(before[k]);
      const gone = backends[3]!.name;
      await consul.put(`/v1/agent/service/deregister/${ids[3]}`);
      await until(() => app.table.routes[0]!.upstreams.length === 9, 5_000, 'instance removed');
      const after = await placeAll();
      const moved = after.filter((v, k) => v !== before[k]);
      const share = moved.length / 10_000;
      console.log(`consistent-hash: ${(share * 100).toFixed(1)}% of 10,000 keys moved when 1 of 10 instances left`);
      expect(share).toBeGreaterThanOrEqual(0.05);
      expect(share).toBeLessThanOrEqual(0.15);
      // Only keys of the departed instance moved.
      expect(after.every((v, k) => v === before[k] || before[k] === gone)).toBe(true);
      // A request without the key still gets an answer (a random instance).
      expect((await client.get('/')).status).toBe(200);
    } finally {
      await client.close();
      await app.stop();
      for (const id of ids) if (id !== ids[3]) await consul.put(`/v1/agent/service/deregister/${id}`);
      await Promise.all(backends.map((b) => b.close()));
    }
  });
});

describe('failover tiers', () => {
  // Consul wakes the watch when a check changes; a watch that waited out its query instead
  // would take up to consul.wait (30 s here). 2 s tells the two apart with room for a loaded
  // machine; the figures are printed.
  it('uses the backup only while no primary is healthy, switching within 2 s each way', async () => {
    const service = `fo-${randomUUID().slice(0, 8)}`;
    const backends = await startBackends(3);
    const tiers = ['primary', 'primary', 'backup'];
    const ids = backends.map((_, i) => `${service}-${i}`);
    for (const [i, b] of backends.entries())
      await consul.put('/v1/agent/service/register', {
        ID: ids[i], Name: service, Address: '127.0.0.1', Port: b.port, Tags: [tiers[i]],
        Check: { CheckID: `${ids[i]}-ttl`, TTL: '60s', Status: 'passing' },
      });
    const app = await startFairway(
      baseConfig({ consul: { address: inject('consulAddress'), wait: '30s' }, routes: [{ service, strategy: 'failover', failover: { tiers: ['primary', 'backup'] } }] }),
    );
    const client = new Client(app.proxyUrl, 4);
    const check = (i: number, status: 'pass' | 'fail') => consul.put(`/v1/agent/check/${status}/${ids[i]}-ttl`);
    try {
      await waitReady(app);
      expect(Object.fromEntries(await client.spread(100, '/'))).toEqual({ b1: 50, b2: 50 });

      await check(0, 'fail');
      await until(() => app.table.routes[0]!.upstreams.length === 2, 2_000, 'first primary out');
      expect(Object.fromEntries(await client.spread(50, '/'))).toEqual({ b2: 50 });

      await check(1, 'fail');
      const failedAt = Date.now();
      await until(async () => (await client.get('/')).body === 'b3', 2_000, 'traffic on the backup');
      console.log(`failover: backup serving ${Date.now() - failedAt} ms after the last primary failed`);
      expect(Object.fromEntries(await client.spread(50, '/'))).toEqual({ b3: 50 });

      await check(0, 'pass');
      const passedAt = Date.now();
      await until(async () => (await client.get('/')).body === 'b1', 2_000, 'traffic back on the primary');
      console.log(`failover: primary serving again ${Date.now() - passedAt} ms after it passed`);
      expect(Object.fromEntries(await client.spread(50, '/'))).toEqual({ b1: 50 });
    } finally {
      await client.close();
      await app.stop();
      for (const id of ids) await consul.put(`/v1/agent/service/deregister/${id}`);
      await Promise.all(backends.map((b) => b.close()));
    }
  });
});
