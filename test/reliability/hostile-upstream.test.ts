// Hostile upstreams: raw TCP backends that each send one broken answer, on both paths (the
// fast path for a plain GET, Node's for a POST with a body). The contract (SPEC "Edge rules"):
// the client always gets a well-formed HTTP/1.1 answer — the upstream's own made safe (a reason
// phrase that is not plain visible ASCII replaced by the standard one) or 502 upstream_error —
// within the route timeout, never CR/LF smuggled into the head, and nothing of the broken answer
// in the next one. Each client pipelines two well-behaved requests behind the hostile one: the
// same backend's next answer (an upstream connection that kept stray bytes would show here) and
// another backend's.

import { STATUS_CODES } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, type Backend } from '../support/backends.js';
import { baseConfig, startFairway } from '../support/fairway.js';
import { plainAnswer, startRawBackend, type RawBackend } from '../support/hostile-backend.js';
import { headerOf, parseResponses, RawClient, requestText, type ParsedResponse } from '../support/raw-client.js';

const ROUTE_TIMEOUT_MS = 2_000;
/** The first answer must be complete within the route timeout plus this. */
const SLACK_MS = 1_000;

/** Bytes as a latin1 string: one char per byte. */
const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
/** A head (lines without CRLF) and a body framed by Content-Length. */
const sized = (head: string[], body = 'ok'): string => [...head, `Content-Length: ${body.length}`, '', body].join('\r\n');
/** A complete answer in its own right, for stray bytes an upstream sends after its real one. */
const SMUGGLE = 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Smuggled: 1\r\n\r\nSMUGGLED';
/** U+010D U+010A in UTF-8: latin1-encoding the decoded string gives CR LF. */
const C_CARON_C_DOT = '\xC4\x8D\xC4\x8A';
/** What no response the client sees may contain, in a header name or a body. */
const FORBIDDEN_HEADERS = ['x-injected', 'x-smuggled'];
const FORBIDDEN_BODY = /SMUGGLED|EVIL/;

interface HostileCase {
  /** Route-safe id. */
  id: string;
  /** What the upstream does, as the end of the sentence "the upstream sends ...". */
  sentence: string;
  /** What the upstream writes (latin1). */
  bytes: string;
  /** After writing: keep the connection open, or close it (FIN). */
  then: 'keep' | 'close';
  /** The status and body of the upstream's own answer, if it is passed on. */
  status: number;
  body: string;
  /** The reason phrase the client must see if the upstream's own answer is passed on. */
  reason?: string;
  /** The head is invalid (RFC 9112): only 502 upstream_error will do. */
  invalid?: boolean;
  /** The body breaks after a valid head: the upstream's head then a close is acceptable. */
  mayTruncate?: boolean;
}

