// `npm run bench -- --tls`: TLS termination side by side, in one run, with the same honesty
// rules as the plain bench: HAProxy and nginx (one thread/worker each) and Fairway (a TLS
// listener with http2) in front of the same in-memory backends (plain HTTP), each alone on the
// proxy CPU; a direct row (the load generator to an nginx that terminates TLS itself and
// answers from memory, on the load CPUs) in every table, which is marked load-side bound when
// it is not 1.5× the fastest proxy.
//
// Three tables: HTTP/1.1 keep-alive over TLS (wrk), HTTP/2 over TLS (h2load, 10 connections ×
// 10 streams), and new TLS connections per second (wrk with `Connection: close`: one request
// per connection, session resumption as each server allows). Certificates: one self-signed
// EC P-256 pair made with openssl for this run.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMALL_BODY } from './backends.mjs';
import { fairwayNodeFlags, freePort, has, ROOT } from './lib.mjs';
import { output, parseMs, saturate } from './load.mjs';
import { DIRECT, FAIRWAY, headroom, REF, summariseRounds } from './report.mjs';

const NGINX = 'nginx (1 worker)';

/** wrk over TLS, keep-alive or (close) one request per connection. */
const wrk = (port, seconds, close, tmp) => saturate(port, '/small', seconds, { tmp, scheme: 'https', headers: close ? { connection: 'close' } : {} });

async function h2load(port, seconds) {
  const out = await output('h2load', ['-t1', '-c10', '-m10', `-D${seconds}`, '--warm-up-time=1', `https://127.0.0.1:${port}/small`]);
  const failed = Number(/(\d+) failed/.exec(out)?.[1] ?? 0) + Number(/(\d+) errored/.exec(out)?.[1] ?? 0);
  const time = /time for request:\s+\S+\s+\S+\s+(\S+)\s+(\S+)/.exec(out);
  return { rps: Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1]), p50: parseMs(time?.[1]), p99: NaN, errors: failed };
}

function certificate(tmp) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=bench.test', '-addext', 'subjectAltName=DNS:bench.test,IP:127.0.0.1'], { cwd: tmp, stdio: 'ignore' });
  const cert = join(tmp, 'cert.pem');
  const key = join(tmp, 'key.pem');
  const both = join(tmp, 'both.pem');
  writeFileSync(both, Buffer.concat([readFileSync(cert), readFileSync(key)]));
  return { cert, key, both };
}

