// Hostile and broken input against the real CLI: request smuggling, oversized headers,
// slowloris, garbage from an upstream, and 1 GiB each way with memory measured.

import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../support/backends.js';
import { spawnFairway, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';
import { headerOf, parseResponses } from '../support/raw-client.js';

const GiB = 2 ** 30;
const CHUNK = Buffer.alloc(256 * 1024, 0x61);

/**
 * Writes `text` on a fresh connection; resolves with what came back and when the server closed.
 * With `trickleMs`, the first `atOnce` bytes go at once and the rest one byte at a time.
 */
function raw(port: number, text: string, trickleMs = 0, atOnce = 0): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = connect(port, '127.0.0.1');
    let reply = '';
    let timer: NodeJS.Timeout | undefined;
    s.on('data', (d) => (reply += d.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      clearInterval(timer);
      resolve({ reply, closedAfterMs: Date.now() - started });
    });
    s.setTimeout(15_000, () => s.destroy());
    if (trickleMs === 0) s.write(text);
    else {
      // One byte at a time, as a slowloris client sends its headers (or a slow one its body).
      if (atOnce > 0) s.write(text.slice(0, atOnce), 'latin1');
      let i = atOnce;
      timer = setInterval(() => {
        // Not once the server has closed: a write after the end would be an error of the client's own.
        if (i < text.length && s.writable) s.write(text[i++]!, 'latin1');
      }, trickleMs);
    }
  });
}

