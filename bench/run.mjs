#!/usr/bin/env node
// `npm run bench`: Fairway side by side with reference proxies on this machine, in one run.
//
// The same backends serve every proxy (nginx with one worker when installed, else a Node
// server), the same load generator drives each one (wrk when installed, else autocannon) with
// the same connections and duration, after a warm-up, in interleaved rounds so a noisy
// neighbour hurts everyone alike. Reference proxies: HAProxy (1 thread) and nginx (1 worker)
// when installed, node-http-proxy with a keep-alive agent, and (full run only) a ceiling probe:
// the least relay undici allows (bench/undici-relay.mjs), no proxy at all. Fairway runs as one process with
// static endpoints, with Consul discovery, and with metrics or access log variations.
// It installs nothing: `apt-get install nginx haproxy wrk` adds the references.
//
// With taskset (util-linux) and two or more CPUs, each proxy under test runs alone on the last
// CPU and everything else (load generator, backends, Consul, this script) on the others, so a
// single-threaded proxy gets one whole core and the scheduler's placement stops deciding the
// result; `workers: 2` gets every CPU. `--no-pin` runs everything unpinned.
//
//   npm run bench              full run (~10 min): 5 rounds of the small response, then sizes
//   npm run bench -- --quick   under a minute: one short round, small response only

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fairwayNodeFlags, freePort, ROOT, startConsul } from './lib.mjs';

const QUICK = process.argv.includes('--quick');
const CONNECTIONS = 50;
const ROUNDS = QUICK ? 1 : 5;
const SECONDS = QUICK ? 3 : 8;
const SIZE_SECONDS = 5;
// Node's JIT needs a few seconds of traffic before its code is optimised; the native proxies
// get the same warm-up.
const WARMUP_SECONDS = QUICK ? 2 : 5;
const tmp = mkdtempSync(join(os.tmpdir(), 'fairway-bench-'));
const children = [];

const has = (cmd) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const CPUS = os.cpus().length;
const PIN = !process.argv.includes('--no-pin') && CPUS >= 2 && has('taskset');
const PROXY_CPU = String(CPUS - 1);
const OTHER_CPUS = CPUS === 2 ? '0' : `0-${CPUS - 2}`;
const ALL_CPUS = `0-${CPUS - 1}`;
// Children inherit this process's CPUs: the backends, wrk and Consul stay off the proxy's CPU.
if (PIN) execFileSync('taskset', ['-a', '-cp', OTHER_CPUS, String(process.pid)], { stdio: 'ignore' });

/** Starts a child; `cpus` (a taskset list) pins it when pinning is on. */
function run(name, cmd, args, env = {}, cpus = undefined) {
  const [file, argv] = PIN && cpus ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
  child.on('exit', (code, signal) => {
    if (!stopping && code !== 0 && signal === null) console.error(`bench: ${name} exited with ${code}: ${err}`);
  });
  children.push(child);
  return child;
}

async function waitHttp(url, what) {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(50);
  }
  throw new Error(`${what} did not answer at ${url}`);
}