async function waitTls(port, what) {
  for (let i = 0; i < 200; i++) {
    try {
      await output('curl', ['-sk', '--max-time', '1', '-o', '/dev/null', `https://127.0.0.1:${port}/small`]);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${what} did not answer over TLS`);
}

function nginxTls(tmp, name, port, cert, body) {
  const prefix = mkdtempSync(join(tmp, `${name}-`));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, `worker_processes 1; daemon off; pid ${prefix}/nginx.pid; error_log ${prefix}/error.log;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; client_body_temp_path ${prefix}; proxy_temp_path ${prefix};
  fastcgi_temp_path ${prefix}; uwsgi_temp_path ${prefix}; scgi_temp_path ${prefix};
  ${body.upstream ?? ''}
  server { listen 127.0.0.1:${port} ssl http2; ssl_certificate ${cert.cert}; ssl_certificate_key ${cert.key};
    ssl_session_cache shared:SSL:10m; ${body.location} } }`);
  return { conf, prefix };
}

/** Starts the TLS rows; each `{ name, port, pid }`. */
async function startRows({ tmp, children, plan, ports }, cert, skipped) {
  const rows = [];
  const small = SMALL_BODY.replace('\n', '\\n');
  const direct = await freePort();
  const d = nginxTls(tmp, 'direct', direct, cert, { location: `location / { return 200 "${small}"; }` });
  children.run('direct TLS nginx', 'nginx', ['-c', d.conf, '-p', d.prefix], { cpus: plan.load });
  await waitTls(direct, 'direct TLS nginx');
  rows.push({ name: DIRECT, port: direct });
  if (has('haproxy')) {
    const port = await freePort();
    const conf = join(tmp, 'haproxy-tls.cfg');
    writeFileSync(conf, `global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  option http-keep-alive\nfrontend f\n  bind 127.0.0.1:${port} ssl crt ${cert.both} alpn h2,http/1.1\n  default_backend b\nbackend b\n  balance roundrobin\n  http-reuse always\n${ports.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join('\n')}\n`);
    const child = children.run('haproxy tls', 'haproxy', ['-f', conf, '-db'], { cpus: plan.proxy });
    await waitTls(port, 'haproxy');
    rows.push({ name: REF, port, pid: child.pid });
  } else skipped[REF] = 'haproxy is not installed';
  const nport = await freePort();
  const n = nginxTls(tmp, 'proxy', nport, cert, {
    upstream: `upstream u { ${ports.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 128; }`,
    location: 'location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; }',
  });
  const nchild = children.run('nginx tls proxy', 'nginx', ['-c', n.conf, '-p', n.prefix], { cpus: plan.proxy });
  await waitTls(nport, 'nginx tls proxy');
  rows.push({ name: NGINX, port: nport, pid: nchild.pid });
  const [port, admin] = [await freePort(), await freePort()];
  const file = join(tmp, 'fairway-tls.json');
  writeFileSync(file, JSON.stringify({
    listeners: [{ address: `127.0.0.1:${port}`, tls: { certificates: [{ cert: cert.cert, key: cert.key }] }, http2: true }],
    admin: { listen: `127.0.0.1:${admin}` },
    accessLog: { enabled: false },
    routes: [{ endpoints: ports.map((p) => `127.0.0.1:${p}`) }],
  }));
  const fchild = children.run('fairway tls', process.execPath, [...fairwayNodeFlags(), join(ROOT, 'dist/cli/main.js'), 'start', '-c', file], { env: { FAIRWAY_LOG_LEVEL: 'warn' }, cpus: plan.proxy });
  await waitTls(port, 'fairway');
  rows.push({ name: FAIRWAY, port, pid: fchild.pid });
  return rows;
}

/** The three TLS tables: `{ http1, h2, handshakes }`, each `{ rows, headroom }`; `T` as in run.mjs. */
export async function tlsTables(ctx, T) {
  const skipped = {};
  if (!has('wrk') || !has('h2load') || !has('nginx') || !has('openssl')) return { skipped: { all: 'needs wrk, h2load (nghttp2-client), nginx and openssl' } };
  const rows = await startRows(ctx, certificate(ctx.tmp), skipped);
  const tables = {};
  const kinds = [
    ['http1', (row) => wrk(row.port, T.seconds, false, ctx.tmp)],
    ['h2', (row) => h2load(row.port, T.seconds)],
    ['handshakes', (row) => wrk(row.port, T.seconds, true, ctx.tmp)],
  ];
  for (const [kind, measureRow] of kinds) {
    const rounds = Object.fromEntries(rows.map((r) => [r.name, []]));
    for (const row of rows) await measureRow({ ...row }).catch(() => undefined);
    for (let round = 1; round <= T.rounds; round++)
      for (const row of rows) {
        const r = await measureRow(row);
        rounds[row.name].push(r);
        console.log(`tls ${kind} round ${round} ${row.name.padEnd(20)} ${r.rps.toFixed(0).padStart(7)} req/s${r.errors ? `  ${r.errors} errors` : ''}`);
      }
    const summary = summariseRounds(rounds);
    tables[kind] = { rows: summary, headroom: headroom(summary) };
  }
  return { ...tables, skipped };
}

/** Markdown for the three tables. */
export function renderTls(tls) {
  if (tls.skipped?.all) return `## TLS\n\nskipped: ${tls.skipped.all}\n`;
  const titles = {
    http1: 'HTTP/1.1 keep-alive over TLS (wrk, 50 connections), 13 B answers',
    h2: 'HTTP/2 over TLS (h2load, 10 connections × 10 streams), 13 B answers',
    handshakes: 'New TLS connections per second (wrk, `Connection: close`: one request each)',
  };
  const out = ['## TLS termination', ''];
  for (const kind of ['http1', 'h2', 'handshakes']) {
    const t = tls[kind];
    out.push(`### ${titles[kind]}`, '');
    if (!t.headroom.ok) out.push(`**load-side bound, ratios invalid**: direct is ${t.headroom.ratio.toFixed(2)}× the fastest proxy (needs 1.5×)`, '');
    out.push('| row | req/s (median of rounds) | × HAProxy (median of paired rounds) | errors |', '|---|---:|---:|---:|');
    for (const r of t.rows) out.push(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.vsRef !== undefined && r.name !== DIRECT ? r.vsRef.toFixed(2) : ''} | ${r.errors} |`);
    out.push('');
  }
  return out.join('\n');
}
