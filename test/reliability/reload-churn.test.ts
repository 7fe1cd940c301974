// 110 config reloads under load (alternating two valid files, every eleventh one invalid):
// no client sees an error, watches come and go, and handles and heap do not grow.

import { writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { spawnFairway, until, writeConfig } from '../support/fairway.js';
import { startLoad } from '../support/load.js';
import { freePort } from '../support/ports.js';

interface Status {
  lastReload: { ok: boolean; at: string };
  watches: unknown[];
  process: { rssBytes: number; heapUsedBytes: number; activeHandles: number; activeResources: Record<string, number> };
}

it('110 reloads under load: zero errors, invalid files rejected, no growth in handles or heap', async () => {
  const consul = new ConsulApi(inject('consulAddress'));
  const service = `churn-${randomUUID().slice(0, 8)}`;
  const backends = await startBackends(4);
  await consul.put('/v1/agent/service/register', { ID: `${service}-1`, Name: service, Address: '127.0.0.1', Port: backends[3]!.port });
  const [listen, admin] = [await freePort(), await freePort()];
  // Two connections per instance at most, so the pools hold the same sockets whenever the load stops.
  const base = {
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: inject('consulAddress') },
    upstream: { maxConnections: 2 },
  };
  const statics = backends.slice(0, 3).map((b) => b.address);
  // A: one static route. B: the same traffic under another strategy, plus a Consul route, so
  // every swap starts or stops a watch.
  const A = JSON.stringify({ ...base, routes: [{ name: 'main', endpoints: statics }] });
  const B = JSON.stringify({
    ...base,
    routes: [
      { name: 'svc', match: { pathPrefix: '/svc' }, service },
      { name: 'main', endpoints: statics, strategy: 'least-request' },
    ],
  });
  const BAD = 'routes:\n  - endpoints: [127.0.0.1:1]\n    strategy: fastest\n';
  const file = writeConfig(A);
  const adminUrl = `http://127.0.0.1:${admin}`;
  const status = async () => (await (await fetch(`${adminUrl}/api/status`)).json()) as Status;
  const { child } = await spawnFairway(file, adminUrl);
  try {
    const proxyUrl = `http://127.0.0.1:${listen}`;
    // Baseline: the same load for a second, then idle, so pools and caches exist and the
    // clients' connections are gone; the same state is measured after the churn.
    const warmup = startLoad(proxyUrl, { clients: 8, durationMs: 1_000 });
    expect((await warmup.done).failures).toEqual([]);
    await sleep(500);
    const warm = await status();
    const load = startLoad(proxyUrl, { clients: 8, durationMs: 60_000 });
    let rejected = 0;
    // Each write reloads twice: SIGHUP at once, the file watcher once the file has been still
    // for its window. So "the last reload changed" can be the watcher's late reload of the
    // file before, as slow as the machine is; each step waits for its own file's outcome
    // instead: rejected for a bad file, in force (its watches running) for a good one.
    for (let i = 1; i <= 110; i++) {
      const bad = i % 11 === 0;
      const watches = i % 2 === 1 ? 1 : 0;
      const before = (await status()).lastReload.at;
      writeFileSync(file, bad ? BAD : watches === 1 ? B : A);
      process.kill(child.pid!, 'SIGHUP');
      await until(
        async () => {
          const s = await status();
          return s.lastReload.at !== before && (bad ? !s.lastReload.ok : s.lastReload.ok && s.watches.length === watches);
        },
        5_000,
        `reload ${i}: ${bad ? 'rejected' : `in force with ${watches} watch(es)`}`,
      );
      if (bad) rejected++;
    }
    // End on A so the set of live objects matches the baseline's.
    writeFileSync(file, A);
    process.kill(child.pid!, 'SIGHUP');
    await until(async () => (await status()).watches.length === 0, 5_000, 'back on A');
    load.stop();
    const result = await load.done;
    await sleep(500);
    const after = await status();
    console.log(
      `reload churn: 110 reloads (${rejected} rejected), ${result.total} requests, ${result.failures.length} non-2xx; ` +
        `handles ${warm.process.activeHandles} ${JSON.stringify(warm.process.activeResources)} -> ${after.process.activeHandles} ${JSON.stringify(after.process.activeResources)}, ` +
        `heap ${(warm.process.heapUsedBytes / 2 ** 20).toFixed(1)} -> ${(after.process.heapUsedBytes / 2 ** 20).toFixed(1)} MiB, ` +
        `rss ${(warm.process.rssBytes / 2 ** 20).toFixed(1)} -> ${(after.process.rssBytes / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(rejected).toBe(10);
    expect(result.failures).toEqual([]);
    expect(after.process.activeHandles - warm.process.activeHandles).toBeLessThanOrEqual(4);
    expect(after.process.heapUsedBytes - warm.process.heapUsedBytes).toBeLessThan(24 * 2 ** 20);
  } finally {
    child.kill('SIGTERM');
    await consul.put(`/v1/agent/service/deregister/${service}-1`);
    await Promise.all(backends.map((b) => b.close()));
  }
}, 90_000);
