// Consul is SIGKILLed under load and restarted on the same address: clients see no error, and
// the watch resumes (a change made after the restart is in use) within 5 s of the restart.

import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulAgent, ConsulApi } from '../support/consul.js';
import { spawnFairway, until, writeConfig } from '../support/fairway.js';
import { startLoad } from '../support/load.js';
import { freePort } from '../support/ports.js';

it('8 keep-alive clients see zero errors across a Consul SIGKILL and restart; the watch resumes within 5 s', async () => {
  // A real single-server agent with a data dir (not -dev), so its registrations survive the
  // crash as they would in production.
  const agent = new ConsulAgent(inject('consulBin'), { persistent: true });
  await agent.start();
  const consul = new ConsulApi(agent.address);
  const backends = await startBackends(3);
  for (const i of [0, 1])
    await consul.put('/v1/agent/service/register', { ID: `web-${i + 1}`, Name: 'web', Address: '127.0.0.1', Port: backends[i]!.port });
  const [listen, admin] = [await freePort(), await freePort()];
  const file = writeConfig({
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: agent.address },
    routes: [{ service: 'web' }],
  });
  const adminUrl = `http://127.0.0.1:${admin}`;
  const status = async () => (await (await fetch(`${adminUrl}/api/status`)).json()) as { consul: string };
  const endpoints = async () =>
    ((await (await fetch(`${adminUrl}/api/routes`)).json()) as Array<{ endpoints: Array<{ id: string; active: boolean }> }>)[0]!.endpoints
      .filter((e) => e.active)
      .map((e) => e.id)
      .sort();
  const { child } = await spawnFairway(file, adminUrl);
  try {
    await until(async () => (await endpoints()).length === 2, 10_000, 'both instances discovered');
    const load = startLoad(`http://127.0.0.1:${listen}`, { clients: 8, durationMs: 8_000 });
    await sleep(1_500);
    await agent.kill();
    const unreachableAfter = await until(async () => (await status()).consul === 'unreachable', 5_000, 'consul unreachable');
    await sleep(1_500);
    await agent.start();
    const restartedAt = Date.now();
    await consul.put('/v1/agent/service/register', { ID: 'web-3', Name: 'web', Address: '127.0.0.1', Port: backends[2]!.port });
    await until(async () => (await endpoints()).length === 3, 15_000, 'change after restart in use');
    const resumeMs = Date.now() - restartedAt;
    const result = await load.done;
    console.log(
      `consul kill: ${result.total} requests, ${result.failures.length} non-2xx; status said unreachable ${unreachableAfter} ms after the kill; ` +
        `watch resumed ${resumeMs} ms after the restarted agent had a leader`,
    );
    expect(result.failures).toEqual([]);
    // While Consul is down the watch retries at most 1 s apart, so it resumes within about a
    // second; one that waited out a blocking query instead would take up to consul.wait (30 s).
    // 5 s tells the two apart with room for a loaded machine; the figure is printed above.
    expect(resumeMs).toBeLessThan(5_000);
    expect((await status()).consul).toBe('connected');
  } finally {
    child.kill('SIGTERM');
    await agent.stop();
    await Promise.all(backends.map((b) => b.close()));
  }
});
