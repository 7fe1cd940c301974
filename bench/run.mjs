#!/usr/bin/env node
// `npm run bench`: Fairway side by side with reference proxies on this machine, in one run,
// with proof that the machine's load side was not the bottleneck. docs/benchmarks.md explains
// every row and how to read the output.
//
// The same in-memory backends serve every row and the same load generator drives each one, in
// interleaved rounds so a noisy neighbour hurts everyone alike. Every table has a direct row
// (load generator straight to a backend): a table whose direct figure is not 1.5× its fastest
// proxy is marked load-side bound. Then the latency of each proxy at 25/50/75 % of HAProxy's
// maximum (open loop), and the goals of issue #19 with met / not met. It installs nothing but
// the Go peers it builds into .cache/ (scripts/peers-install.sh); `apt-get install nginx
// haproxy wrk` adds the native references.
//
//   npm run bench                      full run (~15 min); writes bench/results.md and .json
//   npm run bench -- --quick           ~2 min: one short round, small response, short latency points
//   npm run bench -- --smoke           plumbing check: every row and table, 1 s each; numbers meaningless
//   options: --no-pin, --no-build (use dist/ as is), --build-traefik (build Traefik, ~7 min, once),
//            --vegeta (fixed-rate points from vegeta instead of bench/open-loop.mjs),
//            --tls (TLS termination only, bench/tls.mjs; writes bench/tls-results.md on a full run)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackends } from './backends.mjs';
import { fairwayNodeFlags, has, ROOT } from './lib.mjs';
import { fixedRate, SATURATOR, saturate } from './load.mjs';
import { peerBinary, SERVICE, startConsulWithBackends, startFabio, startTraefik } from './peers.mjs';
import { Children, cpuPlan, cpuTree, rssTree } from './procs.mjs';
import { startFairway, startHaproxy, startNetRelay, startNginxProxy, startNodeHttpProxy, startUndiciRelay } from './proxies.mjs';
import { renderTls, tlsTables } from './tls.mjs';
import { DIRECT, FABIO, FAIRWAY, FAIRWAY_COMPRESS, FAIRWAY_CONSUL, FAIRWAY_POLICIES, headroom, NET_RELAY, NHP, REF, renderMarkdown, summariseRounds, TRAEFIK } from './report.mjs';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    smoke: { type: 'boolean' },
    'no-pin': { type: 'boolean' },
    'no-build': { type: 'boolean' },
    'build-traefik': { type: 'boolean' },
    vegeta: { type: 'boolean' },
    tls: { type: 'boolean' },
  },
});
const MODE = opts.smoke ? 'smoke' : opts.quick ? 'quick' : 'full';
// full: every row; quick: the rows the goals need; smoke: every code path, numbers meaningless.
// Node's JIT needs a few seconds of traffic before its code is optimised; every row gets the
// same warm-up.
const T = {
  full: { rounds: 5, seconds: 5, warmup: 3, sizeSeconds: 3, latencySeconds: 10, allRows: true },
  quick: { rounds: 1, seconds: 3, warmup: 1, sizeSeconds: 0, latencySeconds: 1.5, allRows: false },
  smoke: { rounds: 2, seconds: 1, warmup: 1, sizeSeconds: 1, latencySeconds: 1, allRows: true },
}[MODE];
const LOAD_PCTS = [25, 50, 75];
const POLICIES = {
  allow: ['127.0.0.0/8', '::1'],
  rateLimit: { rate: '1000000/s', burst: 10000000, by: 'ip' },
  requestHeaders: { set: { 'x-env': 'bench' }, remove: ['x-debug'] },
  responseHeaders: { set: { 'strict-transport-security': 'max-age=31536000' }, remove: ['server'] },
};
const SIZES = [['1 KiB', '/1k'], ['64 KiB', '/64k'], ['1 MiB', '/1m'], ['64 KiB upload', '/upload']];

const tmp = mkdtempSync(join(os.tmpdir(), 'fairway-bench-'));
const plan = cpuPlan(opts['no-pin']);
const children = new Children(plan);

