// The Consul side of `npm run bench`: one Consul agent with the backends registered, and the
// Consul-aware peers that discover them from it: fabio (the Consul-native load balancer users
// would pick instead) and Traefik (the most used Consul-aware proxy). Both are Go programs
// built once from the Go module proxy by scripts/peers-install.sh and run as binaries; each
// runs with GOMAXPROCS=1, alone on the proxy CPU, like every other single-threaded row.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort, ROOT, startConsul, waitHttp } from './lib.mjs';

export const SERVICE = 'bench-backend';
// fabio routes services carrying `urlprefix-<path>`; Traefik's provider is constrained to this
// tag, because its default rule (here PathPrefix(`/`)) would otherwise match every service in
// Consul, Consul's own included, and requests would land on the wrong one.
const BENCH_TAG = 'fairway-bench';

/**
 * A peer's binary via scripts/peers-install.sh: `{ bin }`, or `{ skip }` with the reason.
 * Without `build` only a cached binary is used (Traefik takes ~7 minutes to build).
 */
export function peerBinary(name, { build }) {
  const script = join(ROOT, 'scripts/peers-install.sh');
  const cached = spawnSync('bash', [script, name, '--cached-only'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (cached.status === 0) return { bin: cached.stdout.trim().split('\n').pop() };
  // Exit 3: not built yet; anything else (a bad *_BIN override) is final.
  if (!build || cached.status !== 3) return { skip: cached.stderr.trim().split('\n').pop()?.replace(/^peers:install: /, '') || `exit ${cached.status}` };
  console.log(`bench: building ${name} once into .cache/peers/ (scripts/peers-install.sh ${name})`);
  const r = spawnSync('bash', [script, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return r.status === 0 ? { bin: r.stdout.trim().split('\n').pop() } : { skip: `${name} could not be built (its reason is printed above)` };
}

/**
 * A Consul dev agent with every backend port registered as one instance of SERVICE. Each has a
 * passing TTL check: fabio routes only instances with at least one passing check.
 */
export async function startConsulWithBackends({ children, ports }) {
  const { address, child } = await startConsul();
  children.adopt(child);
  for (const [i, port] of ports.entries()) {
    const res = await fetch(`${address}/v1/agent/service/register`, {
      method: 'PUT',
      body: JSON.stringify({
        ID: `b${i}`,
        Name: SERVICE,
        Address: '127.0.0.1',
        Port: port,
        Tags: ['urlprefix-/', BENCH_TAG],
        Check: { CheckID: `b${i}-alive`, Name: 'bench backend', TTL: '24h', Status: 'passing' },
      }),
    });
    if (!res.ok) throw new Error(`consul register b${i}: ${res.status} ${await res.text()}`);
  }
  return address;
}

const hostPort = (url) => new URL(url).host;

export async function startFabio({ children, plan }, bin, consul) {
  const [port, ui] = [await freePort(), await freePort()];
  const args = [
    `-proxy.addr=127.0.0.1:${port}`,
    `-ui.addr=127.0.0.1:${ui}`,
    `-registry.consul.addr=${hostPort(consul)}`,
    '-registry.consul.register.enabled=false',
    // Round-robin like every other row (fabio's default is random).
    '-proxy.strategy=rr',
    '-log.level=WARN',
  ];
  const child = children.run('fabio', bin, args, { env: { GOMAXPROCS: '1' }, cpus: plan.proxy });
  await waitHttp(`http://127.0.0.1:${port}/small`, 'fabio', 20_000);
  return { port, pid: child.pid };
}

export async function startTraefik({ children, plan }, bin, consul) {
  const port = await freePort();
  const args = [
    `--entryPoints.web.address=127.0.0.1:${port}`,
    '--providers.consulCatalog=true',
    `--providers.consulCatalog.endpoint.address=${hostPort(consul)}`,
    `--providers.consulCatalog.constraints=Tag(\`${BENCH_TAG}\`)`,
    '--providers.consulCatalog.defaultRule=PathPrefix(`/`)',
    '--providers.consulCatalog.watch=true',
    '--global.checkNewVersion=false',
    '--global.sendAnonymousUsage=false',
    '--log.level=ERROR',
  ];
  const child = children.run('traefik', bin, args, { env: { GOMAXPROCS: '1' }, cpus: plan.proxy });
  await waitHttp(`http://127.0.0.1:${port}/small`, 'traefik', 30_000);
  return { port, pid: child.pid };
}
