// A backend dies abruptly (listener closed, keep-alive sockets cut) under load: not one client
// sees an error, and passive ejection takes it out of rotation before Consul's check notices.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { spawnFairway, until, writeConfig } from '../support/fairway.js';
import { startLoad } from '../support/load.js';
import { freePort } from '../support/ports.js';

const consul = new ConsulApi(inject('consulAddress'));

it('8 keep-alive clients for 8 s see zero errors while a backend is killed; ejection beats Consul', async () => {
  const service = `kill-${randomUUID().slice(0, 8)}`;
  const backends = await startBackends(3);
  const ids = backends.map((_, i) => `${service}-${i + 1}`);
  for (const [i, b] of backends.entries())
    await consul.put('/v1/agent/service/register', {
      ID: ids[i], Name: service, Address: '127.0.0.1', Port: b.port,
      Check: { HTTP: `http://${b.address}/health`, Interval: '1s', Timeout: '1s' },
    });
  await until(async () => (await Promise.all(ids.map((id) => consul.instanceStatus(service, id)))).every((s) => s === 'passing'), 10_000, 'checks passing');
  const [listen, admin] = [await freePort(), await freePort()];
  const file = writeConfig({
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: inject('consulAddress') },
    routes: [{ service, strategy: 'round-robin' }],
  });
  const adminUrl = `http://127.0.0.1:${admin}`;
  const { child } = await spawnFairway(file, adminUrl);
  try {
    const load = startLoad(`http://127.0.0.1:${listen}`, { clients: 8, durationMs: 8_000 });
    await sleep(2_000);
    const victim = backends[1]!;
    // Killed just after Consul's check has run (interval 1 s), so the check's own schedule
    // cannot decide the race: a kill that happened to land just before a check let Consul see
    // it within 62 ms (one CI run), before the failures that eject it had come in.
    await new Promise<void>((resolve) => {
      const onRequest = (req: IncomingMessage): void => {
        if (req.url !== '/health') return;
        victim.server.off('request', onRequest);
        setTimeout(resolve, 20);
      };
      victim.server.on('request', onRequest);
    });
    victim.kill();
    const killedAt = load.elapsed();

    let ejectedAt: number | undefined;
    let criticalAt: number | undefined;
    while ((ejectedAt === undefined || criticalAt === undefined) && load.elapsed() < 8_000) {
      if (ejectedAt === undefined) {
        const routes = (await (await fetch(`${adminUrl}/api/routes`)).json()) as Array<{ endpoints: Array<{ id: string; ejected: boolean }> }>;
        if (routes[0]!.endpoints.find((e) => e.id === ids[1])?.ejected) ejectedAt = load.elapsed();
      }
      if (criticalAt === undefined && (await consul.instanceStatus(service, ids[1]!)) === 'critical') criticalAt = load.elapsed();
      await sleep(10);
    }
    const result = await load.done;
    console.log(
      `backend kill: ${result.total} requests, ${result.failures.length} non-2xx; ` +
        `ejected ${ejectedAt! - killedAt} ms after the kill, Consul critical ${criticalAt! - killedAt} ms after`,
    );
    expect(result.failures).toEqual([]);
    expect(result.total).toBeGreaterThan(1_000);
    expect(ejectedAt).toBeDefined();
    expect(criticalAt).toBeDefined();
    expect(ejectedAt!).toBeLessThan(criticalAt!);
  } finally {
    child.kill('SIGTERM');
    for (const id of ids) await consul.put(`/v1/agent/service/deregister/${id}`);
    await Promise.all(backends.map((b) => b.close()));
  }
});
