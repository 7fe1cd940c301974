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

interface Status {
  consul: string;
  watches: Array<{ errors: number; lastError: string | null; lastErrorStatus: number | null }>;
}

it('a bad ACL token gives consul "error" with a clear message, no busy loop, and a reload with the right token recovers', async () => {
  const ROOT = 'b1f8c6e2-7a2d-4f4e-9c55-2a2c6f5d7e11';
  const agent = new ConsulAgent(inject('consulBin'), {
    extraArgs: ['-hcl', `acl { enabled = true\n default_policy = "deny"\n tokens { initial_management = "${ROOT}" } }`],
  });
  await agent.start();
  const backend = await startBackend('b1');
  const consul = new ConsulApi(agent.address, ROOT);
  await until(async () => {
    try {
      await consul.put('/v1/agent/service/register', { ID: 'web-1', Name: 'web', Address: '127.0.0.1', Port: backend.port });
      return true;
    } catch {
      return false; // ACL bootstrap still settling
    }
  }, 10_000, 'registration with the management token');
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
  } finally {
    await client.close();
    await app.stop();
    await agent.stop();
    await backend.close();
  }
});
