// WebSocket upgrades and what the instance answers them (SPEC "Edge rules"): an instance that
// never answers is a 504 within the route timeout, and an answer other than 101 reaches the
// client as an answer Fairway wrote (reason checked, hop-by-hop headers dropped, framed for its
// body, the connection closed after it), never as the instance's raw head. Raw-socket clients
// and raw backends on both sides, so the bytes are seen exactly. Every case here failed while
// http-proxy wrote the instance's answer back itself.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { baseConfig, startFairway, until } from '../support/fairway.js';
import { reqHeader, startRawBackend, type RawBackend, type RawConnection, type RawHandler } from '../support/hostile-backend.js';
import { RawClient, requestText } from '../support/raw-client.js';

/** The route timeout of every route here. */
const ROUTE_TIMEOUT_MS = 1_000;
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const WS_ACCEPT = createHash('sha1').update(`${WS_KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
/** The header lines of a WebSocket upgrade offer, Host aside. */
const WS_UPGRADE = ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${WS_KEY}`];

/** What the backend answers an upgrade request for `/<name>`: raw bytes, or `null` for nothing at all. */
const ANSWERS: Record<string, string | null> = {
  silent: null,
  reason: 'HTTP/1.1 403 Forbid\x01den\x7f\r\nContent-Length: 2\r\n\r\nno',
  utf8reason: 'HTTP/1.1 403 \xC4\x8D\xC4\x8AX-Injected: 1\r\nContent-Length: 2\r\n\r\nno',
  chunked: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  hop: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, x-secret\r\nKeep-Alive: timeout=5\r\nX-Secret: s\r\nX-Kept: k\r\n\r\nok',
  'bad-header': 'HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nno',
  switch: `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\nSec-WebSocket-Accept: ${WS_ACCEPT}\r\n\r\n`,
};

