// `workers: 2` share one discovery: the primary holds the Consul watches and the workers hold
// no Consul connection at all; a change reaches both workers; a worker restarted while Consul
// cannot answer routes on the primary's snapshots at once.

import { expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulAgent, ConsulApi } from '../support/consul.js';
import { spawnFairway, stopProcess, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';
import { answers, connectionsTo } from '../support/through.js';

const SERVICES = 20;

interface Status {
  pid: number;
  ready: boolean;
  consul: string;
  workers: Array<{ pid: number; ready: boolean }>;
}

/** The distinct answers of `n` requests, each on a connection of its own, as a set. */
async function answerSet(port: number, path: string, n: number): Promise<Set<string>> {
  return new Set(await answers(port, path, n));
}

it('workers hold no Consul connection; changes reach both; a worker restarted while Consul is frozen routes at once', async () => {
  const agent = new ConsulAgent(inject('consulBin'));
  await agent.start();
  const consul = new ConsulApi(agent.address);
  const backends = await startBackends(2);
  for (let i = 0; i < SERVICES; i++)
    await consul.put('/v1/agent/service/register', { ID: `sh-${i}-a`, Name: `sh-${i}`, Address: '127.0.0.1', Port: backends[0]!.port });
  const [listen, admin] = [await freePort(), await freePort()];
  const file = writeConfig({
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: agent.address },
    workers: 2,
    routes: Array.from({ length: SERVICES }, (_, i) => ({ name: `sh-${i}`, match: { pathPrefix: `/sh-${i}/` }, service: `sh-${i}` })),
  });
  const adminUrl = `http://127.0.0.1:${admin}`;
  const status = async () => (await (await fetch(`${adminUrl}/api/status`)).json()) as Status;
  const { child, logs } = await spawnFairway(file, adminUrl);
  let frozen = false;
  try {
    const first = await status();
    expect(first.workers).toHaveLength(2);
    for (let i = 0; i < SERVICES; i++) expect(await answerSet(listen, `/sh-${i}/`, 2)).toEqual(new Set(['200 b1']));

    // One blocking query per service, all in the primary (and at most 8 kept for first reads
    // and registration); none in either worker.
    const held = await connectionsTo(agent.httpPort);
    expect(held.get(first.pid) ?? 0).toBeGreaterThanOrEqual(SERVICES);
    expect(held.get(first.pid) ?? 0).toBeLessThanOrEqual(SERVICES + 8);
    for (const w of first.workers) expect(held.get(w.pid) ?? 0).toBe(0);

    // A second instance, then the first one gone: every answer (over fresh connections, so
    // both workers take some) follows.
    await consul.put('/v1/agent/service/register', { ID: 'sh-3-b', Name: 'sh-3', Address: '127.0.0.1', Port: backends[1]!.port });
    await until(async () => (await answerSet(listen, '/sh-3/', 12)).size === 2, 5_000, 'the new instance used');
    await consul.put('/v1/agent/service/deregister/sh-3-a');
    await until(async () => (await answerSet(listen, '/sh-3/', 6)).size === 1, 5_000, 'the old instance dropped');
    expect(await answerSet(listen, '/sh-3/', 20)).toEqual(new Set(['200 b2']));

    // Consul frozen: a new worker could not ask it anything, yet it is ready and routes.
    process.kill(agent.pid!, 'SIGSTOP');
    frozen = true;
    const victim = first.workers[0]!.pid;
    process.kill(victim, 'SIGKILL');
    await until(async () => {
      const s = await status();
      return s.workers.length === 2 && s.workers.every((w) => w.ready) && !s.workers.some((w) => w.pid === victim);
    }, 10_000, 'a new worker ready');
    const seen = new Set<string>();
    for (let i = 0; i < SERVICES; i++) for (const a of await answerSet(listen, `/sh-${i}/`, 4)) seen.add(`${i} ${a}`);
    expect([...seen].sort()).toEqual(Array.from({ length: SERVICES }, (_, i) => `${i} 200 ${i === 3 ? 'b2' : 'b1'}`).sort());
  } finally {
    if (frozen) process.kill(agent.pid!, 'SIGCONT');
    const code = await stopProcess(child);
    await Promise.all(backends.map((b) => b.close()));
    await agent.stop();
    expect(code, logs()).toBe(0);
  }
});
