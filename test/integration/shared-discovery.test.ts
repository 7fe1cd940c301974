// `workers: 2` share one discovery: the primary holds the Consul watches and the workers hold
// no Consul connection at all; a change reaches both workers; a worker restarted while Consul
// cannot answer routes on the primary's snapshots at once.

import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { promisify } from 'node:util';
import { expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulAgent, ConsulApi } from '../support/consul.js';
import { spawnFairway, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

const SERVICES = 20;

interface Status {
  pid: number;
  ready: boolean;
  consul: string;
  workers: Array<{ pid: number; ready: boolean }>;
}

/** Established TCP connections to 127.0.0.1:port, per owning pid (from `ss`, which sees every process). */
async function connectionsTo(port: number): Promise<Map<number, number>> {
  const { stdout } = await promisify(execFile)('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${port}`]);
  const out = new Map<number, number>();
  for (const m of stdout.matchAll(/pid=(\d+)/g)) out.set(Number(m[1]), (out.get(Number(m[1])) ?? 0) + 1);
  return out;
}

/** One request on a connection of its own (so the kernel may hand it to either worker): the backend's name. */
function getFresh(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

async function answers(port: number, path: string, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(await getFresh(port, path));
  return seen;
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
    for (let i = 0; i < SERVICES; i++) expect(await answers(listen, `/sh-${i}/`, 2)).toEqual(new Set(['200 b1']));

    // One blocking query per service, all in the primary (and at most 8 kept for first reads
    // and registration); none in either worker.
    const held = await connectionsTo(agent.httpPort);
    expect(held.get(first.pid) ?? 0).toBeGreaterThanOrEqual(SERVICES);
    expect(held.get(first.pid) ?? 0).toBeLessThanOrEqual(SERVICES + 8);
    for (const w of first.workers) expect(held.get(w.pid) ?? 0).toBe(0);

    // A second instance, then the first one gone: every answer (over fresh connections, so
    // both workers take some) follows.
    await consul.put('/v1/agent/service/register', { ID: 'sh-3-b', Name: 'sh-3', Address: '127.0.0.1', Port: backends[1]!.port });
    await until(async () => (await answers(listen, '/sh-3/', 12)).size === 2, 5_000, 'the new instance used');
    await consul.put('/v1/agent/service/deregister/sh-3-a');
    await until(async () => (await answers(listen, '/sh-3/', 6)).size === 1, 5_000, 'the old instance dropped');
    expect(await answers(listen, '/sh-3/', 20)).toEqual(new Set(['200 b2']));

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
    for (let i = 0; i < SERVICES; i++) for (const a of await answers(listen, `/sh-${i}/`, 4)) seen.add(`${i} ${a}`);
    expect([...seen].sort()).toEqual(Array.from({ length: SERVICES }, (_, i) => `${i} 200 ${i === 3 ? 'b2' : 'b1'}`).sort());
  } finally {
    if (frozen) process.kill(agent.pid!, 'SIGCONT');
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const code = await exited;
    await Promise.all(backends.map((b) => b.close()));
    await agent.stop();
    expect(code, logs()).toBe(0);
  }
});
