// Request bodies that outlast their exchange, and ones that do not come at all.
//
// A client too slow to send its body is the client's fault (SPEC: 408), not the instance's: the
// route timeout that finds Fairway waiting on the client's body answers 408 request_timeout and
// closes, and counts nothing against the instance, so stalled uploads cannot get a healthy
// instance ejected. A body fully sent to an instance that does not answer stays 504.
//
// An upstream may answer before it has read the body (the usual early 401/403/413), keep-alive.
// The answer is relayed as it came, and the rest of the client's body is then read and dropped,
// so the client's next request on that connection, and requests pipelined behind it, are all
// answered in order (SPEC "Edge rules"). A body that never ends is bounded by
// server.requestTimeout.

import { once } from 'node:events';
import { createServer as createH2Server, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { baseConfig, startFairwayLogged } from '../support/fairway.js';
import { h2connect } from '../support/h2-client.js';
import { plainAnswer, startRawBackend, type RawBackend } from '../support/hostile-backend.js';
import { headerOf, parseResponses, RawClient, requestText, type ParsedResponse } from '../support/raw-client.js';

/** server.requestTimeout here: a body still coming this long after its head is cut. */
const REQUEST_TIMEOUT_MS = 3_000;

interface EndpointView {
  failures: number;
  ejected: boolean;
}

/**
 * An upstream that answers every request as soon as it has its request line, before any body
 * byte: `200 answer to <target>`, keep-alive. With `reads: false` it also stops reading its
 * socket after the first request line (an upstream that never takes the body).
 */
async function startEarlyAnswerer(reads = true): Promise<{ server: Server; address: string }> {
  const server = createServer((s: Socket) => {
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let m; (m = /(GET|POST) (\S+) HTTP\/1\.1\r\n/.exec(buf)); ) {
        buf = buf.slice(m.index + m[0].length);
        s.write(plainAnswer(`answer to ${m[2]}`), 'latin1');
        if (!reads) {
          s.pause();
          return;
        }
      }
      // Body bytes are never kept: only request lines matter here.
      if (buf.length > 64) buf = buf.slice(-64);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

/** An h2c upstream that answers each request at once, reading none of its body. */
async function startH2EarlyAnswerer(): Promise<{ server: Http2Server; address: string }> {
  const server = createH2Server((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`answer to ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

function summary(r: ParsedResponse): string {
  return `${r.status} ${headerOf(r, 'x-fairway-error') ?? r.body}`;
}

describe('request bodies that outlast their exchange, or never come', () => {
  let app: Fairway;
  let lines: Array<Record<string, unknown>>;
  let port: number;
  let h2cUrl: string;
  /** Answers once it has the whole body (the normal instance behind the slow clients). */
  let whole: RawBackend;
  /** The same, for the HTTP/2 clients (an instance of its own, whose failures are its own). */
  let whole2: RawBackend;
  /** Reads the whole body, never answers. */
  let silent: RawBackend;
  let early: { server: Server; address: string };
  let deaf: { server: Server; address: string };
  let h2early: { server: Http2Server; address: string };

  const endpoint = async (route: string): Promise<EndpointView> => {
    const routes = (await (await fetch(`${app.adminUrl}/api/routes`)).json()) as Array<{ name: string; endpoints: EndpointView[] }>;
    return routes.find((r) => r.name === route)!.endpoints[0]!;
  };

  beforeAll(async () => {
    whole = await startRawBackend((req, conn) => conn.socket.write(plainAnswer(`${req.method} ${req.target} ${req.body.length}`), 'latin1'));
    whole2 = await startRawBackend((req, conn) => conn.socket.write(plainAnswer(`${req.method} ${req.target} ${req.body.length}`), 'latin1'));
    silent = await startRawBackend(() => undefined);
    early = await startEarlyAnswerer();
    deaf = await startEarlyAnswerer(false);
    h2early = await startH2EarlyAnswerer();
    ({ app, lines } = await startFairwayLogged(
      baseConfig({
        listen: undefined,
        listeners: [{ address: '127.0.0.1:0' }, { address: '127.0.0.1:0', http2: true }],
        server: { headersTimeout: '2s', requestTimeout: `${REQUEST_TIMEOUT_MS}ms` },
        routes: [
          { name: 'whole', match: { pathPrefix: '/whole/' }, endpoints: [whole.address], timeout: '1s', retries: 0 },
          { name: 'whole2', match: { pathPrefix: '/whole2/' }, endpoints: [whole2.address], timeout: '1s', retries: 0 },
          { name: 'silent', match: { pathPrefix: '/silent/' }, endpoints: [silent.address], timeout: '1s', retries: 0 },
          { name: 'early', match: { pathPrefix: '/early/' }, endpoints: [early.address] },
          { name: 'capped', match: { pathPrefix: '/capped/' }, endpoints: [early.address], maxBodySize: '100MB' },
          { name: 'deaf', match: { pathPrefix: '/deaf/' }, endpoints: [deaf.address] },
          { name: 'h2early', match: { pathPrefix: '/h2early/' }, endpoints: [h2early.address], protocol: 'h2c' },
        ],
      }),
    ));
    [port, h2cUrl] = [Number(new URL(app.proxyUrls[0]!).port), app.proxyUrls[1]!];
  });

  afterAll(async () => {
    await app?.stop();
    await Promise.all([whole?.close(), whole2?.close(), silent?.close()]);
    for (const s of [early?.server, deaf?.server, h2early?.server]) s?.close();
  });

  describe('a client too slow to send its body', () => {
    it('gets 408 request_timeout and a closed connection, and five of them do not eject a healthy instance', async () => {
      const clients = await Promise.all(Array.from({ length: 5 }, () => RawClient.connect(port)));
      // Larger than Fairway reads whole before sending: the body streams to the instance.
      for (const c of clients) c.send('POST /whole/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nabc');
      const reads = await Promise.all(clients.map((c) => c.read(1, 5_000)));
      for (const r of reads) {
        expect(r.responses.map(summary)).toEqual(['408 request_timeout']);
        expect(headerOf(r.responses[0]!, 'connection')).toBe('close');
        expect(r.elapsedMs).toBeGreaterThanOrEqual(950);
      }
      for (const c of clients) expect(await c.waitClose(2_000)).toBeDefined();
      expect(await endpoint('whole')).toMatchObject({ failures: 0, ejected: false });
      // Everyone else is still served by the instance.
      const next = await RawClient.connect(port);
      next.send(requestText('GET', '/whole/page', 'a'));
      expect((await next.read(1)).responses.map(summary)).toEqual(['200 GET /whole/page 0']);
      next.destroy();
      expect(lines.filter((l) => l.msg === 'client too slow to send its request body; upstream request aborted')).toHaveLength(5);
    });

    it('a small body, read whole before sending: 408, closed, logged, nothing sent to the instance or held against it', async () => {
      const before = lines.length;
      const c = await RawClient.connect(port);
      c.send('POST /whole/small HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc');
      const r = await c.read(1, 5_000);
      expect(r.responses.map(summary)).toEqual(['408 request_timeout']);
      expect(headerOf(r.responses[0]!, 'connection')).toBe('close');
      expect(await c.waitClose(2_000)).toBeDefined();
      expect(await endpoint('whole')).toMatchObject({ failures: 0, ejected: false });
      expect(lines.slice(before).filter((l) => l.msg === 'client too slow to send its request body' && l.route === 'whole')).toHaveLength(1);
    });

    it('an instance that has the whole body and does not answer is still the 504, counted against it', async () => {
      const c = await RawClient.connect(port);
      c.send(requestText('POST', '/silent/upload', 'a', [], 'abcdefghij'));
      const r = await c.read(1, 5_000);
      expect(r.responses.map(summary)).toEqual(['504 upstream_timeout']);
      expect(await endpoint('silent')).toMatchObject({ failures: 1 });
      c.destroy();
    });

    it('HTTP/2: streams whose body stalls get 408 and eject nothing, one whose body is whole gets 504', async () => {
      const session = await h2connect(h2cUrl);
      const ask = (path: string, body: string, end: boolean): Promise<IncomingHttpHeaders> => {
        const stream = session.request({ ':method': 'POST', ':path': path, ':authority': 'a', 'content-length': '10' });
        stream.on('error', () => undefined);
        stream.resume();
        if (end) stream.end(body);
        else stream.write(body);
        return once(stream, 'response').then(([h]) => h as IncomingHttpHeaders);
      };
      const stalled = await Promise.all(Array.from({ length: 5 }, () => ask('/whole2/h2', 'abc', false)));
      for (const h of stalled) expect([h[':status'], h['x-fairway-error']]).toEqual([408, 'request_timeout']);
      expect(await endpoint('whole2')).toMatchObject({ failures: 0, ejected: false });
      const hung = await ask('/silent/h2', 'abcdefghij', true);
      expect([hung[':status'], hung['x-fairway-error']]).toEqual([504, 'upstream_timeout']);
      session.destroy();
    });
  });

  describe('an upstream that answers before it has read the body', () => {
    const body = (n: number): Buffer => Buffer.alloc(n, 0x62);

    it('small bodies, sent whole with their head, keep the instance connection: five early answers, at most one new connection', async () => {
      // Each body comes in two pieces, 50 ms apart. Streamed, the instance answered after the
      // first, and undici drops a socket whose answer came before it wrote the whole body, so
      // each of these opened a connection to the instance. Read whole, the body goes out with
      // its head, framed, and the connection serves the next request.
      let accepted = 0;
      const count = (): void => void accepted++;
      early.server.on('connection', count);
      const c = await RawClient.connect(port);
      for (let i = 0; i < 5; i++) {
        c.send(`POST /early/small-${i} HTTP/1.1\r\nHost: a\r\nContent-Length: 8000\r\n\r\n${'x'.repeat(4_000)}`);
        await sleep(50);
        c.send('y'.repeat(4_000));
        await c.read(i + 1, 2_000);
      }
      const r = await c.read(5, 2_000);
      early.server.off('connection', count);
      expect(r.responses.map(summary)).toEqual([0, 1, 2, 3, 4].map((i) => `200 answer to /early/small-${i}`));
      expect(accepted).toBeLessThanOrEqual(1);
      c.destroy();
    });

    it('the next request on the same keep-alive connection is answered', async () => {
      const c = await RawClient.connect(port);
      c.send('POST /early/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n');
      for (let k = 0; k < 20; k++) {
        c.send(body(10_000));
        await sleep(10);
      }
      const first = await c.read(1, 2_000);
      expect(first.responses.map(summary)).toEqual(['200 answer to /early/upload']);
      expect(headerOf(first.responses[0]!, 'connection')).toBe('keep-alive');
      c.send(requestText('GET', '/early/next', 'a'));
      const r = await c.read(2, 3_000);
      expect(r.responses.map(summary)).toEqual(['200 answer to /early/upload', '200 answer to /early/next']);
      expect(r.closed).toBe(false);
      c.destroy();
    });

    /**
     * Sends the head and the first `before` body bytes of a `size`-byte POST to `path`, waits for
     * the early answer, then sends the rest of the body with `after` right behind it.
     */
    async function earlyExchange(path: string, size: number, before: number, after: string, chunked = false): Promise<RawClient> {
      const c = await RawClient.connect(port);
      const frame = (n: number): Buffer => (chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`, 'latin1'), body(n), Buffer.from('\r\n', 'latin1')]) : body(n));
      c.send(`POST ${path} HTTP/1.1\r\nHost: a\r\n${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`}\r\n\r\n`);
      c.send(frame(before));
      const first = await c.read(1, 3_000);
      expect(first.responses.map(summary), path).toEqual([`200 answer to ${path}`]);
      expect(headerOf(first.responses[0]!, 'connection')).toBe('keep-alive');
      c.send(Buffer.concat([frame(size - before), Buffer.from(chunked ? '0\r\n\r\n' : '', 'latin1'), Buffer.from(after, 'latin1')]));
      return c;
    }

    it('requests pipelined behind it are all answered, in order', async () => {
      const c = await earlyExchange('/early/upload', 300_000, 100_000, requestText('GET', '/early/a', 'a') + requestText('POST', '/early/b', 'a', [], 'xyz') + requestText('GET', '/early/c', 'a'));
      const r = await c.read(4, 3_000);
      expect(r.responses.map(summary)).toEqual(['200 answer to /early/upload', '200 answer to /early/a', '200 answer to /early/b', '200 answer to /early/c']);
      expect(r.closed).toBe(false);
      c.destroy();
    });

    it('also when the upstream never reads the body', async () => {
      // More than the socket buffers between Fairway and an upstream that reads nothing hold.
      const c = await earlyExchange('/deaf/upload', 16 * 1024 * 1024, 1024 * 1024, requestText('GET', '/deaf/next', 'a'));
      expect((await c.read(2, 5_000)).responses.map(summary)).toEqual(['200 answer to /deaf/upload', '200 answer to /deaf/next']);
      c.destroy();
    });

    it('also when the body is chunked and passes through the maxBodySize counter', async () => {
      const c = await earlyExchange('/capped/upload', 300_000, 100_000, requestText('GET', '/capped/next', 'a'), true);
      expect((await c.read(2, 3_000)).responses.map(summary)).toEqual(['200 answer to /capped/upload', '200 answer to /capped/next']);
      c.destroy();
    });

    it('also when the body is piped into an HTTP/2 stream to the instance (protocol: h2c)', async () => {
      const c = await earlyExchange('/h2early/upload', 2_000_000, 100_000, requestText('GET', '/h2early/next', 'a'));
      expect((await c.read(2, 3_000)).responses.map(summary)).toEqual(['200 answer to /h2early/upload', '200 answer to /h2early/next']);
      c.destroy();
    });

    it('HTTP/2: the stream takes the rest of the body and closes, and the session serves on', async () => {
      const session = await h2connect(h2cUrl);
      const stream = session.request({ ':method': 'POST', ':path': '/early/upload', ':authority': 'a', 'content-length': '2000000' });
      stream.on('error', () => undefined);
      let text = '';
      stream.setEncoding('latin1');
      stream.on('data', (d: string) => (text += d));
      const closed = once(stream, 'close');
      let sent = 0;
      const pump = (): void => {
        while (sent < 2_000_000) {
          sent += 10_000;
          if (!stream.write(body(10_000))) return void stream.once('drain', pump);
        }
        stream.end();
      };
      pump();
      const [status] = (await once(stream, 'response')) as [IncomingHttpHeaders];
      expect(status[':status']).toBe(200);
      // Flow control: a stream whose rest is not read stays open with the client's body stuck.
      expect(await Promise.race([closed.then(() => 'closed'), sleep(3_000).then(() => `open, ${sent} bytes of 2000000 sent`)])).toBe('closed');
      expect([text, stream.rstCode]).toEqual(['answer to /early/upload', 0]);
      const next = session.request({ ':path': '/early/next', ':authority': 'a' });
      next.setEncoding('latin1');
      let nextText = '';
      next.on('data', (d: string) => (nextText += d));
      await once(next, 'end');
      expect(nextText).toBe('answer to /early/next');
      session.destroy();
    });

    it('a body that never ends holds the connection no longer than server.requestTimeout', async () => {
      const c = await RawClient.connect(port);
      c.send('POST /early/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\n');
      const trickle = setInterval(() => c.socket.writable && c.send(body(1_000)), 50);
      try {
        const first = await c.read(1, 2_000);
        expect(first.responses.map(summary)).toEqual(['200 answer to /early/upload']);
        const closedAfter = await c.waitClose(REQUEST_TIMEOUT_MS + 3_000);
        expect(closedAfter).toBeDefined();
        expect(performance.now() - c.sentAt!).toBeLessThan(REQUEST_TIMEOUT_MS + 2_000);
        // One request, one answer: the timeout on its unfinished body closes, and answers nothing more.
        expect(parseResponses(c.text, { closed: true }).responses.map(summary)).toEqual(['200 answer to /early/upload']);
      } finally {
        clearInterval(trickle);
        c.destroy();
      }
    });
  });
});
