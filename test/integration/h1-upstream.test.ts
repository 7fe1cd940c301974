// The lean HTTP/1.1 upstream client (src/proxy/h1-upstream.ts) against real sockets on port 0:
// how it keeps, reuses, replaces and closes connections. How it reads answers is held to
// undici's reading in test/differential/upstream.test.ts.

import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { H1Origin, leanEligible, type H1OriginOptions } from '../../src/proxy/h1-upstream.js';

interface Got {
  status?: number;
  body: string;
  error?: string;
  /** When the error came: before or after the head. */
  errorAfterHead?: boolean;
}

/** Sends one GET through `origin` and records what its handler is told. */
function get(origin: H1Origin, path = '/', extra: Partial<Dispatcher.DispatchOptions> = {}, onHead?: (abort: (e?: Error) => void) => void): Promise<Got> {
  return new Promise((resolve) => {
    const got: Got = { body: '' };
    let abort: (e?: Error) => void = () => undefined;
    origin.dispatch({ method: 'GET', path, headers: ['host', 'test'], body: null, ...extra }, {
      onConnect: (a: (e?: Error) => void) => (abort = a),
      onHeaders: (status: number) => {
        if (status >= 200) got.status = status;
        if (status >= 200) onHead?.(abort);
        return true;
      },
      onData: (chunk: Buffer) => {
        got.body += chunk.toString('latin1');
        return true;
      },
      onComplete: () => resolve(got),
      onError: (err: Error) => {
        got.error = (err as { code?: string }).code ?? err.message;
        got.errorAfterHead = got.status !== undefined;
        resolve(got);
      },
    } as unknown as Dispatcher.DispatchHandler);
  });
}

/** A raw upstream: `answer(request index on its connection, socket)` plays each request. */
interface RawUpstream {
  origin: (opts?: Partial<H1OriginOptions>) => H1Origin;
  /** Connections accepted so far. */
  connections: Socket[];
  /** Per connection, every byte it received (latin1). */
  received: string[];
}

const servers: Server[] = [];
const origins: H1Origin[] = [];

