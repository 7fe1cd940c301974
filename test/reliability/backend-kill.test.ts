// A backend dies abruptly (listener closed, keep-alive sockets cut) under load: not one client
// sees an error, and passive ejection takes it out of rotation before Consul's check notices.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { startBackends } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { spawnFairway, until, writeConfig } from '../support/fairway.js';
import { startLoad } from '../support/load.js';
import { freePort } from '../support/ports.js';

const consul = new ConsulApi(inject('consulAddress'));

it('8 keep-alive clients for 8 s see zero errors while a backend is killed; ejection beats Consul', async () => {
  const service = `kill-${randomUUID().slice(0, 8)}`;
  const backends = await startBackends(3);
  const ids = backends.map((_, i) => `${service}-${i + 1}`);
  for (const [i, b] of backends.entries())
    await consul.put('/v1/agent/service/register', {
      ID: ids[i], Name: service, Address: '127.0.0.1', Port: b.port,
      Check: { HTTP: `http://${b.address}/health`, Interval: '1s', Timeout: '1s' },
    });
  await until(async () => (await Promise.all(ids.map((id) => consul.instanceStatus(service, id)))).every((s) => s === 'passing'), 10_000, 'checks passing');
  const [listen, admin] = [await freePort(), await freePort()];
  const file = writeConfig({
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: inject('consulAddress') },
    routes: [{ service, strategy: 'round-robin' }],
  });
  const adminUrl = `http://127.0.0.1:${admin}`;
  const { child, logs } = await spawnFairway(file, adminUrl);
  try {
    const load = startLoad(`http://127.0.0.1:${listen}`, { clients: 8, durationMs: 8_000 });
    await sleep(2_000);
    const victim = backends[1]!;
    // Killed just after Consul's check has run (interval 1 s), so the check's own schedule
    // cannot decide the race: a kill that happened to land just before a check let Consul see
    // it within 62 ms (one CI run), before the failures that eject it had come in.
    await new Promise<void>((resolve) => {
      const onRequest = (req: IncomingMessage): void => {
        if (req.url !== '/health') return;
        victim.server.off('request', onRequest);
        setTimeout(resolve, 20);
      };
      victim.server.on('request', onRequest);
    });
    victim.kill();
    const killedAt = Date.now();

    // Which came first is read from events, not from two polls that each lag: Fairway logs the
    // ejection as it happens (pino's time, this machine's clock), and Consul is asked on and on
    // until it says critical. An answer of "passing" means Consul's verdict came after that
    // request was sent; so the ejection must be logged before the last such request was sent.
    let lastPassingAskedAt: number | undefined;
    let criticalAt: number | undefined;
    while (criticalAt === undefined && Date.now() - killedAt < 6_000) {
      const askedAt = Date.now();
      const status = await consul.instanceStatus(service, ids[1]!);
      if (status === 'critical') criticalAt = Date.now();
      else if (status === 'passing') lastPassingAskedAt = askedAt;
      await sleep(10);
    }
    const result = await load.done;
    const ejection = logs()
      .split('\n')
      .filter((line) => line.startsWith('{') && line.endsWith('}'))
      .map((line) => JSON.parse(line) as { msg?: string; upstream?: string; time?: number })
      .find((l) => l.msg === 'instance ejected after consecutive failures' && l.upstream === ids[1]);
    const ejectedAt = ejection?.time;
    console.log(
      `backend kill: ${result.total} requests, ${result.failures.length} non-2xx; ` +
        `ejected ${ejectedAt! - killedAt} ms after the kill; Consul last said passing to a request sent ${lastPassingAskedAt! - killedAt} ms after, ` +
        `critical by ${criticalAt! - killedAt} ms`,
    );
    expect(result.failures).toEqual([]);
    expect(result.total).toBeGreaterThan(1_000);
    expect(ejectedAt, 'an ejection logged').toBeDefined();
    expect(criticalAt, 'Consul reports critical').toBeDefined();
    expect(lastPassingAskedAt, 'Consul still passing after the kill').toBeDefined();
    expect(ejectedAt!).toBeLessThan(lastPassingAskedAt!);
  } finally {
    child.kill('SIGTERM');
    for (const id of ids) await consul.put(`/v1/agent/service/deregister/${id}`);
    await Promise.all(backends.map((b) => b.close()));
  }
});
