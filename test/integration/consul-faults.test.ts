// Consul answering with errors rather than not at all: a bad ACL token (403) is reported
// clearly and retried gently, and a reload with the right token recovers without a restart.

import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { pino } from 'pino';
import { Fairway } from '../../src/app.js';
import { startBackend } from '../support/backends.js';
import { ConsulAgent, ConsulApi } from '../support/consul.js';
import { baseConfig, Client, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

interface Status {
  consul: string;
  watches: Array<{ errors: number; lastError: string | null; lastErrorStatus: number | null }>;
}

/** A Consul dev agent of its own with ACLs on, denying by default; `root` is its management token. */
async function startAclAgent(root: string): Promise<ConsulAgent> {
  const agent = new ConsulAgent(inject('consulBin'), {
    extraArgs: ['-hcl', `acl { enabled = true\n default_policy = "deny"\n tokens { initial_management = "${root}" } }`],
  });
  await agent.start();
  return agent;
}

/** Runs `write` until the agent's ACL system has settled enough to accept it. */
async function whenAclsSettle(write: () => Promise<void>, what: string): Promise<void> {
  await until(async () => {
    try {
      await write();
      return true;
    } catch {
      return false; // ACL bootstrap still settling
    }
  }, 10_000, what);
}

it('a bad ACL token gives consul "error" with a clear message, no busy loop; the right token recovers; a revoked one keeps the known instances', async () => {
  const ROOT = 'b1f8c6e2-7a2d-4f4e-9c55-2a2c6f5d7e11';
  const agent = await startAclAgent(ROOT);
  const backend = await startBackend('b1');
  const consul = new ConsulApi(agent.address, ROOT);
  await whenAclsSettle(() => consul.put('/v1/agent/service/register', { ID: 'web-1', Name: 'web', Address: '127.0.0.1', Port: backend.port }), 'registration with the management token');
  const config = (token: string) => baseConfig({ consul: { address: agent.address, token }, routes: [{ service: 'web' }] });
  const file = writeConfig(config('not-a-valid-token'));
  const app = await Fairway.start({ configPath: file, log: pino({ level: 'silent' }), env: {}, watch: false });
  const status = async () => (await (await fetch(`${app.adminUrl}/api/status`)).json()) as Status;
  const client = new Client(app.proxyUrl, 1);
  try {
    await until(async () => (await status()).consul === 'error', 5_000, 'consul error state');
    const first = (await status()).watches[0]!;
    expect(first.lastErrorStatus).toBe(403);
    expect(first.lastError).toContain('check the ACL token');
    // Backoff, not a busy loop: over 3 s the watch tries a handful of times at most.
    const before = first.errors;
    await sleep(3_000);
    const tries = (await status()).watches[0]!.errors - before;
    console.log(`bad ACL token: ${tries} attempts in 3 s; message: ${first.lastError}`);
    expect(tries).toBeGreaterThan(0);
    expect(tries).toBeLessThanOrEqual(6);
    expect((await client.get('/')).status).toBe(503);

    writeFileSync(file, JSON.stringify(config(ROOT)));
    const result = await app.reload();
    expect(result.ok).toBe(true);
    await until(async () => (await status()).consul === 'connected', 5_000, 'connected with the right token');
    expect((await client.get('/')).body).toBe('b1');

    // A token that stops working on reload: the instances already known keep serving.
    writeFileSync(file, JSON.stringify(config('revoked-token')));
    expect((await app.reload()).ok).toBe(true);
    await until(async () => (await status()).consul === 'error', 5_000, 'consul error after the token change');
    for (let i = 0; i < 10; i++) expect((await client.get('/')).body).toBe('b1');
  } finally {
    await client.close();
    await app.stop();
    await agent.stop();
    await backend.close();
  }
});

it('a token that may not read fleet.configKey (Consul hides the key: 404, filtered by ACLs): the KV routes keep serving and the watch says why', async () => {
  const ROOT = '5d0c8a41-3e6f-4b7a-9a2e-7c1d2b3e4f50';
  const LIMITED = '0a9e2c1b-6d4f-4e3a-8b7c-1f2e3d4c5b6a';
  const agent = await startAclAgent(ROOT);
  const backend = await startBackend('kv');
  const consul = new ConsulApi(agent.address, ROOT);
  const key = 'fairway/config';
  await whenAclsSettle(
    () => consul.put(`/v1/kv/${key}`, { routes: [{ name: 'kv', match: { pathPrefix: '/kv' }, endpoints: [backend.address] }] }),
    'the KV document written with the management token',
  );
  await consul.put('/v1/acl/policy', { Name: 'no-kv', Rules: 'service_prefix "" { policy = "write" }\nnode_prefix "" { policy = "read" }\nagent_prefix "" { policy = "read" }\nkey_prefix "" { policy = "deny" }' });
  await consul.put('/v1/acl/token', { SecretID: LIMITED, Policies: [{ Name: 'no-kv' }] });
  const config = (token: string) =>
    baseConfig({ consul: { address: agent.address, token }, fleet: { configKey: key }, routes: [{ name: 'home', match: { pathPrefix: '/home' }, endpoints: [backend.address] }] });
  const file = writeConfig(config(ROOT));
  const app = await Fairway.start({ configPath: file, log: pino({ level: 'silent' }), env: {}, watch: false });
  const client = new Client(app.proxyUrl, 1);
  try {
    await until(async () => (await client.get('/kv')).status === 200, 10_000, 'the KV route served');
    writeFileSync(file, JSON.stringify(config(LIMITED)));
    expect((await app.reload()).ok).toBe(true);
    const kvWatch = async () => ((await (await fetch(`${app.adminUrl}/api/status`)).json()) as Status).watches.find((w) => w.lastError?.includes('may not read this key'));
    await until(async () => (await kvWatch()) !== undefined, 10_000, 'the KV watch failing on the hidden key');
    expect((await kvWatch())!.lastErrorStatus).toBe(403);
    for (let i = 0; i < 5; i++) expect((await client.get('/kv')).body).toBe('kv');
    const { fleetConfig } = (await (await fetch(`${app.adminUrl}/api/status`)).json()) as { fleetConfig: { routes: number } };
    expect(fleetConfig.routes).toBe(1);
  } finally {
    await client.close();
    await app.stop();
    await agent.stop();
    await backend.close();
  }
});

it('a reload while Consul is unreachable keeps serving, and registration is retried in the background', async () => {
  const backend = await startBackend('b1');
  const dead = `http://127.0.0.1:${await freePort()}`;
  const service = (port: number) => ({ name: 'web', id: 'web-1', address: '127.0.0.1', port });
  const config = (port: number) => baseConfig({ consul: { address: dead }, services: [service(port)], routes: [{ endpoints: [backend.address] }] });
  const file = writeConfig(config(9001));
  const app = await Fairway.start({ configPath: file, log: pino({ level: 'silent' }), env: {}, watch: false });
  const client = new Client(app.proxyUrl, 1);
  try {
    expect((await client.get('/')).body).toBe('b1');
    writeFileSync(file, JSON.stringify(config(9002)));
    const result = await app.reload();
    expect(result.ok).toBe(true);
    expect((await client.get('/')).body).toBe('b1');
  } finally {
    await client.close();
    await app.stop();
    await backend.close();
  }
});

it('changing Consul settings on reload swaps the client without a gap in service', async () => {
  const service = `keep-${Date.now()}`;
  const backend = await startBackend('b1');
  const shared = new ConsulApi(inject('consulAddress'));
  await shared.put('/v1/agent/service/register', { ID: `${service}-1`, Name: service, Address: '127.0.0.1', Port: backend.port });
  const file = writeConfig(baseConfig({ consul: { address: inject('consulAddress'), wait: '5s' }, routes: [{ service }] }));
  const app = await Fairway.start({ configPath: file, log: pino({ level: 'silent' }), env: {}, watch: false });
  const client = new Client(app.proxyUrl, 1);
  try {
    await until(async () => (await client.get('/')).status === 200, 5_000, 'discovered');
    // A different wait and a token this agent (without ACLs) ignores: a new client all the same.
    writeFileSync(file, JSON.stringify(baseConfig({ consul: { address: inject('consulAddress'), wait: '6s', token: 'other' }, routes: [{ service }] })));
    expect((await app.reload()).ok).toBe(true);
    for (let i = 0; i < 20; i++) expect((await client.get('/')).body).toBe('b1');
  } finally {
    await client.close();
    await app.stop();
    await shared.put(`/v1/agent/service/deregister/${service}-1`);
    await backend.close();
  }
});
