// Edge regressions (SPEC "Edge rules"), each from a raw-socket client against Fairway and
// recording raw backends, so the bytes on both sides are seen exactly. Every case here failed
// on the code before the edge rules were enforced (0c9c5dc).

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { baseConfig, startFairway, until } from '../support/fairway.js';
import { echoTarget, reqHeader, reqHeaders, startRawBackend, type RawBackend, type RawConnection, type RawHandler, type RawRequest } from '../support/hostile-backend.js';
import { freePort } from '../support/ports.js';
import { headerOf, parseHead, RawClient, requestText, type ParsedResponse, type ReadResult } from '../support/raw-client.js';

/** server.upgradeIdleTimeout in the main instance. */
const UPGRADE_IDLE_MS = 1_000;
/** upstream.maxConnections in the main and upgrades instances. */
const MAX_UPSTREAM_CONNECTIONS = 4;
/** The ws backend holds its 101 this long, so bytes relayed early would arrive before it. */
const LATE_101_MS = 300;
/**
 * How long a backend must stay quiet for "this request never arrived" to hold. Nothing can be
 * awaited for an absence; the bytes in question, when relayed, arrive within a millisecond or two.
 */
const QUIET_MS = 300;
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const WS_HEADERS = ['Sec-WebSocket-Version: 13', `Sec-WebSocket-Key: ${WS_KEY}`];
/** The header lines of a WebSocket upgrade offer, Host aside. */
const WS_UPGRADE = ['Connection: Upgrade', 'Upgrade: websocket', ...WS_HEADERS];

const wsAccept = (key: string): string => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

interface Row {
  item: string;
  path: string;
  outcome: string;
}

/** The first answer in a few words: `200`, `431 headers_too_large`, `closed, no answer`. */
function summary(r: ReadResult, i = 0): string {
  if (r.error !== undefined) return `malformed: ${r.error.slice(0, 80)}`;
  const res = r.responses[i];
  if (res === undefined) return r.closed ? 'closed, no answer' : r.timedOut ? 'no answer (timed out)' : 'no answer';
  const code = headerOf(res, 'x-fairway-error');
  return code === undefined ? `${res.status}` : `${res.status} ${code}`;
}