/** Summed RSS (bytes) of a process and its children, from /proc. */
function rssTree(pid) {
  let total = 0;
  const pids = [pid];
  try {
    for (const entry of execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n'))
      if (entry.trim()) pids.push(Number(entry.trim()));
  } catch {
    // no children
  }
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

// ---- content -------------------------------------------------------------------------------

const SIZES = { small: 13, '1k': 1024, '64k': 64 * 1024, '1m': 1024 * 1024 };
for (const [name, n] of Object.entries(SIZES)) writeFileSync(join(tmp, name), name === 'small' ? 'hello, world\n' : 'x'.repeat(n));
writeFileSync(join(tmp, 'post.lua'), `wrk.method = "POST"\nwrk.body = string.rep("a", 65536)\nwrk.headers["Content-Type"] = "application/octet-stream"\n`);

// ---- backends -------------------------------------------------------------------------------

async function startBackends() {
  const ports = [await freePort(), await freePort()];
  if (has('nginx')) {
    const conf = join(tmp, 'backend-nginx.conf');
    writeFileSync(
      conf,
      `worker_processes 1; daemon off; pid ${tmp}/backend.pid; error_log ${tmp}/backend-error.log;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; sendfile on; tcp_nopush on; client_body_temp_path ${tmp};
  proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp}; uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  ${ports.map((p) => `server { listen 127.0.0.1:${p}; root ${tmp}; client_max_body_size 4m; client_body_buffer_size 128k;
    location = /upload { return 200 "ok\\n"; } }`).join('\n  ')}
}`,
    );
    run('backend nginx', 'nginx', ['-c', conf, '-p', tmp]);
    await waitHttp(`http://127.0.0.1:${ports[0]}/small`, 'backend nginx');
    return { ports, kind: 'nginx (1 worker)' };
  }
  const bodies = Object.fromEntries(Object.keys(SIZES).map((k) => [`/${k}`, readFileSync(join(tmp, k))]));
  for (const port of ports) {
    const server = createServer((req, res) => {
      if (req.url === '/upload') {
        req.resume();
        req.on('end', () => res.end('ok\n'));
        return;
      }
      const body = bodies[req.url] ?? bodies['/small'];
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise((r) => server.listen(port, '127.0.0.1', r));
  }
  return { ports, kind: 'Node http (in the bench process)' };
}

// ---- proxies --------------------------------------------------------------------------------

async function startHaproxy(ports) {
  const port = await freePort();
  const conf = join(tmp, 'haproxy.cfg');
  writeFileSync(
    conf,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend f
  bind 127.0.0.1:${port}
  default_backend b
backend b
  balance roundrobin
  http-reuse always
${ports.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join('\n')}
`,
  );
  const child = run('haproxy', 'haproxy', ['-f', conf, '-db'], {}, PROXY_CPU);
  await waitHttp(`http://127.0.0.1:${port}/small`, 'haproxy');
  return { port, pid: child.pid };
}

async function startNginxProxy(ports) {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmp, 'nginx-proxy-'));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1; daemon off; pid ${prefix}/nginx.pid; error_log ${prefix}/error.log;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; client_body_temp_path ${prefix}; proxy_temp_path ${prefix};
  fastcgi_temp_path ${prefix}; uwsgi_temp_path ${prefix}; scgi_temp_path ${prefix};
  upstream u { ${ports.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 128; }
  server { listen 127.0.0.1:${port}; client_max_body_size 4m;
    location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}`,
  );
  const child = run('nginx proxy', 'nginx', ['-c', conf, '-p', prefix], {}, PROXY_CPU);
  await waitHttp(`http://127.0.0.1:${port}/small`, 'nginx proxy');
  return { port, pid: child.pid };
}

async function startNodeHttpProxy(ports) {
  const port = await freePort();
  const child = run('node-http-proxy', process.execPath, [join(ROOT, 'bench/http-proxy-server.mjs'), String(port), ...ports.map(String)], {}, PROXY_CPU);
  await waitHttp(`http://127.0.0.1:${port}/small`, 'node-http-proxy');
  return { port, pid: child.pid };
}

async function startUndiciRelay(ports) {
  const port = await freePort();
  const child = run('undici relay', process.execPath, [join(ROOT, 'bench/undici-relay.mjs'), String(port), ...ports.map(String)], {}, PROXY_CPU);
  await waitHttp(`http://127.0.0.1:${port}/small`, 'undici relay');
  return { port, pid: child.pid };
}

async function startFairway(ports, extra = {}, consulAddress) {
  const [port, admin] = [await freePort(), await freePort()];
  const config = {
    listen: `127.0.0.1:${port}`,
    admin: { listen: `127.0.0.1:${admin}` },
    accessLog: { enabled: false },
    ...(consulAddress ? { consul: { address: consulAddress } } : {}),
    routes: [consulAddress ? { service: 'bench-backend' } : { endpoints: ports.map((p) => `127.0.0.1:${p}`) }],
    ...extra,
  };
  const file = join(tmp, `fairway-${port}.json`);
  writeFileSync(file, JSON.stringify(config));
  const cpus = extra.workers === undefined ? PROXY_CPU : ALL_CPUS;
  const child = run('fairway', process.execPath, [...fairwayNodeFlags(), join(ROOT, 'dist/cli/main.js'), 'start', '-c', file], { FAIRWAY_LOG_FORMAT: 'json', FAIRWAY_LOG_LEVEL: 'warn' }, cpus);
  await waitHttp(`http://127.0.0.1:${admin}/-/ready`, 'fairway');
  await waitHttp(`http://127.0.0.1:${port}/small`, 'fairway');
  return { port, pid: child.pid };
}

async function startConsulWithBackends(ports) {
  const { address, child } = await startConsul();
  children.push(child);
  for (const [i, p] of ports.entries())
    await fetch(`${address}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ ID: `b${i}`, Name: 'bench-backend', Address: '127.0.0.1', Port: p }) });
  return address;
}

// ---- load ----------------------------------------------------------------------------------

const USE_WRK = has('wrk');

function parseMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

async function load(port, path, seconds, upload) {
  if (USE_WRK) {
    const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...(upload ? ['-s', join(tmp, 'post.lua')] : []), `http://127.0.0.1:${port}${path}`];
    const out = await new Promise((resolve, reject) => {
      const child = spawn('wrk', args);
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}`))));
    });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const p50 = parseMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
    const p99 = parseMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
    const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
    const socketErrors = /Socket errors: (.*)/.exec(out)?.[1];
    return { rps, p50, p99, errors: Number(errors), socketErrors };
  }
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    connections: CONNECTIONS,
    duration: seconds,
    ...(upload ? { method: 'POST', body: Buffer.alloc(65536, 97) } : {}),
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.non2xx + r.errors };
}

async function measure(target, path, seconds, upload = false) {
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, rssTree(target.pid));
      await sleep(200);
    }
  })();
  const r = await load(target.port, path, seconds, upload);
  sampling = false;
  await sampler;
  return { ...r, rssMB: peak / 2 ** 20 };
}

// ---- main ----------------------------------------------------------------------------------

let stopping = false;
async function main() {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const backend = await startBackends();
  const proxies = [];
  if (has('haproxy')) proxies.push({ name: 'HAProxy (1 thread)', ...(await startHaproxy(backend.ports)) });
  if (has('nginx')) proxies.push({ name: 'nginx (1 worker)', ...(await startNginxProxy(backend.ports)) });
  proxies.push({ name: 'node-http-proxy', ...(await startNodeHttpProxy(backend.ports)) });
  // Not a proxy: the ceiling of any undici-based relay on this machine (bench/undici-relay.mjs).
  if (!QUICK) proxies.push({ name: 'ceiling: bare undici relay', ...(await startUndiciRelay(backend.ports)) });
  proxies.push({ name: 'Fairway (static)', ...(await startFairway(backend.ports)) });
  if (!QUICK) {
    proxies.push({ name: 'Fairway (static, metrics off)', ...(await startFairway(backend.ports, { metrics: { enabled: false } })) });
    proxies.push({ name: 'Fairway (static, access log on)', ...(await startFairway(backend.ports, { accessLog: { enabled: true } })) });
    proxies.push({ name: 'Fairway (static, workers: 2)', ...(await startFairway(backend.ports, { workers: 2 })) });
  }
  const consul = await startConsulWithBackends(backend.ports);
  proxies.push({ name: 'Fairway (Consul discovery)', ...(await startFairway(backend.ports, {}, consul)) });

  console.log(`backends: ${backend.kind}; load: ${USE_WRK ? 'wrk' : 'autocannon'}, ${CONNECTIONS} connections; ${ROUNDS} round(s) of ${SECONDS}s`);
  for (const p of proxies) await load(p.port, '/small', WARMUP_SECONDS, false);

  const main = new Map(proxies.map((p) => [p.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const p of proxies) {
      // A second of unmeasured load first: each proxy sat idle while the others ran.
      await load(p.port, '/small', 1, false);
      const r = await measure(p, '/small', SECONDS);
      main.get(p.name).push(r);
      console.log(`round ${round} ${p.name.padEnd(34)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  rss ${r.rssMB.toFixed(0)} MB${r.errors ? `  ${r.errors} errors` : ''}`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const refName = proxies.find((p) => p.name.startsWith('HAProxy'))?.name ?? 'node-http-proxy';
  // Ratios pair each round's measurement with the reference's from the same round (seconds
  // apart), then take the median: the machine drifts between rounds (a whole round can run
  // 20% slow), and pairing cancels what the proxies share. The ratio of the medians is kept too.
  const paired = (name, other, key) => median(main.get(name).map((r, i) => r[key] / main.get(other)[i][key]));
  const summary = proxies.map((p) => {
    const rs = main.get(p.name);
    return {
      name: p.name,
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      rss: Math.max(...rs.map((r) => r.rssMB)),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      vsRef: paired(p.name, refName, 'rps'),
      p99VsRef: paired(p.name, refName, 'p99'),
      vsNhp: paired(p.name, 'node-http-proxy', 'rps'),
    };
  });
  const ref = summary.find((s) => s.name === refName);
  const nhp = summary.find((s) => s.name === 'node-http-proxy');

  const sizes = [];
  if (!QUICK) {
    for (const [label, path, upload] of [['1 KiB', '/1k', false], ['64 KiB', '/64k', false], ['1 MiB', '/1m', false], ['64 KiB upload', '/upload', true]]) {
      const row = { label, results: {} };
      for (const p of proxies.filter((x) => !x.name.includes('metrics off') && !x.name.includes('access log') && !x.name.includes('workers') && !x.name.startsWith('ceiling')))
        row.results[p.name] = await measure(p, path, SIZE_SECONDS, upload);
      sizes.push(row);
      console.log(`${label}: ${Object.entries(row.results).map(([n, r]) => `${n} ${r.rps.toFixed(0)}`).join(', ')}`);
    }
  }

  const versions = {
    node: process.version,
    fairway: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    ...(has('haproxy') ? { haproxy: execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0].split(' ').slice(0, 3).join(' ') } : {}),
    ...(has('nginx') ? { nginx: spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: ', '') } : {}),
    ...(USE_WRK ? { wrk: 'wrk 4' } : { autocannon: 'autocannon' }),
  };
  const cpu = os.cpus();
  const lines = [];
  lines.push(`# Benchmark results`, '');
  lines.push(`${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpu[0]?.model ?? 'cpu'} × ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`);
  lines.push(`Node ${process.version} (Fairway run as shipped: node ${fairwayNodeFlags().join(' ')}); backends: ${backend.kind}; load: ${USE_WRK ? 'wrk -t1' : 'autocannon'} with ${CONNECTIONS} keep-alive connections; ${ROUNDS} interleaved round(s) of ${SECONDS} s (medians shown) after ${WARMUP_SECONDS} s warm-up${QUICK ? ' (--quick)' : ''}.`);
  lines.push(
    PIN
      ? `Pinned with taskset: each proxy alone on CPU ${PROXY_CPU} (\`workers: 2\` on CPUs ${ALL_CPUS}); load generator, backends and Consul on CPU ${OTHER_CPUS}. Compare the ratios, not the absolute numbers.`
      : `Unpinned: load generator, proxy, backends and Consul share the machine's ${cpu.length} cores, so absolute numbers are low and noisy; compare the ratios.`,
    '',
  );
  lines.push(`## Small response (13 bytes)`, '');
  lines.push(`| proxy | req/s | p50 ms | p99 ms | peak RSS MB | req/s vs ${ref.name} | p99 vs ${ref.name} | req/s vs node-http-proxy |`);
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  const both = (pairedRatio, a, b) => (ROUNDS > 1 ? `${pairedRatio.toFixed(2)}× (${(a / b).toFixed(2)}×)` : `${(a / b).toFixed(2)}×`);
  for (const s of summary)
    lines.push(`| ${s.name} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.rss.toFixed(0)} | ${both(s.vsRef, s.rps, ref.rps)} | ${both(s.p99VsRef, s.p99, ref.p99)} | ${both(s.vsNhp, s.rps, nhp.rps)} |`);
  if (ROUNDS > 1) {
    lines.push('', `Ratios: the median of the ${ROUNDS} per-round ratios (each against the reference measured in the same round); in brackets, the ratio of the medians. Every round's req/s:`, '');
    lines.push(`| proxy | ${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`).join(' | ')} |`);
    lines.push(`|---|${'---:|'.repeat(ROUNDS)}`);
    for (const p of proxies) lines.push(`| ${p.name} | ${main.get(p.name).map((r) => r.rps.toFixed(0)).join(' | ')} |`);
  }
  if (summary.some((s) => s.errors > 0)) lines.push('', `Errors: ${summary.filter((s) => s.errors).map((s) => `${s.name} ${s.errors}`).join(', ')}`);
  if (sizes.length) {
    const names = Object.keys(sizes[0].results);
    lines.push('', '## Response and upload sizes (req/s, and ratio to the first column)', '');
    lines.push(`| payload | ${names.join(' | ')} |`);
    lines.push(`|---|${names.map(() => '---:').join('|')}|`);
    for (const row of sizes) {
      const first = row.results[names[0]].rps;
      lines.push(`| ${row.label} | ${names.map((n) => `${row.results[n].rps.toFixed(0)} (${(row.results[n].rps / first).toFixed(2)}×, ${row.results[n].rssMB.toFixed(0)} MB)`).join(' | ')} |`);
    }
  }
  lines.push('', `Versions: ${Object.entries(versions).map(([k, v]) => `${k} ${String(v).trim()}`).join('; ')}`);
  const text = `${lines.join('\n')}\n`;
  console.log(`\n${text}`);
  if (!QUICK) writeFileSync(join(ROOT, 'bench/results.md'), text);
  else writeFileSync(join(tmp, 'results.md'), text);
}

main()
  .catch((err) => {
    console.error(`bench: ${err.stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    await sleep(300);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    process.exit();
  });
