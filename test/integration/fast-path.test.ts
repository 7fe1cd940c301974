// The fast path (plain body-less requests served off the raw socket) and its hand-over to
// Node's server, seen from a raw TCP client so framing, ordering and connection handling are
// visible byte for byte. Real backends on port 0, Fairway in this process.

import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, type Backend } from '../support/backends.js';
import { baseConfig, spawnFairway, startFairway, stopProcess, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits a byte stream of HTTP/1.1 responses (Content-Length or chunked, none for HEAD/204/304). */
function parseResponses(text: string, heads: ReadonlySet<number> = new Set()): { responses: Parsed[]; rest: string } {
  const responses: Parsed[] = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const [statusLine, ...lines] = text.slice(at, end).split('\r\n');
    const status = Number(statusLine!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    let p = end + 4;
    let body = '';
    if (heads.has(responses.length) || status === 204 || status === 304) {
      // no body
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (text.length < p + n) break;
      body = text.slice(p, p + n);
      p += n;
    } else if (headers['transfer-encoding'] === 'chunked') {
      let complete = false;
      for (;;) {
        const le = text.indexOf('\r\n', p);
        if (le === -1) break;
        const size = parseInt(text.slice(p, le), 16);
        if (text.length < le + 2 + size + 2) break;
        body += text.slice(le + 2, le + 2 + size);
        p = le + 2 + size + 2;
        if (size === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
    }
    responses.push({ status, headers, body });
    at = p;
  }
  return { responses, rest: text.slice(at) };
}

class RawClient {
  readonly socket: Socket;
  text = '';
  closed = false;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => (this.text += d));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
  }

  send(bytes: string): void {
    this.socket.write(bytes, 'latin1');
  }

  async responses(n: number, heads?: ReadonlySet<number>): Promise<Parsed[]> {
    await until(() => parseResponses(this.text, heads).responses.length >= n || this.closed, 5_000, `${n} responses`);
    return parseResponses(this.text, heads).responses;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** `n` bytes that differ from position to position, so a byte out of place shows. */
const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + (i >> 8)) & 0xff));

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: app.test\r\n${extra}\r\n`;
const post = (path: string, body: string): string =>
  `POST ${path} HTTP/1.1\r\nHost: app.test\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('fast path', () => {
  /** Requests the backend got, in order: `METHOD /path`. */
  const seen: string[] = [];
  let backend: Backend;
  let app: Fairway;
  let port: number;

  beforeAll(async () => {
    backend = await startBackend('b1', (req, res) => {
      let size = 0;
      const sum = createHash('sha256');
      req.on('data', (c: Buffer) => {
        size += c.length;
        sum.update(c);
      });
      req.on('end', () => {
        const url = req.url ?? '/';
        seen.push(`${req.method} ${url}`);
        if (url === '/slow') {
          setTimeout(() => res.end('slow'), 300);
          return;
        }
        if (url === '/sum') {
          res.end(sum.digest('hex'));
          return;
        }
        if (url === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('part one, ');
          setTimeout(() => res.end('part two'), 20);
          return;
        }
        if (url.startsWith('/bytes/')) {
          const n = Number(url.slice('/bytes/'.length));
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
          res.end(pattern(n));
          return;
        }
        if (url === '/no-content') {
          res.writeHead(204).end();
          return;
        }
        if (url === '/not-modified') {
          res.writeHead(304, { etag: '"v1"' }).end();
          return;
        }
        const body = `${req.method} ${url} ${size}`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-method': req.method ?? '' });
        res.end(body);
      });
    });
    app = await startFairway(baseConfig({ routes: [{ match: { host: 'app.test' }, endpoints: [backend.address] }], server: { keepAliveTimeout: '300ms' } }));
    port = Number(new URL(app.proxyUrl).port);
  });

  afterAll(async () => {
    await app?.stop();
    await backend?.close();
  });

  it('serves pipelined GETs in order on one connection', async () => {
    const c = new RawClient(port);
    c.send(get('/one') + get('/two') + get('/three'));
    const rs = await c.responses(3);
    expect(rs.map((r) => r.body)).toEqual(['GET /one 0', 'GET /two 0', 'GET /three 0']);
    expect(rs.every((r) => r.status === 200 && r.headers['x-method'] === 'GET')).toBe(true);
    expect(c.closed).toBe(false);
    c.close();
  });

  it('delivers answers of every size whole and in order, copied into one write or gathered into a writev', async () => {
    // Around the 16 KiB copy limit and the 64 KiB hold limit (fast-path.ts), pipelined on one connection.
    const sizes = [1, 1024, 16 * 1024 - 200, 16 * 1024, 16 * 1024 + 1, 40_000, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 100_000, 300_000];
    const c = new RawClient(port);
    c.send(sizes.map((n) => get(`/bytes/${n}`)).join(''));
    const rs = await c.responses(sizes.length);
    expect(rs.map((r) => r.status)).toEqual(sizes.map(() => 200));
    rs.forEach((r, i) => expect(Buffer.from(r.body, 'latin1').equals(pattern(sizes[i]!)), `answer ${i} (${sizes[i]} bytes)`).toBe(true));
    expect(c.closed).toBe(false);
    c.close();
  });

  it('hands a connection to Node at a request with a body, and Node serves the rest of it', async () => {
    const c = new RawClient(port);
    c.send(get('/before'));
    await c.responses(1);
    c.send(post('/upload', 'hello body') + get('/after'));
    const rs = await c.responses(3);
    expect(rs.map((r) => r.body)).toEqual(['GET /before 0', 'POST /upload 10', 'GET /after 0']);
    c.close();
  });

  it('hands over a head that arrives in pieces, and serves it whole', async () => {
    const c = new RawClient(port);
    c.send('GET /split HTTP/1.1\r\nHo');
    await sleep(30);
    c.send('st: app.test\r\n\r\n');
    const [r] = await c.responses(1);
    expect(r).toMatchObject({ status: 200, body: 'GET /split 0' });
    c.close();
  });

  it('reads nothing more after answering Connection: close, even bytes already sent', async () => {
    seen.length = 0;
    const c = new RawClient(port);
    c.send(`GET /x HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n` + `DELETE /victim HTTP/1.1\r\nHost: app.test\r\n\r\n`);
    const rs = await c.responses(1);
    expect(rs[0]!.status).toBe(404);
    await until(() => c.closed, 2_000, 'close');
    await sleep(50);
    expect(seen).toEqual([]);
  });

  it('re-frames a response without Content-Length as chunked, and ends it', async () => {
    const c = new RawClient(port);
    c.send(get('/chunked') + get('/next'));
    const rs = await c.responses(2);
    expect(rs[0]).toMatchObject({ status: 200, body: 'part one, part two' });
    expect(rs[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(rs[1]!.body).toBe('GET /next 0');
    c.close();
  });

  it('sends no body for HEAD, 204 and 304, and the connection stays in step', async () => {
    const c = new RawClient(port);
    c.send(`HEAD /h HTTP/1.1\r\nHost: app.test\r\n\r\n` + get('/no-content') + get('/not-modified') + get('/last'));
    const rs = await c.responses(4, new Set([0]));
    expect(rs.map((r) => r.status)).toEqual([200, 204, 304, 200]);
    expect(rs[0]!.headers['content-length']).toBe(String('HEAD /h 0'.length));
    expect(rs[2]!.headers.etag).toBe('"v1"');
    expect(rs[3]!.body).toBe('GET /last 0');
    c.close();
  });

  it('answers Connection: close with connection: close and then closes', async () => {
    const c = new RawClient(port);
    c.send(get('/bye', 'Connection: close\r\n'));
    const [r] = await c.responses(1);
    expect(r!.headers.connection).toBe('close');
    await until(() => c.closed, 2_000, 'close');
  });

  it('still answers a client that half-closes after its request', async () => {
    const c = new RawClient(port);
    c.socket.end(get('/half'));
    const [r] = await c.responses(1);
    expect(r!.body).toBe('GET /half 0');
    await until(() => c.closed, 2_000, 'close');
  });

  it('closes an idle keep-alive connection after server.keepAliveTimeout', async () => {
    const c = new RawClient(port);
    c.send(get('/idle'));
    await c.responses(1);
    await until(() => c.closed, 3_000, 'idle close');
  });

  it('answers 404 itself for a host no route takes, and goes on with the next request', async () => {
    const c = new RawClient(port);
    c.send(`GET /x HTTP/1.1\r\nHost: other.test\r\n\r\n` + get('/y'));
    const rs = await c.responses(2);
    expect(rs[0]!.status).toBe(404);
    expect(rs[0]!.headers['x-fairway-error']).toBe('no_route');
    expect(rs[1]!.body).toBe('GET /y 0');
    c.close();
  });

  it('leaves duplicate Host headers to Node, which refuses them with 400 bad_request and never reaches the backend', async () => {
    // Which Host counts is ambiguous (RFC 9112 §3.2): routing by one while the backend reads the other would be a bypass.
    const before = backend.hits;
    const c = new RawClient(port);
    c.send('GET /dup HTTP/1.1\r\nHost: app.test\r\nHost: b.test\r\n\r\n');
    const [r] = await c.responses(1);
    expect(r!.status).toBe(400);
    expect(r!.headers['x-fairway-error']).toBe('bad_request');
    expect(backend.hits).toBe(before);
    c.close();
  });

  it('leaves a malformed request line to Node, which answers 400 with x-fairway-error', async () => {
    const c = new RawClient(port);
    c.send('GET /a b HTTP/1.1\r\nHost: app.test\r\n\r\n');
    const [r] = await c.responses(1);
    expect(r).toMatchObject({ status: 400 });
    expect(r!.headers['x-fairway-error']).toBe('bad_request');
    c.close();
  });

  it('sets X-Forwarded-*, X-Real-IP and X-Request-Id on fast-path requests as on Node ones, replacing an untrusted client\'s', async () => {
    const c = new RawClient(port);
    c.send(get('/fwd', 'X-Request-Id: abc-123\r\nX-Forwarded-For: 10.0.0.1\r\nX-Real-IP: 10.0.0.1\r\n'));
    await c.responses(1);
    expect(backend.last?.headers).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'app.test',
      'x-real-ip': '127.0.0.1',
    });
    expect(backend.last?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    c.close();
  });
});

describe('fast path hand-over of a long pipeline (the real CLI)', () => {
  // In its own process, as deployed: Node's parser then reads straight off the socket's
  // handle, which is what made the order of buffered and fresh bytes matter.
  it('keeps the order of bytes that piled up behind a slow answer (upload digest intact)', async () => {
    const backend = await startBackend('b1', (req, res) => {
      const sum = createHash('sha256');
      req.on('data', (c: Buffer) => sum.update(c));
      req.on('end', () => {
        if (req.url === '/slow') setTimeout(() => res.end('slow'), 300);
        else res.end(sum.digest('hex'));
      });
    });
    const [listen, admin] = [await freePort(), await freePort()];
    const file = writeConfig(baseConfig({ listen: `127.0.0.1:${listen}`, admin: { listen: `127.0.0.1:${admin}` }, routes: [{ endpoints: [backend.address] }] }));
    const { child } = await spawnFairway(file, `http://127.0.0.1:${admin}`);
    try {
      // Each 4-byte word holds its own offset, so any reordering changes the digest.
      const body = Buffer.alloc(1_000_000);
      for (let i = 0; i < body.length; i += 4) body.writeUInt32BE(i, i);
      const c = new RawClient(listen);
      c.send(get('/slow') + `POST /sum HTTP/1.1\r\nHost: app.test\r\nContent-Length: ${body.length}\r\n\r\n`);
      c.socket.write(body);
      c.send(get('/after'));
      const rs = await c.responses(3);
      expect(rs.map((r) => r.body)).toEqual(['slow', createHash('sha256').update(body).digest('hex'), createHash('sha256').digest('hex')]);
      c.close();
    } finally {
      await stopProcess(child);
      await backend.close();
    }
  });
});

describe('fast path off', () => {
  it('serves the same requests through Node alone (server.fastPath: false)', async () => {
    const backend = await startBackend('b1');
    const app = await startFairway(baseConfig({ routes: [{ endpoints: [backend.address] }], server: { fastPath: false } }));
    try {
      const c = new RawClient(Number(new URL(app.proxyUrl).port));
      c.send(get('/one') + get('/two'));
      const rs = await c.responses(2);
      expect(rs.map((r) => r.body)).toEqual(['b1', 'b1']);
      // Node's ServerResponse adds its own Connection/Keep-Alive headers; the fast path does not.
      expect(rs[0]!.headers['keep-alive']).toBeDefined();
      c.close();
    } finally {
      await app.stop();
      await backend.close();
    }
  });
});
