// Routes from Consul KV for a fleet: `fairway config push` validates and writes with
// check-and-set, `config pull` reads, and a running Fairway with fleet.configKey picks the routes
// up by blocking query, keeps its last good ones when the key holds a bad document or goes away.
// Real Consul agent, the real CLI, Fairway in this process.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, type Backend } from '../support/backends.js';
import { baseConfig, CLI, Client, runCli, startFairway, until, waitReady, writeConfig } from '../support/fairway.js';

const consulAddress = inject('consulAddress');

async function kvText(key: string): Promise<string | undefined> {
  const res = await fetch(`${consulAddress}/v1/kv/${key}?raw`);
  return res.status === 404 ? undefined : res.text();
}

describe('fleet routes in Consul KV', () => {
  const key = `fairway-test/${randomUUID().slice(0, 8)}/config`;
  const consul = ['--consul', consulAddress, '--key', key];
  let api: Backend;
  let app: Fairway;
  let client: Client;

  beforeAll(async () => {
    api = await startBackend('api');
    app = await startFairway(
      baseConfig({
        consul: { address: consulAddress },
        fleet: { name: `fairway-${randomUUID().slice(0, 8)}`, configKey: key, checkInterval: '250ms' },
        routes: [{ name: 'home', match: { pathPrefix: '/home' }, endpoints: [api.address] }],
      }),
    );
    await waitReady(app);
    client = new Client(app.proxyUrl);
  });

  afterAll(async () => {
    await client.close();
    await app.stop();
    await api.close();
    await fetch(`${consulAddress}/v1/kv/${key}`, { method: 'DELETE' });
  });

  it('config push refuses a bad document with validate\'s messages, and writes nothing', async () => {
    const file = writeConfig('routes:\n  - name: api\n    endpoints: [nowhere]\n', 'routes.yaml');
    const r = await runCli(['config', 'push', '-c', file, ...consul]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${file}:3:17 routes[0].endpoints[0]: expected host:port or https://host:port, e.g. 127.0.0.1:8080`);
    expect(await kvText(key)).toBeUndefined();
  });

  it('config push writes a good one, and the running Fairway serves its routes after its own', async () => {
    const text = `routes:\n  - { name: api, match: { pathPrefix: /api }, endpoints: ["${api.address}"] }\n`;
    const r = await runCli(['config', 'push', '-c', writeConfig(text, 'routes.yaml'), ...consul]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(new RegExp(`^pushed .*routes\\.yaml to ${key} \\(1 route\\); index \\d+\\n$`));
    expect(await kvText(key)).toBe(text);
    await until(async () => (await client.get('/api/x')).status === 200, 10_000, 'the KV route serving');
    expect(app.table.routes.map((x) => x.config.name)).toEqual(['home', 'api']);
  });

  it('config pull prints the document, its index on stderr', async () => {
    const r = await runCli(['config', 'pull', ...consul]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(await kvText(key));
    expect(r.stderr).toMatch(new RegExp(`^# ${key} at index \\d+\\n$`));
  });

  it('a push naming a stale index fails with exit 1 and says why (someone else wrote it)', async () => {
    const index = Number(/index (\d+)/.exec((await runCli(['config', 'pull', ...consul])).stderr)![1]);
    const file = writeConfig(`routes:\n  - { name: api2, endpoints: ["${api.address}"] }\n`, 'routes.yaml');
    const r = await runCli(['config', 'push', '-c', file, '--cas', String(index - 1), ...consul]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`fairway: ${key} changed since it was at index ${index - 1}: someone else wrote it; pull it, merge your change and push again`);
    expect(await kvText(key)).toMatch(/name: api,/);
  });

  it('--cas that is not a safe whole number is one line and exit 1, before anything is written', async () => {
    const file = writeConfig({ routes: [{ name: 'cas', match: { pathPrefix: '/cas' }, service: 'cas' }] });
    const dash = await runCli(['config', 'push', '-c', file, ...consul, '--cas', '-1']);
    expect(dash.code).toBe(1);
    expect(dash.stderr.trim().split('\n')).toHaveLength(1);
    expect(dash.stderr).toContain("--cas");
    const huge = await runCli(['config', 'push', '-c', file, ...consul, '--cas', '99999999999999999999']);
    expect([huge.code, huge.stderr.trim()]).toEqual([1, `fairway: config push: --cas expected a whole number up to ${Number.MAX_SAFE_INTEGER} (an index from config pull), got "99999999999999999999"`]);
  });

  it('config pull into a reader that stops early (| head) ends quietly with exit 0', async () => {
    const big = `fairway-test/${randomUUID().slice(0, 8)}/big`;
    await fetch(`${consulAddress}/v1/kv/${big}`, { method: 'PUT', body: `# ${'x'.repeat(300_000)}\n` });
    try {
      const child = spawn(process.execPath, [CLI, 'config', 'pull', '--consul', consulAddress, '--key', big], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.stdout.once('data', () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      // stderr: the index line pull always writes, and nothing else (no EPIPE trace).
      expect({ code, stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/^# \S+ at index \d+\n$/) });
    } finally {
      await fetch(`${consulAddress}/v1/kv/${big}`, { method: 'DELETE' });
    }
  });

  it('a bad document written past the CLI is rejected by the instance, which keeps its last good routes and says so', async () => {
    await fetch(`${consulAddress}/v1/kv/${key}`, { method: 'PUT', body: 'routes:\n  - name: api\n    service: api\n    retries: lots\n' });
    type Status = { fleetConfig: { key: string; ok: boolean; routes: number; problems: string[] } };
    const status = async (): Promise<Status> => (await (await fetch(`${app.adminUrl}/api/status`)).json()) as Status;
    await until(async () => (await status()).fleetConfig.ok === false, 10_000, 'the rejection in /api/status');
    const s = await status();
    expect(s.fleetConfig).toMatchObject({ key, routes: 1, problems: [`consul:${key}:4:14 routes[0].retries: expected a whole number from 0 to 10`] });
    expect((await client.get('/api/x')).status).toBe(200);
  });

  it('when the key is deleted, its routes keep serving, and /api/status says the key is gone', async () => {
    // A key lost by accident (a recursive delete, a KV restore) must not take every instance's
    // fleet routes with it; changing them is a push, dropping them a file without configKey.
    type Status = { fleetConfig: { key: string; ok: boolean; index: number | null; routes: number; problems: string[] } };
    await fetch(`${consulAddress}/v1/kv/${key}`, { method: 'DELETE' });
    const status = async (): Promise<Status> => (await (await fetch(`${app.adminUrl}/api/status`)).json()) as Status;
    await until(async () => (await status()).fleetConfig.index === null, 10_000, 'the deletion seen');
    expect((await status()).fleetConfig).toMatchObject({
      key,
      ok: false,
      routes: 1,
      problems: [`consul:${key}: the key is gone from Consul KV; the 1 route(s) last read from it keep serving`],
    });
    expect((await client.get('/api/x')).status).toBe(200);
    expect((await client.get('/home')).status).toBe(200);
  });
});
