// The backends every row of `npm run bench` talks to: two ports served by one nginx worker on
// the load side's CPU, or a Node server in the bench process when nginx is not installed.
//
// Every payload comes from memory: a static-file backend (open, fstat, close per request)
// capped the old bench near 40k req/s, below the proxies it was meant to measure. The small and
// 1 KiB responses are `return 200 "..."`. 64 KiB and 1 MiB are files served with sendfile
// through open_file_cache (no open or stat per request, bytes from the page cache): `return`
// can build them too (nginx caps one config token near 4 KiB, so from 1 KiB variables), but
// wrk straight to the backend, 4 interleaved 2 s runs each on one CPU, gave sendfile 3-5 % more
// (64 KiB: 14.2k vs 13.8k req/s; 1 MiB: 1.29k vs 1.23k), and headroom is what the direct row
// has to show.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { freePort, has, waitHttp } from './lib.mjs';

export const SMALL_BODY = 'hello, world\n';

/** Path → bytes; `/upload` takes a 64 KiB POST and answers `ok`. */
export const PAYLOADS = { '/small': 13, '/1k': 1024, '/64k': 64 * 1024, '/1m': 1024 * 1024 };

/** 8 KiB of text, varied enough that gzip has work to do (about 4:1), for the compression table. */
export const TEXT_BODY = Array.from({ length: 200 }, (_, i) => `line ${i} of ${(i * 7919) % 1000} words ${'abcdefghij'.slice(i % 10)}`)
  .join('\n')
  .padEnd(8192, '.')
  .slice(0, 8192);

function nginxConf(tmp, ports) {
  const small = SMALL_BODY.replace('\n', '\\n');
  return `worker_processes 1; daemon off; pid ${tmp}/backend.pid; error_log ${tmp}/backend-error.log;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; default_type application/octet-stream;
  sendfile on; tcp_nopush on; open_file_cache max=16 inactive=1h; open_file_cache_valid 1h;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp}; uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  ${ports
    .map(
      (p) => `server { listen 127.0.0.1:${p}; root ${tmp}/payloads; client_max_body_size 4m; client_body_buffer_size 128k;
    location = /small { return 200 "${small}"; }
    location = /1k { return 200 "${'x'.repeat(1024)}"; }
    location = /64k { }
    location = /1m { }
    location = /upload { return 200 "ok\\n"; }
    location = /text { default_type text/plain; }
    location / { return 200 "${small}"; } }`,
    )
    .join('\n  ')}
}`;
}

/** Starts the backends; resolves to `{ ports, kind }`. */
export async function startBackends({ tmp, children }) {
  const ports = [await freePort(), await freePort()];
  if (has('nginx')) {
    mkdirSync(join(tmp, 'payloads'));
    for (const path of ['/64k', '/1m']) writeFileSync(join(tmp, 'payloads', path), Buffer.alloc(PAYLOADS[path], 'x'));
    // A file, not `return`: nginx caps one config parameter at 4 KiB.
    writeFileSync(join(tmp, 'payloads', 'text'), TEXT_BODY);
    const conf = join(tmp, 'backend-nginx.conf');
    writeFileSync(conf, nginxConf(tmp, ports));
    children.run('backend nginx', 'nginx', ['-c', conf, '-p', tmp]);
    await waitHttp(`http://127.0.0.1:${ports[0]}/small`, 'backend nginx');
    return { ports, kind: 'nginx (1 worker; 13 B and 1 KiB from `return`, 64 KiB and 1 MiB by sendfile from open_file_cache)' };
  }
  const bodies = Object.fromEntries(Object.entries(PAYLOADS).map(([path, n]) => [path, n === 13 ? Buffer.from(SMALL_BODY) : Buffer.alloc(n, 'x')]));
  for (const port of ports) {
    const server = createServer((req, res) => {
      if (req.url === '/upload') {
        req.resume();
        req.on('end', () => res.end('ok\n'));
        return;
      }
      if (req.url === '/text') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': TEXT_BODY.length }).end(TEXT_BODY);
        return;
      }
      const body = bodies[req.url] ?? bodies['/small'];
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise((r) => server.listen(port, '127.0.0.1', r));
  }
  return { ports, kind: 'Node http in the bench process (install nginx for a faster backend)' };
}