afterEach(async () => {
  for (const o of origins.splice(0)) o.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function upstream(answer: (n: number, socket: Socket, path: string) => void): Promise<RawUpstream> {
  const connections: Socket[] = [];
  const received: string[] = [];
  const server = createServer((socket) => {
    const index = connections.push(socket) - 1;
    received[index] = '';
    let n = 0;
    let buf = '';
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      received[index] += d.toString('latin1');
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const path = buf.split(' ')[1] ?? '';
        buf = buf.slice(end + 4);
        answer(n++, socket, path);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    connections,
    received,
    origin: (opts = {}) => {
      const o = new H1Origin(`http://127.0.0.1:${port}`, { connectTimeoutMs: 2000, keepAliveTimeoutMs: 4000, maxConnections: 8, ...opts });
      origins.push(o);
      return o;
    },
  };
}

const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

describe('lean upstream client: connections', () => {
  it('takes requests without a body or with one in hand; not a streamed body, not CONNECT', () => {
    expect(leanEligible({ method: 'GET', path: '/', body: null })).toBe(true);
    expect(leanEligible({ method: 'POST', path: '/', body: null })).toBe(true);
    expect(leanEligible({ method: 'POST', path: '/', body: Buffer.from('x') })).toBe(true);
    expect(leanEligible({ method: 'POST', path: '/', body: Readable.from([Buffer.from('x')]) })).toBe(false);
    expect(leanEligible({ method: 'CONNECT', path: 'a:1', body: null })).toBe(false);
  });

  it('sends a body in hand with its head in one write, framed by its own length', async () => {
    const writes: Buffer[] = [];
    const server = createServer((socket) => {
      socket.on('data', (d: Buffer) => {
        writes.push(d);
        socket.write(ok('got it'));
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const o = new H1Origin(`http://127.0.0.1:${(server.address() as { port: number }).port}`, { connectTimeoutMs: 2000, keepAliveTimeoutMs: 4000, maxConnections: 1 });
    origins.push(o);
    // A Content-Length that disagrees with the body is replaced, not sent beside the right one.
    const got = await get(o, '/in', { method: 'PUT', headers: ['host', 'test', 'Content-Length', '99'], body: Buffer.from('hello') });
    expect(got).toEqual({ status: 200, body: 'got it' });
    expect(writes).toHaveLength(1);
    expect(writes[0]!.toString('latin1')).toBe('PUT /in HTTP/1.1\r\nhost: test\r\ncontent-length: 5\r\n\r\nhello');
  });

  it('keeps the socket when the upstream answers before the body, which went out whole', async () => {
    // The upstream answers on the request line; the body is framed, so the socket stays in step.
    const up = await upstream((n, s) => s.write(ok(`answer ${n}`)));
    const o = up.origin();
    for (let i = 0; i < 3; i++) expect(await get(o, '/', { method: 'POST', body: Buffer.alloc(8192, 0x61) })).toEqual({ status: 200, body: `answer ${i}` });
    expect(up.connections).toHaveLength(1);
  });

  it('sends a PUT and its body once more on a new socket when a reused one closes before answering; not a POST', async () => {
    const up = await upstream((n, s) => (n === 0 ? s.write(ok('first')) : s.destroy()));
    const o = up.origin();
    expect(await get(o)).toEqual({ status: 200, body: 'first' });
    expect(await get(o, '/', { method: 'PUT', body: Buffer.from('again') })).toEqual({ status: 200, body: 'first' });
    expect(up.connections).toHaveLength(2);
    expect(up.received[1]).toMatch(/^PUT \/ HTTP\/1\.1\r\n[^]*\r\ncontent-length: 5\r\n\r\nagain$/);
    expect(await get(o, '/', { method: 'POST', body: Buffer.from('once') })).toMatchObject({ error: 'UND_ERR_SOCKET', errorAfterHead: false });
    expect(up.connections).toHaveLength(2);
  });

  it('carries one request after another on one socket', async () => {
    const up = await upstream((n, s) => s.write(ok(`answer ${n}`)));
    const o = up.origin();
    for (let i = 0; i < 3; i++) expect(await get(o)).toEqual({ status: 200, body: `answer ${i}` });
    expect(up.connections).toHaveLength(1);
  });

  it('sends a request once more on a new socket when a reused one closes before answering', async () => {
    // The upstream's keep-alive timer ran out as the request crossed it: it closes instead.
    const up = await upstream((n, s) => (n === 0 ? s.write(ok('first')) : s.destroy()));
    const o = up.origin();
    expect(await get(o)).toEqual({ status: 200, body: 'first' });
    expect(await get(o)).toEqual({ status: 200, body: 'first' });
    expect(up.connections).toHaveLength(2);
  });

  it('does not send a POST again on a new socket, even without a body', async () => {
    const up = await upstream((n, s) => (n === 0 ? s.write(ok('first')) : s.destroy()));
    const o = up.origin();
    expect(await get(o)).toEqual({ status: 200, body: 'first' });
    expect(await get(o, '/', { method: 'POST' })).toMatchObject({ error: 'UND_ERR_SOCKET', errorAfterHead: false });
    expect(up.connections).toHaveLength(1);
  });

  it('does not send again what a new socket failed: that is the upstream failing', async () => {
    const up = await upstream((_n, s) => s.destroy());
    const got = await get(up.origin());
    expect(got.error).toBe('UND_ERR_SOCKET');
    expect(up.connections).toHaveLength(1);
  });

  it('queues requests past maxConnections and sends them in order on the sockets it has', async () => {
    const up = await upstream((n, s) => setTimeout(() => s.write(ok(`answer ${n}`)), 20));
    const o = up.origin({ maxConnections: 1 });
    const all = await Promise.all([get(o, '/a'), get(o, '/b'), get(o, '/c')]);
    expect(all.map((g) => g.body)).toEqual(['answer 0', 'answer 1', 'answer 2']);
    expect(up.connections).toHaveLength(1);
  });

  it('closes a socket that sent bytes after a complete answer, and the next request gets its own answer', async () => {
    const up = await upstream((n, s) => s.write(n === 0 && up.connections.length === 1 ? `${ok('real')}${ok('SMUGGLED')}` : ok('next')));
    const o = up.origin();
    expect(await get(o)).toEqual({ status: 200, body: 'real' });
    expect(await get(o)).toEqual({ status: 200, body: 'next' });
    expect(up.connections).toHaveLength(2);
  });

  it('closes an idle socket that receives anything', async () => {
    const up = await upstream((_n, s) => {
      s.write(ok('one'));
      setTimeout(() => s.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED'), 30);
    });
    const o = up.origin();
    expect(await get(o)).toEqual({ status: 200, body: 'one' });
    await sleep(150);
    expect(up.connections[0]!.destroyed || up.connections[0]!.readableEnded).toBe(true);
    expect(await get(o)).toEqual({ status: 200, body: 'one' });
    expect(up.connections).toHaveLength(2);
  });

  it('does not keep a socket whose upstream hints it will close it within the margin', async () => {
    const up = await upstream((_n, s) => s.write(ok('x', 'Keep-Alive: timeout=1\r\n')));
    const o = up.origin();
    await get(o);
    await get(o);
    expect(up.connections).toHaveLength(2);
  });

  it('closes sockets idle past the keep-alive timeout', async () => {
    const up = await upstream((_n, s) => s.write(ok('x')));
    const o = up.origin({ keepAliveTimeoutMs: 100 });
    await get(o);
    const closed = new Promise((r) => up.connections[0]!.once('close', r));
    await expect(Promise.race([closed.then(() => 'closed'), sleep(2000).then(() => 'open')])).resolves.toBe('closed');
  });

  it('ends an answer cut short as an error after its head, and does not reuse the socket', async () => {
    const up = await upstream((n, s) => (n === 0 && up.connections.length === 1 ? s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc') : s.write(ok('fine'))));
    const o = up.origin();
    expect(await get(o)).toMatchObject({ status: 200, error: 'UND_ERR_SOCKET', errorAfterHead: true });
    expect(await get(o)).toEqual({ status: 200, body: 'fine' });
  });

  it('hands on bytes that stay whole after later reads: body chunks the handler keeps, a head split across reads', async () => {
    // Plain sockets read into one shared buffer: whatever is kept past a read must be a copy.
    const answers = [
      ['HTTP/1.1 200 OK\r\nContent-Length: 45\r\n\r\nfirst', 'L'.repeat(40)],
      ['HTTP/1.1 200 OK\r\nContent-', 'Length: 4\r\n\r\nnext'],
    ];
    const up = await upstream(async (n, s) => {
      s.setNoDelay(true);
      for (const part of answers[n] ?? []) {
        s.write(part);
        await sleep(30);
      }
    });
    const o = up.origin();
    const keep = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const kept: Buffer[] = [];
        o.dispatch({ method: 'GET', path: '/', headers: ['host', 'test'], body: null }, {
          onConnect: () => undefined,
          onHeaders: () => true,
          onData: (chunk: Buffer) => (kept.push(chunk), true),
          onComplete: () => resolve(Buffer.concat(kept).toString('latin1')),
          onError: reject,
        } as unknown as Dispatcher.DispatchHandler);
      });
    expect(await keep()).toBe(`first${'L'.repeat(40)}`);
    expect(await keep()).toBe('next');
    expect(up.connections).toHaveLength(1);
  });

  it('reads a body to the close when the answer has no framing', async () => {
    const up = await upstream((_n, s) => s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end'));
    expect(await get(up.origin())).toEqual({ status: 200, body: 'until the end' });
  });

  it('times out a head and a body with undici codes', async () => {
    const up = await upstream((_n, s) => (s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'), undefined));
    const silent = await upstream(() => undefined);
    expect(await get(silent.origin(), '/', { headersTimeout: 100 })).toMatchObject({ error: 'UND_ERR_HEADERS_TIMEOUT', errorAfterHead: false });
    expect(await get(up.origin(), '/', { bodyTimeout: 100 })).toMatchObject({ status: 200, error: 'UND_ERR_BODY_TIMEOUT', errorAfterHead: true });
  });

  it('drops the socket of an answer aborted midway; the next request opens another', async () => {
    const up = await upstream((n, s) => (n === 0 && up.connections.length === 1 ? s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart') : s.write(ok('whole'))));
    const o = up.origin();
    const first = await get(o, '/', {}, (abort) => setTimeout(() => abort(Object.assign(new Error('gone'), { code: 'TEST_ABORT' })), 20));
    expect(first).toMatchObject({ error: 'TEST_ABORT' });
    expect(await get(o)).toEqual({ status: 200, body: 'whole' });
    expect(up.connections).toHaveLength(2);
  });

  it('refuses a header value that would split the request, sending nothing', async () => {
    const up = await upstream((_n, s) => s.write(ok('x')));
    const o = up.origin();
    const got = await get(o, '/', { headers: ['x-a', 'b\r\nX-Injected: 1'] });
    expect(got.error).toBe('UND_ERR_INVALID_ARG');
    expect(up.connections).toHaveLength(0);
  });

  it('refuses such a header on a reused socket too, and the socket goes on serving', async () => {
    const up = await upstream((n, s) => s.write(ok(`answer ${n}`)));
    const o = up.origin({ maxConnections: 1 });
    expect(await get(o)).toEqual({ status: 200, body: 'answer 0' });
    expect((await get(o, '/', { headers: ['x-a', 'b\nc'] })).error).toBe('UND_ERR_INVALID_ARG');
    expect(await get(o)).toEqual({ status: 200, body: 'answer 1' });
    expect(up.connections).toHaveLength(1);
  });

  it('answers the requests it took, queued ones too, when closed meanwhile (a reload)', async () => {
    const up = await upstream((n, s) => setTimeout(() => s.write(ok(`answer ${n}`)), 30));
    const o = up.origin({ maxConnections: 1 });
    const taken = [get(o, '/a'), get(o, '/b'), get(o, '/c')];
    const closed = o.close();
    expect((await get(o)).error).toBe('UND_ERR_CLOSED');
    expect((await Promise.all(taken)).map((g) => g.body)).toEqual(['answer 0', 'answer 1', 'answer 2']);
    await closed;
    // Its one socket closed behind the last answer: the upstream sees it go.
    const socket = up.connections[0]!;
    await expect(Promise.race([new Promise((r) => (socket.destroyed ? r('closed') : socket.once('close', () => r('closed')))), sleep(2000).then(() => 'open')])).resolves.toBe('closed');
    expect(up.connections).toHaveLength(1);
  });

  it('fails requests with the pool closed', async () => {
    const up = await upstream((_n, s) => s.write(ok('x')));
    const o = up.origin();
    await o.close();
    expect((await get(o)).error).toBe('UND_ERR_CLOSED');
  });
});
