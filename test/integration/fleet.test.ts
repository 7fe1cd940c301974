// Many Fairways, one Consul: each instance registers itself in the fleet service with a check on
// its own /-/ready, watches that service, and enforces 1 / (passing instances) of each route's
// rate limit; the share follows the fleet as instances come and go. Real Consul agent, two
// Fairways in this process, a real backend.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, type Backend } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { baseConfig, Client, startFairway, until, waitReady } from '../support/fairway.js';

const consulAddress = inject('consulAddress');
const consul = new ConsulApi(consulAddress);

/** Requests with `x-user: user` answered before the first 429. */
async function admitted(client: Client, user: string): Promise<number> {
  for (let n = 0; n < 100; n++) if ((await client.get('/', { 'x-user': user })).status === 429) return n;
  throw new Error('never limited');
}

interface Health {
  Service: { ID: string; Port: number; Meta: Record<string, string> };
  Checks: Array<{ Status: string; ServiceID: string; Definition?: { HTTP?: string } }>;
}

describe('fleet: Fairways registered in Consul share rate limits', () => {
  const name = `fairway-fleet-${randomUUID().slice(0, 8)}`;
  let backend: Backend;
  const apps: Fairway[] = [];
  const clients: Client[] = [];

  beforeAll(async () => {
    backend = await startBackend('b1');
    const config = baseConfig({
      consul: { address: consulAddress },
      fleet: { name, checkInterval: '250ms' },
      routes: [{ name: 'limited', endpoints: [backend.address], rateLimit: { rate: '1/h', burst: 10, by: 'header:x-user' } }],
    });
    for (let i = 0; i < 2; i++) {
      const app = await startFairway(config);
      await waitReady(app);
      apps.push(app);
      clients.push(new Client(app.proxyUrl));
    }
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(apps.map((a) => a.stop()));
    await backend.close();
  });

  it('each instance registers itself with a check on its own /-/ready, which turns passing', async () => {
    await until(async () => (await consul.get<Health[]>(`/v1/health/service/${name}?passing=true`)).length === 2, 15_000, 'both Fairways passing');
    const entries = await consul.get<Health[]>(`/v1/health/service/${name}`);
    const ports = apps.map((a) => Number(new URL(a.proxyUrl).port)).sort();
    expect(entries.map((e) => e.Service.Port).sort()).toEqual(ports);
    const admins = apps.map((a) => new URL(a.adminUrl).host).sort();
    expect(entries.map((e) => e.Service.Meta.admin).sort()).toEqual(admins);
  });

  it('with two passing, each enforces half of the burst, and /api/status says so', async () => {
    await until(() => apps.every((a) => a.fleetSize === 2), 15_000, 'both see a fleet of 2');
    expect(await admitted(clients[0]!, 'ann')).toBe(5);
    expect(await admitted(clients[1]!, 'ann')).toBe(5);
    const status = (await (await fetch(`${apps[0]!.adminUrl}/api/status`)).json()) as { fleet: unknown };
    expect(status.fleet).toEqual({ name, instances: 2, rateShare: 0.5 });
  });

  it('when one leaves (deregistered on stop), the other takes the whole limit again', async () => {
    const leaving = apps.pop()!;
    await clients.pop()!.close();
    await leaving.stop();
    await until(() => apps[0]!.fleetSize === 1, 15_000, 'the remaining Fairway sees a fleet of 1');
    expect((await consul.get<Health[]>(`/v1/health/service/${name}`)).length).toBe(1);
    expect(await admitted(clients[0]!, 'bob')).toBe(10);
  });
});