describe('hostile input', () => {
  let child: ChildProcess;
  let logs: () => string;
  let adminUrl: string;
  let port: number;
  let backend: Backend;
  let garbage: Server;

  const rss = async (): Promise<number> =>
    ((await (await fetch(`${adminUrl}/api/status`)).json()) as { process: { rssBytes: number } }).process.rssBytes;

  /** Runs `work` while sampling Fairway's RSS every 100 ms; returns the peak over the baseline. */
  async function peakRssGrowth(work: () => Promise<void>): Promise<{ base: number; peak: number }> {
    const base = await rss();
    let peak = base;
    let running = true;
    const sampler = (async () => {
      while (running) {
        peak = Math.max(peak, await rss());
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await work();
    } finally {
      running = false;
      await sampler;
    }
    return { base, peak };
  }

  beforeAll(async () => {
    backend = await startBackend('big', (req, res) => {
      if (req.method === 'POST') {
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => res.end(String(n)));
        return;
      }
      if (req.url === '/download') {
        res.writeHead(200, { 'content-length': String(GiB) });
        let left = GiB / CHUNK.length;
        const write = () => {
          while (left > 0) {
            left--;
            if (!res.write(CHUNK)) return void res.once('drain', write);
          }
          res.end();
        };
        write();
        return;
      }
      res.end('ok');
    });
    garbage = createServer((s) => {
      s.once('data', () => s.end('HELLO THIS IS NOT HTTP\r\n\r\n'));
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const garbagePort = (garbage.address() as { port: number }).port;
    port = await freePort();
    const admin = await freePort();
    adminUrl = `http://127.0.0.1:${admin}`;
    const file = writeConfig({
      listen: `127.0.0.1:${port}`,
      admin: { listen: `127.0.0.1:${admin}` },
      server: { headersTimeout: '1s' },
      routes: [
        { name: 'garbage', match: { pathPrefix: '/garbage' }, endpoints: [`127.0.0.1:${garbagePort}`], retries: 0 },
        { name: 'big', endpoints: [backend.address], timeout: '5m' },
      ],
    });
    ({ child, logs } = await spawnFairway(file, adminUrl));
  });

  afterAll(async () => {
    // A crash would otherwise show only as a failed fetch: say why.
    if (child && child.exitCode !== null) console.log(`fairway exited with ${child.exitCode}:\n${logs().slice(-4000)}`);
    child?.kill('SIGTERM');
    await backend?.close();
    garbage?.close();
  });

  it('answers 400 to Content-Length together with Transfer-Encoding and forwards nothing', async () => {
    const before = backend.hits;
    const { reply } = await raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).not.toContain('HTTP/1.1 200');
    expect(backend.hits).toBe(before);
  });

  it('answers 400 to an obfuscated Transfer-Encoding', async () => {
    const { reply } = await raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('answers 431 to 64 KiB of headers', async () => {
    const { reply } = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('drops a slowloris client after server.headersTimeout (1 s) with 408, still serving others', async () => {
    const slow = raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'z'.repeat(200), 50);
    await new Promise((r) => setTimeout(r, 300));
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok');
    const { reply, closedAfterMs } = await slow;
    console.log(`slowloris: connection closed after ${closedAfterMs} ms with ${JSON.stringify(reply.split('\r\n')[0])}`);
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    // Fairway's own 408, not some other layer's: it names its code like every answer it makes.
    const r = parseResponses(reply, { closed: true });
    expect(r.error).toBeUndefined();
    expect(r.responses.map((x) => [x.status, headerOf(x, 'x-fairway-error')])).toEqual([[408, 'request_timeout']]);
    expect(closedAfterMs).toBeLessThan(3_000);
  });

  it('answers 502 when the upstream sends something that is not HTTP', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/garbage`);
    expect(res.status).toBe(502);
    expect(res.headers.get('x-fairway-error')).toBe('upstream_error');
  });

  it('streams a 1 GiB download with flat memory', async () => {
    let received = 0;
    const { base, peak } = await peakRssGrowth(
      () =>
        new Promise<void>((resolve, reject) => {
          request({ host: '127.0.0.1', port, path: '/download' }, (res) => {
            res.on('data', (c: Buffer) => (received += c.length));
            res.on('end', resolve);
            res.on('error', reject);
          })
            .on('error', reject)
            .end();
        }),
    );
    console.log(`1 GiB download: ${received} bytes; Fairway RSS ${(base / 2 ** 20).toFixed(0)} MiB before, peak ${(peak / 2 ** 20).toFixed(0)} MiB`);
    expect(received).toBe(GiB);
    // Flat: buffering would show as a good part of the 1 GiB; this allows 1/8 of it.
    expect(peak - base).toBeLessThan(128 * 2 ** 20);
  }, 120_000);

  it('streams a 1 GiB upload with flat memory', async () => {
    let reply = '';
    const { base, peak } = await peakRssGrowth(async () => {
      const body = Readable.from(
        (function* () {
          for (let i = 0; i < GiB / CHUNK.length; i++) yield CHUNK;
        })(),
      );
      const req = request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', headers: { 'content-length': String(GiB) } });
      const answered = new Promise<void>((resolve, reject) => {
        req.on('response', (res) => {
          res.on('data', (d) => (reply += d));
          res.on('end', resolve);
        });
        req.on('error', reject);
      });
      await pipeline(body, req);
      await answered;
    });
    console.log(`1 GiB upload: backend counted ${reply} bytes; Fairway RSS ${(base / 2 ** 20).toFixed(0)} MiB before, peak ${(peak / 2 ** 20).toFixed(0)} MiB`);
    expect(reply).toBe(String(GiB));
    expect(peak - base).toBeLessThan(128 * 2 ** 20);
  }, 120_000);

  it('leaves no sockets behind', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const s = (await (await fetch(`${adminUrl}/api/status`)).json()) as { process: { activeResources: Record<string, number> } };
    console.log('handles after the hostile suite:', JSON.stringify(s.process.activeResources));
    // Listeners (2), the admin request being served, and the pooled upstream connections.
    expect(s.process.activeResources.TCPSocketWrap ?? 0).toBeLessThanOrEqual(6);
  });
});

describe('hostile input: slow request bodies', () => {
  // Its own Fairway: a server.requestTimeout this short would cut the 1 GiB upload above.
  const REQUEST_TIMEOUT_MS = 1_000;
  const ROUTE_TIMEOUT_MS = 300;
  let child: ChildProcess;
  let logs: () => string;
  let port: number;
  let backend: Backend;
  /** `METHOD url bytes` of each request whose body reached the backend whole. */
  const completed: string[] = [];
  /** `METHOD url bytes` of each request cut before its body was whole. */
  const cut: string[] = [];

  beforeAll(async () => {
    backend = await startBackend('slow', (req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        completed.push(`${req.method} ${req.url} ${n}`);
        res.end(String(n));
      });
      req.on('close', () => {
        if (!req.complete) cut.push(`${req.method} ${req.url} ${n}`);
      });
    });
    port = await freePort();
    const admin = await freePort();
    const file = writeConfig({
      listen: `127.0.0.1:${port}`,
      admin: { listen: `127.0.0.1:${admin}` },
      server: { headersTimeout: '1s', requestTimeout: `${REQUEST_TIMEOUT_MS}ms` },
      routes: [
        // A retryable PUT with a small body is read whole before it is sent (exchange.ts).
        { name: 'buffered', match: { pathPrefix: '/buffered' }, endpoints: [backend.address], timeout: `${ROUTE_TIMEOUT_MS}ms`, retries: 1, retryMethods: ['PUT'] },
        // Streamed, with the upstream waiting for a body that never ends: the route times out.
        { name: 'timed', match: { pathPrefix: '/timed' }, endpoints: [backend.address], timeout: `${ROUTE_TIMEOUT_MS}ms` },
        { name: 'streamed', endpoints: [backend.address] },
      ],
    });
    ({ child, logs } = await spawnFairway(file, `http://127.0.0.1:${admin}`));
  });

  afterAll(async () => {
    if (child && child.exitCode !== null) console.log(`fairway exited with ${child.exitCode}:\n${logs().slice(-4000)}`);
    child?.kill('SIGTERM');
    await backend?.close();
  });

  it(`answers 408 request_timeout to a body that trickles slower than server.requestTimeout (${REQUEST_TIMEOUT_MS} ms), closes, and cuts the request it had begun to stream upstream`, async () => {
    const before = backend.hits;
    // Declared larger than a body Fairway reads whole before sending: this one streams.
    const head = 'POST /trickle HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n';
    // 100 bytes at one per 100 ms: 10 s to send, far past requestTimeout (the rest never comes).
    const { reply, closedAfterMs } = await raw(port, head + 'a'.repeat(100), 100, head.length);
    const r = parseResponses(reply, { closed: true });
    console.log(`slow body: ${JSON.stringify(reply.split('\r\n')[0])}, connection closed after ${closedAfterMs} ms`);
    expect(r.error).toBeUndefined();
    expect(r.responses.map((x) => [x.status, headerOf(x, 'x-fairway-error')])).toEqual([[408, 'request_timeout']]);
    expect(r.rest).toBe('');
    expect(closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
    // Bodies stream (SPEC): the upstream got the head and the bytes so far, then the request was
    // cut, so it never saw a whole request that the client never sent.
    await until(() => cut.some((x) => x.startsWith('POST /trickle ')), 5_000, 'the upstream request to be cut');
    expect(backend.hits - before).toBe(1);
    expect(completed.filter((x) => x.startsWith('POST /trickle '))).toEqual([]);
  });

  it(`answers 408 request_timeout, once, when the route timeout (${ROUTE_TIMEOUT_MS} ms) runs out while a small body is still being read to be buffered, and sends nothing upstream`, async () => {
    const before = backend.hits;
    const head = 'PUT /buffered/x HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n';
    // 20 bytes at one per 100 ms: 2 s to send, past the route timeout.
    const { reply, closedAfterMs } = await raw(port, head + 'a'.repeat(20), 100, head.length);
    const r = parseResponses(reply, { closed: true });
    console.log(`route timeout while buffering: ${r.responses.map((x) => `${x.status} ${JSON.stringify(x.body)}`).join(', ')}; connection closed after ${closedAfterMs} ms`);
    expect(r.error).toBeUndefined();
    // The client is too slow for the route: 408, not the upstream's 504.
    expect([r.responses[0]?.status, headerOf(r.responses[0] ?? { rawHeaders: [] }, 'x-fairway-error')]).toEqual([408, 'request_timeout']);
    expect(r.responses[0]!.body).toContain('within the route timeout');
    // A body read whole before sending: nothing, not even the head, went upstream.
    expect(backend.hits).toBe(before);
    expect(cut.filter((x) => x.startsWith('PUT /buffered'))).toEqual([]);
    // One request, one answer. The body is still unfinished after the route's 408, so
    // server.requestTimeout (1 s) later runs out on the same request: it must not answer it again.
    expect(r.responses.map((x) => `${x.status} ${x.body.trim()}`), 'answers to the one request').toEqual([`408 ${r.responses[0]!.body.trim()}`]);
    expect(r.rest).toBe('');
  });
  it(`answers a streamed upload whose body the route timeout finds still coming 408 (the client is too slow, not the instance) once: server.requestTimeout running out later on its unfinished body adds no second answer`, async () => {
    const head = 'POST /timed/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n';
    // 100 bytes at one per 50 ms: 5 s, past the route timeout (300 ms) and requestTimeout (1 s).
    const { reply, closedAfterMs } = await raw(port, head + 'a'.repeat(100), 50, head.length);
    const r = parseResponses(reply, { closed: true });
    console.log(`route timeout while streaming: ${r.responses.map((x) => x.status).join(', ')}; connection closed after ${closedAfterMs} ms`);
    expect(r.error).toBeUndefined();
    expect(r.responses.map((x) => [x.status, headerOf(x, 'x-fairway-error')])).toEqual([[408, 'request_timeout']]);
    expect(r.rest).toBe('');
    // Closed with the 408 (Connection: close), not when the client gave up (15 s).
    expect(closedAfterMs).toBeLessThan(5_000);
  });
  it('answers 400 bad_request to a chunked body that turns malformed after relaying began, and cuts the upstream request', async () => {
    const before = backend.hits;
    // A good first chunk, which is relayed; then a chunk size that is not hex.
    const text = 'POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n';
    const { reply } = await raw(port, `${text}zz\r\nmore\r\n0\r\n\r\n`, 20, text.length);
    const r = parseResponses(reply, { closed: true });
    expect(r.error).toBeUndefined();
    expect(r.responses.map((x) => [x.status, headerOf(x, 'x-fairway-error')])).toEqual([[400, 'bad_request']]);
    expect(r.rest).toBe('');
    await until(() => cut.some((x) => x.startsWith('POST /chunks ')), 5_000, 'the upstream request to be cut');
    expect(backend.hits - before).toBe(1);
    expect(completed.filter((x) => x.startsWith('POST /chunks '))).toEqual([]);
  });
});
