// HTTP/2 at the edge with real clients (Node's http2, node:https, curl) against Fairway
// in-process: ALPN and its HTTP/1.1 fallback, h2c by preface, routing by :authority, policies
// and Fairway's own errors, header rules of RFC 9113, many streams on one session, flow
// control, and an h2c upstream with trailers both ways. Broken frames, resets and shutdown are
// in http2-resilience.test.ts.

import { execFile } from 'node:child_process';
import { createServer as createH2Server, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { copyFileSync, renameSync } from 'node:fs';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { PREFACE } from '../../src/proxy/preface.js';
import { startBackend, type Backend } from '../support/backends.js';
import { makeCa, type TestCa } from '../support/certs.js';
import { Client, startFairway, until } from '../support/fairway.js';
import { h2connect, h2request, withH2 } from '../support/h2-client.js';
import { freePort } from '../support/ports.js';
import { requestText, sendRaw } from '../support/raw-client.js';

const run = promisify(execFile);

/** An h2c upstream (Node's http2 server) that records what it got, trailers included. */
async function startH2Backend(): Promise<{ server: Http2Server; address: string; last: { headers: IncomingHttpHeaders; body: string; trailers: IncomingHttpHeaders | undefined } | undefined }> {
  const state = { last: undefined } as { server: Http2Server; address: string; last: { headers: IncomingHttpHeaders; body: string; trailers: IncomingHttpHeaders | undefined } | undefined };
  state.server = createH2Server((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      state.last = { headers: req.headers, body, trailers: Object.keys(req.trailers).length > 0 ? req.trailers : undefined };
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': 'h2' });
      res.addTrailers({ 'x-checksum': String(body.length) });
      res.end(`h2 got ${body.length}`);
    });
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  state.address = `127.0.0.1:${(state.server.address() as { port: number }).port}`;
  return state;
}


describe('HTTP/2 at the edge', () => {
  let ca: TestCa;
  let a: Backend;
  let b: Backend;
  let h2up: Awaited<ReturnType<typeof startH2Backend>>;
  let app: Fairway;
  let h2c: string;
  let tlsPort: number;
  let plain: string;
  /** The TLS listener's certificate files, rotated by the last test. */
  let edge: { cert: string; key: string };

  beforeAll(async () => {
    ca = makeCa();
    const cert = ca.issue('edge', ['a.test', 'b.test', '*.test']);
    edge = cert;
    a = await startBackend('A', (req, res, backend) => {
      backend.last = { method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers, 'x-raw': req.rawHeaders.join('\n') } };
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        if (req.url === '/big') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(Buffer.alloc(4_000_000, 'x'));
          return;
        }
        // Hop-by-hop fields an HTTP/2 client must never see, one of them named by Connection.
        res.writeHead(200, { 'content-type': 'text/plain', connection: 'keep-alive, x-hop', 'keep-alive': 'timeout=5', 'x-hop': '1', 'x-kept': 'yes' });
        res.end(`A ${req.method} ${req.url} ${body.length}`);
      });
    });
    b = await startBackend('B');
    h2up = await startH2Backend();
    const down = await freePort();
    app = await startFairway({
      admin: { listen: '127.0.0.1:0' },
      server: { keepAliveTimeout: '1s' },
      consul: { address: inject('consulAddress'), wait: '5s' },
      listeners: [
        { address: '127.0.0.1:0', http2: true },
        { address: '127.0.0.1:0', http2: true, tls: { certificates: [{ cert: cert.cert, key: cert.key }] } },
        { address: '127.0.0.1:0' },
      ],
      routes: [
        { name: 'a', match: { host: 'a.test' }, endpoints: [a.address] },
        { name: 'b', match: { host: 'b.test' }, endpoints: [b.address] },
        { name: 'guarded', match: { host: 'guarded.test' }, endpoints: [a.address], allow: ['10.0.0.0/8'] },
        { name: 'limited', match: { host: 'limited.test' }, endpoints: [a.address], rateLimit: { rate: '1/m', burst: 1 } },
        { name: 'down', match: { host: 'down.test' }, endpoints: [`127.0.0.1:${down}`], retries: 0 },
        { name: 'empty', match: { host: 'empty.test' }, service: `nothing-${down}` },
        { name: 'h2up', match: { host: 'h2up.test' }, endpoints: [h2up.address], protocol: 'h2c' },
        { name: 'h2retry', match: { host: 'h2retry.test' }, endpoints: [`127.0.0.1:${down}`, h2up.address], protocol: 'h2c', retries: 1 },
        { name: 'capped', match: { host: 'capped.test' }, endpoints: [a.address], maxBodySize: '1KB' },
      ],
    });
    [h2c, , plain] = app.proxyUrls as [string, string, string];
    tlsPort = Number(new URL(app.proxyUrls[1]!).port);
  });

  afterAll(async () => {
    await app?.stop();
    await a?.close();
    await b?.close();
    await new Promise((r) => h2up?.server.close(r));
  });

  const tls = () => h2connect(`https://127.0.0.1:${tlsPort}`, { ca: ca.caPem, servername: 'a.test' });

  it('ALPN picks h2 for a client offering h2 and http/1.1', async () => {
    const alpn = await new Promise<string | false>((resolve, reject) => {
      const s = tlsConnect({ port: tlsPort, host: '127.0.0.1', servername: 'a.test', ca: ca.caPem, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
        resolve(s.alpnProtocol ?? false);
        s.end();
      });
      s.on('error', reject);
    });
    expect(alpn).toBe('h2');
  });

  it('an http/1.1-only client on the same TLS listener gets http/1.1 and is served', async () => {
    const r = await new Promise<{ status: number; body: string; alpn: string | false }>((resolve, reject) => {
      const options = { host: '127.0.0.1', port: tlsPort, path: '/x', servername: 'b.test', ca: ca.caPem, ALPNProtocols: ['http/1.1'], headers: { host: 'b.test' }, agent: false };
      const req = httpsRequest(options as RequestOptions, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body, alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol ?? false }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(r).toEqual({ status: 200, body: 'B', alpn: 'http/1.1' });
  });

  it('routes by :authority, over TLS and over h2c, with X-Forwarded-* as for HTTP/1.1', async () => {
    const s = await tls();
    const c = await h2connect(h2c);
    try {
      const viaTls = await h2request(s, { ':authority': 'b.test', ':path': '/p' });
      expect([viaTls.status, viaTls.body]).toEqual([200, 'B']);
      expect(b.last?.headers['x-forwarded-proto']).toBe('https');
      expect(b.last?.headers.host).toBe('b.test');
      expect(viaTls.headers['x-request-id']).toBeUndefined();
      const viaH2c = await h2request(c, { ':authority': 'a.test', ':path': '/q?x=1' });
      expect([viaH2c.status, viaH2c.body]).toEqual([200, 'A GET /q?x=1 0']);
      expect(a.last?.headers['x-forwarded-proto']).toBe('http');
      expect(a.last?.headers['x-request-id']).toMatch(/.{8,}/);
    } finally {
      s.close();
      c.close();
    }
  });

  it('drops hop-by-hop answer fields (and those Connection names), joins cookies, keeps te off an HTTP/1.1 upstream', async () => {
    await withH2(h2c, async (c) => {
      const r = await h2request(c, { ':authority': 'a.test', cookie: ['a=1', 'b=2'], te: 'trailers', 'x-mine': 'v' });
      expect(r.status).toBe(200);
      expect(r.headers['x-kept']).toBe('yes');
      for (const name of ['connection', 'keep-alive', 'x-hop', 'transfer-encoding']) expect(r.headers[name]).toBeUndefined();
      const raw = String(a.last?.headers['x-raw']).split('\n');
      expect(raw.filter((l) => l.toLowerCase() === 'cookie')).toHaveLength(1);
      expect(a.last?.headers.cookie).toBe('a=1; b=2');
      expect(a.last?.headers.te).toBeUndefined();
      expect(a.last?.headers['x-mine']).toBe('v');
    });
  });

  it('a body without Content-Length (HTTP/2 framing) reaches an HTTP/1.1 upstream whole', async () => {
    await withH2(h2c, async (c) => {
      const r = await h2request(c, { ':authority': 'a.test', ':method': 'POST', ':path': '/up' }, 'x'.repeat(100_000));
      expect(r.body).toBe('A POST /up 100000');
    });
  });

  it('4 MB each way pass with flow control: an answer to an HTTP/2 client, a body to an h2c upstream', async () => {
    await withH2(h2c, async (c) => {
      const down = await h2request(c, { ':authority': 'a.test', ':path': '/big' });
      expect(down.body.length).toBe(4_000_000);
      const up = await h2request(c, { ':authority': 'h2up.test', ':method': 'POST', ':path': '/big' }, 'y'.repeat(4_000_000));
      expect(up.body).toBe('h2 got 4000000');
    });
  });

  it('policies answer as for HTTP/1.1: 403 from an allow list, 429 past a rate limit, with x-fairway-error', async () => {
    await withH2(h2c, async (c) => {
      const denied = await h2request(c, { ':authority': 'guarded.test' });
      expect([denied.status, denied.headers['x-fairway-error']]).toEqual([403, 'forbidden']);
      expect((await h2request(c, { ':authority': 'limited.test' })).status).toBe(200);
      const limited = await h2request(c, { ':authority': 'limited.test' });
      expect([limited.status, limited.headers['x-fairway-error']]).toEqual([429, 'rate_limited']);
      expect(limited.headers['retry-after']).toBeDefined();
    });
  });

  it("Fairway's own 404, 502 and 503 carry x-fairway-error", async () => {
    await withH2(h2c, async (c) => {
      const answers = await Promise.all(['nowhere.test', 'down.test', 'empty.test'].map((host) => h2request(c, { ':authority': host })));
      expect(answers.map((r) => [r.status, r.headers['x-fairway-error']])).toEqual([
        [404, 'no_route'],
        [502, 'upstream_error'],
        [503, 'no_healthy_upstream'],
      ]);
    });
  });

  it('a body over maxBodySize without Content-Length is cut while it streams: 413 body_too_large', async () => {
    await withH2(h2c, async (c) => {
      const r = await h2request(c, { ':authority': 'capped.test', ':method': 'POST' }, 'x'.repeat(10_000));
      expect([r.status, r.headers['x-fairway-error']]).toEqual([413, 'body_too_large']);
    });
  });

  it('more header lines than server.maxHeaders is 431 headers_too_large, as over HTTP/1.1', async () => {
    await withH2(h2c, async (c) => {
      const many = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`x-h${i}`, 'v']));
      const r = await h2request(c, { ':authority': 'a.test', ...many });
      expect([r.status, r.headers['x-fairway-error']]).toEqual([431, 'headers_too_large']);
      expect((await h2request(c, { ':authority': 'a.test', ...Object.fromEntries(Object.entries(many).slice(0, 150)) })).status).toBe(200);
    });
  });

  it('the edge rules of HTTP/1.1 hold: dot segments resolved, a path above / and a bad :authority refused', async () => {
    await withH2(h2c, async (c) => {
      const ok = await h2request(c, { ':authority': 'a.test', ':path': '/x/./y/%2e%2e/z' });
      expect(ok.status).toBe(200);
      expect(a.last?.url).toBe('/x/z');
      const hits = a.hits;
      for (const headers of [
        { ':authority': 'a.test', ':path': '/x/../../etc/passwd' },
        { ':authority': 'user@a.test', ':path': '/' },
      ]) {
        const r = await h2request(c, headers);
        expect([headers, r.status, r.headers['x-fairway-error']]).toEqual([headers, 400, 'bad_request']);
      }
      // A blank in :authority is malformed HTTP/2 (RFC 9113 §8.3.1): Node's HTTP/2 layer resets
      // the stream before Fairway sees it. Either way, nothing reaches the backend.
      await expect(h2request(c, { ':authority': 'a test', ':path': '/' })).rejects.toThrow('NGHTTP2_PROTOCOL_ERROR');
      expect(a.hits).toBe(hits);
    });
  });

  it('CONNECT is refused with 405, as over HTTP/1.1', async () => {
    await withH2(h2c, async (c) => {
      const r = await h2request(c, { ':method': 'CONNECT', ':authority': 'a.test:443', ':path': undefined, ':scheme': undefined });
      expect([r.status, r.headers['x-fairway-error']]).toEqual([405, 'method_not_allowed']);
    });
  });

  it('an h2c route retries a GET on the other instance when one is down', async () => {
    await withH2(h2c, async (c) => {
      const answers = await Promise.all(Array.from({ length: 4 }, () => h2request(c, { ':authority': 'h2retry.test', ':path': '/r' })));
      expect(answers.map((r) => [r.status, r.body])).toEqual(Array.from({ length: 4 }, () => [200, 'h2 got 0']));
    });
  });

  it('serves 200 concurrent streams on one session', async () => {
    a.delayMs = 50;
    const c = await h2connect(h2c);
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => h2request(c, { ':authority': 'a.test', ':path': `/n/${i}` })));
      expect(answers.map((r) => r.body)).toEqual(Array.from({ length: 200 }, (_, i) => `A GET /n/${i} 0`));
    } finally {
      a.delayMs = 0;
      c.close();
    }
  });

  it('the h2c listener still serves HTTP/1.1 clients (no preface, no HTTP/2)', async () => {
    const client = new Client(h2c, 1);
    try {
      const r = await client.get('/plain', { host: 'b.test' });
      expect([r.status, r.body]).toEqual([200, 'B']);
    } finally {
      await client.close();
    }
  });

  it('a plain listener without http2 does not speak HTTP/2: the preface is a 400 bad_request there', async () => {
    const out = await sendRaw(Number(new URL(plain).port), PREFACE.toString('latin1'));
    expect(out).toMatch(/^HTTP\/1\.1 400 [^]*x-fairway-error: bad_request/);
  });

  it('an h2c upstream gets the request with its trailers, and the answer comes back with its trailers', async () => {
    await withH2(h2c, async (c) => {
      const answer = await new Promise<{ status: number; body: string; trailers: IncomingHttpHeaders | undefined }>((resolve, reject) => {
        const stream = c.request({ ':method': 'POST', ':path': '/t', ':authority': 'h2up.test', te: 'trailers' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-client-sum': '11' }));
        let status = 0;
        let body = '';
        let trailers: IncomingHttpHeaders | undefined;
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('trailers', (t) => (trailers = t));
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (body += d));
        stream.on('end', () => resolve({ status, body, trailers }));
        stream.on('error', reject);
        stream.end('hello world');
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('h2 got 11');
      expect(answer.trailers?.['x-checksum']).toBe('11');
      expect(h2up.last?.headers[':authority']).toBe('h2up.test');
      expect(h2up.last?.headers.te).toBe('trailers');
      expect(h2up.last?.trailers?.['x-client-sum']).toBe('11');
    });
  });

  it('an HTTP/1.1 client reaches an h2c upstream; its connection-specific fields are not forwarded', async () => {
    const extra = ['Connection: close, x-private', 'Keep-Alive: timeout=5', 'Proxy-Connection: keep-alive', 'Upgrade: h2c', 'X-Private: secret', 'X-Public: ok', 'TE: gzip'];
    const out = await sendRaw(Number(new URL(plain).port), requestText('POST', '/one', 'h2up.test', [...extra, 'Transfer-Encoding: chunked'], '5\r\nhello\r\n0\r\n\r\n'));
    // HTTP/2 has no reason phrase: the HTTP/1.1 client gets the standard one, on both paths.
    expect(out).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(out).toContain('h2 got 5');
    const seen = h2up.last!.headers;
    for (const name of ['connection', 'keep-alive', 'proxy-connection', 'x-private', 'upgrade', 'transfer-encoding', 'te']) expect(seen[name]).toBeUndefined();
    expect(seen['x-public']).toBe('ok');
    expect(seen[':authority']).toBe('h2up.test');
    expect(await sendRaw(Number(new URL(plain).port), requestText('GET', '/raw', 'h2up.test', ['Connection: close']))).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    // A plain GET takes the fast path, which relays the h2c answer's head as it does undici's.
    const client = new Client(plain, 1);
    try {
      const r = await client.get('/fast', { host: 'h2up.test' });
      expect([r.status, r.body, r.headers['x-backend']]).toEqual([200, 'h2 got 0', 'h2']);
      expect(h2up.last?.headers[':path']).toBe('/fast');
    } finally {
      await client.close();
    }
  });

  it('curl --http2 (ALPN) and --http2-prior-knowledge (h2c) speak HTTP/2 to it', async () => {
    // Asynchronously: Fairway runs in this process and must answer meanwhile.
    const viaTls = await run('curl', ['-sS', '--max-time', '10', '--http2', '--cacert', ca.caPath, '--resolve', `a.test:${tlsPort}:127.0.0.1`, `https://a.test:${tlsPort}/curl`, '-w', '\n%{http_version}'], { encoding: 'utf8' });
    expect(viaTls.stdout).toBe('A GET /curl 0\n2');
    const port = new URL(h2c).port;
    const viaH2c = await run('curl', ['-sS', '--max-time', '10', '--http2-prior-knowledge', '-H', 'host: b.test', `http://127.0.0.1:${port}/curl`, '-w', '\n%{http_version}'], { encoding: 'utf8' });
    expect(viaH2c.stdout).toBe('B\n2');
  });

  it('a certificate rotated on disk is served to new connections while an open HTTP/2 session goes on with the old one', async () => {
    const serialOf = (session: Awaited<ReturnType<typeof tls>>) => (session.socket as unknown as TLSSocket).getPeerCertificate().serialNumber;
    const open = await tls();
    try {
      expect((await h2request(open, { ':authority': 'a.test', ':path': '/before' })).status).toBe(200);
      const before = serialOf(open);
      const next = ca.issue('edge-next', ['a.test', 'b.test', '*.test']);
      copyFileSync(next.cert, `${edge.cert}.tmp`);
      copyFileSync(next.key, `${edge.key}.tmp`);
      renameSync(`${edge.key}.tmp`, edge.key);
      renameSync(`${edge.cert}.tmp`, edge.cert);
      await until(async () => {
        // The open session keeps busy (the listener closes one idle for keepAliveTimeout, 1 s here).
        expect((await h2request(open, { ':authority': 'a.test', ':path': '/during' })).status).toBe(200);
        const fresh = await tls();
        const serial = serialOf(fresh);
        fresh.close();
        return serial === next.serial;
      }, 8_000, 'the new certificate served to a new session');
      const again = await h2request(open, { ':authority': 'a.test', ':path': '/after' });
      expect(again.status).toBe(200);
      expect(serialOf(open)).toBe(before);
      expect(before).not.toBe(next.serial);
    } finally {
      open.close();
    }
  });
});