const CASES: HostileCase[] = [
  // Status lines.
  { id: 'status-4digit', sentence: 'a four-digit status code (`HTTP/1.1 2000 OK`)', bytes: sized(['HTTP/1.1 2000 OK']), then: 'keep', status: 2000, body: 'ok', invalid: true },
  { id: 'status-2digit', sentence: 'a two-digit status code (`HTTP/1.1 20 OK`)', bytes: sized(['HTTP/1.1 20 OK']), then: 'keep', status: 20, body: 'ok', invalid: true },
  { id: 'status-000', sentence: 'status 000', bytes: sized(['HTTP/1.1 000 Zero']), then: 'keep', status: 0, body: 'ok', invalid: true },
  { id: 'status-999', sentence: 'status 999 (three digits, unknown)', bytes: sized(['HTTP/1.1 999 Odd']), then: 'keep', status: 999, body: 'ok' },
  { id: 'status-version', sentence: 'an unknown version (`HTTP/9.9 200 OK`)', bytes: sized(['HTTP/9.9 200 OK']), then: 'keep', status: 200, body: 'ok', invalid: true },
  { id: 'status-nospace', sentence: 'no space after the status code (`HTTP/1.1 200OK`)', bytes: sized(['HTTP/1.1 200OK']), then: 'keep', status: 200, body: 'ok', invalid: true },
  { id: 'status-icy', sentence: 'an ICY status line (`ICY 200 OK`)', bytes: sized(['ICY 200 OK']), then: 'keep', status: 200, body: 'ok', invalid: true },
  { id: 'status-no-reason', sentence: 'a status line without a reason phrase (`HTTP/1.1 200`)', bytes: sized(['HTTP/1.1 200']), then: 'keep', status: 200, body: 'ok' },
  { id: 'lf-only', sentence: 'a head with bare LF line endings', bytes: 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok', then: 'keep', status: 200, body: 'ok' },
  // Reason phrases.
  { id: 'reason-utf8', sentence: 'a UTF-8 reason phrase (`200 成功`)', bytes: sized([`HTTP/1.1 200 ${utf8('成功')}`]), then: 'keep', status: 200, body: 'ok', reason: 'OK' },
  { id: 'reason-del', sentence: 'DEL in the reason phrase (`404 Not\\x7fFound`)', bytes: sized(['HTTP/1.1 404 Not\x7fFound']), then: 'keep', status: 404, body: 'ok', reason: 'Not Found' },
  { id: 'reason-ctl', sentence: 'a control byte in the reason phrase (`200 \\x01bad`)', bytes: sized(['HTTP/1.1 200 \x01bad']), then: 'keep', status: 200, body: 'ok', reason: 'OK' },
  { id: 'reason-tab', sentence: 'a tab in the reason phrase (`200 O\\tK`)', bytes: sized(['HTTP/1.1 200 O\tK']), then: 'keep', status: 200, body: 'ok', reason: 'OK' },
  {
    id: 'reason-crlf-conn',
    sentence: 'U+010D U+010A (UTF-8 C4 8D C4 8A) then `X-Injected: 1` in the reason phrase, with `Connection: x-foo`',
    bytes: sized([`HTTP/1.1 200 ${C_CARON_C_DOT}X-Injected: 1`, 'Connection: x-foo', 'X-Foo: bar']),
    then: 'keep',
    status: 200,
    body: 'ok',
    reason: 'OK',
  },
  {
    id: 'reason-crlf',
    sentence: 'U+010D U+010A then `X-Injected: 1` in the reason phrase, no Connection header',
    bytes: sized([`HTTP/1.1 200 ${C_CARON_C_DOT}X-Injected: 1`]),
    then: 'keep',
    status: 200,
    body: 'ok',
    reason: 'OK',
  },
  // Header fields.
  { id: 'value-cr', sentence: 'a bare CR inside a header value', bytes: sized(['HTTP/1.1 200 OK', 'X-Evil: a\rX-Injected: 1']), then: 'keep', status: 200, body: 'ok' },
  { id: 'value-lf', sentence: 'a bare LF inside a header value', bytes: sized(['HTTP/1.1 200 OK', 'X-Evil: a\nX-Lf-Line: 1']), then: 'keep', status: 200, body: 'ok' },
  { id: 'value-nul', sentence: 'NUL inside a header value', bytes: sized(['HTTP/1.1 200 OK', 'X-Evil: a\0X-Injected: 1']), then: 'keep', status: 200, body: 'ok' },
  {
    id: 'value-crlf-conn',
    sentence: 'U+010D U+010A in UTF-8 inside a header value, with `Connection: x-foo`',
    bytes: sized(['HTTP/1.1 200 OK', `X-Evil: a${C_CARON_C_DOT}X-Injected: 1`, 'Connection: x-foo', 'X-Foo: bar']),
    then: 'keep',
    status: 200,
    body: 'ok',
  },
  { id: 'name-cr', sentence: 'a CR inside a header name', bytes: sized(['HTTP/1.1 200 OK', 'X-Ev\ril: 1']), then: 'keep', status: 200, body: 'ok', invalid: true },
  { id: 'name-lf', sentence: 'an LF inside a header name', bytes: sized(['HTTP/1.1 200 OK', 'X-Ev\nil: 1']), then: 'keep', status: 200, body: 'ok', invalid: true },
  { id: 'name-nul', sentence: 'NUL inside a header name', bytes: sized(['HTTP/1.1 200 OK', 'X-Ev\0il: 1']), then: 'keep', status: 200, body: 'ok', invalid: true },
  { id: 'name-space', sentence: 'a space between a header name and its colon', bytes: sized(['HTTP/1.1 200 OK', 'X-Evil : 1']), then: 'keep', status: 200, body: 'ok' },
  { id: 'obs-fold', sentence: 'an obs-fold continuation line', bytes: sized(['HTTP/1.1 200 OK', 'X-Evil: a', ' X-Injected: 1']), then: 'keep', status: 200, body: 'ok' },
  // Body framing.
  {
    id: 'cl-and-te',
    sentence: 'Content-Length and Transfer-Encoding together',
    bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    then: 'keep',
    status: 200,
    body: 'ok',
  },
  {
    id: 'cl-twice',
    sentence: 'Content-Length twice with different values (2 and 12)',
    bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 12\r\n\r\nokSMUGGLED!!',
    then: 'keep',
    status: 200,
    body: 'ok',
    invalid: true,
  },
  { id: 'cl-nan', sentence: 'a Content-Length that is not a number', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nok', then: 'keep', status: 200, body: 'ok', invalid: true },
  {
    id: 'body-short',
    sentence: 'a body shorter than its Content-Length, then a close',
    bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort',
    then: 'close',
    status: 200,
    body: 'short',
    mayTruncate: true,
  },
  { id: 'body-long', sentence: 'a body longer than its Content-Length (a whole second answer behind it)', bytes: sized(['HTTP/1.1 200 OK']) + SMUGGLE, then: 'keep', status: 200, body: 'ok' },
  {
    id: 'chunk-bad',
    sentence: 'a chunked body with a malformed chunk size',
    bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n',
    then: 'keep',
    status: 200,
    body: 'ok',
    mayTruncate: true,
  },
  // Informational answers.
  { id: 'interim-100', sentence: '`100 Continue` before the final answer', bytes: 'HTTP/1.1 100 Continue\r\n\r\n' + sized(['HTTP/1.1 200 OK']), then: 'keep', status: 200, body: 'ok' },
  {
    id: 'interim-103',
    sentence: '`103 Early Hints` before the final answer',
    bytes: 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n' + sized(['HTTP/1.1 200 OK']),
    then: 'keep',
    status: 200,
    body: 'ok',
  },
  {
    id: 'interim-101',
    sentence: '`101 Switching Protocols` to a request that asked for no upgrade',
    bytes: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: Upgrade\r\n\r\n' + SMUGGLE,
    then: 'keep',
    status: 101,
    body: '',
    invalid: true,
  },
  // 204 and 304, which have no body whatever they say.
  { id: '204-body', sentence: 'a 204 followed by body bytes (a whole second answer)', bytes: 'HTTP/1.1 204 No Content\r\n\r\n' + SMUGGLE, then: 'keep', status: 204, body: '' },
  { id: '204-cl5', sentence: 'a 204 with `content-length: 5` and no body', bytes: 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n', then: 'keep', status: 204, body: '' },
  { id: '204-cl5-body', sentence: 'a 204 with `content-length: 5` and 5 body bytes', bytes: 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nEVIL!', then: 'keep', status: 204, body: '' },
  { id: '304-body', sentence: 'a 304 followed by body bytes (a whole second answer)', bytes: 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n' + SMUGGLE, then: 'keep', status: 304, body: '' },
  { id: '304-cl5', sentence: 'a 304 with `content-length: 5` and no body', bytes: 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\ncontent-length: 5\r\n\r\n', then: 'keep', status: 304, body: '' },
  { id: '304-cl5-body', sentence: 'a 304 with `content-length: 5` and 5 body bytes', bytes: 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\ncontent-length: 5\r\n\r\nEVIL!', then: 'keep', status: 304, body: '' },
  // The connection itself.
  { id: 'close-mid-head', sentence: 'half a head, then a close', bytes: 'HTTP/1.1 200 OK\r\nContent-Le', then: 'close', status: 200, body: '', invalid: true },
  { id: 'close-at-once', sentence: 'nothing at all, then a close', bytes: '', then: 'close', status: 0, body: '', invalid: true },
  { id: 'garbage', sentence: 'garbage instead of HTTP', bytes: 'HELLO THIS IS NOT HTTP\r\n\r\n', then: 'keep', status: 0, body: '', invalid: true },
  {
    id: 'huge-head',
    sentence: 'a 280 KB head (4,000 header lines)',
    bytes: sized(['HTTP/1.1 200 OK', ...Array.from({ length: 4_000 }, (_, i) => `X-Pad-${i}: ${'x'.repeat(60)}`)]),
    then: 'keep',
    status: 200,
    body: 'ok',
  },
];

const PATHS = ['fast', 'node'] as const;
type PathName = (typeof PATHS)[number];

/** The request that meets the hostile answer: a plain GET (fast path) or a POST with a body (Node's). */
function firstRequest(id: string, path: PathName): string {
  return path === 'fast'
    ? requestText('GET', `/h/${id}/fast/first`, 'hostile.test')
    : requestText('POST', `/h/${id}/node/first`, 'hostile.test', [], 'ping');
}

interface Row {
  sentence: string;
  path: PathName;
  outcome: string;
  ms: number;
  problems: string[];
}

describe('hostile upstreams', () => {
  const backends = new Map<string, RawBackend>();
  const rows: Row[] = [];
  const uncaught: string[] = [];
  const onUncaught = (err: unknown): void => void uncaught.push(err instanceof Error ? (err.stack ?? err.message) : String(err));
  let good: Backend;
  let app: Fairway;
  let port: number;
  const suiteStart = performance.now();

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    good = await startBackend('good', (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('good'));
    });
    // One backend per case and path, so each has its own upstream pool and a broken
    // connection left in one cannot be blamed on another.
    for (const c of CASES) {
      for (const path of PATHS) {
        const backend = await startRawBackend((req, conn) => {
          if (!req.target.endsWith('/first')) {
            conn.socket.write(plainAnswer(`next ${req.target}`), 'latin1');
            return;
          }
          if (c.bytes.length > 0) conn.socket.write(c.bytes, 'latin1');
          if (c.then === 'close') conn.socket.end();
        });
        backends.set(`${c.id}/${path}`, backend);
      }
    }
    app = await startFairway(
      baseConfig({
        outlier: { consecutiveFailures: 0 },
        routes: [
          ...CASES.flatMap((c) =>
            PATHS.map((path) => ({
              name: `${c.id}-${path}`,
              match: { pathPrefix: `/h/${c.id}/${path}/` },
              endpoints: [backends.get(`${c.id}/${path}`)!.address],
              timeout: `${ROUTE_TIMEOUT_MS}ms`,
              retries: 0,
            })),
          ),
          { name: 'good', match: { pathPrefix: '/good/' }, endpoints: [good.address], timeout: `${ROUTE_TIMEOUT_MS}ms` },
        ],
      }),
    );
    port = Number(new URL(app.proxyUrl).port);
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    const w = [Math.max(...rows.map((r) => r.sentence.length)), 4, Math.max(7, ...rows.map((r) => r.outcome.length))];
    const line = (a: string, b: string, c: string, d: string, e: string): string => `${a.padEnd(w[0]!)} | ${b.padEnd(w[1]!)} | ${c.padEnd(w[2]!)} | ${d.padStart(6)} | ${e}`;
    console.log(
      [
        `hostile upstreams: ${rows.length} exchanges in ${Math.round(performance.now() - suiteStart)} ms (route timeout ${ROUTE_TIMEOUT_MS} ms)`,
        line('the upstream sends', 'path', 'outcome', 'ms', 'verdict'),
        line('-'.repeat(w[0]!), '-'.repeat(w[1]!), '-'.repeat(w[2]!), '------', '-------'),
        ...rows.map((r) => line(r.sentence, r.path, r.outcome, String(r.ms), r.problems.length === 0 ? 'ok' : `FAIL: ${r.problems.join('; ')}`)),
      ].join('\n'),
    );
    await app?.stop();
    await good?.close();
    await Promise.all([...backends.values()].map((b) => b.close()));
  });

  for (const c of CASES) {
    for (const path of PATHS) {
      it(`answers safely when the upstream sends ${c.sentence} (${path} path)`, async () => {
        const client = await RawClient.connect(port);
        const nextTarget = `/h/${c.id}/${path}/next`;
        client.send(firstRequest(c.id, path) + requestText('GET', nextTarget, 'hostile.test') + requestText('GET', `/good/${c.id}-${path}`, 'hostile.test'));
        const first = await client.read(1, ROUTE_TIMEOUT_MS + SLACK_MS + 2_000);
        const all = await client.read(3, 5_000);
        client.destroy();

        const problems: string[] = [];
        let outcome: string;
        const r0 = all.responses[0];
        if (first.elapsedMs > ROUTE_TIMEOUT_MS + SLACK_MS) problems.push(`first answer took ${first.elapsedMs} ms (bound ${ROUTE_TIMEOUT_MS + SLACK_MS})`);
        if (all.error !== undefined) problems.push(`not well-formed HTTP/1.1: ${all.error}`);
        if (r0 === undefined) {
          outcome = describeMissing(all.rest, all.closed, all.timedOut);
          const truncatedOk = c.mayTruncate && all.closed && isTruncatedOwnAnswer(all.rest, c);
          if (!truncatedOk && all.error === undefined) problems.push(`no complete answer: ${outcome}`);
        } else {
          outcome = classify(r0, c, problems);
          checkNoLeak(all.responses, problems);
          if (all.rest !== '' && all.error === undefined) problems.push(`stray bytes after the answers: ${JSON.stringify(all.rest.slice(0, 80))}`);
          // The pipelined requests behind it: the same backend's next answer, then another backend's.
          const [r1, r2] = [all.responses[1], all.responses[2]];
          if (r1?.status !== 200 || r1.body !== `next ${nextTarget}`) problems.push(`2nd answer should be 200 "next ${nextTarget}", got ${brief(r1, all)}`);
          if (r2?.status !== 200 || r2.body !== 'good') problems.push(`3rd answer should be 200 "good", got ${brief(r2, all)}`);
        }
        if (r0 === undefined || all.responses.length < 3) {
          // The connection was cut: a fresh one must still be served by the same route.
          const again = await RawClient.connect(port);
          again.send(requestText('GET', `/h/${c.id}/${path}/again`, 'hostile.test'));
          const [ra] = (await again.read(1, 5_000)).responses;
          again.destroy();
          if (ra?.status !== 200 || ra.body !== `next /h/${c.id}/${path}/again`) problems.push(`a fresh connection afterwards got ${ra === undefined ? 'nothing' : `${ra.status} ${JSON.stringify(ra.body.slice(0, 60))}`}`);
        }
        rows.push({ sentence: c.sentence, path, outcome, ms: first.elapsedMs, problems });
        expect(problems, `${c.sentence} (${path} path): ${outcome}`).toEqual([]);
      }, 15_000);
    }
  }

  it('is still alive and serving after the whole hostile suite', async () => {
    const health = await fetch(`${app.adminUrl}/-/healthz`);
    expect(health.status).toBe(200);
    const client = await RawClient.connect(port);
    client.send(requestText('GET', '/good/after', 'hostile.test'));
    const { responses } = await client.read(1);
    client.destroy();
    expect(responses[0]).toMatchObject({ status: 200, body: 'good' });
    expect(uncaught, 'uncaught exceptions or unhandled rejections during the suite').toEqual([]);
  });
});

/** Names the client's first answer, and records what is wrong with it for this case. */
function classify(r: ParsedResponse, c: HostileCase, problems: string[]): string {
  const fairwayError = headerOf(r, 'x-fairway-error');
  if (r.status === 502 && fairwayError === 'upstream_error') return '502 upstream_error';
  const interim = r.interim.length > 0 ? ` after ${r.interim.map((i) => i.status).join(', ')}` : '';
  if (fairwayError !== undefined) {
    problems.push(`Fairway answered ${r.status} ${fairwayError}; only its 502 upstream_error or the upstream's own answer will do`);
    return `${r.status} ${fairwayError}`;
  }
  if (c.invalid) problems.push(`the upstream's head is invalid, so only 502 upstream_error will do; got ${r.status} ${JSON.stringify(r.reason)}`);
  if (r.status !== c.status) problems.push(`status ${r.status}, the upstream sent ${c.status}`);
  if (r.body !== c.body) problems.push(`body ${JSON.stringify(r.body.slice(0, 60))}, the upstream meant ${JSON.stringify(c.body)}`);
  if (c.reason !== undefined && r.reason !== c.reason) problems.push(`reason phrase ${JSON.stringify(r.reason)} should have been replaced by ${JSON.stringify(c.reason)}`);
  const replaced = c.reason !== undefined && r.reason === (STATUS_CODES[r.status] ?? '');
  return `upstream's ${r.status}${replaced ? ' (reason replaced)' : ` ${JSON.stringify(r.reason)}`}${interim}`;
}

/** No trace of a smuggled header line or stray answer in anything the client got. */
function checkNoLeak(responses: ParsedResponse[], problems: string[]): void {
  for (const [i, r] of responses.entries()) {
    for (const [name] of [...r.rawHeaders, ...r.interim.flatMap((x) => x.rawHeaders)]) {
      if (FORBIDDEN_HEADERS.includes(name.toLowerCase())) problems.push(`answer ${i + 1} carries a header line "${name}" that the upstream never sent as one`);
    }
    if (FORBIDDEN_BODY.test(r.body)) problems.push(`answer ${i + 1} carries stray upstream bytes in its body: ${JSON.stringify(r.body.slice(0, 60))}`);
  }
}

/** Whether `rest` is the upstream's own head and part of its body (a cut-short answer). */
function isTruncatedOwnAnswer(rest: string, c: HostileCase): boolean {
  const r = parseResponses(rest);
  return r.error === undefined && rest.startsWith(`HTTP/1.1 ${c.status} `) && !FORBIDDEN_BODY.test(rest);
}

function describeMissing(rest: string, closed: boolean, timedOut: boolean): string {
  if (rest.startsWith('HTTP/1.1 ')) return `${rest.slice(0, rest.indexOf('\r\n')).slice(0, 40)}, cut short${closed ? ', connection closed' : ''}`;
  if (timedOut) return rest === '' ? 'nothing (hang)' : `incomplete after the wait: ${JSON.stringify(rest.slice(0, 40))}`;
  return closed ? (rest === '' ? 'connection closed, no answer' : `connection closed after ${JSON.stringify(rest.slice(0, 40))}`) : 'nothing';
}

function brief(r: ParsedResponse | undefined, all: { closed: boolean; timedOut: boolean; error?: string }): string {
  if (r !== undefined) return `${r.status} ${JSON.stringify(r.body.slice(0, 60))}`;
  return all.error !== undefined ? 'none (stream malformed before it)' : all.closed ? 'none (connection closed)' : 'none (still waiting)';
}