async function measure(row, path, seconds, upload = false, headers = {}) {
  let peak = 0;
  let sampling = row.pid !== undefined;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, rssTree(row.pid));
      await sleep(200);
    }
  })();
  const cpu0 = row.pid === undefined ? 0 : cpuTree(row.pid);
  const r = await saturate(row.port, path, seconds, { tmp, upload, headers });
  // CPU per request: what a request costs the proxy whether or not the load side kept it busy.
  const cpuUs = row.pid === undefined || r.rps === 0 ? undefined : ((cpuTree(row.pid) - cpu0) * 1e6) / (r.rps * seconds);
  sampling = false;
  await sampler;
  return { ...r, rssMB: peak / 2 ** 20, cpuUs };
}

/** Starts every row; rows a peer could not be had for are left out and recorded in `skipped`. */
async function startRows(ctx, skipped) {
  const rows = [{ name: DIRECT, port: ctx.ports[0], sizes: true, latency: true }];
  // `sizes`/`latency`: whether the row also runs in those tables. --quick keeps the fixed-rate
  // points to the rows the goals and the Consul peers need.
  const add = async (name, start, { sizes = true, latency = T.allRows || !/nginx|node-http/.test(name), small = true, compress = false } = {}) =>
    rows.push({ name, ...(await start()), sizes, latency, small, compress });
  const consul = await startConsulWithBackends(ctx);
  if (has('haproxy')) await add(REF, () => startHaproxy(ctx));
  else skipped[REF] = 'haproxy is not installed';
  if (has('nginx')) await add('nginx (1 worker)', () => startNginxProxy(ctx));
  else skipped['nginx (1 worker)'] = 'nginx is not installed';
  const fabio = peerBinary('fabio', { build: true });
  if (fabio.bin) await add(FABIO, () => startFabio(ctx, fabio.bin, consul));
  else skipped[FABIO] = fabio.skip;
  const traefik = peerBinary('traefik', { build: Boolean(opts['build-traefik']) });
  if (traefik.bin) await add(TRAEFIK, () => startTraefik(ctx, traefik.bin, consul));
  else skipped[TRAEFIK] = opts['build-traefik'] ? traefik.skip : `${traefik.skip}; or run with --build-traefik`;
  await add(NHP, () => startNodeHttpProxy(ctx));
  // Not proxies: the least any relay on Node's own sockets (bench/net-relay.mjs), and any relay
  // on undici (bench/undici-relay.mjs), can do per request on this machine.
  // The socket relay also runs the fixed-rate points: what Node itself adds at a given load.
  if (T.allRows) await add(NET_RELAY, () => startNetRelay(ctx), { sizes: false });
  if (T.allRows) await add('ceiling: bare undici relay', () => startUndiciRelay(ctx), { sizes: false, latency: false });
  await add(FAIRWAY, () => startFairway(ctx));
  // The policies issue #16 sets a cost goal for: a rate limit that never refuses, an allow
  // list and header rules both ways, on every request.
  await add(FAIRWAY_POLICIES, () => startFairway(ctx, { route: POLICIES }), { sizes: false, latency: false });
  if (T.sizeSeconds) await add(FAIRWAY_COMPRESS, () => startFairway(ctx, { route: { compress: true } }), { sizes: false, latency: false, small: false, compress: true });
  if (T.allRows) {
    await add('Fairway (static, metrics off)', () => startFairway(ctx, { extra: { metrics: { enabled: false } } }), { sizes: false, latency: false });
    await add('Fairway (static, access log on)', () => startFairway(ctx, { extra: { accessLog: { enabled: true } } }), { sizes: false, latency: false });
  }
  await add(FAIRWAY_CONSUL, () => startFairway(ctx, { consul, service: SERVICE }));
  if (T.allRows) await add('Fairway (workers: auto, all CPUs)', () => startFairway(ctx, { extra: { workers: 'auto' } }), { sizes: false, latency: false });
  const versions = { fabio: fabio.bin, traefik: traefik.bin };
  return { rows, versions };
}

