// Consul dies under a running proxy: the last known instances keep serving, the admin API says
// Consul is unreachable (and stays ready), and the watch resumes when an agent is back on the
// same address. Before Consul has answered at all, Fairway is not ready.

import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { ConsulClient } from '../../src/discovery/consul-client.js';
import { Discovery } from '../../src/discovery/discovery.js';
import { startBackends, type Backend } from '../support/backends.js';
import { ConsulAgent, ConsulApi } from '../support/consul.js';
import { baseConfig, Client, startFairway, until, waitReady } from '../support/fairway.js';

describe('Consul outage', () => {
  const agent = new ConsulAgent(inject('consulBin'));
  let consul: ConsulApi;
  let backends: Backend[];
  let app: Fairway;
  let client: Client;

  const register = async (b: Backend, i: number) =>
    consul.put('/v1/agent/service/register', { ID: `web-${i}`, Name: 'web', Address: '127.0.0.1', Port: b.port });

  const status = async () => (await fetch(`${app.adminUrl}/api/status`)).json() as Promise<{ consul: string }>;
  const ready = async () => (await fetch(`${app.adminUrl}/-/ready`)).status;
  const watchErrors = async () => watchErrorsOf(await (await fetch(`${app.adminUrl}/metrics`)).text());

  beforeAll(async () => {
    await agent.start();
    consul = new ConsulApi(agent.address);
    backends = await startBackends(3);
    await register(backends[0]!, 1);
    await register(backends[1]!, 2);
    app = await startFairway(baseConfig({ consul: { address: agent.address, wait: '5s' }, routes: [{ service: 'web' }] }));
    await waitReady(app);
    client = new Client(app.proxyUrl, 4);
  });

  afterAll(async () => {
    await client.close();
    await app.stop();
    await agent.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('keeps serving the last known instances after SIGKILL, reports it, stays ready, and resumes when Consul is back', async () => {
    expect((await status()).consul).toBe('connected');
    expect(await ready()).toBe(200);
    expect(await watchErrors()).toBe(0);
    await agent.kill();

    const counts = await client.spread(200, '/');
    expect(Object.fromEntries(counts)).toEqual({ b1: 100, b2: 100 });
    const noticed = await until(async () => (await status()).consul === 'unreachable', 5_000, 'status unreachable');
    console.log(`admin API reported consul unreachable ${noticed} ms after the kill`);
    const during = await client.spread(100, '/');
    expect(during.get('status 503')).toBeUndefined();
    // SPEC: an unreachable Consul is reported, not a reason to leave the load balancer's pool.
    expect(await ready()).toBe(200);
    const errorsDuring = await watchErrors();
    expect(errorsDuring).toBeGreaterThan(0);

    // A dev agent keeps nothing across restarts: the fleet registers again, now with a third instance.
    await agent.start();
    const restartedAt = Date.now();
    await register(backends[0]!, 1);
    await register(backends[1]!, 2);
    await register(backends[2]!, 3);
    await until(() => app.table.routes[0]!.upstreams.length === 3, 10_000, 'watch resumed with the new instance');
    console.log(`watch resumed ${Date.now() - restartedAt} ms after Consul restarted`);
    expect((await status()).consul).toBe('connected');
    expect(await ready()).toBe(200);
    // A counter: the outage's errors stay counted after the recovery.
    expect(await watchErrors()).toBeGreaterThanOrEqual(errorsDuring);
    const after = await client.spread(300, '/');
    expect(Object.fromEntries(after)).toEqual({ b1: 100, b2: 100, b3: 100 });
  });
});

describe('before the first discovery answer', () => {
  it('/-/ready is 503 while the first Consul query waits for an answer, /-/healthz 200', async () => {
    // The first query stays in flight (its timeout is at least 10 s), so discovery has not finished.
    const silent = await silentAgent();
    const queried = once(silent.server, 'connection').then(([s]) => once(s as Socket, 'data'));
    const { port } = silent;
    const app = await startFairway(baseConfig({ consul: { address: `http://127.0.0.1:${port}`, wait: '5s' }, routes: [{ service: 'web' }] }));
    try {
      await queried;
      expect(app.ready).toBe(false);
      expect((await fetch(`${app.adminUrl}/-/ready`)).status).toBe(503);
      expect((await fetch(`${app.adminUrl}/-/healthz`)).status).toBe(200);
    } finally {
      await app.stop();
      silent.close();
    }
  });
});

describe('the state of watches that come and go', () => {
  // Discovery keeps counts of its watches' standing (synced, failing, unreachable) instead of
  // walking them all on each read of its state: a watch that stops must leave the counts too.
  it('a watch dropped while Consul was unreachable no longer counts once the agent is back', async () => {
    const agent = new ConsulAgent(inject('consulBin'));
    await agent.start();
    const client = new ConsulClient({ address: agent.address });
    const discovery = new Discovery(client, { waitMs: 1_000, onChange: () => undefined, log: pino({ level: 'silent' }) });
    const keys = (...names: string[]) => new Map(names.map((n) => [n, { service: n, tags: [] as string[] }]));
    try {
      await discovery.sync(keys('a', 'b'));
      await discovery.settled();
      expect(discovery.state).toBe('connected');
      await agent.kill();
      await until(() => discovery.state === 'unreachable', 10_000, 'both watches unreachable');
      await discovery.sync(keys('a'));
      expect(discovery.state).toBe('unreachable');
      await discovery.sync(keys());
      expect(discovery.state).toBe('unused');
      await agent.start();
      await discovery.sync(keys('c'));
      await until(() => discovery.state === 'connected', 10_000, 'connected, with only the new watch running');
    } finally {
      await discovery.close();
      await client.close();
      await agent.stop();
    }
  });
});

describe('settled, with watches dropped before their first answer', () => {
  it('settles once the watches still running have been tried, not those dropped unanswered', async () => {
    // The first read of `a` stays in flight.
    const silent = await silentAgent();
    const client = new ConsulClient({ address: `http://127.0.0.1:${silent.port}` });
    const discovery = new Discovery(client, { waitMs: 1_000, onChange: () => undefined, log: pino({ level: 'silent' }) });
    let settled = false;
    try {
      await discovery.sync(new Map([['a', { service: 'a', tags: [] }]]));
      void discovery.settled().then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(settled).toBe(false);
      await discovery.sync(new Map());
      await until(() => settled, 2_000, 'settled once the unanswered watch is dropped');
    } finally {
      await discovery.close();
      await client.close();
      silent.close();
    }
  });
});

/** A "Consul" that accepts connections and reads requests but never answers. */
async function silentAgent(): Promise<{ server: Server; port: number; close: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    server,
    port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** The sum of fairway_consul_watch_errors_total over every watch, from a /metrics scrape. */
function watchErrorsOf(text: string): number {
  let sum = 0;
  for (const m of text.matchAll(/^fairway_consul_watch_errors_total(?:\{[^}]*\})? (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}
