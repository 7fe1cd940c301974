#!/usr/bin/env node
// `npm run demo`: a Consul dev agent, three demo backends that register themselves with HTTP
// checks and weights 1/2/3, and Fairway with config/demo.yaml. Ctrl-C stops everything.
// `npm run demo -- --smoke` sends a few requests, prints where they went, and stops.

import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = new URL('..', import.meta.url).pathname;
const smoke = process.argv.includes('--smoke');
const PROXY = 'http://127.0.0.1:8080';
const ADMIN = 'http://127.0.0.1:8081';
const children = [];

function start(name, cmd, args) {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FAIRWAY_LOG_FORMAT: 'json' } });
  const prefix = (line) => line && process.stdout.write(`[${name}] ${line}\n`);
  child.stdout.on('data', (d) => String(d).trimEnd().split('\n').forEach(prefix));
  child.stderr.on('data', (d) => String(d).trimEnd().split('\n').forEach(prefix));
  children.push({ name, child });
  return child;
}

async function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function waitFor(what, check, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  throw new Error(`${what} did not come up in ${ms / 1000}s`);
}

async function stopAll() {
  for (const { child } of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

try {
  for (const port of [8080, 8081, 8500, 9001, 9002, 9003]) {
    if (!(await portFree(port))) throw new Error(`port ${port} is in use; the demo needs 8080, 8081, 8500 and 9001-9003 free`);
  }
  const consulBin = execFileSync('bash', [join(ROOT, 'scripts/consul-install.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
  start('consul', consulBin, ['agent', '-dev', '-bind', '127.0.0.1', '-client', '127.0.0.1', '-dns-port', '-1', '-grpc-port', '-1', '-grpc-tls-port', '-1', '-data-dir', mkdtempSync(join(tmpdir(), 'fairway-demo-')), '-log-level', 'warn']);
  await waitFor('Consul', async () => (await (await fetch('http://127.0.0.1:8500/v1/status/leader')).json()) !== '');
  for (const [i, name] of ['b1', 'b2', 'b3'].entries())
    start(name, process.execPath, ['scripts/demo-backend.mjs', '--name', name, '--port', String(9001 + i), '--weight', String(i + 1)]);
  await waitFor('the demo checks', async () => {
    const res = await fetch('http://127.0.0.1:8500/v1/health/service/demo?passing');
    return (await res.json()).length === 3;
  });
  start('fairway', process.execPath, ['dist/cli/main.js', 'start', '-c', 'config/demo.yaml']);
  await waitFor('Fairway', async () => (await fetch(`${ADMIN}/-/ready`)).status === 200);

  console.log(`
Fairway is up.
  proxy      ${PROXY}            (/ weighted 1:2:3, /rr round-robin, /random random)
  admin API  ${ADMIN}/api/routes and /api/status
  status     npx fairway status

Try:
  for i in $(seq 12); do curl -s ${PROXY}/; done
  curl -s -X POST http://127.0.0.1:9002/toggle-health   # fail b2's check: Fairway stops sending to it
  npx fairway status                                     # b2 shows critical (idle); toggle again to bring it back

Ctrl-C stops Consul, the backends and Fairway.
`);

  if (smoke) {
    const counts = {};
    for (let i = 0; i < 60; i++) {
      const body = await (await fetch(`${PROXY}/`)).text();
      const name = body.split(' ')[2];
      counts[name] = (counts[name] ?? 0) + 1;
    }
    console.log('60 requests to / (weighted 1:2:3):', JSON.stringify(counts));
    await stopAll();
    process.exit(counts.b1 === 10 && counts.b2 === 20 && counts.b3 === 30 ? 0 : 1);
  }
  const onSignal = async () => {
    console.log('\nstopping...');
    await stopAll();
    process.exit(0);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
} catch (err) {
  console.error(`demo: ${err.message}`);
  await stopAll();
  process.exit(1);
}