async function smallRounds(all) {
  // Every row but those made for another table (the direct row has no flags: it is in all).
  const rows = all.filter((r) => r.small !== false);
  const rounds = Object.fromEntries(rows.map((r) => [r.name, []]));
  for (const row of rows) await saturate(row.port, '/small', T.warmup, { tmp });
  for (let round = 1; round <= T.rounds; round++) {
    for (const row of rows) {
      // A second of unmeasured load first: each row sat idle while the others ran.
      await saturate(row.port, '/small', 1, { tmp });
      const r = await measure(row, '/small', T.seconds);
      rounds[row.name].push(r);
      console.log(`round ${round} ${row.name.padEnd(34)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms${row.pid ? `  rss ${r.rssMB.toFixed(0)} MB` : ''}${r.errors ? `  ${r.errors} errors` : ''}`);
    }
  }
  const summary = summariseRounds(rounds);
  return { rows: summary, headroom: headroom(summary) };
}

/**
 * 8 KiB of text with `Accept-Encoding: gzip`: what compressing costs. Rows: direct and Fairway
 * as they are (uncompressed), nginx and Fairway compressing at the same gzip level.
 */
async function compressionTable(rows) {
  const headers = { 'accept-encoding': 'gzip' };
  const table = { label: '8 KiB text, Accept-Encoding: gzip', rows: [] };
  for (const row of rows.filter((r) => r.compress || [DIRECT, FAIRWAY, 'nginx (1 worker)'].includes(r.name))) {
    await saturate(row.port, '/text', 1, { tmp, headers });
    const name = row.name === 'nginx (1 worker)' ? 'nginx (1 worker, gzip 1)' : row.name;
    table.rows.push({ name, ...(await measure(row, '/text', T.sizeSeconds, false, headers)) });
  }
  table.headroom = headroom(table.rows);
  console.log(`${table.label}: ${table.rows.map((r) => `${r.name} ${r.rps.toFixed(0)}`).join(', ')}`);
  return table;
}

async function latencyPoints(rows, small, vegeta) {
  // Rates follow HAProxy's maximum from this run; without HAProxy, the fastest other proxy's.
  const base = small.rows.find((r) => r.name === REF) ?? small.rows.filter((r) => r.name !== DIRECT).reduce((a, b) => (b.rps > a.rps ? b : a));
  const points = [];
  for (const pct of LOAD_PCTS) {
    const rate = Math.max(1, Math.round((base.rps * pct) / 100));
    const point = { pct, rate, rows: [] };
    for (const row of rows.filter((r) => r.latency)) {
      const r = await fixedRate(row.port, '/small', rate, T.latencySeconds, { tmp, vegeta });
      point.rows.push({ name: row.name, ...r });
      const lag = r.lagP99 === undefined ? '' : `  generator lag p99 ${r.lagP99.toFixed(2)} ms`;
      console.log(`${pct} % ${String(rate).padStart(6)} req/s ${row.name.padEnd(34)} p50 ${r.p50.toFixed(2)}  p99 ${r.p99.toFixed(2)}  p99.9 ${r.p999.toFixed(2)} ms  achieved ${r.achieved.toFixed(0)}/s${r.errors ? `  ${r.errors} errors` : ''}${lag}`);
    }
    points.push(point);
  }
  return { base: { name: base.name, rps: base.rps }, points, seconds: T.latencySeconds, generator: vegeta ? 'vegeta' : 'bench/open-loop.mjs' };
}

async function sizeTables(rows) {
  const sizes = [];
  for (const [label, path] of SIZES) {
    const size = { label, rows: [] };
    for (const row of rows.filter((r) => r.sizes)) {
      // A second unmeasured first: pools and buffers (nginx's too) grow to the new size.
      await saturate(row.port, path, 1, { tmp, upload: path === '/upload' });
      size.rows.push({ name: row.name, ...(await measure(row, path, T.sizeSeconds, path === '/upload')) });
    }
    size.headroom = headroom(size.rows);
    sizes.push(size);
    console.log(`${label}: ${size.rows.map((r) => `${r.name} ${r.rps.toFixed(0)}`).join(', ')}`);
  }
  return sizes;
}

