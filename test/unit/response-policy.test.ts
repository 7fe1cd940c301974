// The response side of a route's policy: shapeHead (header rules, then the compression decision
// and the head changes it makes) as a pure table, and ResponseEncoder against a fake response
// that records what it is written (no sockets): round trips, per-chunk flushing, backpressure.

import { EventEmitter, once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { setImmediate as tick } from 'node:timers/promises';
import { brotliDecompressSync, constants, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { RoutePolicy } from '../../src/core/policy/route-policy.js';
import type { ProxyResponse } from '../../src/proxy/messages.js';
import { ResponseEncoder, shapeHead } from '../../src/proxy/response-policy.js';
import { routeConfig } from './helpers.js';

function policy(yaml: string): RoutePolicy {
  const p = routeConfig(`endpoints: [10.0.0.1:8001]\n${yaml}`).policy;
  if (p === undefined) throw new Error(`no policy in ${yaml}`);
  return p;
}

/** A flat list from `Name: value` lines. */
function flat(...text: string[]): string[] {
  return text.flatMap((l) => {
    const colon = l.indexOf(':');
    return [l.slice(0, colon), l.slice(colon + 2)];
  });
}

function lines(list: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(`${list[i]}: ${list[i + 1]}`);
  return out;
}

/** Every value of `name` in a flat list (names compared lower-cased). */
function valuesOf(list: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (list[i]!.toLowerCase() === name) out.push(list[i + 1]!);
  return out;
}

const COMPRESS = policy('compress: true');
const RULES = policy('responseHeaders: { set: { strict-transport-security: "max-age=31536000" }, remove: [server] }');
const BOTH = policy('compress: true\nresponseHeaders: { set: { x-env: prod }, remove: [server] }');
const JSON_HEAD = ['Content-Type: application/json', 'Content-Length: 5000'];

describe('shapeHead', () => {
  it.each([
    {
      why: 'header rules alone change the head and never compress or add Vary',
      policy: RULES,
      in: ['Content-Type: application/json', 'Content-Length: 5000', 'Server: backend/1'],
      ae: 'gzip',
      encoding: undefined,
      out: ['Content-Type: application/json', 'Content-Length: 5000', 'strict-transport-security: max-age=31536000'],
    },
    {
      why: 'a large JSON answer to a gzip client is gzipped: Content-Length goes, Vary and Content-Encoding come',
      policy: COMPRESS,
      in: JSON_HEAD,
      ae: 'gzip',
      encoding: 'gzip',
      out: ['Content-Type: application/json', 'vary: accept-encoding', 'content-encoding: gzip'],
    },
    {
      why: 'a client that accepts br and gzip gets br',
      policy: COMPRESS,
      in: JSON_HEAD,
      ae: 'gzip, deflate, br',
      encoding: 'br',
      out: ['Content-Type: application/json', 'vary: accept-encoding', 'content-encoding: br'],
    },
    {
      why: 'Accept-Encoding sent on two lines is one list',
      policy: COMPRESS,
      in: JSON_HEAD,
      ae: ['br;q=0', 'gzip'],
      encoding: 'gzip',
      out: ['Content-Type: application/json', 'vary: accept-encoding', 'content-encoding: gzip'],
    },
    {
      why: 'a client that sends no Accept-Encoding gets the answer as it is, still with Vary',
      policy: COMPRESS,
      in: JSON_HEAD,
      ae: undefined,
      encoding: undefined,
      out: ['Content-Type: application/json', 'Content-Length: 5000', 'vary: accept-encoding'],
    },
    {
      why: 'an answer under the minimum size is sent as it is, still with Vary',
      policy: COMPRESS,
      in: ['Content-Type: text/plain', 'Content-Length: 100'],
      ae: 'gzip',
      encoding: undefined,
      out: ['Content-Type: text/plain', 'Content-Length: 100', 'vary: accept-encoding'],
    },
    {
      why: 'a chunked answer (no Content-Length) is compressed',
      policy: COMPRESS,
      in: ['Content-Type: text/html; charset=utf-8'],
      ae: 'gzip',
      encoding: 'gzip',
      out: ['Content-Type: text/html; charset=utf-8', 'vary: accept-encoding', 'content-encoding: gzip'],
    },
    {
      why: 'a Content-Length that is no number counts as unknown, and goes when compressing',
      policy: COMPRESS,
      in: ['Content-Type: text/plain', 'Content-Length: 12abc'],
      ae: 'gzip',
      encoding: 'gzip',
      out: ['Content-Type: text/plain', 'vary: accept-encoding', 'content-encoding: gzip'],
    },
    {
      why: 'Content-Length in any case goes when compressing',
      policy: COMPRESS,
      in: ['content-type: text/plain', 'CONTENT-LENGTH: 5000'],
      ae: 'gzip',
      encoding: 'gzip',
      out: ['content-type: text/plain', 'vary: accept-encoding', 'content-encoding: gzip'],
    },
    {
      why: 'a HEAD answer is never compressed, but still varies',
      policy: COMPRESS,
      in: JSON_HEAD,
      ae: 'gzip',
      method: 'HEAD',
      encoding: undefined,
      out: ['Content-Type: application/json', 'Content-Length: 5000', 'vary: accept-encoding'],
    },
    {
      why: 'a 304 is never compressed, but varies like the 200 it stands for',
      policy: COMPRESS,
      status: 304,
      in: ['Content-Type: application/json'],
      ae: 'gzip',
      encoding: undefined,
      out: ['Content-Type: application/json', 'vary: accept-encoding'],
    },
    {
      why: 'a 206 with a Content-Range is never compressed',
      policy: COMPRESS,
      status: 206,
      in: ['Content-Type: text/plain', 'Content-Range: bytes 0-4999/10000', 'Content-Length: 5000'],
      ae: 'gzip',
      encoding: undefined,
      out: ['Content-Type: text/plain', 'Content-Range: bytes 0-4999/10000', 'Content-Length: 5000', 'vary: accept-encoding'],
    },
    {
      why: 'an answer the upstream encoded already is passed on, its Content-Length kept',
      policy: COMPRESS,
      in: ['Content-Type: text/plain', 'Content-Encoding: gzip', 'Content-Length: 5000'],
      ae: 'gzip, br',
      encoding: undefined,
      out: ['Content-Type: text/plain', 'Content-Encoding: gzip', 'Content-Length: 5000', 'vary: accept-encoding'],
    },
    {
      why: 'a PNG is not worth compressing',
      policy: COMPRESS,
      in: ['Content-Type: image/png', 'Content-Length: 5000'],
      ae: 'gzip',
      encoding: undefined,
      out: ['Content-Type: image/png', 'Content-Length: 5000', 'vary: accept-encoding'],
    },
    {
      why: 'Cache-Control: no-transform from the upstream is obeyed',
      policy: COMPRESS,
      in: ['Content-Type: text/plain', 'Cache-Control: public, no-transform', 'Content-Length: 5000'],
      ae: 'gzip',
      encoding: undefined,
      out: ['Content-Type: text/plain', 'Cache-Control: public, no-transform', 'Content-Length: 5000', 'vary: accept-encoding'],
    },
    {
      why: 'an upstream Vary keeps its names, with accept-encoding added, on one line at the end',
      policy: COMPRESS,
      in: ['Vary: Origin', 'Content-Type: application/json', 'Content-Length: 5000'],
      ae: 'gzip',
      encoding: 'gzip',
      out: ['Content-Type: application/json', 'vary: Origin, accept-encoding', 'content-encoding: gzip'],
    },
    {
      why: 'an upstream Vary that names Accept-Encoding already is kept as it is',
      policy: COMPRESS,
      in: ['Content-Type: application/json', 'Vary: Accept-Encoding, Origin', 'Content-Length: 5000'],
      ae: 'gzip',
      encoding: 'gzip',
      out: ['Content-Type: application/json', 'vary: Accept-Encoding, Origin', 'content-encoding: gzip'],
    },
    {
      why: 'Vary: * already varies on everything',
      policy: COMPRESS,
      in: ['Content-Type: application/json', 'Vary: *'],
      ae: undefined,
      encoding: undefined,
      out: ['Content-Type: application/json', 'vary: *'],
    },
    {
      why: 'header rules come first, then compression: a removed Server is gone and a set header stays',
      policy: BOTH,
      in: ['Server: backend/1', 'Content-Type: application/json', 'Content-Length: 5000'],
      ae: 'gzip',
      encoding: 'gzip',
      out: ['Content-Type: application/json', 'x-env: prod', 'vary: accept-encoding', 'content-encoding: gzip'],
    },
    {
      why: 'a rule that sets Cache-Control: no-transform stops compression, as it comes first',
      policy: policy('compress: true\nresponseHeaders: { set: { cache-control: no-transform } }'),
      in: JSON_HEAD,
      ae: 'gzip',
      encoding: undefined,
      out: ['Content-Type: application/json', 'Content-Length: 5000', 'cache-control: no-transform', 'vary: accept-encoding'],
    },
    {
      why: 'a rule that sets Vary is joined by accept-encoding',
      policy: policy('compress: true\nresponseHeaders: { set: { vary: origin } }'),
      in: ['Vary: Cookie', ...JSON_HEAD],
      ae: 'gzip',
      encoding: 'gzip',
      out: ['Content-Type: application/json', 'vary: origin, accept-encoding', 'content-encoding: gzip'],
    },
    {
      why: 'a rule that removes Content-Type leaves nothing known to be worth compressing',
      policy: policy('compress: true\nresponseHeaders: { remove: [content-type] }'),
      in: JSON_HEAD,
      ae: 'gzip',
      encoding: undefined,
      out: ['Content-Length: 5000', 'vary: accept-encoding'],
    },
  ] as Array<{ why: string; policy: RoutePolicy; status?: number; method?: string; in: string[]; ae: string | string[] | undefined; encoding: string | undefined; out: string[] }>)(
    '$why',
    ({ policy: p, status, method, in: input, ae, encoding, out }) => {
      const headers = flat(...input);
      expect(shapeHead(p, status ?? 200, headers, method ?? 'GET', ae)).toBe(encoding);
      expect(lines(headers)).toEqual(out);
    },
  );

  // Regression: only the first Vary line was read before every Vary line was removed, so names
  // on later lines were lost and a cache could serve one user's variant to another.
  it('an upstream Vary sent on two lines keeps the names of both', () => {
    const headers = flat('Vary: Origin', 'Vary: Cookie', ...JSON_HEAD);
    shapeHead(COMPRESS, 200, headers, 'GET', 'gzip');
    const names = valuesOf(headers, 'vary').flatMap((v) => v.split(',').map((n) => n.trim().toLowerCase()));
    expect(names.sort()).toEqual(['accept-encoding', 'cookie', 'origin']);
  });

  // Regression: an upstream `Content-Encoding: identity` (or an empty one) counts as not encoded,
  // so the body is compressed, but its line stayed beside the new one ("identity, gzip").
  it.each([
    { why: 'an upstream Content-Encoding: identity is replaced when compressing, not joined', ce: 'identity' },
    { why: 'an empty upstream Content-Encoding is replaced when compressing, not joined', ce: '' },
  ])('$why', ({ ce }) => {
    const headers = ['Content-Type', 'text/plain', 'Content-Encoding', ce, 'Content-Length', '5000'];
    expect(shapeHead(COMPRESS, 200, headers, 'GET', 'gzip')).toBe('gzip');
    expect(valuesOf(headers, 'content-encoding')).toEqual(['gzip']);
  });
});

/** A ProxyResponse that records what it is written; `full` makes write() ask for a drain. */
class FakeResponse extends EventEmitter {
  chunks: Buffer[] = [];
  writes = 0;
  full = false;
  ended = false;
  destroyed: Error | true | undefined;
  headersSent = false;
  sendDate = false;
  write(chunk: Buffer): boolean {
    this.writes++;
    this.chunks.push(Buffer.from(chunk));
    this.emit('wrote');
    return !this.full;
  }
  end(): void {
    this.ended = true;
    this.emit('ended');
  }
  destroy(err?: Error): void {
    this.destroyed = err ?? true;
  }
  writeHead(): void {}
  flushHeaders(): void {}
  cork(): void {}
  uncork(): void {}
  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function encoder(encoding: 'gzip' | 'br', res: FakeResponse, onWritable: () => void = () => {}) {
  const counted = { bytes: 0 };
  const e = new ResponseEncoder(encoding, res as unknown as ProxyResponse, onWritable, (n) => (counted.bytes += n));
  return { e, counted };
}

/** The text so far of a stream that has not ended (a sync flush leaves whole blocks). */
function partial(encoding: 'gzip' | 'br', body: Buffer): string {
  if (body.length === 0) return '';
  return (
    encoding === 'gzip' ? gunzipSync(body, { finishFlush: constants.Z_SYNC_FLUSH }) : brotliDecompressSync(body, { finishFlush: constants.BROTLI_OPERATION_FLUSH })
  ).toString();
}

const decode = (encoding: 'gzip' | 'br', body: Buffer) => (encoding === 'gzip' ? gunzipSync(body) : brotliDecompressSync(body));

describe('ResponseEncoder', () => {
  it.each(['gzip', 'br'] as const)('a %s body written in chunks decodes to what was written, and every byte sent is counted', async (encoding) => {
    const res = new FakeResponse();
    const { e, counted } = encoder(encoding, res);
    const text = Array.from({ length: 50 }, (_, i) => `line ${i}: ${'lorem ipsum '.repeat(i % 7)}\n`);
    for (const t of text) e.write(Buffer.from(t));
    const ended = once(res, 'ended');
    e.end();
    await ended;
    expect(decode(encoding, res.body).toString()).toBe(text.join(''));
    expect(counted.bytes).toBe(res.body.length);
    expect(res.destroyed).toBeUndefined();
  });

  it.each(['gzip', 'br'] as const)('a %s body that ends in the tick it started goes out in one write', async (encoding) => {
    const res = new FakeResponse();
    const { e, counted } = encoder(encoding, res);
    e.write(Buffer.from('{"a": 1, '));
    e.write(Buffer.from('"b": [1, 2, 3]}'));
    e.end();
    expect([res.writes, res.ended]).toEqual([1, true]);
    expect(decode(encoding, res.body).toString()).toBe('{"a": 1, "b": [1, 2, 3]}');
    expect(counted.bytes).toBe(res.body.length);
  });

  it('a body still coming after its first tick goes through the stream, and what was held comes first', async () => {
    const res = new FakeResponse();
    const { e } = encoder('gzip', res);
    e.write(Buffer.from('held, '));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    e.write(Buffer.from('then streamed'));
    const ended = once(res, 'ended');
    e.end();
    await ended;
    expect(res.writes).toBeGreaterThan(1);
    expect(gunzipSync(res.body).toString()).toBe('held, then streamed');
  });

  it.each(['gzip', 'br'] as const)('an empty %s body is a valid empty stream', async (encoding) => {
    const res = new FakeResponse();
    const { e } = encoder(encoding, res);
    const ended = once(res, 'ended');
    e.end();
    await ended;
    expect(decode(encoding, res.body).toString()).toBe('');
  });

  it.each(['gzip', 'br'] as const)('each %s chunk reaches the client before the next is written (streaming answers are not held back)', async (encoding) => {
    const res = new FakeResponse();
    const { e } = encoder(encoding, res);
    let sent = '';
    for (const event of ['data: one\n\n', 'data: two\n\n', 'data: three\n\n']) {
      e.write(Buffer.from(event));
      sent += event;
      while (partial(encoding, res.body) !== sent) await once(res, 'wrote');
    }
    expect(res.ended).toBe(false);
    const ended = once(res, 'ended');
    e.end();
    await ended;
    expect(decode(encoding, res.body).toString()).toBe(sent);
  });

  it('a full client pauses the compressor until it drains, and the upstream is told to wait meanwhile', async () => {
    const res = new FakeResponse();
    res.full = true;
    let writable = 0;
    const upstreamResumed = new EventEmitter();
    const { e, counted } = encoder('gzip', res, () => {
      writable++;
      upstreamResumed.emit('resume');
    });
    // Incompressible, and far over the compressor's buffers, so it cannot all go through at once.
    const input = randomBytes(1 << 20);
    expect(e.write(input)).toBe(false);
    await once(res, 'wrote');
    for (let i = 0; i < 50; i++) await tick();
    expect(res.writes).toBe(1);
    expect(writable).toBe(0);
    // The client drains whenever it is written to, from now on.
    res.full = false;
    const resumed = once(upstreamResumed, 'resume');
    res.emit('drain');
    // The compressor takes the rest of its input and tells the upstream to go on; only then
    // can the upstream's end come (a Writable that is ending emits no 'drain').
    await resumed;
    expect(writable).toBe(1);
    const ended = once(res, 'ended');
    e.end();
    await ended;
    expect(gunzipSync(res.body).equals(input)).toBe(true);
    expect(counted.bytes).toBe(res.body.length);
  });

  it('a client that stays slow gets the whole body, one drain at a time', async () => {
    const res = new FakeResponse();
    res.full = true;
    const { e } = encoder('br', res);
    const input = randomBytes(256 * 1024);
    e.write(input);
    e.end();
    const ended = once(res, 'ended');
    let drains = 0;
    while (!res.ended) {
      await Promise.race([once(res, 'wrote'), ended]);
      drains++;
      res.emit('drain');
    }
    expect(drains).toBeGreaterThan(1);
    expect(brotliDecompressSync(res.body).equals(input)).toBe(true);
  });

  it('a destroyed encoder never ends the response, so a cut body cannot look complete', async () => {
    const res = new FakeResponse();
    const { e } = encoder('gzip', res);
    e.write(Buffer.from('part of an answer'));
    await once(res, 'wrote');
    e.destroy();
    for (let i = 0; i < 20; i++) await tick();
    expect(res.ended).toBe(false);
  });
});
