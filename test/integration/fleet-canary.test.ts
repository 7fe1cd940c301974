// A canary push of the fleet's routes: `fairway config push --canary` puts the new document on
// one Fairway of two, compares its 5xx share and p99 with the other's under steady load, and
// rolls back (a document that breaks a route) or promotes (a good one). A plan left behind by a
// push that died ends by itself, and a second push cannot start while one runs. Real Consul
// agent, the real CLI as a child process, two Fairways in this process.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { canaryKey, formatCanary } from '../../src/core/canary.js';
import { startBackend, type Backend } from '../support/backends.js';
import { hostname } from 'node:os';
import { baseConfig, Client, runCli, spawnFairway, startFairway, stopProcess, until, waitReady, writeConfig } from '../support/fairway.js';
import { startLoad } from '../support/load.js';
import { freePort } from '../support/ports.js';

const consulAddress = inject('consulAddress');

async function kv(key: string): Promise<{ text: string; index: number } | undefined> {
  const res = await fetch(`${consulAddress}/v1/kv/${key}`);
  if (res.status === 404) return undefined;
  const [e] = (await res.json()) as Array<{ Value: string | null; ModifyIndex: number }>;
  return { text: Buffer.from(e!.Value ?? '', 'base64').toString('utf8'), index: e!.ModifyIndex };
}

