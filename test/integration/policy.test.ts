// Route traffic policy end to end: real clients (undici, node:http, raw sockets), real backends,
// Fairway in the test process. Each status code a policy makes, with its x-fairway-error, and
// what the backend sees of rewrites and header rules.

import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { connect, type Socket } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, type Backend } from '../support/backends.js';
import { baseConfig, Client, startFairway } from '../support/fairway.js';
import { sendRaw as raw } from '../support/raw-client.js';

const JSON_BODY = JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] })) });

/** A chunked POST through node:http, written slowly; resolves with the answer. */
function chunkedPost(port: number, path: string, chunks: number, size: number): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ port, host: '127.0.0.1', path, method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    let left = chunks;
    const next = (): void => {
      if (left-- === 0) return void req.end();
      req.write(Buffer.alloc(size, 97));
      setTimeout(next, 5);
    };
    next();
  });
}

describe('route traffic policy', () => {
  let plain: Backend;
  let json: Backend;
  let encoded: Backend;
  let app: Fairway;
  let client: Client;
  let port: number;

  beforeAll(async () => {
    plain = await startBackend('plain', (req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        const body = `plain ${n}`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-backend': 'plain', server: 'backend/1' }).end(body);
      });
    });
    json = await startBackend('json', (_req, res) => res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON_BODY));
    plain.server.on('upgrade', (_req, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.pipe(socket);
    });
    encoded = await startBackend('encoded', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }).end(Buffer.from('not really gzip, but the upstream says so')),
    );
    app = await startFairway(
      baseConfig({
        server: { trustedProxies: ['127.0.0.2'] },
        routes: [
          { name: 'allowed', match: { pathPrefix: '/allowed' }, endpoints: [plain.address], allow: ['127.0.0.0/8', '::1'] },
          { name: 'ws', match: { pathPrefix: '/ws' }, endpoints: [plain.address], allow: ['127.0.0.0/8'] },
          { name: 'outsiders', match: { pathPrefix: '/outsiders' }, endpoints: [plain.address], allow: ['10.0.0.0/8'] },
          { name: 'denied', match: { pathPrefix: '/denied' }, endpoints: [plain.address], deny: ['127.0.0.1'] },
          { name: 'limited', match: { pathPrefix: '/limited' }, endpoints: [plain.address], rateLimit: { rate: '1/m', burst: 3 } },
          { name: 'per-user', match: { pathPrefix: '/per-user' }, endpoints: [plain.address], rateLimit: { rate: '1/m', burst: 1, by: 'header:x-user' } },
          { name: 'small', match: { pathPrefix: '/small' }, endpoints: [plain.address], maxBodySize: '1KB', retries: 0 },
          { name: 'moved', match: { pathPrefix: '/old' }, redirect: { to: 'https://new.example{path}{query}', status: 301 } },
          { name: 'rewritten', match: { pathPrefix: '/api' }, endpoints: [plain.address], rewrite: { pathPrefix: '/v2', host: 'internal.example' } },
          { name: 'upstream-host', match: { pathPrefix: '/uh' }, endpoints: [plain.address], rewrite: { host: 'upstream' } },
          {
            name: 'headers',
            match: { pathPrefix: '/headers' },
            endpoints: [plain.address],
            requestHeaders: { set: { 'x-env': 'prod' }, remove: ['x-debug'] },
            responseHeaders: { set: { 'strict-transport-security': 'max-age=31536000' }, remove: ['server', 'x-backend'] },
          },
          { name: 'compressed', match: { pathPrefix: '/json' }, endpoints: [json.address], compress: true },
          { name: 'small-text', match: { pathPrefix: '/tiny' }, endpoints: [plain.address], compress: true },
          { name: 'pre-encoded', match: { pathPrefix: '/encoded' }, endpoints: [encoded.address], compress: true },
        ],
      }),
    );
    client = new Client(app.proxyUrl);
    port = Number(new URL(app.proxyUrl).port);
  });

  afterAll(async () => {
    await client.close();
    await app.stop();
    await Promise.all([plain, json, encoded].map((b) => b.close()));
  });

  describe('allow and deny', () => {
    it('a client inside the allow list is served', async () => {
      expect((await client.get('/allowed')).status).toBe(200);
    });

    it('a client outside the allow list gets 403 forbidden, and the backend sees nothing', async () => {
      const hits = plain.hits;
      const r = await client.get('/outsiders');
      expect(r.status).toBe(403);
      expect(r.headers['x-fairway-error']).toBe('forbidden');
      expect(plain.hits).toBe(hits);
    });

    it('a client on the deny list gets 403 forbidden', async () => {
      const r = await client.get('/denied');
      expect([r.status, r.headers['x-fairway-error']]).toEqual([403, 'forbidden']);
    });

    it('X-Forwarded-For from an untrusted peer cannot buy a way in', async () => {
      const r = await client.get('/outsiders', { 'x-forwarded-for': '10.1.2.3' });
      expect(r.status).toBe(403);
    });

    it('the client address a trusted proxy vouches for is the one checked', async () => {
      // The test connects from 127.0.0.2, which the config trusts; it says the client is 10.1.2.3.
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
        let out = '';
        s.on('data', (d) => (out += d));
        s.on('end', () => resolve(out));
        s.on('error', reject);
        s.write('GET /outsiders HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.1.2.3\r\nConnection: close\r\n\r\n');
      });
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    });

    it('a WebSocket tunnel the policy lets through is counted when it closes (metrics see upgrades too)', async () => {
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect(port, '127.0.0.1');
        let out = '';
        s.on('data', (d) => {
          out += d.toString('latin1');
          if (out.includes('ping')) s.end();
          else if (out.includes('\r\n\r\n')) s.write('ping');
        });
        s.on('close', () => resolve(out));
        s.on('error', reject);
        s.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      });
      expect(answer).toMatch(/^HTTP\/1\.1 101 /);
      const counted = async (): Promise<boolean> =>
        /fairway_requests_total\{route="ws",endpoint="[^"]+",addr="[^"]+",class="1xx",protocol="http1"\} 1\n/.test(await (await fetch(`${app.adminUrl}/metrics`)).text());
      const deadline = Date.now() + 5_000;
      while (!(await counted()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await counted()).toBe(true);
    });

    it('a WebSocket upgrade cannot step around the allow list', async () => {
      const out = await raw(port, 'GET /outsiders HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      expect(out).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
      expect(out).toMatch(/x-fairway-error: forbidden\r\n/);
    });
  });

  describe('rate limit', () => {
    it('the burst passes, the next request gets 429 with Retry-After and the RateLimit headers', async () => {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await client.get('/limited')).status);
      expect(statuses).toEqual([200, 200, 200]);
      const r = await client.get('/limited');
      expect(r.status).toBe(429);
      expect(r.headers['x-fairway-error']).toBe('rate_limited');
      // 1/m: the next token comes within a minute.
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(r.headers['ratelimit-policy']).toMatch(/q=3/);
      expect(r.headers.ratelimit).toMatch(/r=0/);
    });

    it('keyed by a header, each value has its own bucket', async () => {
      expect((await client.get('/per-user', { 'x-user': 'ann' })).status).toBe(200);
      expect((await client.get('/per-user', { 'x-user': 'ann' })).status).toBe(429);
      expect((await client.get('/per-user', { 'x-user': 'bob' })).status).toBe(200);
    });

    it('the refusals are counted per route and policy in /metrics', async () => {
      const text = await (await fetch(`${app.adminUrl}/metrics`)).text();
      expect(text).toMatch(/fairway_policy_actions_total\{route="limited",policy="rateLimit"\} 1\n/);
      expect(text).toMatch(/fairway_policy_actions_total\{route="outsiders",policy="allow\/deny"\} [1-9]/);
    });
  });

  describe('maxBodySize', () => {
    it('a body within the limit is relayed', async () => {
      const r = await client.get('/small', {}, 'POST', 'x'.repeat(1024));
      expect([r.status, r.body]).toEqual([200, 'plain 1024']);
    });

    it('a Content-Length over the limit is 413 at once, and the connection closes', async () => {
      const hits = plain.hits;
      const out = await raw(port, `POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n`);
      expect(out).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
      expect(out).toMatch(/x-fairway-error: body_too_large\r\n/);
      expect(out).toMatch(/connection: close\r\n/i);
      expect(plain.hits).toBe(hits);
    });

    it('with Expect: 100-continue, a body over the limit is refused before the client is asked for it', async () => {
      const out = await raw(port, 'POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n');
      expect(out).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
      expect(out).not.toContain('100 Continue');
    });

    it('with Expect: 100-continue, a body within the limit is asked for and relayed', async () => {
      const out = await new Promise<string>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1');
        let text = '';
        sock.on('data', (d) => {
          text += d.toString('latin1');
          if (text.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && !text.includes('200')) sock.write('x'.repeat(10));
          if (text.includes('plain 10')) sock.end();
        });
        sock.on('close', () => resolve(text));
        sock.on('error', reject);
        sock.write('POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n');
      });
      expect(out).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    });

    it('a chunked body is cut when it passes the limit: 413, and the instance is not penalised', async () => {
      const r = await chunkedPost(port, '/small', 10, 300);
      expect(r.status).toBe(413);
      expect(r.headers['x-fairway-error']).toBe('body_too_large');
      const route = app.table.routes.find((x) => x.config.name === 'small')!;
      expect(route.upstreams[0]!.stats.failures).toBe(0);
      expect(route.upstreams[0]!.stats.consecutiveFailures).toBe(0);
    });

    it('a chunked body within the limit goes through whole', async () => {
      const r = await chunkedPost(port, '/small', 3, 300);
      expect([r.status, r.body]).toEqual([200, 'plain 900']);
    });
  });

  describe('redirect', () => {
    it('answers with the status and a Location built from the template, never proxying', async () => {
      const hits = plain.hits;
      const r = await client.get('/old/page?a=1&b=2');
      expect(r.status).toBe(301);
      expect(r.headers.location).toBe('https://new.example/old/page?a=1&b=2');
      expect(r.headers['x-fairway-error']).toBeUndefined();
      expect(plain.hits).toBe(hits);
    });
  });

  describe('rewrite and header rules', () => {
    it('rewrite.pathPrefix replaces the matched prefix and rewrite.host the Host; X-Forwarded-Host keeps the client\'s', async () => {
      await client.get('/api/users?id=7', { host: 'shop.example' });
      expect(plain.last?.url).toBe('/v2/users?id=7');
      expect(plain.last?.headers.host).toBe('internal.example');
      expect(plain.last?.headers['x-forwarded-host']).toBe('shop.example');
    });

    it('rewrite.host: upstream sends the instance\'s host:port', async () => {
      await client.get('/uh', { host: 'shop.example' });
      expect(plain.last?.headers.host).toBe(plain.address);
    });

    it('requestHeaders sets and removes on the way up; responseHeaders on the way down', async () => {
      const r = await client.get('/headers', { 'x-debug': '1', 'x-env': 'dev' });
      expect(plain.last?.headers['x-env']).toBe('prod');
      expect(plain.last?.headers['x-debug']).toBeUndefined();
      expect(r.headers['strict-transport-security']).toBe('max-age=31536000');
      expect(r.headers.server).toBeUndefined();
      expect(r.headers['x-backend']).toBeUndefined();
      expect(r.body).toBe('plain 0');
    });
  });

  describe('compress', () => {
    it('gzip for a client that accepts it: the body unpacks to the upstream\'s, Vary says so', async () => {
      const res = await client.pool.request({ path: '/json', method: 'GET', headers: { 'accept-encoding': 'gzip' } });
      const body = Buffer.from(await res.body.arrayBuffer());
      expect(res.headers['content-encoding']).toBe('gzip');
      expect(res.headers['content-length']).toBeUndefined();
      expect(res.headers.vary).toBe('accept-encoding');
      expect(gunzipSync(body).toString()).toBe(JSON_BODY);
      expect(body.length).toBeLessThan(JSON_BODY.length / 3);
    });

    it('brotli when the client prefers it', async () => {
      const res = await client.pool.request({ path: '/json', method: 'GET', headers: { 'accept-encoding': 'gzip;q=0.5, br' } });
      const body = Buffer.from(await res.body.arrayBuffer());
      expect(res.headers['content-encoding']).toBe('br');
      expect(brotliDecompressSync(body).toString()).toBe(JSON_BODY);
    });

    it('not for a client that does not accept it', async () => {
      const res = await client.pool.request({ path: '/json', method: 'GET' });
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(await res.body.text()).toBe(JSON_BODY);
    });

    it('not for an answer below the minimum size, nor one the upstream encoded already', async () => {
      const small = await client.pool.request({ path: '/tiny', method: 'GET', headers: { 'accept-encoding': 'gzip' } });
      expect(small.headers['content-encoding']).toBeUndefined();
      expect(await small.body.text()).toBe('plain 0');
      const pre = await client.pool.request({ path: '/encoded', method: 'GET', headers: { 'accept-encoding': 'gzip, br' } });
      expect(pre.headers['content-encoding']).toBe('gzip');
      expect(await pre.body.text()).toBe('not really gzip, but the upstream says so');
    });

    it('curl gets the same gzip answer', async () => {
      // Asynchronous: the proxy answering it runs in this very process.
      const { stdout: out } = await promisify(execFile)('curl', ['-sS', '--compressed', '-D', '-', `${app.proxyUrl}/json`], { encoding: 'utf8' });
      expect(out).toMatch(/content-encoding: (gzip|br)\r\n/i);
      expect(out.endsWith(JSON_BODY)).toBe(true);
    });
  });
});
