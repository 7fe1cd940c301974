#!/usr/bin/env node
// `npm run bench:scale`: Fairway against a real Consul agent holding 1,000 services × 10
// instances, with one route per service. Prints: time to discover everything, RSS, the time
// from a Consul answer to the new set in use (per watch, measured inside Fairway), CPU per
// change, and the cost of route matching and picking with 1,000 routes. Not a test.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fairwayNodeFlags, freePort, ROOT, startConsul } from './lib.mjs';

const SERVICES = 1_000;
const INSTANCES = 10;
const tmp = mkdtempSync(join(os.tmpdir(), 'fairway-scale-'));
const children = [];


function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

async function json(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function main() {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  // One backend answers for every instance, on two ports.
  const ports = [await freePort(), await freePort()];
  for (const p of ports) {
    const s = createServer((_req, res) => res.end('ok'));
    await new Promise((r) => s.listen(p, '127.0.0.1', r));
  }

  // One blocking query per watched service: 1,000 connections from one client, above Consul's
  // default limit of 200 per client address (docs/operations.md says so too).
  const agent = await startConsul(['-hcl', 'limits { http_max_conns_per_client = 4096 }']);
  children.push(agent.child);
  const consul = agent.address;

  // Register through the catalog in transactions of 64 operations.
  const t0 = performance.now();
  const ops = [];
  for (let n = 0; n < INSTANCES; n++) ops.push({ Node: { Verb: 'set', Node: { Node: `scale-node-${n}`, Address: '127.0.0.1' } } });
  for (let s = 0; s < SERVICES; s++)
    for (let n = 0; n < INSTANCES; n++)
      ops.push({ Service: { Verb: 'set', Node: `scale-node-${n}`, Service: { ID: `svc-${s}-${n}`, Service: `svc-${s}`, Address: '127.0.0.1', Port: ports[n % 2] } } });
  for (let i = 0; i < ops.length; i += 64) await json(`${consul}/v1/txn`, { method: 'PUT', body: JSON.stringify(ops.slice(i, i + 64)) });
  console.log(`registered ${SERVICES * INSTANCES} instances in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const [listen, admin] = [await freePort(), await freePort()];
  const config = {
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: consul },
    accessLog: { enabled: false },
    routes: Array.from({ length: SERVICES }, (_, s) => ({ name: `r${s}`, match: { pathPrefix: `/svc-${s}/` }, service: `svc-${s}`, stripPrefix: true })),
  };
  const file = join(tmp, 'scale.json');
  writeFileSync(file, JSON.stringify(config));
  const started = performance.now();
  const child = spawn(process.execPath, [...fairwayNodeFlags(), join(ROOT, 'dist/cli/main.js'), 'start', '-c', file], { stdio: 'ignore', env: { ...process.env, FAIRWAY_LOG_FORMAT: 'json', FAIRWAY_LOG_LEVEL: 'warn' } });
  children.push(child);
  const adminUrl = `http://127.0.0.1:${admin}`;
  const status = () => json(`${adminUrl}/api/status`);
  for (;;) {
    try {
      if ((await fetch(`${adminUrl}/-/ready`)).status === 200) break;
    } catch {
      // not up yet
    }
    await sleep(50);
  }
  const readyMs = performance.now() - started;
  let all;
  for (;;) {
    all = await json(`${adminUrl}/api/routes`);
    if (all.every((r) => r.endpoints.filter((e) => e.active).length === INSTANCES)) break;
    await sleep(100);
  }
  const discoveredMs = performance.now() - started;
  await fetch(`http://127.0.0.1:${listen}/svc-7/x`);
  await sleep(2_000);
  const idle = await status();
  // V8 gives back the heap that discovery churned through only once the process has been idle
  // for a while (its memory reducer), and every watch's wait runs out at least once per
  // `consul.wait` (30 s): RSS is sampled each second for 60 s, and the table shows the spread a
  // long-running proxy moves in.
  const rssSeries = [];
  for (let s = 0; s < 60; s++) {
    await sleep(1_000);
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    rssSeries.push(Number(m[1]) * 1024);
  }
  const steady = await status();
  const sorted = [...rssSeries].sort((a, b) => a - b);

  // 20 changes, one service each (an instance deregistered), 200 ms apart; Fairway is not
  // polled meanwhile, so the CPU counted is what the changes cost. Each watch then reports the
  // time from its answer's arrival to the new set in use.
  const changed = Array.from({ length: 20 }, (_, k) => `svc-${100 + k}`);
  const updatesBefore = new Map((await status()).watches.map((w) => [w.key, w.updates]));
  const cpuBefore = cpuMs(child.pid);
  for (const key of changed) {
    await json(`${consul}/v1/txn`, { method: 'PUT', body: JSON.stringify([{ Service: { Verb: 'delete', Node: 'scale-node-3', Service: { ID: `${key}-3`, Service: key } } }]) });
    await sleep(200);
  }
  const cpuPerChange = (cpuMs(child.pid) - cpuBefore) / changed.length;
  const after = await status();
  const applied = changed.map((key) => {
    const w = after.watches.find((x) => x.key === key);
    if (w.updates !== updatesBefore.get(key) + 1) throw new Error(`watch ${key}: expected one update, saw ${w.updates - updatesBefore.get(key)}`);
    return w.lastApplyMs;
  });
  const inUse = (await json(`${adminUrl}/api/routes`)).filter((r) => changed.includes(r.service)).every((r) => r.endpoints.filter((e) => e.active).length === INSTANCES - 1);
  if (!inUse) throw new Error('a change is not in use');

  // Matching and picking with 1,000 routes, in this process, on the built code.
  const { loadConfig } = await import(join(ROOT, 'dist/core/config.js'));
  const { buildRouteTable, matchRoute } = await import(join(ROOT, 'dist/core/route-table.js'));
  const { watchKey } = await import(join(ROOT, 'dist/core/instance.js'));
  const parsed = loadConfig(JSON.stringify({ routes: config.routes }), 'scale.json', {});
  const snaps = new Map();
  for (let s = 0; s < SERVICES; s++) {
    const instances = Array.from({ length: INSTANCES }, (_, n) => ({ id: `svc-${s}-${n}`, node: '', host: '127.0.0.1', port: 10_000 + n, tags: [], meta: {}, weights: { passing: 1, warning: 1 }, status: 'passing' }));
    snaps.set(watchKey(`svc-${s}`, []), { key: `svc-${s}`, instances });
  }
  const t1 = performance.now();
  const table = buildRouteTable(parsed.config, snaps, { rng: Math.random, now: () => performance.now() });
  const buildMs = performance.now() - t1;
  const paths = Array.from({ length: 1024 }, (_, i) => `/svc-${(i * 7919) % SERVICES}/items/${i}`);
  const headers = { host: 'example.com' };
  let sink = 0;
  for (let i = 0; i < 100_000; i++) sink += table.match('example.com', paths[i & 1023], headers) ? 1 : 0;
  const N = 200_000;
  let t2 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += matchRoute(table.routes, 'example.com', paths[i & 1023], headers) ? 1 : 0;
  const linearNs = Number(process.hrtime.bigint() - t2) / N;
  t2 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += table.match('example.com', paths[i & 1023], headers) ? 1 : 0;
  const matchNs = Number(process.hrtime.bigint() - t2) / N;
  t2 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += table.match('example.com', paths[i & 1023], headers).picker.pick().port;
  const matchPickNs = Number(process.hrtime.bigint() - t2) / N;
  // The same change as above, applied to this table: one route's snapshot replaced.
  const changedSnap = new Map(snaps);
  changedSnap.set('svc-1', { key: 'svc-1', instances: snaps.get('svc-1').instances.slice(1) });
  const t3 = performance.now();
  buildRouteTable(parsed.config, changedSnap, { rng: Math.random, now: () => performance.now() }, table);
  const rebuildMs = performance.now() - t3;
  if (sink === 42) console.log('');

  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const max = (xs) => Math.max(...xs);
  const mb = (b) => (b / 2 ** 20).toFixed(0);
  const lines = [
    `# Scale: ${SERVICES.toLocaleString('en')} services × ${INSTANCES} instances`,
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, Node ${process.version} (Fairway run as shipped: node ${fairwayNodeFlags().join(" ")}), Consul dev agent (limits.http_max_conns_per_client = 4096)`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| start to ready (every watch answered once) | ${(readyMs / 1000).toFixed(2)} s |`,
    `| start to all ${(SERVICES * INSTANCES).toLocaleString('en')} instances in use | ${(discoveredMs / 1000).toFixed(2)} s |`,
    `| RSS 2 s after all instances were discovered | ${mb(idle.process.rssBytes)} MB (heap ${mb(idle.process.heapUsedBytes)} MB) |`,
    `| RSS over the next 60 s, idle: min / median / max (heap at the end) | ${mb(sorted[0])} / ${mb(sorted[30])} / ${mb(sorted[59])} MB (heap ${mb(steady.process.heapUsedBytes)} MB) |`,
    `| RSS after 20 changes | ${mb(after.process.rssBytes)} MB |`,
    `| answer arrival to new set in use (lastApplyMs), median / max of 20 | ${med(applied).toFixed(2)} / ${max(applied).toFixed(2)} ms |`,
    `| CPU per change (20 changes, 200 ms apart; idle watches included) | ${cpuPerChange.toFixed(1)} ms |`,
    `| route table build from nothing, ${SERVICES} routes × ${INSTANCES} | ${buildMs.toFixed(1)} ms |`,
    `| route table rebuild after one service changed | ${rebuildMs.toFixed(1)} ms |`,
    `| route match, ${SERVICES} routes: prefix trie (in use) / linear scan | ${matchNs.toFixed(0)} / ${linearNs.toFixed(0)} ns |`,
    `| route match + pick | ${matchPickNs.toFixed(0)} ns |`,
  ];
  const text = `${lines.join('\n')}\n`;
  console.log(`\n${text}`);
  writeFileSync(join(ROOT, 'bench/scale-results.md'), text);
}

main()
  .catch((err) => {
    console.error(`bench:scale: ${err.stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of children) c.kill('SIGTERM');
    await sleep(300);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    process.exit();
  });