describe('config push --canary', () => {
  const key = `fairway-test/${randomUUID().slice(0, 8)}/config`;
  const fleet = `fairway-${randomUUID().slice(0, 8)}`;
  const flags = ['--consul', consulAddress, '--key', key, '--fleet', fleet];
  let api: Backend;
  let apps: Fairway[];
  let clients: Client[];
  let ids: string[];
  const routes = (endpoint: string, extra = '') => `routes:\n  - { name: api, match: { pathPrefix: /api }, endpoints: ["${endpoint}"] }\n${extra}`;
  const GOOD = () => routes(api.address);

  /** The Fairway a fleet member ID names (the ID ends with its proxy port). */
  const appOf = (id: string) => apps.find((a) => id.endsWith(`-${new URL(a.proxyUrl).port}`))!;
  const status = async (app: Fairway) => ((await (await fetch(`${app.adminUrl}/api/status`)).json()) as { fleetConfig: { index: number; canary: { index: number } | null } }).fleetConfig;

  beforeAll(async () => {
    api = await startBackend('api');
    await fetch(`${consulAddress}/v1/kv/${key}`, { method: 'PUT', body: GOOD() });
    const config = () =>
      baseConfig({
        consul: { address: consulAddress },
        fleet: { name: fleet, configKey: key, checkInterval: '250ms' },
        routes: [{ name: 'home', match: { pathPrefix: '/home' }, endpoints: [api.address] }],
      });
    apps = [await startFairway(config()), await startFairway(config())];
    await Promise.all(apps.map((a) => waitReady(a)));
    clients = apps.map((a) => new Client(a.proxyUrl));
    await until(async () => (await Promise.all(clients.map((c) => c.get('/api/x')))).every((r) => r.status === 200), 10_000, 'the KV route on both');
    const passing = async () => (await (await fetch(`${consulAddress}/v1/health/service/${fleet}?passing`)).json()) as Array<{ Service: { ID: string } }>;
    await until(async () => (await passing()).length === 2, 15_000, 'both Fairways passing in the fleet service');
    ids = (await passing()).map((e) => e.Service.ID).sort();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(apps.map((a) => a.stop()));
    await api.close();
    await fetch(`${consulAddress}/v1/kv/${key}?recurse`, { method: 'DELETE' });
  });

  /** Steady load on both Fairways while `run` goes; each one's answers that were not 2xx. */
  async function underLoad<T>(run: () => Promise<T>): Promise<{ result: T; failures: string[][] }> {
    const loads = apps.map((a) => startLoad(a.proxyUrl, { clients: 1, durationMs: 120_000, path: '/api/x' }));
    let result: T;
    try {
      result = await run();
    } finally {
      for (const l of loads) l.stop();
    }
    const failures = (await Promise.all(loads.map((l) => l.done))).map((r) => r.failures.map((f) => f.what));
    return { result, failures };
  }

  it('rolls back a document that breaks a route: exit 1 with the figures, the canary back on the key, the other never touched', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const before = await kv(key);
    const file = writeConfig(routes(dead), 'broken.yaml');
    const { result: r, failures } = await underLoad(() => runCli(['config', 'push', '-c', file, '--canary', '1', '--watch', '20s', '--min-requests', '10', ...flags], {}, 60_000));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`canary: ${ids[0]} (1 of 2)`);
    expect(r.stdout).toMatch(/^canary  requests \d+  5xx \d+\.\d %  p99 .*\nrest    requests \d+  5xx 0\.0 %  p99 .*\nrolled back: 5xx \d+\.\d % on the canaries against 0\.0 % on the rest: more than 1\.0 points higher\nthe canaries run /);
    // It stopped at a look with enough requests, not at the end of the 20 s watch.
    const looks = [...r.stderr.matchAll(/^(\d+)s  canary /gm)].map((m) => Number(m[1]));
    expect(looks.length).toBeGreaterThan(0);
    expect(looks[looks.length - 1]).toBeLessThan(20);
    const canary = apps.indexOf(appOf(ids[0]!));
    expect(failures[canary]!.length).toBeGreaterThan(0);
    // Refused connections (502), then the instance ejected by outlier detection (503).
    expect(failures[canary]!.filter((f) => !/^50[23] /.test(f))).toEqual([]);
    expect(failures[1 - canary]).toEqual([]);
    expect(await kv(key)).toEqual(before);
    expect(await kv(canaryKey(key))).toBeUndefined();
    for (const c of clients) expect((await c.get('/api/x')).status).toBe(200);
  });

  it('promotes a good document to the whole fleet: exit 0, the key written, both serving it', async () => {
    const text = routes(api.address, `  - { name: v2, match: { pathPrefix: /v2 }, endpoints: ["${api.address}"] }\n`);
    const file = writeConfig(text, 'good.yaml');
    const { result: r, failures } = await underLoad(() => runCli(['config', 'push', '-c', file, '--canary', '50%', '--watch', '2s', '--min-requests', '5', ...flags], {}, 60_000));
    expect([r.code, r.stderr.split('\n')[0]]).toEqual([0, `canary: ${ids[0]} (1 of 2) on ${file}; watching 2s`]);
    const index = (await kv(key))!.index;
    expect(r.stdout).toMatch(new RegExp(`\\npromoted .*good\\.yaml to ${key} at index ${index}\\nall 2 Fairways run it\\n$`));
    expect((await kv(key))!.text).toBe(text);
    expect(await kv(canaryKey(key))).toBeUndefined();
    expect(failures).toEqual([[], []]);
    for (const c of clients) expect((await c.get('/v2/x')).status).toBe(200);
    for (const a of apps) expect(await status(a)).toMatchObject({ index, canary: null });
  });

  it('a plan left behind by a push that died ends by itself at its until', async () => {
    const base = (await kv(key))!.index;
    const until_ = Date.now() + 2_000;
    const plan = formatCanary({ members: [ids[1]!], until: until_, base, routes: routes(api.address, `  - { name: trial, match: { pathPrefix: /trial }, endpoints: ["${api.address}"] }\n`) });
    await fetch(`${consulAddress}/v1/kv/${canaryKey(key)}`, { method: 'PUT', body: plan });
    const member = clients[apps.indexOf(appOf(ids[1]!))]!;
    const other = clients[apps.indexOf(appOf(ids[0]!))]!;
    await until(async () => (await member.get('/trial')).status === 200, 10_000, 'the plan in force on its member');
    expect((await other.get('/trial')).status).toBe(404);
    // Nothing in KV changes from here on: the member's own timer ends the plan.
    await until(async () => (await member.get('/trial')).status === 404, 15_000, 'the plan ended');
    expect(Date.now()).toBeGreaterThanOrEqual(until_);
    expect((await status(appOf(ids[1]!))).canary).toBeNull();
  });

  it('with workers: 2, every worker of the member runs the plan, and drops it at its end', async () => {
    const [listen, admin] = [await freePort(), await freePort()];
    const file = writeConfig({
      listen: `127.0.0.1:${listen}`,
      admin: { listen: `127.0.0.1:${admin}` },
      consul: { address: consulAddress },
      workers: 2,
      fleet: { name: fleet, configKey: key, checkInterval: '250ms' },
      routes: [{ name: 'home', match: { pathPrefix: '/home' }, endpoints: [api.address] }],
    });
    const { child } = await spawnFairway(file, `http://127.0.0.1:${admin}`);
    const client = new Client(`http://127.0.0.1:${listen}`, 8);
    try {
      const plan = formatCanary({ members: [`${fleet}-${hostname()}-${listen}`], until: Date.now() + 4_000, base: (await kv(key))!.index, routes: routes(api.address, `  - { name: trial, match: { pathPrefix: /trial }, endpoints: ["${api.address}"] }\n`) });
      await fetch(`${consulAddress}/v1/kv/${canaryKey(key)}`, { method: 'PUT', body: plan });
      await until(async () => (await client.get('/trial')).status === 200, 10_000, 'the plan in force');
      // Eight connections, spread over both workers by the primary: every answer is the plan's.
      await until(async () => (await client.spread(64, '/trial', 8)).get('status 404') === undefined, 10_000, 'the plan in force in both workers');
      for (const c of clients) expect((await c.get('/trial')).status).toBe(404);
      await until(async () => (await client.spread(64, '/trial', 8)).get('status 404') === 64, 15_000, 'the plan ended in both workers');
    } finally {
      await client.close();
      await stopProcess(child);
      await fetch(`${consulAddress}/v1/kv/${canaryKey(key)}`, { method: 'DELETE' });
    }
  });

  it('a second push cannot start while a plan runs, and says whose', async () => {
    const base = (await kv(key))!.index;
    const live = Date.now() + 60_000;
    await fetch(`${consulAddress}/v1/kv/${canaryKey(key)}`, { method: 'PUT', body: formatCanary({ members: [ids[0]!], until: live, base, routes: GOOD() }) });
    const r = await runCli(['config', 'push', '-c', writeConfig(GOOD(), 'again.yaml'), '--canary', '1', '--watch', '2s', ...flags]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`fairway: another canary push is under way: ${canaryKey(key)} names ${ids[0]} until ${new Date(live).toISOString()}`);
    await fetch(`${consulAddress}/v1/kv/${canaryKey(key)}`, { method: 'DELETE' });
  });

  it.each([
    { why: 'a canary of the whole fleet', args: ['--canary', '2', '--fleet', fleet], message: /--canary 2 leaves none of the 2 passing Fairways/ },
    { why: 'a watch that is no duration', args: ['--canary', '1', '--watch', '5'], message: /--watch expected a duration of at least 1s/ },
    { why: 'a threshold without --canary', args: ['--max-5xx', '2%'], message: /--max-5xx goes with --canary/ },
    { why: '--cas with --canary', args: ['--canary', '1', '--cas', '3'], message: /--cas and --canary do not go together/ },
  ])('refuses $why with exit 1, writing nothing', async ({ args, message }) => {
    const before = await kv(key);
    const r = await runCli(['config', 'push', '-c', writeConfig(GOOD(), 'flags.yaml'), ...args, '--consul', consulAddress, '--key', key]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await kv(key)).toEqual(before);
    expect(await kv(canaryKey(key))).toBeUndefined();
  });
});
