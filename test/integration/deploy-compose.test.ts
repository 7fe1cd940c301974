// deploy/compose/docker-compose.yml without Docker: its services run as the same processes, in
// the order its depends_on gives, from its own files, changed only where a container's network
// differs from loopback (ports, addresses, Consul's). A Consul dev agent of its own (the fleet
// name and KV key are the recipe's, unshared), the demo backends, `fairway config push` as the
// seed service runs it, and two `fairway start`: both serve the pushed routes and both are in
// Consul's fleet service; on SIGTERM (compose stop) each drains and leaves it.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConsulAgent, ConsulApi } from '../support/consul.js';
import { argAfter, DEPLOY, fairwayServices, hostPath, readCompose, ROOT, startOrder, withValues, type ComposeService } from '../support/deploy.js';
import { runCli, spawnFairway, stopProcess, until, writeConfig, type CliResult } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

const TOKEN = 'compose-test-token';
const compose = readCompose(join(DEPLOY, 'compose/docker-compose.yml'), { FAIRWAY_ADMIN_TOKEN: TOKEN });
const fairways = fairwayServices(compose);

interface Health {
  Service: { ID: string; Address: string; Port: number };
}

/** `args` with the value after each flag in `values` replaced. */
function withArgs(args: readonly string[], values: Record<string, string>): string[] {
  return args.map((a, i) => (i > 0 && values[args[i - 1]!] !== undefined ? values[args[i - 1]!]! : a));
}

describe('deploy/compose: the fleet recipe\'s processes, without Docker', () => {
  const agent = new ConsulAgent(inject('consulBin'));
  let consul: ConsulApi;
  const children: ChildProcess[] = [];
  const proxies = new Map<string, { url: string; admin: string; child: ChildProcess }>();
  let seed: { file: string; result: CliResult } | undefined;

  /** The service's environment, with Consul's address inside the compose network replaced by the agent's. */
  const envOf = (s: ComposeService): Record<string, string> =>
    Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v.replace('http://consul:8500', agent.address)]));

  async function run(name: string, s: ComposeService): Promise<void> {
    if (s.image?.startsWith('hashicorp/consul:')) {
      await agent.start();
      consul = new ConsulApi(agent.address);
      return;
    }
    if (s.entrypoint?.join(' ') === 'node scripts/demo-backend.mjs') {
      const args = withArgs(s.command!, { '--port': String(await freePort()), '--bind': '127.0.0.1', '--address': '127.0.0.1' });
      const child = spawn(process.execPath, [join(ROOT, s.entrypoint[1]!), ...args], { env: { ...process.env, ...envOf(s) }, stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(child);
      // A backend that dies (a port taken meanwhile, say) fails the wait at once, with its words.
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const id = `demo-${argAfter(args, '--name')}`;
      await until(
        async () => {
          if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${stderr.trim()}`);
          return (await consul.instanceStatus('demo', id)) === 'passing';
        },
        // Its check runs every second; a loaded 2-core machine has taken more than 15 s once.
        30_000,
        `${name} passing in Consul`,
      );
      return;
    }
    const command = s.command!;
    const file = hostPath(compose, name, argAfter(command, '-c')!);
    if (command[0] === 'config') {
      seed = { file, result: await runCli(withArgs(command, { '-c': file }), envOf(s)) };
      // depends_on: service_completed_successfully
      if (seed.result.code !== 0) throw new Error(`${name} failed: ${seed.result.stderr}`);
      return;
    }
    if (command[0] !== 'start') throw new Error(`${name}: a service this test does not know how to run`);
    const [port, adminPort] = [await freePort(), await freePort()];
    const text = withValues(readFileSync(file, 'utf8'), [
      [['listen'], `127.0.0.1:${port}`],
      [['admin', 'listen'], `127.0.0.1:${adminPort}`],
      [['fleet', 'address'], '127.0.0.1'],
    ]);
    const admin = `http://127.0.0.1:${adminPort}`;
    const { child } = await spawnFairway(writeConfig(text, `${name}.yaml`), admin, envOf(s));
    children.push(child);
    proxies.set(name, { url: `http://127.0.0.1:${port}`, admin, child });
  }

  beforeAll(async () => {
    for (const name of startOrder(compose)) await run(name, compose.services[name]!);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map(stopProcess));
    await agent.stop();
  });

  it('the seed service pushed routes.yaml to the fleet\'s KV key as written', async () => {
    expect(seed?.result).toMatchObject({ code: 0, stderr: '' });
    const res = await fetch(`${agent.address}/v1/kv/fairway/config?raw`);
    expect(await res.text()).toBe(readFileSync(seed!.file, 'utf8'));
  });

  it.each(fairways)('%s serves the fleet\'s routes from Consul KV, to the demo backends', async (name) => {
    const p = proxies.get(name)!;
    const routes = async () => ((await (await fetch(`${p.admin}/api/routes`)).json()) as Array<{ name: string }>).map((r) => r.name);
    await until(async () => (await routes()).length > 0, 10_000, `${name} has the KV routes`);
    expect(await routes()).toEqual(['round-robin', 'weighted']);
    await until(async () => (await fetch(`${p.url}/rr/x`)).status === 200, 10_000, `${name} reaching a backend`);
    expect(await (await fetch(`${p.url}/rr/x`)).text()).toMatch(/^hello from b[12] \(weight [12]\) path=\/x\n$/);
  });

  it('both are passing instances of the fleet service, and each sees a fleet of two', async () => {
    const passing = async () => consul.get<Health[]>('/v1/health/service/fairway?passing=true');
    await until(async () => (await passing()).length === 2, 15_000, 'both Fairways passing in Consul');
    const ports = [...proxies.values()].map((p) => Number(new URL(p.url).port)).sort();
    expect((await passing()).map((h) => h.Service.Port).sort()).toEqual(ports);
    for (const p of proxies.values()) {
      const fleet = async () => ((await (await fetch(`${p.admin}/api/status`)).json()) as { fleet: { instances: number } }).fleet;
      await until(async () => (await fleet()).instances === 2, 15_000, 'a fleet of two');
    }
  });

  it('on SIGTERM (compose stop) each drains, leaves the fleet service and exits 0', async () => {
    expect(await Promise.all([...proxies.values()].map((p) => stopProcess(p.child)))).toEqual([0, 0]);
    expect(await consul.get<Health[]>('/v1/health/service/fairway')).toEqual([]);
  });
});