describe('edge regressions', () => {
  const rows: Row[] = [];
  const row = (item: string, path: string, outcome: string): void => void rows.push({ item, path, outcome });
  let rest: RawBackend;
  let norm: RawBackend;
  let admin: RawBackend;
  let abs: RawBackend;
  let upg: RawBackend;
  let ws: RawBackend;
  /** A ws backend of its own for the upgrades instance's busy route, so no other test's tunnel counts against it. */
  let wsBusy: RawBackend;
  /** The only instance of the upgrades instance's `drained` route, drained by hand: it must see nothing. */
  let spare: RawBackend;
  /** ws backend: what each connection had received when the 101 went out. */
  const before101 = new Map<RawConnection, string>();
  let main: Fairway;
  let many: Fairway;
  let noFast: Fairway;
  let trusted: Fairway;
  /**
   * WebSocket refusals: upstream.maxConnections as in main, but the default upgradeIdleTimeout
   * (10 m), so no tunnel a test holds open closes under it by idling; and no catch-all route,
   * so a request can match none.
   */
  let upgrades: Fairway;
  let seq = 0;
  /** A unique query marker, to find one request among everything a backend saw. */
  const mark = (): string => `t=${++seq}`;
  const portOf = (app: Fairway): number => Number(new URL(app.proxyUrl).port);
  const allBackends = (): RawBackend[] => [rest, norm, admin, abs, upg, ws, wsBusy, spare];
  const seenWith = (marker: string): RawRequest[] => allBackends().flatMap((b) => b.requests.filter((r) => r.target.includes(marker)));

  /** One connection, some bytes, the first `n` answers (or a close). */
  async function exchange(port: number, bytes: string, n = 1, timeoutMs = 5_000): Promise<ReadResult> {
    const c = await RawClient.connect(port);
    c.send(bytes);
    const r = await c.read(n, timeoutMs);
    c.destroy();
    return r;
  }

  beforeAll(async () => {
    rest = await startRawBackend((req, conn, backend) => {
      if (req.target.startsWith('/status/204-cl5')) conn.socket.write('HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n', 'latin1');
      else echoTarget(req, conn, backend);
    });
    [norm, admin, abs, upg] = await Promise.all([startRawBackend(), startRawBackend(), startRawBackend(), startRawBackend()]);
    const wsHandler: RawHandler = (req, conn, backend) => {
      const key = reqHeader(req, 'sec-websocket-key');
      const offersWebSocket = (reqHeader(req, 'upgrade') ?? '').split(',').some((t) => t.trim().toLowerCase() === 'websocket');
      if (key === undefined || !offersWebSocket) return echoTarget(req, conn, backend);
      const answer = (): void => {
        before101.set(conn, conn.received.toString('latin1'));
        conn.socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAccept(key)}\r\n\r\n`, 'latin1');
      };
      // From here the connection is a tunnel: bytes are recorded, no longer framed.
      conn.raw = true;
      if (req.target.startsWith('/ws/late')) setTimeout(answer, LATE_101_MS);
      else answer();
    };
    [ws, wsBusy, spare] = await Promise.all([startRawBackend(wsHandler), startRawBackend(wsHandler), startRawBackend()]);
    // A WebSocket server closes its side when the client closes, so a tunnel the client ends closes whole.
    wsBusy.events.on('end', (conn: RawConnection) => conn.socket.end());
    const routes = [
      { name: 'ws', match: { pathPrefix: '/ws/' }, endpoints: [ws.address] },
      { name: 'u150', match: { pathPrefix: '/u150/' }, endpoints: [upg.address] },
      { name: 'abs', match: { host: 'example.com' }, endpoints: [abs.address] },
      { name: 'admin', match: { pathPrefix: '/admin' }, stripPrefix: true, endpoints: [admin.address] },
      { name: 'norm', match: { pathPrefix: '/a/c' }, endpoints: [norm.address] },
      { name: 'rest', endpoints: [rest.address] },
    ];
    const config = (server: Record<string, unknown>, upstream: Record<string, unknown> = {}): Record<string, unknown> =>
      baseConfig({ server, upstream, outlier: { consecutiveFailures: 0 }, routes });
    main = await startFairway(config({ upgradeIdleTimeout: `${UPGRADE_IDLE_MS}ms` }, { maxConnections: MAX_UPSTREAM_CONNECTIONS }));
    many = await startFairway(config({ maxHeaders: 5000 }));
    noFast = await startFairway(config({ fastPath: false }));
    trusted = await startFairway(config({ trustedProxies: ['127.0.0.1/32', '::1'] }));
    upgrades = await startFairway(
      baseConfig({
        upstream: { maxConnections: MAX_UPSTREAM_CONNECTIONS },
        outlier: { consecutiveFailures: 0 },
        routes: [
          { name: 'busy', match: { pathPrefix: '/busy/' }, endpoints: [wsBusy.address] },
          { name: 'drained', match: { pathPrefix: '/drained/' }, endpoints: [spare.address] },
          { name: 'down', match: { pathPrefix: '/down/' }, endpoints: [`127.0.0.1:${await freePort()}`] },
          { name: 'ws', match: { pathPrefix: '/ws/' }, endpoints: [ws.address] },
        ],
      }),
    );
    const drain = await fetch(`${upgrades.adminUrl}/api/endpoints/${encodeURIComponent(spare.address)}/drain`, { method: 'POST' });
    expect(drain.status).toBe(200);
  });

  afterAll(async () => {
    const w = [Math.max(...rows.map((r) => r.item.length)), Math.max(4, ...rows.map((r) => r.path.length))];
    console.log(
      [
        'edge regressions:',
        `${'case'.padEnd(w[0]!)} | ${'path'.padEnd(w[1]!)} | outcome`,
        `${'-'.repeat(w[0]!)} | ${'-'.repeat(w[1]!)} | -------`,
        ...rows.map((r) => `${r.item.padEnd(w[0]!)} | ${r.path.padEnd(w[1]!)} | ${r.outcome}`),
      ].join('\n'),
    );
    await Promise.all([main, many, noFast, trusted, upgrades].map((a) => a?.stop()));
    await Promise.all(allBackends().map((b) => b?.close()));
  });

  describe('1. an Upgrade other than websocket cannot smuggle a request', () => {
    const smuggled = 'GET /SMUGGLED HTTP/1.1\r\nHost: internal.example\r\n\r\n';

    /** Every /SMUGGLED the backend saw must be a request Fairway proxied itself (its XFF on it). */
    function smuggledProblems(since: number): string[] {
      return rest.requests
        .slice(since)
        .filter((r) => r.target.startsWith('/SMUGGLED'))
        .filter((r) => reqHeader(r, 'x-forwarded-for') !== '127.0.0.1' || reqHeader(r, 'x-forwarded-host') !== 'internal.example')
        .map((r) => `backend got ${r.method} ${r.target} without Fairway's X-Forwarded-* (XFF ${JSON.stringify(reqHeader(r, 'x-forwarded-for'))})`);
    }

    it('forwards `Upgrade: h2c` as a plain request without Upgrade, and the bytes after its head only as a request of their own', async () => {
      const since = rest.requests.length;
      const m = mark();
      const c = await RawClient.connect(portOf(main));
      c.send(`GET /u?${m} HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n${smuggled}`);
      const r = await c.read(2, 3_000);
      await rest.waitForRequest((x) => rest.requests.indexOf(x) >= since && x.target.startsWith('/SMUGGLED'), QUIET_MS);
      c.destroy();
      const first = rest.requests.slice(since).find((x) => x.target === `/u?${m}`);
      const smuggledSeen = rest.requests.slice(since).filter((x) => x.target.startsWith('/SMUGGLED'));
      row('1 h2c upgrade + pipelined request', 'node', `${summary(r)}; upstream saw /u with upgrade=${reqHeader(first ?? { rawHeaders: [] }, 'upgrade') ?? '-'}, /SMUGGLED ${smuggledSeen.length}x (${smuggledSeen.map((x) => (reqHeader(x, 'x-forwarded-for') ? 'proxied' : 'raw')).join(',') || '-'})`);
      expect(r.error).toBeUndefined();
      expect(r.responses[0]?.status).toBe(200);
      expect(first, 'the upgrade request reached the backend').toBeDefined();
      expect(reqHeader(first!, 'upgrade'), 'Upgrade header forwarded').toBeUndefined();
      expect(reqHeaders(first!, 'connection').join(',').toLowerCase()).not.toContain('upgrade');
      expect(smuggledProblems(since)).toEqual([]);
    });

    it('frames a body whose Content-Length comes after 1,000 junk header lines, and the request behind it only as its own (server.maxHeaders: 5000)', async () => {
      const since = rest.requests.length;
      const m = mark();
      const junk = Array.from({ length: 1_000 }, (_, i) => `x${i % 10}:1`);
      const c = await RawClient.connect(portOf(many));
      c.send(requestText('GET', `/u?${m}`, 'a', ['Connection: Upgrade', 'Upgrade: h2c', ...junk, 'Content-Length: 5'], 'hello') + smuggled);
      const r = await c.read(2, 3_000);
      await rest.waitForRequest((x) => rest.requests.indexOf(x) >= since && x.target.startsWith('/SMUGGLED'), QUIET_MS);
      c.destroy();
      const first = rest.requests.slice(since).find((x) => x.target === `/u?${m}`);
      const smuggledSeen = rest.requests.slice(since).filter((x) => x.target.startsWith('/SMUGGLED'));
      row(
        '1 h2c upgrade, CL after 1,000 junk headers',
        'node',
        `${summary(r)}; upstream saw /u ${first ? `with body ${JSON.stringify(first.body.toString('latin1'))}, upgrade=${reqHeader(first, 'upgrade') ?? '-'}` : 'never'}; /SMUGGLED ${smuggledSeen.length}x (${smuggledSeen.map((x) => (reqHeader(x, 'x-forwarded-for') ? 'proxied' : 'raw')).join(',') || '-'})`,
      );
      expect(r.error).toBeUndefined();
      expect(smuggledProblems(since)).toEqual([]);
      // A request body is never dropped: either the request arrives whole, or the client is refused.
      if (first !== undefined) {
        expect(first.body.toString('latin1')).toBe('hello');
        expect(reqHeader(first, 'upgrade')).toBeUndefined();
      } else expect(r.responses[0]?.status).toBeGreaterThanOrEqual(400);
    });

    it(`holds at most upstream.maxConnections (${MAX_UPSTREAM_CONNECTIONS}) upstream connections for 150 concurrent h2c upgrade attempts`, async () => {
      const clients = await Promise.all(Array.from({ length: 150 }, () => RawClient.connect(portOf(main))));
      clients.forEach((c, i) => c.send(`GET /u150/${i} HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`));
      const started = performance.now();
      const results = await Promise.all(clients.map((c) => c.read(1, 10_000)));
      const ms = Math.round(performance.now() - started);
      const statuses = new Map<string, number>();
      for (const r of results) statuses.set(summary(r), (statuses.get(summary(r)) ?? 0) + 1);
      const peak = upg.peakOpen;
      const openNow = upg.open;
      for (const c of clients) c.destroy();
      const answers = [...statuses].map(([s, n]) => `${n}x ${s}`).join(', ');
      console.log(`150 h2c upgrade attempts: answered in ${ms} ms (${answers}); backend connections peak ${peak}, open at the end ${openNow}`);
      row('1 150 h2c upgrade attempts', 'node', `peak ${peak} upstream connections (limit ${MAX_UPSTREAM_CONNECTIONS}); ${answers}`);
      expect(results.filter((r) => r.error !== undefined).map((r) => r.error)).toEqual([]);
      expect(peak).toBeLessThanOrEqual(MAX_UPSTREAM_CONNECTIONS);
    }, 20_000);
  });

  describe('2. WebSocket upgrades', () => {
    /** Sends a WebSocket upgrade (and `after` right behind its head) on a fresh connection to the main instance; waits for the answer's head. */
    async function upgrade(
      path: string,
      opts: { connection?: string; upgrade?: string; extra?: string[]; after?: string } = {},
    ): Promise<{ c: RawClient; head: ReturnType<typeof parseHead> }> {
      const c = await RawClient.connect(portOf(main));
      const lines = [`Connection: ${opts.connection ?? 'Upgrade'}`, `Upgrade: ${opts.upgrade ?? 'websocket'}`, ...WS_HEADERS, ...(opts.extra ?? [])];
      c.send(requestText('GET', path, 'ws.test', lines) + (opts.after ?? ''));
      await c.waitFor((t) => t.includes('\r\n\r\n'), 5_000);
      return { c, head: parseHead(c.text) };
    }

    it('drops hop-by-hop headers named in Connection before the backend sees the upgrade request', async () => {
      const m = mark();
      const { c, head } = await upgrade(`/ws/hop?${m}`, { connection: 'Upgrade, X-Secret', extra: ['X-Secret: 1'] });
      c.destroy();
      const seen = ws.requests.find((r) => r.target.endsWith(m));
      row('2 ws: Connection: Upgrade, X-Secret', 'node', `${typeof head === 'object' ? head.status : String(head)}; backend saw X-Secret=${seen ? (reqHeader(seen, 'x-secret') ?? '-') : 'no request'}`);
      expect(typeof head === 'object' ? head.status : head).toBe(101);
      expect(seen).toBeDefined();
      expect(reqHeader(seen!, 'x-secret')).toBeUndefined();
      expect(reqHeaders(seen!, 'connection').join(',').toLowerCase()).not.toContain('x-secret');
    });

    it.each([['websocket'], ['h2c, websocket']])(
      `relays no byte the client sent after the upgrade head before the backend answered 101 (Upgrade: %s; 101 held ${LATE_101_MS} ms)`,
      async (offer) => {
        const m = mark();
        const early = 'GET /SMUGGLED-EARLY HTTP/1.1\r\nHost: internal.example\r\n\r\n';
        const { c, head } = await upgrade(`/ws/late?${m}`, { upgrade: offer, after: early });
        c.destroy();
        const seen = ws.requests.find((r) => r.target.endsWith(m));
        const answered101 = seen !== undefined && before101.has(seen.connection);
        const extra = answered101 ? before101.get(seen.connection)!.slice(seen.head.length) : '';
        // Framed by the backend, the early bytes are a request: fine only if Fairway proxied it as one.
        const raw = ws.requests.filter((r) => r.target === '/SMUGGLED-EARLY' && reqHeader(r, 'x-forwarded-for') === undefined);
        const answer = typeof head === 'object' ? String(head.status) : head === undefined ? (c.closed ? 'closed, no answer' : 'no answer') : `malformed: ${head}`;
        row(`2 ws: bytes right after the head (Upgrade: ${offer})`, 'node', `${answer}; ${answered101 ? `backend had ${extra.length} bytes beyond the head before its 101` : 'backend sent no 101'}${raw.length > 0 ? '; early bytes reached it as a raw request' : ''}`);
        expect(typeof head, `a well-formed answer to the upgrade request, got: ${answer}`).toBe('object');
        expect(extra).toBe('');
        expect(raw).toEqual([]);
      },
    );

    it(`closes an upgraded tunnel idle longer than server.upgradeIdleTimeout (${UPGRADE_IDLE_MS} ms)`, async () => {
      const { c, head } = await upgrade(`/ws/idle?${mark()}`);
      const closedAfter = await c.waitClose(UPGRADE_IDLE_MS + 5_000);
      c.destroy();
      console.log(`idle WebSocket tunnel: closed ${closedAfter === undefined ? 'never (still open after 6 s)' : `${closedAfter} ms after the 101`} (upgradeIdleTimeout ${UPGRADE_IDLE_MS} ms)`);
      row('2 ws: idle tunnel', 'node', closedAfter === undefined ? `${typeof head === 'object' ? head.status : head}; still open after ${UPGRADE_IDLE_MS + 5_000} ms` : `closed after ${closedAfter} ms`);
      expect(typeof head === 'object' ? head.status : head).toBe(101);
      expect(closedAfter, 'tunnel still open').toBeDefined();
      expect(closedAfter!).toBeGreaterThanOrEqual(UPGRADE_IDLE_MS * 0.9);
      expect(closedAfter!).toBeLessThan(UPGRADE_IDLE_MS + 3_000);
    }, 15_000);

    it('answers 400 bad_request to a WebSocket upgrade request that carries a body (Content-Length: 5)', async () => {
      const m = mark();
      const r = await exchange(portOf(main), requestText('GET', `/ws/body?${m}`, 'ws.test', ['Connection: Upgrade', 'Upgrade: websocket', ...WS_HEADERS, 'Content-Length: 5'], 'hello'));
      row('2 ws: upgrade request with a body', 'node', summary(r));
      expect(r.error).toBeUndefined();
      expect(r.responses[0]?.status).toBe(400);
      expect(headerOf(r.responses[0]!, 'x-fairway-error')).toBe('bad_request');
      expect(seenWith(m)).toEqual([]);
    });
  });

  describe('3. requests Fairway answers itself', () => {
    it.each([
      ['answers CONNECT with 405 method_not_allowed', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405, 'method_not_allowed'],
      ['answers `Expect: foo` with 417 expectation_failed', requestText('GET', `/x?expect`, 'a', ['Expect: foo']), 417, 'expectation_failed'],
      ['answers an HTTP/1.1 request without Host with 400 bad_request', 'GET /x?nohost HTTP/1.1\r\n\r\n', 400, 'bad_request'],
    ])('%s, well-formed and never proxied', async (sentence, bytes, status, code) => {
      const before = allBackends().reduce((n, b) => n + b.requests.length, 0);
      const r = await exchange(portOf(main), bytes);
      row(`3 ${sentence.replace(/^answers /, '').replace(/ with .*/, '')}`, 'node', `${summary(r)}${r.responses[0] ? `, body ${r.responses[0].body.length} bytes` : ''}`);
      expect(r.error).toBeUndefined();
      expect(r.responses[0]?.status).toBe(status);
      expect(headerOf(r.responses[0]!, 'x-fairway-error')).toBe(code);
      expect(r.rest).toBe('');
      expect(allBackends().reduce((n, b) => n + b.requests.length, 0)).toBe(before);
    });
  });

  describe('4. a request body is never dropped for its many header lines', () => {
    // ~2,000 lines of 6 bytes (12 KB, under maxHeaderSize 16 KB), Content-Length last.
    const lines = Array.from({ length: 2_000 }, (_, i) => `x${i % 10}:1`);

    it('answers 431 headers_too_large with the default server.maxHeaders (200), forwarding nothing', async () => {
      const m = mark();
      const r = await exchange(portOf(main), requestText('POST', `/many?${m}`, 'a', [...lines, 'Content-Length: 5'], 'hello'));
      row('4 POST, 2,000 headers, maxHeaders 200', 'node', summary(r));
      expect(r.error).toBeUndefined();
      expect(r.responses[0]?.status).toBe(431);
      expect(headerOf(r.responses[0]!, 'x-fairway-error')).toBe('headers_too_large');
      expect(seenWith(m)).toEqual([]);
    });

    it('forwards it WITH its 5-byte body when server.maxHeaders is 5000', async () => {
      const m = mark();
      const r = await exchange(portOf(many), requestText('POST', `/many?${m}`, 'a', [...lines, 'Content-Length: 5'], 'hello'));
      const seen = seenWith(m);
      row('4 POST, 2,000 headers, maxHeaders 5000', 'node', `${summary(r)}; backend got body ${seen[0] ? JSON.stringify(seen[0].body.toString('latin1')) : '(no request)'}`);
      expect(r.error).toBeUndefined();
      expect(r.responses[0]?.status).toBe(200);
      expect(seen.map((x) => x.body.toString('latin1'))).toEqual(['hello']);
    });
  });

  describe('5. pipelined requests followed by FIN are all answered, in order', () => {
    for (const [path, app] of [
      ['fast', () => main],
      ['node (fastPath: false)', () => noFast],
    ] as const) {
      it(`answers two pipelined GETs sent with FIN right behind them (${path})`, async () => {
        const [m1, m2] = [mark(), mark()];
        const c = await RawClient.connect(portOf(app()));
        c.sendAndEnd(requestText('GET', `/p1?${m1}`, 'a') + requestText('GET', `/p2?${m2}`, 'a'));
        const r = await c.read(2, 5_000);
        c.destroy();
        row('5 two GETs + FIN', path, `${r.responses.length} answered: ${r.responses.map((x) => `${x.status} ${x.body}`).join(', ') || summary(r)}`);
        expect(r.error).toBeUndefined();
        expect(r.responses.map((x) => `${x.status} ${x.body}`)).toEqual([`200 GET /p1?${m1}`, `200 GET /p2?${m2}`]);
      });
    }
  });

  describe('6. path normalisation and targets', () => {
    const PATHS = ['fast', 'node'] as const;
    /** A GET (fast path) or a POST with a 1-byte body (Node's path). */
    const send = (path: (typeof PATHS)[number], target: string, host: string | undefined, extra: string[] = []): string =>
      path === 'fast' ? requestText('GET', target, host, extra) : requestText('POST', target, host, extra, 'x');

    const forwarded: Array<[string, string, () => RawBackend, string]> = [
      ['`/a/./b/../c` is routed and forwarded as `/a/c`', '/a/./b/../c', () => norm, '/a/c'],
      ['`%2e%2e` counts as `..`: `/a/b/%2e%2e/c` is `/a/c`', '/a/b/%2e%2e/c', () => norm, '/a/c'],
      ['`%2E%2e` too, in any case', '/a/b/%2E%2e/c', () => norm, '/a/c'],
      ['dot segments go before stripPrefix: `/admin/./x/../y` reaches admin as `/y`', '/admin/./x/../y', () => admin, '/y'],
      ['`%2f` is no slash: `/public/..%2fadmin` stays as sent and never enters the admin route', '/public/..%2fadmin', () => rest, '/public/..%2fadmin'],
    ];
    for (const [sentence, target, backend, expected] of forwarded) {
      for (const path of PATHS) {
        it(`${sentence} (${path})`, async () => {
          const m = mark();
          const r = await exchange(portOf(main), send(path, `${target}?${m}`, 'norm.test'));
          const seen = seenWith(m);
          const where = seen.map((x) => `${allBackendsName(x)} ${x.target.replace(`?${m}`, '')}`).join(', ') || 'nowhere';
          row(`6 ${target}`, path, `${summary(r)}; upstream saw ${where}`);
          expect(r.error).toBeUndefined();
          expect(r.responses[0]?.status).toBe(200);
          expect(seen.map((x) => x.target)).toEqual([`${expected}?${m}`]);
          expect(backend().requests).toContain(seen[0]);
        });
      }
    }

    const refused: Array<[string, string, string | undefined]> = [
      ['`/../etc/passwd` climbs above / and is 400 bad_request', '/../etc/passwd', 'norm.test'],
      ['`/admin/%2e%2e/%2e%2e/etc/passwd` cannot climb out of the admin route: 400 bad_request', '/admin/%2e%2e/%2e%2e/etc/passwd', 'norm.test'],
      ['a Host with userinfo (`a@b`) is 400 bad_request', '/userinfo', 'a@b'],
    ];
    for (const [sentence, target, host] of refused) {
      for (const path of PATHS) {
        it(`${sentence} (${path})`, async () => {
          const m = mark();
          const r = await exchange(portOf(main), send(path, `${target}?${m}`, host));
          row(`6 ${target}${host === 'a@b' ? ' Host: a@b' : ''}`, path, `${summary(r)}; ${seenWith(m).length === 0 ? 'not proxied' : 'PROXIED'}`);
          expect(r.error).toBeUndefined();
          expect(r.responses[0]?.status).toBe(400);
          expect(headerOf(r.responses[0]!, 'x-fairway-error')).toBe('bad_request');
          expect(seenWith(m)).toEqual([]);
        });
      }
    }

    for (const path of PATHS) {
      it(`routes absolute-form \`http://Example.COM./x\` with \`Host: other\` by host example.com and path /x (${path})`, async () => {
        const m = mark();
        const r = await exchange(portOf(main), send(path, `http://Example.COM./x?${m}`, 'other'));
        const seen = seenWith(m);
        row('6 absolute-form http://Example.COM./x', path, `${summary(r)}; upstream saw ${seen.map((x) => `${allBackendsName(x)} ${x.target} Host ${reqHeader(x, 'host')}`).join(', ') || 'nothing'}`);
        expect(r.error).toBeUndefined();
        expect(r.responses[0]?.status).toBe(200);
        expect(seen.map((x) => x.target)).toEqual([`/x?${m}`]);
        expect(abs.requests).toContain(seen[0]);
        // The target's authority wins over Host (RFC 9112 §3.2.2).
        expect(reqHeader(seen[0]!, 'host')?.toLowerCase().replace(/\.$/, '')).toBe('example.com');
      });
    }

    it('answers `OPTIONS *` itself with a 2xx, never proxying it', async () => {
      const before = allBackends().reduce((n, b) => n + b.requests.length, 0);
      const r = await exchange(portOf(main), 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n');
      const proxied = allBackends().reduce((n, b) => n + b.requests.length, 0) - before;
      row('6 OPTIONS *', 'node', `${summary(r)}; ${proxied === 0 ? 'not proxied' : 'PROXIED'}`);
      expect(r.error).toBeUndefined();
      expect(r.responses[0]?.status).toBeGreaterThanOrEqual(200);
      expect(r.responses[0]?.status).toBeLessThan(300);
      expect(headerOf(r.responses[0]!, 'x-fairway-error')).toBeUndefined();
      expect(proxied).toBe(0);
    });

    function allBackendsName(r: RawRequest): string {
      const names: Array<[string, RawBackend]> = [['rest', rest], ['norm', norm], ['admin', admin], ['abs', abs], ['u150', upg], ['ws', ws], ['wsBusy', wsBusy], ['spare', spare]];
      return names.find(([, b]) => b.requests.includes(r))?.[0] ?? '?';
    }
  });

  describe('7. X-Forwarded-* and X-Request-Id are trusted only from server.trustedProxies', () => {
    const forged = ['X-Forwarded-For: 6.6.6.6', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: evil', 'X-Request-Id: forged', 'X-Real-IP: 9.9.9.9'];
    const PATHS = ['fast', 'node'] as const;
    const send = (path: (typeof PATHS)[number], target: string, extra: string[]): string =>
      path === 'fast' ? requestText('GET', target, 'trust.test', extra) : requestText('POST', target, 'trust.test', extra, 'x');
    const forwardedOf = (r: RawRequest): Record<string, string> =>
      Object.fromEntries(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'x-real-ip'].map((n) => [n, reqHeaders(r, n).join(' | ')]));

    for (const path of PATHS) {
      it(`replaces a client's forged X-Forwarded-*, X-Request-Id and X-Real-IP when trustedProxies is empty (${path})`, async () => {
        const m = mark();
        const r = await exchange(portOf(main), send(path, `/trust?${m}`, forged));
        const [seen] = seenWith(m);
        const got = seen ? forwardedOf(seen) : {};
        row('7 untrusted peer, forged headers', path, `${summary(r)}; ${JSON.stringify(got)}`);
        expect(r.responses[0]?.status).toBe(200);
        expect(got).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'trust.test', 'x-real-ip': '127.0.0.1' });
        expect(got['x-request-id']).not.toBe('forged');
        expect(got['x-request-id']).toMatch(/^[^|]+$/);
      });

      it(`keeps them from a trusted peer, appends it to XFF, and sets X-Real-IP to the right-most untrusted address (${path})`, async () => {
        const m = mark();
        const r = await exchange(portOf(trusted), send(path, `/trust?${m}`, forged));
        const [seen] = seenWith(m);
        const got = seen ? forwardedOf(seen) : {};
        row('7 trusted peer, its headers', path, `${summary(r)}; ${JSON.stringify(got)}`);
        expect(r.responses[0]?.status).toBe(200);
        expect(got).toEqual({
          'x-forwarded-for': '6.6.6.6, 127.0.0.1',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'evil',
          'x-request-id': 'forged',
          'x-real-ip': '6.6.6.6',
        });
      });

      it(`skips trusted addresses inside XFF too when picking X-Real-IP (XFF 1.1.1.1, 127.0.0.1) (${path})`, async () => {
        const m = mark();
        const r = await exchange(portOf(trusted), send(path, `/trust?${m}`, ['X-Forwarded-For: 1.1.1.1, 127.0.0.1']));
        const [seen] = seenWith(m);
        const got = seen ? forwardedOf(seen) : {};
        row('7 trusted peer, XFF 1.1.1.1, 127.0.0.1', path, `${summary(r)}; XFF ${got['x-forwarded-for']}, X-Real-IP ${got['x-real-ip']}`);
        expect(r.responses[0]?.status).toBe(200);
        expect(got['x-forwarded-for']).toBe('1.1.1.1, 127.0.0.1, 127.0.0.1');
        expect(got['x-real-ip']).toBe('1.1.1.1');
      });
    }
  });

  describe('8. an upstream 204 with content-length: 5', () => {
    for (const path of ['fast', 'node'] as const) {
      it(`keeps the client's keep-alive connection: a second request on it is answered (${path})`, async () => {
        const c = await RawClient.connect(portOf(main));
        c.send(path === 'fast' ? requestText('GET', `/status/204-cl5?${mark()}`, 'a') : requestText('POST', `/status/204-cl5?${mark()}`, 'a', [], 'x'));
        const first = await c.read(1, 5_000);
        const m = mark();
        if (!c.closed) c.send(requestText('GET', `/after?${m}`, 'a'));
        const both = await c.read(2, 5_000);
        c.destroy();
        row('8 upstream 204 + content-length: 5, then a 2nd request', path, `${summary(first)}, then ${both.responses[1] ? `${both.responses[1].status} ${both.responses[1].body}` : summary(both, 1)}`);
        expect(first.error).toBeUndefined();
        expect(first.responses[0]?.status).toBe(204);
        expect(both.error).toBeUndefined();
        expect(both.responses.map((x: ParsedResponse) => `${x.status} ${x.body}`)).toEqual(['204 ', `200 GET /after?${m}`]);
      });
    }
  });

  describe('9. WebSocket upgrades Fairway refuses itself', () => {
    /** Opens a WebSocket tunnel through the upgrades instance; resolves once the answer's head is in. */
    async function openTunnel(path: string): Promise<{ c: RawClient; status: number | string | undefined }> {
      const c = await RawClient.connect(portOf(upgrades));
      c.send(requestText('GET', path, 'ws.test', WS_UPGRADE));
      await c.waitFor((t) => t.includes('\r\n\r\n'), 5_000);
      const head = parseHead(c.text);
      return { c, status: typeof head === 'object' ? head.status : head };
    }

    /**
     * Tunnels of `route` closed so far. Fairway counts a tunnel once, as a 1xx, in the same step
     * that gives its place under upstream.maxConnections back (upgrade.ts), so this is the event
     * to wait for before a freed place can be taken.
     */
    async function closedTunnels(route: string): Promise<number> {
      const text = await (await fetch(`${upgrades.adminUrl}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith('fairway_requests_total{') && l.includes(`route="${route}"`) && l.includes('class="1xx"'))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    }

    it(`answers 503 upstream_busy to one upgrade more than upstream.maxConnections (${MAX_UPSTREAM_CONNECTIONS}) open tunnels to the instance, and tunnels it again once one has closed`, async () => {
      const opened = await Promise.all(Array.from({ length: MAX_UPSTREAM_CONNECTIONS }, (_, i) => openTunnel(`/busy/${i}?${mark()}`)));
      try {
        const m = mark();
        const over = await exchange(portOf(upgrades), requestText('GET', `/busy/over?${m}`, 'ws.test', WS_UPGRADE));
        const closedBefore = await closedTunnels('busy');
        opened[0]!.c.socket.end();
        await until(async () => (await closedTunnels('busy')) > closedBefore, 5_000, 'the tunnel the client closed to be counted closed');
        const again = await openTunnel(`/busy/again?${mark()}`);
        opened.push(again);
        row('9 ws: one tunnel over maxConnections', 'node', `${opened.slice(0, MAX_UPSTREAM_CONNECTIONS).map((o) => o.status).join(',')}, then ${summary(over)}; after one closed: ${again.status}`);
        expect(opened.slice(0, MAX_UPSTREAM_CONNECTIONS).map((o) => o.status)).toEqual(Array.from({ length: MAX_UPSTREAM_CONNECTIONS }, () => 101));
        expect(over.error).toBeUndefined();
        expect(over.responses[0]?.status).toBe(503);
        expect(headerOf(over.responses[0]!, 'x-fairway-error')).toBe('upstream_busy');
        // Refused before the instance was asked: it never saw the request.
        expect(seenWith(m)).toEqual([]);
        expect(again.status).toBe(101);
      } finally {
        for (const o of opened) o.c.destroy();
      }
    });

    const refused: Array<[string, string, string | undefined, string[], number, string]> = [
      ['a path that climbs above / (`/ws/../../x`)', '/ws/../../x', 'ws.test', [], 400, 'bad_request'],
      ['a path that starts above / (`/../ws/x`)', '/../ws/x', 'ws.test', [], 400, 'bad_request'],
      ['a path that climbs above / percent-encoded (`/ws/%2e%2e/%2E%2e/x`)', '/ws/%2e%2e/%2E%2e/x', 'ws.test', [], 400, 'bad_request'],
      ['no Host', '/ws/x', undefined, [], 400, 'bad_request'],
      ['a Host with userinfo (`a@ws.test`)', '/ws/x', 'a@ws.test', [], 400, 'bad_request'],
      ['a Host with a bad character (`ws.test/x`)', '/ws/x', 'ws.test/x', [], 400, 'bad_request'],
      ['two Host headers', '/ws/x', 'ws.test', ['Host: other.test'], 400, 'bad_request'],
      ['a host and path no route takes', '/nowhere/x', 'ws.test', [], 404, 'no_route'],
      ['a route whose only instance is drained', '/drained/x', 'ws.test', [], 503, 'no_healthy_upstream'],
    ];
    for (const [what, path, host, extra, status, code] of refused) {
      it(`answers ${status} ${code} to a WebSocket upgrade with ${what}, and no backend sees it`, async () => {
        const m = mark();
        const r = await exchange(portOf(upgrades), requestText('GET', `${path}?${m}`, host, [...WS_UPGRADE, ...extra]));
        row(`9 ws: ${what}`, 'node', `${summary(r)}; ${seenWith(m).length === 0 ? 'not proxied' : 'PROXIED'}`);
        expect(r.error).toBeUndefined();
        expect(r.responses[0]?.status).toBe(status);
        expect(headerOf(r.responses[0]!, 'x-fairway-error')).toBe(code);
        expect(seenWith(m)).toEqual([]);
      });
    }

    it('answers 502 upstream_error to a WebSocket upgrade whose only instance is down (port closed)', async () => {
      const r = await exchange(portOf(upgrades), requestText('GET', `/down/x?${mark()}`, 'ws.test', WS_UPGRADE));
      row('9 ws: instance down', 'node', summary(r));
      expect(r.error).toBeUndefined();
      expect(r.responses[0]?.status).toBe(502);
      expect(headerOf(r.responses[0]!, 'x-fairway-error')).toBe('upstream_error');
    });
  });
});
