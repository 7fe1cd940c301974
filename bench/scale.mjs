#!/usr/bin/env node
// `npm run bench:scale`: Fairway against an unmodified Consul dev agent (default limits: 200
// HTTP connections per client address) holding SCALE_SERVICES × SCALE_INSTANCES (default
// 10,000 × 10) instances with passing checks, one route per service. For the feed (the default
// past 64 services) with workers 1 and 2, and for one blocking query per service (the design
// before it) side by side: time to ready and to every instance in use, Consul connections
// held, RSS, CPU per change, change-to-use latency seen through the proxy; then the cost of
// route matching and picking with that many routes. Not a test.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, createServer, request as httpRequest } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fairwayNodeFlags, freePort, ROOT, startConsul } from './lib.mjs';

const SERVICES = Number(process.env.SCALE_SERVICES ?? 10_000);
const INSTANCES = Number(process.env.SCALE_INSTANCES ?? 10);
const tmp = mkdtempSync(join(os.tmpdir(), 'fairway-scale-'));
const children = [];

function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

function rssBytes(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
}

async function json(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Established connections from `pids` to Consul's HTTP port. */
function consulConnections(pids, port) {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${port}`], { encoding: 'utf8' });
  return [...out.matchAll(/pid=(\d+)/g)].filter((m) => pids.includes(Number(m[1]))).length;
}

function get(port, path, agent) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Registers instance `n` of service `s` on node scale-node-0 (or scale-node-n), with a passing check. */
function instanceOps(s, n, port) {
  const id = `svc-${s}-${n}`;
  const node = `scale-node-${typeof n === 'number' ? n : 0}`;
  return [{ Service: { Verb: 'set', Node: node, Service: { ID: id, Service: `svc-${s}`, Address: '127.0.0.1', Port: port } } }, checkOp(id, 'passing', node)];
}

/** Deregisters instance `n` of service `s` from scale-node-0. */
function deregisterOp(s, n) {
  return { Service: { Verb: 'delete', Node: 'scale-node-0', Service: { ID: `svc-${s}-${n}`, Service: `svc-${s}` } } };
}

/** Sets the check of instance `id` (on `node`) to `status`. */
function checkOp(id, status, node = 'scale-node-0') {
  return { Check: { Verb: 'set', Check: { Node: node, CheckID: `${id}:c`, Name: 'c', Status: status, ServiceID: id } } };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/**
 * One Fairway on the agent: time to ready and to every instance in use, Consul connections,
 * RSS, CPU per change (nothing polled meanwhile), and change-to-use latency seen from outside:
 * an instance added on a backend that answers "new", polled for through the proxy.
 */
async function measure(run, consul, consulPort, routes, ports) {
  const [listen, admin] = [await freePort(), await freePort()];
  const file = join(tmp, `scale-${run.workers}-${run.maxWatches}.json`);
  writeFileSync(file, JSON.stringify({
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: consul, maxWatches: run.maxWatches },
    workers: run.workers,
    accessLog: { enabled: false },
    routes,
  }));
  const started = performance.now();
  const logFile = join(tmp, `fairway-${run.workers}-${run.maxWatches}.log`);
  const out = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...fairwayNodeFlags(), join(ROOT, 'dist/cli/main.js'), 'start', '-c', file], { stdio: ['ignore', out, out], env: { ...process.env, FAIRWAY_LOG_FORMAT: 'json', FAIRWAY_LOG_LEVEL: 'warn' } });
  children.push(child);
  child.once('exit', (code, signal) => code !== 0 && console.log(`fairway (${run.name}) exited ${code ?? signal}; its log: ${logFile}`));
  const adminUrl = `http://127.0.0.1:${admin}`;
  const deadline = started + run.limitMs;
  const r = { name: run.name };
  for (;;) {
    try {
      if ((await fetch(`${adminUrl}/-/ready`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (performance.now() > deadline) break;
    await sleep(50);
  }
  r.readyMs = performance.now() - started;
  // Every instance is in use once every watch has read its service once (they were all
  // registered before the start). /api/status says that; /api/routes (tens of MB at this
  // scale) is read once, at the end, to check it.
  let synced = 0;
  for (;;) {
    const st = await json(`${adminUrl}/api/status`);
    synced = st.watches.filter((w) => w.synced && !w.key.startsWith('(')).length;
    if (synced === SERVICES || performance.now() > deadline) break;
    await sleep(250);
  }
  r.complete = synced;
  r.discoveredMs = synced === SERVICES ? performance.now() - started : undefined;
  const status = await json(`${adminUrl}/api/status`);
  const pids = [child.pid, ...(status.workers ?? []).map((w) => w.pid)];
  await sleep(10_000);
  r.connections = consulConnections(pids, consulPort);
  r.rss = pids.map(rssBytes);
  // V8's memory reducer gives the start-up burst back once allocation quiets (seconds later).
  await sleep(30_000);
  r.rssSettled = pids.map(rssBytes);
  const watches = (await json(`${adminUrl}/api/status`)).watches;
  r.failingWatches = watches.filter((w) => w.failing).length;
  // Does the agent still answer another client on this address (this script)?
  r.othersServed = (await fetch(`${consul}/v1/status/leader`)).status;
  if (r.complete < SERVICES || r.othersServed !== 200) {
    child.kill('SIGTERM');
    await new Promise((res) => child.once('exit', res));
    return r;
  }

  // CPU: 20 instances deregistered, 200 ms apart, Fairway not polled (put back afterwards).
  const txn = (ops) => json(`${consul}/v1/txn`, { method: 'PUT', body: JSON.stringify(ops) });
  const cpu0 = pids.reduce((n, p) => n + cpuMs(p), 0);
  for (let k = 0; k < 20; k++) {
    await txn([deregisterOp(k, 0)]);
    await sleep(200);
  }
  r.cpuPerChangeMs = (pids.reduce((n, p) => n + cpuMs(p), 0) - cpu0) / 20;
  for (let k = 0; k < 20; k++) await txn(instanceOps(k, 0, ports.a));

  // Latency, from the write to Consul to the change in use through the proxy, for 50 services:
  // an instance added (passing) on a backend that answers "new", polled for until a request
  // lands on it; then its check turned critical, polled until a whole round-robin cycle misses it.
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  r.latency = { joined: [], critical: [], passing: [] };
  r.missed = 0;
  const added = [];
  /** Writes `ops` and records in `list` how long until `cond` holds; past 10 s it counts a miss instead. */
  const timeWrite = async (list, ops, cond) => {
    const t0 = performance.now();
    await txn(ops);
    while (performance.now() - t0 < 10_000) if (await cond()) return void list.push(performance.now() - t0);
    r.missed++;
  };
  // In use: a request lands on the instance answering "new". Out of use: a whole round-robin cycle misses it.
  const inUse = (path) => async () => (await get(listen, path, agent)) === 'new';
  const outOfUse = (path) => async () => {
    for (let i = 0; i <= INSTANCES; i++) if ((await get(listen, path, agent)) === 'new') return false;
    return true;
  };
  for (let k = 0; k < 50; k++) {
    const n = (SERVICES >> 1) + ((k * 7) % (SERVICES >> 1));
    const path = `/svc-${n}/`;
    added.push(n);
    await timeWrite(r.latency.joined, instanceOps(n, 'new', ports.marker), inUse(path));
    await timeWrite(r.latency.critical, [checkOp(`svc-${n}-new`, 'critical')], outOfUse(path));
    // How instances usually join: Consul starts a new check critical, and it then passes. The
    // non-passing feed sees that at once, with no census.
    await timeWrite(r.latency.passing, [checkOp(`svc-${n}-new`, 'passing')], inUse(path));
    await sleep(50);
  }
  for (const n of added) await txn([deregisterOp(n, 'new')]);

  // The same two check changes again, each alone: above, each follows a join whose census may
  // still be running (at 10,000 × 10 it takes Consul most of a second). Here the 50 instances
  // are registered critical first, all at once, and every census has settled before the first
  // change; a check's status does not move the catalog's index, so none starts meanwhile.
  r.latency.passingAlone = [];
  r.latency.criticalAlone = [];
  for (const n of added) await txn([{ Service: { Verb: 'set', Node: 'scale-node-0', Service: { ID: `svc-${n}-alone`, Service: `svc-${n}`, Address: '127.0.0.1', Port: ports.marker } } }, checkOp(`svc-${n}-alone`, 'critical')]);
  await sleep(10_000);
  for (const n of added) {
    const path = `/svc-${n}/`;
    await timeWrite(r.latency.passingAlone, [checkOp(`svc-${n}-alone`, 'passing')], inUse(path));
    await timeWrite(r.latency.criticalAlone, [checkOp(`svc-${n}-alone`, 'critical')], outOfUse(path));
    await sleep(50);
  }
  agent.destroy();
  for (const n of added) await txn([deregisterOp(n, 'alone')]);
  r.rssAfter = pids.map(rssBytes);
  await sleep(30_000);
  r.rssAfterSettled = pids.map(rssBytes);
  const all = await json(`${adminUrl}/api/routes`);
  r.routesComplete = all.filter((x) => x.endpoints.filter((e) => e.active).length === INSTANCES).length;
  child.kill('SIGTERM');
  await new Promise((res) => child.once('exit', res));
  return r;
}

async function main() {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  // One backend answers for every instance, on two ports; a third answers "new".
  const ports = { a: await freePort(), b: await freePort(), marker: await freePort() };
  if (process.env.SCALE_CONSUL) {
    const svc0 = await json(`${process.env.SCALE_CONSUL}/v1/catalog/service/svc-0`);
    ports.a = svc0.find((i) => i.ServiceID === 'svc-0-0').ServicePort;
    ports.b = svc0.find((i) => i.ServiceID === 'svc-0-1').ServicePort;
  }
  for (const [p, body] of [[ports.a, 'ok'], [ports.b, 'ok'], [ports.marker, 'new']]) {
    const s = createServer((_req, res) => res.end(body));
    await new Promise((r) => s.listen(p, '127.0.0.1', r));
  }

  // An unmodified dev agent: Consul's default limits (200 HTTP connections per client address).
  // SCALE_CONSUL names one this script filled before (registering 100,000 instances takes ~20
  // minutes on 2 cores): its instances point at ports this run listens on again.
  const reuse = process.env.SCALE_CONSUL;
  const consul = reuse ?? (await startConsul().then((a) => (children.push(a.child), a.address)));
  const consulPort = Number(new URL(consul).port);

  // Register through the catalog in transactions of 64 operations: each instance with a passing check.
  const t0 = performance.now();
  const ops = [];
  if (!reuse) {
    for (let n = 0; n < INSTANCES; n++) ops.push({ Node: { Verb: 'set', Node: { Node: `scale-node-${n}`, Address: '127.0.0.1' } } });
    for (let s = 0; s < SERVICES; s++) for (let n = 0; n < INSTANCES; n++) ops.push(...instanceOps(s, n, n % 2 ? ports.b : ports.a));
    for (let i = 0; i < ops.length; i += 64) await json(`${consul}/v1/txn`, { method: 'PUT', body: JSON.stringify(ops.slice(i, i + 64)) });
  }
  const registerS = (performance.now() - t0) / 1000;
  console.log(reuse ? `reusing ${consul}` : `registered ${SERVICES * INSTANCES} instances in ${registerS.toFixed(1)} s`);

  const routes = Array.from({ length: SERVICES }, (_, s) => ({ name: `r${s}`, match: { pathPrefix: `/svc-${s}/` }, service: `svc-${s}`, stripPrefix: true }));
  const runs = [
    { name: 'feed, workers 1', maxWatches: 64, workers: 1, limitMs: 300_000 },
    { name: 'feed, workers 2', maxWatches: 64, workers: 2, limitMs: 300_000 },
    // Today's design before this change, on the same unmodified agent: one blocking query per service.
    { name: 'one query per service, workers 1', maxWatches: 100_000, workers: 1, limitMs: 60_000 },
  ];
  const results = [];
  for (const run of runs) {
    console.log(`measuring: ${run.name}`);
    results.push(await measure(run, consul, consulPort, routes, ports));
    console.log(results.at(-1));
  }

  // Matching and picking with 1,000 routes, in this process, on the built code.
  const { loadConfig } = await import(join(ROOT, 'dist/core/config.js'));
  const { buildRouteTable, matchRoute } = await import(join(ROOT, 'dist/core/route-table.js'));
  const { watchKey } = await import(join(ROOT, 'dist/core/instance.js'));
  const parsed = loadConfig(JSON.stringify({ routes }), 'scale.json', {});
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
  // One route's snapshot replaced, applied as the table controller applies it (told the changed
  // watch key, with its count of exclusions): median of 40 such rebuilds, each on the table
  // before it. Also as a caller that keeps neither would pay: every route looked at, and every
  // kept route's instances checked for ejections.
  const deps = { rng: Math.random, now: () => performance.now() };
  const rebuilds = { counted: [], unCounted: [] };
  let current = buildRouteTable(parsed.config, snaps, deps, table, new Set(), 0);
  for (let k = 0; k < 40; k++) {
    const key = `svc-${(k * 13) % SERVICES}`;
    const changed = new Map(snaps).set(key, { key, instances: snaps.get(key).instances.slice(k % 2) });
    let t = performance.now();
    current = buildRouteTable(parsed.config, changed, deps, current, new Set(), 0, new Set([key]));
    rebuilds.counted.push(performance.now() - t);
    t = performance.now();
    buildRouteTable(parsed.config, snaps, deps, current);
    rebuilds.unCounted.push(performance.now() - t);
  }
  const rebuildMs = pct(rebuilds.counted, 50);
  const rebuildUncountedMs = pct(rebuilds.unCounted, 50);
  if (sink === 42) console.log('');

  const mb = (b) => (b / 2 ** 20).toFixed(0);
  const latency = (xs) => (xs.length === 0 ? 'none seen' : `${pct(xs, 50).toFixed(0)} / ${pct(xs, 99).toFixed(0)} ms`);
  const cell = (r, f) => (f.always || r.latency ? f.value(r) : 'n/a');
  const rows = [
    { label: 'start to ready', always: true, value: (r) => `${(r.readyMs / 1000).toFixed(1)} s` },
    { label: `services read at least once (of ${SERVICES.toLocaleString('en')})`, always: true, value: (r) => r.complete.toLocaleString('en') },
    { label: `routes with all ${INSTANCES} instances in use, checked at the end`, value: (r) => r.routesComplete.toLocaleString('en') },
    { label: 'start to every instance in use', always: true, value: (r) => (r.discoveredMs === undefined ? 'not within the limit' : `${(r.discoveredMs / 1000).toFixed(1)} s`) },
    { label: 'Consul HTTP connections held (all processes)', always: true, value: (r) => String(r.connections) },
    { label: 'watches failing, 10 s after', always: true, value: (r) => String(r.failingWatches) },
    { label: 'the agent answers another client on 127.0.0.1', always: true, value: (r) => (r.othersServed === 200 ? 'yes' : `no (${r.othersServed})`) },
    { label: 'RSS 10 s after (per process; primary first)', always: true, value: (r) => r.rss.map(mb).join(' + ') + ' MB' },
    { label: 'RSS 40 s after, settled', always: true, value: (r) => (r.rssSettled ? r.rssSettled.map(mb).join(' + ') + ' MB' : 'n/a') },
    { label: 'CPU per change (20 changes 200 ms apart, all processes)', value: (r) => `${r.cpuPerChangeMs.toFixed(1)} ms` },
    { label: 'write to use, through the proxy: an instance joins (passing), p50 / p99 of 50', value: (r) => latency(r.latency.joined) },
    { label: 'write to use: its check turns critical, p50 / p99 of 50', value: (r) => latency(r.latency.critical) + (r.missed ? ` (${r.missed} changes not seen in 10 s)` : '') },
    { label: 'write to use: its check passes again (how instances usually join), p50 / p99 of 50', value: (r) => latency(r.latency.passing) },
    { label: 'write to use, each change alone: a critical check passes, p50 / p99 of 50', value: (r) => latency(r.latency.passingAlone) },
    { label: 'write to use, each change alone: a passing check turns critical, p50 / p99 of 50', value: (r) => latency(r.latency.criticalAlone) },
    { label: 'RSS after the changes', value: (r) => r.rssAfter.map(mb).join(' + ') + ' MB' },
    { label: 'RSS 30 s after the changes, settled', value: (r) => r.rssAfterSettled.map(mb).join(' + ') + ' MB' },
  ];
  const lines = [
    `# Scale: ${SERVICES.toLocaleString('en')} services × ${INSTANCES} instances`,
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version} (Fairway run as shipped: node ${fairwayNodeFlags().join(' ')}), unmodified Consul dev agent${reuse ? '' : ` (${registerS.toFixed(0)} s to register everything)`}`,
    '',
    `| measure | ${results.map((r) => r.name).join(' | ')} |`,
    `|---|${results.map(() => '---:').join('|')}|`,
    ...rows.map((f) => `| ${f.label} | ${results.map((r) => cell(r, f)).join(' | ')} |`),
    '',
    '| route table, in this process | value |',
    '|---|---:|',
    `| build from nothing, ${SERVICES.toLocaleString('en')} routes × ${INSTANCES} | ${buildMs.toFixed(1)} ms |`,
    `| rebuild after one service changed, as the table controller runs it (median of 40) | ${rebuildMs.toFixed(2)} ms |`,
    `| the same, told neither the key nor the exclusion count (every route looked at and re-checked) | ${rebuildUncountedMs.toFixed(1)} ms |`,
    `| route match: prefix trie (in use) / linear scan | ${matchNs.toFixed(0)} / ${linearNs.toFixed(0)} ns |`,
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
