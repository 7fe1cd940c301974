// `workers: 2`: the real CLI forks two proxy processes on one listener; the primary's admin API
// adds their numbers up, drains through both, registers and deregisters the config's services.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { Client, runCli, spawnFairway, stopProcess, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

interface Status {
  workers: Array<{ pid: number; ready: boolean }>;
  pid: number;
}

it('two workers serve one listener; admin numbers are the sum; SIGTERM stops all and deregisters', async () => {
  const consul = new ConsulApi(inject('consulAddress'));
  const service = `cluster-${randomUUID().slice(0, 8)}`;
  const backends = await startBackends(2);
  const [listen, admin] = [await freePort(), await freePort()];
  const file = writeConfig({
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}`, token: 't' },
    consul: { address: inject('consulAddress') },
    workers: 2,
    services: [{ name: service, id: `${service}-1`, address: '127.0.0.1', port: backends[0]!.port }],
    routes: [{ endpoints: backends.map((b) => b.address) }],
  });
  const adminUrl = `http://127.0.0.1:${admin}`;
  const { child } = await spawnFairway(file, adminUrl);
  const client = new Client(`http://127.0.0.1:${listen}`, 8);
  try {
    const status = (await (await fetch(`${adminUrl}/api/status`)).json()) as Status;
    expect(status.workers).toHaveLength(2);
    expect(status.workers.every((w) => w.ready)).toBe(true);
    expect(new Set(status.workers.map((w) => w.pid)).size).toBe(2);
    expect((await consul.get<Record<string, unknown>>('/v1/agent/services'))[`${service}-1`]).toBeDefined();

    const counts = await client.spread(200, '/', 8);
    expect((counts.get('b1') ?? 0) + (counts.get('b2') ?? 0)).toBe(200);
    // Every request counted once, whichever worker took it.
    const routes = (await (await fetch(`${adminUrl}/api/routes`)).json()) as Array<{ endpoints: Array<{ id: string; requests: number }> }>;
    expect(routes[0]!.endpoints.reduce((n, e) => n + e.requests, 0)).toBe(200);
    const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
    const total = [...metrics.matchAll(/^fairway_requests_total\{route="route-0",[^}]*class="2xx",protocol="http1"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(total).toBe(200);

    // A drain through the primary reaches both workers.
    const drained = await fetch(`${adminUrl}/api/endpoints/${encodeURIComponent(backends[1]!.address)}/drain`, { method: 'POST', headers: { authorization: 'Bearer t' } });
    expect(drained.status).toBe(200);
    expect(Object.fromEntries(await client.spread(40, '/', 8))).toEqual({ b1: 40 });
  } finally {
    await client.close();
    expect(await stopProcess(child)).toBe(0);
    await Promise.all(backends.map((b) => b.close()));
  }
  await until(async () => (await consul.get<Record<string, unknown>>('/v1/agent/services'))[`${service}-1`] === undefined, 2_000, 'deregistered');
});

it('with the proxy port taken, the cluster gives up with exit 1 instead of restarting workers forever', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as { port: number }).port;
  try {
    const file = writeConfig({ listen: `127.0.0.1:${port}`, admin: { listen: `127.0.0.1:${await freePort()}` }, workers: 2, routes: [{ endpoints: ['127.0.0.1:1'] }] });
    const r = await runCli(['start', '-c', file], {}, 15_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('EADDRINUSE');
  } finally {
    taken.close();
  }
});

it('a worker killed while the admin API is busy: the primary stays up, answers from the others, starts a new one', async () => {
  const backends = await startBackends(1);
  const [listen, admin] = [await freePort(), await freePort()];
  const file = writeConfig({ listen: `127.0.0.1:${listen}`, admin: { listen: `127.0.0.1:${admin}` }, workers: 2, routes: [{ endpoints: [backends[0]!.address] }] });
  const adminUrl = `http://127.0.0.1:${admin}`;
  const { child } = await spawnFairway(file, adminUrl);
  try {
    const before = (await (await fetch(`${adminUrl}/api/status`)).json()) as Status;
    const victim = before.workers[0]!.pid;
    const polls = Array.from({ length: 32 }, async () => (await fetch(`${adminUrl}/api/routes`)).status);
    process.kill(victim, 'SIGKILL');
    const statuses = await Promise.all([...polls, ...Array.from({ length: 32 }, async () => (await fetch(`${adminUrl}/api/routes`)).status)]);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(child.exitCode).toBeNull();
    await until(async () => {
      const s = (await (await fetch(`${adminUrl}/api/status`)).json()) as Status;
      return s.workers.length === 2 && s.workers.every((w) => w.ready) && !s.workers.some((w) => w.pid === victim);
    }, 10_000, 'a new worker');
    expect((await fetch(`http://127.0.0.1:${listen}/`)).status).toBe(200);
  } finally {
    expect(await stopProcess(child)).toBe(0);
    await backends[0]!.close();
  }
});
