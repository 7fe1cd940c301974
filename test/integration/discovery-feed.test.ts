// Discovery's feed mode against a real agent: past `consul.maxWatches` services, Fairway holds
// a fixed handful of Consul connections instead of one per service, and still sees every kind
// of change: a check failing and recovering, an instance joining, one leaving while passing,
// new weights. A reload across the limit switches modes without losing a route.

import { writeFileSync } from 'node:fs';
import { expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulAgent, ConsulApi } from '../support/consul.js';
import { spawnFairway, stopProcess, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';
import { answers, connectionsTo } from '../support/through.js';

const SERVICES = 30;

async function connectionsOf(pid: number, port: number): Promise<number> {
  return (await connectionsTo(port)).get(pid) ?? 0;
}

it('past maxWatches: a fixed few connections, and every kind of change still arrives', async () => {
  const agent = new ConsulAgent(inject('consulBin'));
  await agent.start();
  const consul = new ConsulApi(agent.address);
  const backends = await startBackends(2);
  const register = (name: string, id: string, backend: number, extra: Record<string, unknown> = {}) =>
    consul.put('/v1/agent/service/register', {
      ID: id,
      Name: name,
      Address: '127.0.0.1',
      Port: backends[backend]!.port,
      Checks: [{ CheckID: `ttl-${id}`, Name: 'ttl', TTL: '10m', Status: 'passing' }],
      ...extra,
    });
  for (let i = 0; i < SERVICES; i++) await register(`fd-${i}`, `fd-${i}-a`, 0);
  const [listen, admin] = [await freePort(), await freePort()];
  const config = (n: number) => ({
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: agent.address, maxWatches: 4 },
    routes: Array.from({ length: n }, (_, i) => ({ name: `fd-${i}`, match: { pathPrefix: `/fd-${i}/` }, service: `fd-${i}` })),
  });
  const file = writeConfig(config(3));
  const adminUrl = `http://127.0.0.1:${admin}`;
  const { child, logs } = await spawnFairway(file, adminUrl);
  const pid = child.pid!;
  const timings: Record<string, number> = {};
  const timed = async (what: string, cond: () => Promise<boolean>) => {
    const t0 = Date.now();
    await until(cond, 10_000, what);
    timings[what] = Date.now() - t0;
  };
  try {
    // Three services, under the limit: a blocking query each.
    expect(await answers(listen, '/fd-2/', 2)).toEqual(['200 b1']);
    const perService = await connectionsOf(pid, agent.httpPort);
    expect(perService).toBeGreaterThanOrEqual(3);

    // A reload to 30 routes crosses the limit: the feed takes over, and every route answers.
    writeFileSync(file, JSON.stringify(config(SERVICES)));
    await timed('30 routes answer after the switch', async () => (await answers(listen, `/fd-${SERVICES - 1}/`, 1))[0] === '200 b1');
    for (let i = 0; i < SERVICES; i++) expect(await answers(listen, `/fd-${i}/`, 1)).toEqual(['200 b1']);
    const watches = ((await (await fetch(`${adminUrl}/api/status`)).json()) as { watches: Array<{ key: string; synced: boolean }> }).watches;
    expect(watches.map((w) => w.key)).toEqual(expect.arrayContaining(['(feed:critical)', '(feed:warning)', '(feed:services)', 'fd-0', `fd-${SERVICES - 1}`]));
    expect(watches.every((w) => w.synced)).toBe(true);
    // Three blocking feeds and at most 8 connections for reads, plus any the per-service watches
    // left idle in the pool (at most maxWatches, closed after 60 s): not one per service.
    const feedConnections = await connectionsOf(pid, agent.httpPort);
    expect(feedConnections).toBeLessThanOrEqual(3 + 8 + 4);

    // An instance joins, passing from the start: only the catalog's index shows it.
    await register('fd-7', 'fd-7-b', 1);
    await timed('a joining instance used', async () => (await answers(listen, '/fd-7/', 12)).length === 2);
    // Its sibling's check fails: the non-passing checks name the service.
    await consul.put('/v1/agent/check/fail/ttl-fd-7-a');
    await timed('a failing instance dropped', async () => (await answers(listen, '/fd-7/', 6)).join() === '200 b2');
    expect(await answers(listen, '/fd-7/', 12)).toEqual(['200 b2']);
    await consul.put('/v1/agent/check/pass/ttl-fd-7-a');
    await timed('a recovered instance used again', async () => (await answers(listen, '/fd-7/', 12)).length === 2);
    // Passing to warning: only the warning checks show it (round-robin sends nothing to warning).
    await consul.put('/v1/agent/check/warn/ttl-fd-7-a');
    await timed('a warning instance dropped', async () => (await answers(listen, '/fd-7/', 6)).join() === '200 b2');
    expect(await answers(listen, '/fd-7/', 12)).toEqual(['200 b2']);
    await consul.put('/v1/agent/check/pass/ttl-fd-7-a');
    await timed('a passing-again instance used', async () => (await answers(listen, '/fd-7/', 12)).length === 2);
    // The joined one leaves while passing: no check ever failed, the catalog's index moved.
    await consul.put('/v1/agent/service/deregister/fd-7-b');
    await timed('a deregistered passing instance dropped', async () => (await answers(listen, '/fd-7/', 6)).join() === '200 b1');
    expect(await answers(listen, '/fd-7/', 12)).toEqual(['200 b1']);
    // New weights, same tags and checks.
    await register('fd-9', 'fd-9-a', 0, { Weights: { Passing: 7, Warning: 1 } });
    const weight = async () =>
      ((await (await fetch(`${adminUrl}/api/routes`)).json()) as Array<{ name: string; endpoints: Array<{ weight: number }> }>).find((r) => r.name === 'fd-9')!.endpoints[0]!.weight;
    await timed('new weights used', async () => (await weight()) === 7);
    console.log(`feed mode: ${perService} Consul connections for 3 services, ${feedConnections} for ${SERVICES}; ms to use:`, timings);
  } finally {
    const code = await stopProcess(child);
    await Promise.all(backends.map((b) => b.close()));
    await agent.stop();
    expect(code, logs()).toBe(0);
  }
});
