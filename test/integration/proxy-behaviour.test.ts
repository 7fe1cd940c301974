// What the proxy does to requests and answers: matching, headers, status codes it makes itself,
// streaming, retries and WebSocket upgrades; all against real sockets.

import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, startBackends, type Backend } from '../support/backends.js';
import { baseConfig, Client, startFairway } from '../support/fairway.js';
import { freePort } from '../support/ports.js';
import { sendRaw as raw } from '../support/raw-client.js';
import { sample } from '../support/prometheus.js';

describe('proxy behaviour', () => {
  let backends: Backend[];
  let slow: Backend;
  let stream: Backend;
  let echo: Backend;
  let app: Fairway;
  let client: Client;
  let deadPort: number;
  let proxyPort: number;

  beforeAll(async () => {
    backends = await startBackends(2);
    // Never answers: a 504 from it can only be a timeout's.
    slow = await startBackend('slow', () => undefined);
    // Streams 8 MiB in 64 KiB chunks, or echoes the sha256 and length of an uploaded body.
    stream = await startBackend('stream', (req, res) => {
      if (req.method === 'POST') {
        const h = createHash('sha256');
        let n = 0;
        req.on('data', (c: Buffer) => {
          h.update(c);
          n += c.length;
        });
        req.on('end', () => res.end(`${n} ${h.digest('hex')}`));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let left = 128;
      const write = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
    });
    echo = await startBackend('echo', (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close, x-secret', 'x-secret': 'hop', 'keep-alive': 'timeout=99' });
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
    echo.server.on('upgrade', (req, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      socket.write(`hello ${req.url}\n`);
      socket.pipe(socket);
    });
    deadPort = await freePort();
    const [a, b] = backends.map((x) => x.address);
    app = await startFairway(
      baseConfig({
        // These tests count attempts on a dead port; passive ejection would take it away.
        outlier: { consecutiveFailures: 0 },
        routes: [
          { name: 'host', match: { host: 'api.example.com' }, endpoints: [a] },
          { name: 'wild', match: { host: '*.example.org' }, endpoints: [b] },
          { name: 'canary', match: { pathPrefix: '/app', headers: { 'X-Canary': '1' } }, endpoints: [b] },
          { name: 'app', match: { pathPrefix: '/app' }, endpoints: [a] },
          { name: 'echo', match: { pathPrefix: '/echo' }, endpoints: [echo.address], stripPrefix: true },
          { name: 'slow', match: { pathPrefix: '/slow' }, endpoints: [slow.address], timeout: '300ms' },
          { name: 'dead', match: { pathPrefix: '/dead' }, endpoints: [`127.0.0.1:${deadPort}`], retries: 1 },
          { name: 'half-dead', match: { pathPrefix: '/half' }, endpoints: [`127.0.0.1:${deadPort}`, a], retries: 1 },
          { name: 'stream', match: { pathPrefix: '/stream' }, endpoints: [stream.address] },
        ],
      }),
    );
    proxyPort = Number(new URL(app.proxyUrl).port);
    client = new Client(app.proxyUrl, 4);
  });

  afterAll(async () => {
    await client.close();
    await app.stop();
    await Promise.all([...backends, slow, stream, echo].map((b) => b.close()));
  });

  it.each([
    ['exact host match, case and port ignored', { host: 'API.example.com:8080' }, '/', 'b1'],
    ['wildcard host suffix', { host: 'x.y.example.org' }, '/', 'b2'],
    ['header match picks the canary route first', { host: 'other', 'x-canary': '1' }, '/app/x', 'b2'],
    ['without the header the next route in file order wins', { host: 'other' }, '/app/x', 'b1'],
  ])('%s', async (_desc, headers, path, expected) => {
    const r = await client.get(path, headers as Record<string, string>);
    expect(r.status).toBe(200);
    expect(r.body).toBe(expected);
  });

  it('answers 404 no_route when nothing matches', async () => {
    const r = await client.get('/nothing-here', { host: 'nowhere' });
    expect(r.status).toBe(404);
    expect(r.headers['x-fairway-error']).toBe('no_route');
  });

  it('sets X-Forwarded-*, keeps Host, strips hop-by-hop headers both ways, and strips the prefix', async () => {
    const r = await client.get('/echo/a/b?q=1', { host: 'front.test', 'x-forwarded-for': '10.1.2.3', 'x-custom': 'yes', te: 'trailers' });
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/a/b?q=1');
    expect(seen.headers.host).toBe('front.test');
    // The client is no trusted proxy: its X-Forwarded-For is replaced, not appended to.
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-real-ip']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('front.test');
    expect(seen.headers['x-custom']).toBe('yes');
    expect(seen.headers.te).toBeUndefined();
    expect(r.headers['x-secret']).toBeUndefined();
    expect(r.headers['keep-alive']).not.toBe('timeout=99');
  });

  it('answers 504 upstream_timeout when the upstream is slower than the route timeout', async () => {
    const started = Date.now();
    const r = await client.get('/slow');
    const ms = Date.now() - started;
    console.log(`504 after ${ms} ms (route timeout 300 ms)`);
    expect(r.status).toBe(504);
    expect(r.headers['x-fairway-error']).toBe('upstream_timeout');
    // The route's 300 ms, not the 30 s default: generous for a loaded machine, far from 30 s.
    expect(ms).toBeLessThan(10_000);
  });

  it('answers 502 upstream_error when the only upstream refuses connections, without retrying the same one', async () => {
    const r = await client.get('/dead');
    expect(r.status).toBe(502);
    expect(r.headers['x-fairway-error']).toBe('upstream_error');
    const dead = app.table.routes.find((x) => x.config.name === 'dead')!.upstreams[0]!;
    expect(dead.stats.failures).toBe(1);
  });

  it('retries an idempotent request on another instance when one refuses', async () => {
    const replies = await Promise.all(Array.from({ length: 20 }, () => client.get('/half')));
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
  });

  it('does not retry a request with a body', async () => {
    const statuses = new Set<number>();
    for (let i = 0; i < 4; i++) statuses.add((await client.get('/half', {}, 'POST', 'payload')).status);
    expect(statuses).toEqual(new Set([200, 502]));
  });

  it('streams an 8 MiB response', async () => {
    const res = await client.pool.request({ method: 'GET', path: '/stream' });
    let n = 0;
    for await (const chunk of res.body) n += (chunk as Buffer).length;
    expect(res.statusCode).toBe(200);
    expect(n).toBe(8 * 1024 * 1024);
  });

  it('streams a 16 MiB chunked upload intact', async () => {
    const chunk = Buffer.alloc(256 * 1024, 3);
    const body = Readable.from((function* () {
      for (let i = 0; i < 64; i++) yield chunk;
    })());
    const expected = createHash('sha256');
    for (let i = 0; i < 64; i++) expected.update(chunk);
    const reply = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ port: proxyPort, host: '127.0.0.1', method: 'POST', path: '/stream' }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      pipeline(body, req).catch(reject);
    });
    expect(reply).toBe(`${16 * 1024 * 1024} ${expected.digest('hex')}`);
  });

  it('answers 400 to a malformed request line', async () => {
    const out = await raw(proxyPort, 'GARBAGE\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400 /);
    expect(out).toContain('x-fairway-error: bad_request');
  });

  it('answers 400 to a request with both Content-Length and Transfer-Encoding, and forwards nothing', async () => {
    const before = backends[0]!.hits;
    const out = await raw(
      proxyPort,
      'POST /app HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /app HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(out).toMatch(/^HTTP\/1\.1 400 /);
    expect(backends[0]!.hits).toBe(before);
  });

  it('answers 400 to a request with two Host headers', async () => {
    const out = await raw(proxyPort, 'GET /app HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('answers 431 to oversized headers', async () => {
    const out = await raw(proxyPort, `GET /app HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 431 /);
    expect(out).toContain('x-fairway-error: headers_too_large');
  });

  it('proxies a WebSocket upgrade both ways', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({
        port: proxyPort,
        host: '127.0.0.1',
        path: '/echo/ws',
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('upgrade', (res, socket, head: Buffer) => {
        let text = `${res.statusCode} ${head.toString()}`;
        socket.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('ping')) {
            socket.destroy();
            resolve(text);
          }
        });
        socket.write('ping');
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    expect(got).toBe('101 hello /ws\nping');
  });

  it('sends a non-WebSocket upgrade on as a plain request', async () => {
    const out = await raw(proxyPort, 'GET /echo/h2 HTTP/1.1\r\nHost: up.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    const seen = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/h2');
    expect(seen.headers.upgrade).toBeUndefined();
    expect(seen.headers['http2-settings']).toBeUndefined();
    expect(seen.headers['x-forwarded-host']).toBe('up.test');
  });
});

describe('upgrade requests that go wrong', () => {
  it('survives clients that reset upgrade connections, on a matched and an unmatched route', async () => {
    const slow = await startBackend('slow-ws');
    // The upstream never answers the upgrade, so the client gives up first.
    const held: Socket[] = [];
    slow.server.on('upgrade', (_req, socket: Socket) => held.push(socket));
    const app = await startFairway(baseConfig({ routes: [{ match: { pathPrefix: '/ws' }, endpoints: [slow.address] }] }));
    const port = Number(new URL(app.proxyUrl).port);
    try {
      for (const path of ['/ws/x', '/nowhere']) {
        for (let i = 0; i < 20; i++) {
          const s = connect(port, '127.0.0.1');
          s.on('error', () => undefined);
          s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
          await new Promise((r) => setTimeout(r, 5));
          s.resetAndDestroy();
        }
      }
      await new Promise((r) => setTimeout(r, 100));
      // Still alive and answering.
      const res = await fetch(`${app.proxyUrl}/nowhere`);
      expect(res.status).toBe(404);
    } finally {
      for (const h of held) h.destroy();
      await app.stop();
      await slow.close();
    }
  });

  it('serves a non-WebSocket upgrade with a body as a plain request: its body framed, what follows it a request of its own', async () => {
    const seen: Array<{ url: string; upgrade: string | undefined; body: string }> = [];
    const backend = await startBackend('b', (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', upgrade: req.headers.upgrade, body });
        res.end('ok');
      });
    });
    const app = await startFairway(baseConfig({ routes: [{ endpoints: [backend.address] }] }));
    const port = Number(new URL(app.proxyUrl).port);
    try {
      const out = await raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(out.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
      // Pipelined requests are relayed side by side, so the backend may see them in either order.
      expect(seen.sort((a, b) => a.url.localeCompare(b.url))).toEqual([
        { url: '/', upgrade: undefined, body: 'abc' },
        { url: '/next', upgrade: undefined, body: '' },
      ]);
    } finally {
      await app.stop();
      await backend.close();
    }
  });
});

describe('retries on an upstream 502/503', () => {
  let healthy: Backend;
  let bad: Backend[];
  /** Names of the failing backends in the order they were hit, across all of them. */
  const order: string[] = [];
  let app: Fairway;
  let client: Client;

  const retries = async (route: string): Promise<number> =>
    sample(await (await fetch(`${app.adminUrl}/metrics`)).text(), 'fairway_retries_total', { route }) ?? 0;
  const hits = (bs: Backend[]) => bs.reduce((n, b) => n + b.hits, 0);

  beforeAll(async () => {
    healthy = await startBackend('ok');
    // Each answers with its own name, so the client's body says which instance answered last.
    const failing = (name: string, status: number) =>
      startBackend(name, (req, res) => {
        req.resume();
        order.push(name);
        res.writeHead(status, { 'content-type': 'text/plain' }).end(name);
      });
    bad = await Promise.all([failing('s503', 503), failing('s502', 502), failing('x1', 503), failing('x2', 503), failing('x3', 503), failing('x4', 503)]);
    const [s503, s502, ...all503] = bad;
    app = await startFairway(
      baseConfig({
        // A 502/503 counts as a failure: passive ejection would take the failing instances
        // away, and these tests count the attempts they get.
        outlier: { consecutiveFailures: 0 },
        routes: [
          { name: 'r503', match: { pathPrefix: '/r503' }, endpoints: [s503!.address, healthy.address], retries: 1 },
          { name: 'r502', match: { pathPrefix: '/r502' }, endpoints: [s502!.address, healthy.address], retries: 1 },
          // Four instances that all fail and two retries: the bound is the retries, not the instances.
          { name: 'all-bad', match: { pathPrefix: '/all-bad' }, endpoints: all503.map((b) => b.address), retries: 2 },
          // More retries than instances: a retry goes to another instance, never the same one again.
          { name: 'few', match: { pathPrefix: '/few' }, endpoints: all503.slice(0, 2).map((b) => b.address), retries: 5 },
        ],
      }),
    );
    client = new Client(app.proxyUrl, 1);
  });

  afterAll(async () => {
    await client.close();
    await app.stop();
    await Promise.all([healthy, ...bad].map((b) => b.close()));
  });

  it.each([
    { status: 503, route: 'r503', index: 0 },
    { status: 502, route: 'r502', index: 1 },
  ])('a GET that gets $status from one instance is answered by the healthy one, one retry counted per failed attempt', async ({ route, index }) => {
    const failing = bad[index]!;
    const [failedBefore, okBefore, retriesBefore] = [failing.hits, healthy.hits, await retries(route)];
    for (let i = 0; i < 10; i++) {
      const r = await client.get(`/${route}`);
      expect([r.status, r.body]).toEqual([200, 'ok']);
    }
    const failed = failing.hits - failedBefore;
    // Round-robin sends some first attempts to the failing instance, which the test needs.
    expect(failed).toBeGreaterThan(0);
    // Each request reached the healthy instance exactly once, and the failing one at most once.
    expect(healthy.hits - okBefore).toBe(10);
    expect(failed).toBeLessThanOrEqual(10);
    expect((await retries(route)) - retriesBefore).toBe(failed);
  });

  it('with retries: 2 and every instance answering 503, makes exactly 3 attempts and relays the last answer', async () => {
    const all503 = bad.slice(2);
    const [hitsBefore, orderBefore, retriesBefore] = [hits(all503), order.length, await retries('all-bad')];
    const r = await client.get('/all-bad');
    const tried = order.slice(orderBefore);
    expect(tried).toHaveLength(3);
    expect(new Set(tried).size).toBe(3);
    expect(hits(all503) - hitsBefore).toBe(3);
    // The upstream's own answer from the last attempt, not one Fairway makes (no x-fairway-error).
    expect([r.status, r.body, r.headers['x-fairway-error']]).toEqual([503, tried[2], undefined]);
    expect((await retries('all-bad')) - retriesBefore).toBe(2);
  });

  it('with more retries than instances, tries each instance once', async () => {
    const two = bad.slice(2, 4);
    const [hitsBefore, orderBefore, retriesBefore] = [hits(two), order.length, await retries('few')];
    const r = await client.get('/few');
    const tried = order.slice(orderBefore);
    expect(new Set(tried)).toEqual(new Set(['x1', 'x2']));
    expect(hits(two) - hitsBefore).toBe(2);
    expect([r.status, r.body, r.headers['x-fairway-error']]).toEqual([503, tried[1], undefined]);
    expect((await retries('few')) - retriesBefore).toBe(1);
  });

  it('does not retry a POST on 503: POST is not among the default retry methods', async () => {
    const failing = bad[0]!;
    const [failedBefore, okBefore, retriesBefore] = [failing.hits, healthy.hits, await retries('r503')];
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await client.get('/r503', {}, 'POST', 'payload');
      statuses.push(r.status);
      expect(r.body).toBe(r.status === 200 ? 'ok' : 's503');
    }
    // Round-robin alternates between the two, and the 503 reaches the client as it came.
    expect(statuses.filter((s) => s === 503)).toHaveLength(failing.hits - failedBefore);
    expect(statuses.filter((s) => s === 200)).toHaveLength(healthy.hits - okBefore);
    expect(new Set(statuses)).toEqual(new Set([200, 503]));
    expect((await retries('r503')) - retriesBefore).toBe(0);
  });
});