function describeMachine(backends, peerBins) {
  const cpu = os.cpus();
  const firstLine = (cmd, args, stream = 'stdout') => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
    } catch (err) {
      return String(err[stream] ?? '').split('\n')[0];
    }
  };
  const versionOf = (bin) => bin.split('/').at(-2);
  const versions = {
    node: process.version,
    fairway: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    ...(has('haproxy') ? { haproxy: firstLine('haproxy', ['-v']).split(' ').slice(2, 3).join(' ') } : {}),
    ...(has('nginx') ? { nginx: firstLine('sh', ['-c', 'nginx -v 2>&1']).replace('nginx version: nginx/', '') } : {}),
    ...Object.fromEntries(Object.entries(peerBins).filter(([, bin]) => bin).map(([name, bin]) => [name, versionOf(bin)])),
    load: SATURATOR.split(',')[0],
  };
  const cpuSplit = plan.pin
    ? `Pinned with taskset: each single-threaded proxy alone on CPU ${plan.proxy}; load generator, backends and Consul share CPU ${plan.load}. \`workers: auto\` runs on all CPUs (${plan.all}), sharing the load side's: not a per-core figure.`
    : `Unpinned: load generator, proxies, backends and Consul share the machine's ${cpu.length} CPUs, so absolute numbers are low and noisy; compare the ratios.`;
  return {
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: `${cpu[0]?.model.trim() ?? 'cpu'} × ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
    mode: MODE === 'full' ? 'full run' : `--${MODE}${MODE === 'smoke' ? ' (plumbing check, numbers meaningless)' : ''}`,
    node: process.version,
    nodeFlags: fairwayNodeFlags().join(' '),
    backends: backends.kind,
    saturator: SATURATOR,
    rounds: T.rounds,
    seconds: T.seconds,
    warmup: T.warmup,
    cpuSplit,
    versions,
  };
}

async function main() {
  if (!opts['no-build']) execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const backends = await startBackends({ tmp, children });
  const ctx = { tmp, children, plan, ports: backends.ports };
  if (opts.tls) {
    const text = `# TLS termination (${MODE} run, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${T.rounds} round(s) of ${T.seconds} s; backends: ${backends.kind})\n\n${renderTls(await tlsTables(ctx, T))}`;
    console.log(`\n${text}`);
    writeFileSync(join(MODE === 'full' ? join(ROOT, 'bench') : tmp, 'tls-results.md'), text);
    return;
  }
  const skipped = {};
  const { rows, versions: peerBins } = await startRows(ctx, skipped);
  const vegeta = opts.vegeta ? peerBinary('vegeta', { build: true }) : {};
  peerBins.vegeta = vegeta.bin;
  if (opts.vegeta && !vegeta.bin) console.log(`bench: vegeta unavailable (${vegeta.skip}); fixed-rate points use bench/open-loop.mjs`);
  for (const [name, why] of Object.entries(skipped)) console.log(`bench: skipping ${name}: ${why}`);
  console.log(`mode ${MODE}; backends: ${backends.kind}; load: ${SATURATOR}; ${T.rounds} round(s) of ${T.seconds} s; rows: ${rows.map((r) => r.name).join(', ')}`);

  const results = { skipped };
  results.small = await smallRounds(rows);
  results.latency = await latencyPoints(rows, results.small, vegeta.bin);
  if (T.sizeSeconds) results.sizes = await sizeTables(rows);
  if (T.sizeSeconds) results.compression = await compressionTable(rows);
  results.meta = describeMachine(backends, peerBins);

  const text = renderMarkdown(results);
  console.log(`\n${text}`);
  const dir = MODE === 'full' ? join(ROOT, 'bench') : tmp;
  writeFileSync(join(dir, 'results.md'), text);
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`written: ${join(dir, 'results.md')} and results.json (README table: node bench/readme-table.mjs ${MODE === 'full' ? '' : join(dir, 'results.json')})`);
}

main()
  .catch((err) => {
    console.error(`bench: ${err.stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await children.stopAll();
    process.exit();
  });
