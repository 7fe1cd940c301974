// Passive outlier detection and panic routing on real traffic: a dead instance is ejected after
// consecutive failures, comes back on probation when its ejection ends, and is ejected again at
// its next failure, and /metrics counts its ejections; a route below its panic threshold spreads
// over every known instance.

import { describe, expect, it } from 'vitest';
import { startBackend, startBackends } from '../support/backends.js';
import { baseConfig, Client, startFairway, until } from '../support/fairway.js';
import { freePort } from '../support/ports.js';
import { sample } from '../support/prometheus.js';

describe('outlier detection', () => {
  it('ejects a dead instance after 3 failures, readmits it after the ejection, re-ejects it at once', async () => {
    const backends = await startBackends(2);
    const dead = `127.0.0.1:${await freePort()}`;
    const app = await startFairway(
      baseConfig({
        // 1 s: the 20 requests below fit in the first ejection even on a loaded machine.
        outlier: { consecutiveFailures: 3, baseEjectionTime: '1s', maxEjectionTime: '10s' },
        routes: [{ endpoints: [backends[0]!.address, backends[1]!.address, dead], retries: 2 }],
      }),
    );
    const client = new Client(app.proxyUrl, 1);
    const route = () => app.table.routes[0]!;
    const deadStats = () => route().candidates.find((u) => u.id === dead)!.stats;
    try {
      // Round-robin reaches the dead one every third request; retries hide it from clients.
      const counts = await client.spread(9, '/', 1);
      expect(Object.fromEntries(counts)).toEqual({ b1: 5, b2: 4 });
      expect(deadStats().ejections).toBe(1);
      expect(route().upstreams.map((u) => u.id)).not.toContain(dead);
      const before = deadStats().requests;
      await client.spread(20, '/', 1);
      expect(deadStats().requests).toBe(before);

      // After 1 s it is back, on probation: one failure ejects it again, for 2 s now.
      await until(() => route().upstreams.some((u) => u.id === dead), 5_000, 'readmitted');
      const readmittedRequests = deadStats().requests;
      // The failed request was sent at sentAt or later and had failed by seenAt, on the clock
      // ejections run on (performance.now, in this process): the second ejection, 2 × base,
      // ends exactly 2 s after a moment between the two, however slow the machine.
      let sentAt = 0;
      await until(async () => {
        sentAt = performance.now();
        await client.get('/');
        return deadStats().requests > readmittedRequests;
      }, 5_000, 'a request to the readmitted instance');
      const seenAt = performance.now();
      expect(deadStats().ejections).toBe(2);
      expect(deadStats().requests).toBe(readmittedRequests + 1);
      const ejectedAt = deadStats().ejectedUntil - 2_000;
      console.log(`second ejection: from ${(ejectedAt - sentAt).toFixed(1)} ms after the request was sent, ${(seenAt - sentAt).toFixed(1)} ms round trip`);
      expect(ejectedAt).toBeGreaterThanOrEqual(sentAt);
      expect(ejectedAt).toBeLessThanOrEqual(seenAt);
    } finally {
      await client.close();
      await app.stop();
      await Promise.all(backends.map((b) => b.close()));
    }
  });
});

describe('ejection metrics', () => {
  it('/metrics counts a passive ejection under the ejected endpoint, and none for the healthy one', async () => {
    const backend = await startBackend('b1');
    const dead = `127.0.0.1:${await freePort()}`;
    const app = await startFairway(
      baseConfig({
        // Ejected at its first failure, for longer than the test runs: exactly one ejection.
        outlier: { consecutiveFailures: 1, baseEjectionTime: '60s' },
        routes: [{ endpoints: [backend.address, dead], retries: 1 }],
      }),
    );
    const client = new Client(app.proxyUrl, 1);
    const deadStats = () => app.table.routes[0]!.candidates.find((u) => u.id === dead)!.stats;
    const ejections = async (endpoint: string) =>
      sample(await (await fetch(`${app.adminUrl}/metrics`)).text(), 'fairway_ejections_total', { endpoint, addr: endpoint });
    try {
      expect(await ejections(dead)).toBeUndefined();
      // Round-robin reaches the dead instance within two requests; the retry hides it.
      await until(async () => {
        expect((await client.get('/')).status).toBe(200);
        return deadStats().ejections > 0;
      }, 5_000, 'the dead instance ejected');
      expect(deadStats().ejections).toBe(1);
      expect(await ejections(dead)).toBe(1);
      expect(await ejections(backend.address)).toBeUndefined();
    } finally {
      await client.close();
      await app.stop();
      await backend.close();
    }
  });
});

describe('panic threshold', () => {
  it('below 50% healthy, the route spreads over all known instances instead of the last healthy one', async () => {
    const backends = await startBackends(3);
    const app = await startFairway(
      baseConfig({
        // Ejection after one failure, for long enough to observe; up to 100% may be ejected.
        outlier: { consecutiveFailures: 1, baseEjectionTime: '30s', maxEjectedPercent: 100 },
        routes: [{ endpoints: backends.map((b) => b.address), panicThreshold: 50, retries: 0 }],
      }),
    );
    const client = new Client(app.proxyUrl, 1);
    try {
      // Two instances start answering 500: each is ejected at its first failure.
      for (const b of backends.slice(1)) b.server.removeAllListeners('request').on('request', (_q, r) => r.writeHead(500).end('sick'));
      await until(async () => {
        await client.get('/');
        return app.table.routes[0]!.panic;
      }, 2_000, 'panic');
      const route = app.table.routes[0]!;
      expect(route.upstreams).toHaveLength(3);
      const statuses = new Map<number, number>();
      for (let i = 0; i < 30; i++) {
        const r = await client.get('/');
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
      // All three get traffic again: the healthy one a third, the sick ones the rest.
      expect(statuses.get(200)).toBe(10);
      expect(statuses.get(500)).toBe(20);
      const view = (await (await fetch(`${app.adminUrl}/api/routes`)).json()) as Array<{ panic: boolean; endpoints: Array<{ ejected: boolean }> }>;
      expect(view[0]!.panic).toBe(true);
      expect(view[0]!.endpoints.filter((e) => e.ejected)).toHaveLength(2);
    } finally {
      await client.close();
      await app.stop();
      await Promise.all(backends.map((b) => b.close()));
    }
  });
});
