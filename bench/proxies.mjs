// The proxies of `npm run bench` that need no Consul: HAProxy and nginx as the native
// references, node-http-proxy as the Node baseline, the bare undici relay as a ceiling probe,
// and Fairway itself (static endpoints, or Consul discovery when given an agent address).
// Each starter resolves to `{ port, pid }` once the proxy answers.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fairwayNodeFlags, freePort, ROOT, waitHttp } from './lib.mjs';

export async function startHaproxy({ tmp, children, plan, ports }) {
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
  const child = children.run('haproxy', 'haproxy', ['-f', conf, '-db'], { cpus: plan.proxy });
  await waitHttp(`http://127.0.0.1:${port}/small`, 'haproxy');
  return { port, pid: child.pid };
}

/** Fairway's gzip level (src/proxy/response-policy.ts), which the nginx row uses too, for the compression table. */
const GZIP_LEVEL = 1;

export async function startNginxProxy({ tmp, children, plan, ports }) {
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
  gzip on; gzip_proxied any; gzip_types text/plain; gzip_comp_level ${GZIP_LEVEL}; gzip_min_length 1024; gzip_vary on;
  server { listen 127.0.0.1:${port}; client_max_body_size 4m;
    location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}`,
  );
  const child = children.run('nginx proxy', 'nginx', ['-c', conf, '-p', prefix], { cpus: plan.proxy });
  await waitHttp(`http://127.0.0.1:${port}/small`, 'nginx proxy');
  return { port, pid: child.pid };
}

async function startNodeScript(script, what, { children, plan, ports }) {
  const port = await freePort();
  const child = children.run(what, process.execPath, [join(ROOT, script), String(port), ...ports.map(String)], { cpus: plan.proxy });
  await waitHttp(`http://127.0.0.1:${port}/small`, what);
  return { port, pid: child.pid };
}

export const startNodeHttpProxy = (ctx) => startNodeScript('bench/http-proxy-server.mjs', 'node-http-proxy', ctx);

/** Not a proxy: the least relay undici allows (bench/undici-relay.mjs). */
export const startUndiciRelay = (ctx) => startNodeScript('bench/undici-relay.mjs', 'undici relay', ctx);

/** Not a proxy: the least relay Node's own sockets allow (bench/net-relay.mjs). */
export const startNetRelay = (ctx) => startNodeScript('bench/net-relay.mjs', 'net relay', ctx);

/**
 * Fairway as shipped (dist/, the CLI's Node flags). `extra` is merged into the config; with
 * `consul` (an agent URL) the route discovers `service` instead of listing the ports; `root`:
 * another checkout's build (bench/ab.mjs).
 */
export async function startFairway({ tmp, children, plan, ports }, { extra = {}, route = {}, consul, service, root = ROOT } = {}) {
  const [port, admin] = [await freePort(), await freePort()];
  const config = {
    listen: `127.0.0.1:${port}`,
    admin: { listen: `127.0.0.1:${admin}` },
    accessLog: { enabled: false },
    ...(consul ? { consul: { address: consul } } : {}),
    routes: [{ ...(consul ? { service } : { endpoints: ports.map((p) => `127.0.0.1:${p}`) }), ...route }],
    ...extra,
  };
  const file = join(tmp, `fairway-${port}.json`);
  writeFileSync(file, JSON.stringify(config));
  const cpus = extra.workers === undefined ? plan.proxy : plan.all;
  const env = { FAIRWAY_LOG_FORMAT: 'json', FAIRWAY_LOG_LEVEL: 'warn' };
  const child = children.run('fairway', process.execPath, [...fairwayNodeFlags(), join(root, 'dist/cli/main.js'), 'start', '-c', file], { env, cpus });
  await waitHttp(`http://127.0.0.1:${admin}/-/ready`, 'fairway');
  await waitHttp(`http://127.0.0.1:${port}/small`, 'fairway');
  return { port, pid: child.pid };
}
