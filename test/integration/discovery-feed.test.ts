// Discovery's feed mode against a real agent: past `consul.maxWatches` services, Fairway holds
// a fixed handful of Consul connections instead of one per service, and still sees every kind
// of change: a check failing and recovering, an instance joining, one leaving while passing,
// new weights. A reload across the limit switches modes without losing a route.

import { writeFileSync } from 'node:fs';
import { expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulAgent, ConsulApi } from '../support/consul.js';
import { baseConfig, spawnFairway, startFairway, stopProcess, until, waitReady, writeConfig } from '../support/fairway.js';
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

it('services named __proto__, toString or constructor are read like any other: routes or a said conflict, no watch error', async () => {
  // Consul takes any service name. The catalog's answer was read into a plain object: a
  // service named __proto__ set its prototype instead (and so was never seen), and in feed
  // mode one named toString or constructor met the prototype's member while diffing the
  // catalog, which failed the feed's catalog watch.
  const agent = new ConsulAgent(inject('consulBin'));
  await agent.start();
  const consul = new ConsulApi(agent.address);
  const backends = await startBackends(2);
  const app = await startFairway(
    baseConfig({
      consul: { address: agent.address, maxWatches: 1 },
      consulTags: { prefix: 'fairway' },
      routes: ['plain-a', 'plain-b'].map((s) => ({ name: s, match: { pathPrefix: `/${s}/` }, service: s })),
    }),
  );
  const status = async () => (await (await fetch(`${app.adminUrl}/api/status`)).json()) as { watches: Array<{ key: string; errors: number }>; tagRoutes: { routes: string[]; conflicts: string[] } };
  const port = Number(new URL(app.proxyUrl).port);
  try {
    await waitReady(app);
    for (const [name, i] of [['__proto__', 0], ['toString', 1], ['constructor', 0]] as const)
      await consul.put('/v1/agent/service/register', { ID: `odd-${name}`, Name: name, Address: '127.0.0.1', Port: backends[i]!.port, Tags: [`fairway.route=/odd-${name}/`] });
    // __proto__ is seen, and refused as Fairway refuses such a name anywhere (a conflict, said).
    await until(async () => {
      const { routes, conflicts } = (await status()).tagRoutes;
      return routes.length === 2 && conflicts.length === 1;
    }, 5_000, 'two tag routes and one conflict');
    const tags = (await status()).tagRoutes;
    expect(tags.routes.sort()).toEqual(['tag.constructor', 'tag.toString']);
    expect(tags.conflicts).toEqual(['service "__proto__": fairway.service: expected letters, digits, ".", "_" or "-", starting with a letter or digit']);
    // Each route's service is read once its route exists.
    await until(async () => (await answers(port, '/odd-constructor/', 2)).join() === '200 b1', 5_000, 'constructor answers');
    await until(async () => (await answers(port, '/odd-toString/', 2)).join() === '200 b2', 5_000, 'toString answers');
    // And another change after them still arrives through the feed, with no watch failing.
    await consul.put('/v1/agent/service/register', { ID: 'plain-a-1', Name: 'plain-a', Address: '127.0.0.1', Port: backends[1]!.port });
    await until(async () => (await answers(port, '/plain-a/', 2)).join() === '200 b2', 5_000, 'a join after them');
    expect((await status()).watches.filter((w) => w.errors > 0)).toEqual([]);
  } finally {
    await app.stop();
    await Promise.all(backends.map((b) => b.close()));
    await agent.stop();
  }
});