describe('WebSocket upgrades: what the instance answers', () => {
  let backend: RawBackend;
  /** upstream.maxConnections 1: the timed-out upgrade's place must come back for the next to be tunnelled. */
  let tight: Fairway;
  let main: Fairway;
  const portOf = (app: Fairway): number => Number(new URL(app.proxyUrl).port);

  beforeAll(async () => {
    const handler: RawHandler = (req, conn) => {
      const name = req.target.slice(1).split('?')[0]!;
      const offers = (reqHeader(req, 'upgrade') ?? '').toLowerCase() === 'websocket';
      if (!offers || !(name in ANSWERS)) {
        const body = `answer to ${req.target}`;
        conn.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 'latin1');
        return;
      }
      const answer = ANSWERS[name];
      if (name === 'switch') conn.raw = true;
      if (answer === null || answer === undefined) return;
      conn.socket.write(answer, 'latin1');
    };
    backend = await startRawBackend(handler);
    // A WebSocket server closes its side when the client closes, so a tunnel the client ends closes whole.
    backend.events.on('end', (conn: RawConnection) => conn.socket.end());
    const route = { endpoints: [backend.address], retries: 0, timeout: `${ROUTE_TIMEOUT_MS}ms` };
    main = await startFairway(baseConfig({ outlier: { consecutiveFailures: 0 }, routes: [route] }));
    tight = await startFairway(baseConfig({ upstream: { maxConnections: 1 }, outlier: { consecutiveFailures: 0 }, routes: [route] }));
  });

  afterAll(async () => {
    await Promise.all([main, tight].map((a) => a?.stop()));
    await backend?.close();
  });

  /** Sends `bytes` on a fresh connection; resolves with everything received once the connection closes (or after `timeoutMs`). */
  async function untilClosed(port: number, bytes: string, timeoutMs = 5_000, fin = false): Promise<{ text: string; closed: boolean; ms: number }> {
    const c = await RawClient.connect(port);
    const start = performance.now();
    if (fin) c.sendAndEnd(bytes);
    else c.send(bytes);
    await c.waitClose(timeoutMs);
    const out = { text: c.text, closed: c.closed, ms: Math.round(performance.now() - start) };
    c.destroy();
    return out;
  }

  describe('an instance that never answers the upgrade', () => {
    it(`gets 504 upstream_timeout within the route timeout (${ROUTE_TIMEOUT_MS} ms), the upstream connection is closed, and its place under upstream.maxConnections comes back`, async () => {
      const before = backend.connections.length;
      const r = await untilClosed(portOf(tight), requestText('GET', '/silent?t=1', 'a', WS_UPGRADE), 5_000);
      console.log(`silent instance: ${r.closed ? `closed after ${r.ms} ms` : `still open after ${r.ms} ms`} with ${JSON.stringify(r.text)}`);
      const body = '504 upstream_timeout: the upstream did not answer in time\n';
      expect(r.text).toBe(
        `HTTP/1.1 504 Gateway Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\nx-fairway-error: upstream_timeout\r\nconnection: close\r\n\r\n${body}`,
      );
      expect(r.ms).toBeGreaterThanOrEqual(ROUTE_TIMEOUT_MS * 0.9);
      expect(r.ms).toBeLessThan(ROUTE_TIMEOUT_MS + 1_500);
      // Fairway closed its connection to the instance.
      const upstreamConn = backend.connections.slice(before).find((c) => c.requests.some((q) => q.target === '/silent?t=1'));
      expect(upstreamConn).toBeDefined();
      await until(() => !upstreamConn!.open, 2_000, 'the upstream connection of the timed-out upgrade to close');
      // The only place under maxConnections (1) is free again: the next upgrade is tunnelled.
      const c = await RawClient.connect(portOf(tight));
      c.send(requestText('GET', '/switch?t=2', 'a', WS_UPGRADE));
      const got = await c.waitFor((t) => t.includes('\r\n\r\n'), 5_000);
      c.destroy();
      expect(got, `an answer to the next upgrade, got ${JSON.stringify(c.text)}`).toBe(true);
      expect(c.text.slice(0, c.text.indexOf('\r\n'))).toBe('HTTP/1.1 101 Switching Protocols');
    }, 15_000);
  });

  describe('an instance that answers the upgrade with something other than 101', () => {
    const cases: Array<[string, string, string]> = [
      ['a reason phrase with control bytes (`403 Forbid\\x01den\\x7f`): the standard one instead', 'reason', 'HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno'],
      ['a UTF-8 reason phrase that would decode to CR LF: the standard one instead', 'utf8reason', 'HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno'],
      ['a chunked body: relayed as Node decoded it, framed by the close, no Transfer-Encoding left', 'chunked', 'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhello'],
      ['hop-by-hop headers (Connection, Keep-Alive, the X-Secret that Connection names): dropped', 'hop', 'HTTP/1.1 200 OK\r\nX-Kept: k\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok'],
      [
        'a control byte in a header value: 502 upstream_error',
        'bad-header',
        'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 50\r\nx-fairway-error: upstream_error\r\nconnection: close\r\n\r\n502 upstream_error: the upstream failed to answer\n',
      ],
    ];
    for (const [what, name, expected] of cases) {
      it(`answers ${what}, and closes the connection`, async () => {
        const r = await untilClosed(portOf(main), requestText('GET', `/${name}`, 'a', WS_UPGRADE));
        expect(r.text).toBe(expected);
        expect(r.closed).toBe(true);
      });
    }

    it('answers every request before the refused upgrade and the refusal itself, in order, when the client half-closes after one more request; the one after it is never relayed', async () => {
      const before = backend.requests.length;
      const text = `GET /first HTTP/1.1\r\nHost: a\r\n\r\n${requestText('GET', '/refused-ws', 'a', WS_UPGRADE)}GET /after HTTP/1.1\r\nHost: a\r\n\r\n`;
      const r = await untilClosed(portOf(main), text, 5_000, true);
      expect(r.closed).toBe(true);
      // The refusal (a plain 200 from the instance) closes the connection: /after is not read as a request.
      expect(r.text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nanswer to \/firstHTTP\/1\.1 200 OK\r\ncontent-length: 21\r\nconnection: close\r\n\r\nanswer to \/refused-ws$/);
      expect(backend.requests.slice(before).map((q) => q.target)).toEqual(['/first', '/refused-ws']);
    });
  });

  it('opens a tunnel on 101 with the instance head checked like any answer: hop-by-hop headers gone, Connection and Upgrade set, bytes relayed both ways', async () => {
    const before = backend.connections.length;
    const c = await RawClient.connect(portOf(main));
    c.send(requestText('GET', '/switch?t=3', 'a', WS_UPGRADE) + 'ping');
    expect(await c.waitFor((t) => t.includes('\r\n\r\n'), 5_000)).toBe(true);
    expect(c.text).toBe(`HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: ${WS_ACCEPT}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    const conn = backend.connections.slice(before).find((k) => k.requests.some((q) => q.target === '/switch?t=3'))!;
    await until(() => conn.received.toString('latin1').endsWith('\r\n\r\nping'), 2_000, 'the bytes after the head to reach the instance');
    conn.socket.write('pong');
    expect(await c.waitFor((t) => t.endsWith('pong'), 2_000)).toBe(true);
    c.socket.end();
    await until(() => !conn.open, 2_000, 'the tunnel the client ended to close upstream too');
    c.destroy();
  });
});
