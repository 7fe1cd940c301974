// Helpers shared by the benchmarks.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = new URL('..', import.meta.url).pathname;

/** Whether a command is on PATH. */
export function has(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Resolves once `url` answers 2xx (polling every 50 ms for up to `ms`). */
export async function waitHttp(url, what, ms = 10_000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not up yet
    }
  }
  throw new Error(`${what} did not answer at ${url}`);
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * A Consul dev agent on free loopback ports (DNS and gRPC off), from the project's cached
 * build; resolves once it has a leader. `extra` are more agent flags.
 */
export async function startConsul(extra = []) {
  const bin = execFileSync('bash', [join(ROOT, 'scripts/consul-install.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
  const [http, lan, wan, server] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(bin, ['agent', '-dev', '-bind', '127.0.0.1', '-client', '127.0.0.1', '-http-port', String(http), '-dns-port', '-1', '-grpc-port', '-1',
    '-grpc-tls-port', '-1', '-serf-lan-port', String(lan), '-serf-wan-port', String(wan), '-server-port', String(server), '-log-level', 'error', ...extra], { stdio: 'ignore' });
  const address = `http://127.0.0.1:${http}`;
  for (let i = 0; i < 400; i++) {
    try {
      if ((await (await fetch(`${address}/v1/status/leader`)).json()) !== '') return { address, child };
    } catch {
      // not up yet
    }
    await sleep(50);
  }
  throw new Error('consul did not elect a leader');
}

/** The Node flags the `fairway` executable runs with (its shebang), so benchmarks run it as shipped. */
export function fairwayNodeFlags() {
  const first = readFileSync(join(ROOT, 'dist/cli/main.js'), 'utf8').split('\n', 1)[0];
  const m = /^#!\/usr\/bin\/env -S node(.*)$/.exec(first);
  if (!m) throw new Error(`dist/cli/main.js: unexpected first line ${first}`);
  return m[1].trim().split(/\s+/).filter(Boolean);
}
