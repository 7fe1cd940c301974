// The h2c upstream client (src/proxy/h2-upstream.ts) against real node:http2 servers on port
// 0: one session per instance, the peer's stream limit kept, a new session after GOAWAY or a
// lost connection, and timeouts and refusals reported with undici's codes.

import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { H2Origin } from '../../src/proxy/h2-upstream.js';
import { freePort } from '../support/ports.js';

interface Outcome {
  status?: number;
  headers: string[];
  body: string;
  trailers?: string[];
  error?: Error & { code?: string };
}

/** One request through `origin`, resolved when the handler completes or fails. */
function send(origin: H2Origin, opts: { path?: string; method?: string; headers?: string[]; body?: Buffer | null; headersTimeout?: number } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { headers: [], body: '' };
    origin.dispatch(
      { method: (opts.method ?? 'GET') as 'GET', path: opts.path ?? '/', headers: opts.headers ?? ['host', 'up.test'], body: opts.body ?? null, headersTimeout: opts.headersTimeout ?? 0, bodyTimeout: 0 },
      {
        onConnect() {},
        onHeaders(status: number, raw: Buffer[]) {
          out.status = status;
          out.headers = raw.map(String);
          return true;
        },
        onData(chunk: Buffer) {
          out.body += chunk.toString();
          return true;
        },
        onComplete(trailers: string[] | null) {
          out.trailers = trailers ?? [];
          resolve(out);
        },
        onError(err: Error) {
          out.error = err;
          resolve(out);
        },
      },
    );
  });
}

interface Upstream {
  server: Http2Server;
  origin: string;
  sessions: ServerHttp2Session[];
  /** Most streams open at once so far. */
  peak: number;
}

async function startUpstream(opts: { maxConcurrentStreams?: number; delayMs?: number; port?: number } = {}): Promise<Upstream> {
  const up = { sessions: [], peak: 0 } as unknown as Upstream;
  let open = 0;
  up.server = createServer({ settings: { maxConcurrentStreams: opts.maxConcurrentStreams ?? 100 } }, (req, res) => {
    open++;
    up.peak = Math.max(up.peak, open);
    req.resume();
    setTimeout(() => {
      open--;
      res.writeHead(200, { 'x-path': req.url });
      res.end(`${req.method} ${req.url} ${req.headers[':authority']}`);
    }, opts.delayMs ?? 0);
  });
  up.server.on('session', (s: ServerHttp2Session) => up.sessions.push(s));
  await new Promise<void>((r) => up.server.listen(opts.port ?? 0, '127.0.0.1', r));
  up.origin = `http://127.0.0.1:${(up.server.address() as { port: number }).port}`;
  return up;
}

const stop = (up: Upstream): Promise<void> =>
  new Promise((resolve) => {
    for (const s of up.sessions) s.destroy();
    up.server.close(() => resolve());
  });

describe('H2Origin: HTTP/2 to one upstream instance', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  const origin = (url: string, connectTimeoutMs = 2_000): H2Origin => {
    const o = new H2Origin(url, { connectTimeoutMs, keepAliveTimeoutMs: 10_000, tls: { rejectUnauthorized: true } });
    cleanup.push(() => o.destroy());
    return o;
  };

  it('carries concurrent requests on one session, with Host as :authority', async () => {
    const up = await startUpstream({ delayMs: 20 });
    cleanup.push(() => stop(up));
    const o = origin(up.origin);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => send(o, { path: `/r${i}` })));
    expect(answers.map((a) => a.body)).toEqual(Array.from({ length: 20 }, (_, i) => `GET /r${i} up.test`));
    expect(answers[0]!.headers).toContain('x-path');
    expect(up.sessions).toHaveLength(1);
  });

  it("keeps to the peer's SETTINGS_MAX_CONCURRENT_STREAMS, queueing the rest in order", async () => {
    const up = await startUpstream({ maxConcurrentStreams: 2, delayMs: 30 });
    cleanup.push(() => stop(up));
    const o = origin(up.origin);
    await send(o); // learns the peer's settings
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => send(o, { path: `/q${i}` })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(up.peak).toBe(2);
  });

  it('opens a new session after the upstream sends GOAWAY; the next request succeeds', async () => {
    const up = await startUpstream();
    cleanup.push(() => stop(up));
    const o = origin(up.origin);
    expect((await send(o)).status).toBe(200);
    // Graceful: GOAWAY, then the session ends once the client has seen it.
    await new Promise((r) => up.sessions[0]!.close(() => r(undefined)));
    expect((await send(o)).status).toBe(200);
    expect(up.sessions).toHaveLength(2);
  });

  it('reconnects once the instance is back after a lost connection', async () => {
    const up = await startUpstream();
    const o = origin(up.origin);
    expect((await send(o)).status).toBe(200);
    const port = Number(new URL(up.origin).port);
    await stop(up);
    const refused = await send(o);
    expect(refused.error).toBeDefined();
    const again = await startUpstream({ port });
    cleanup.push(() => stop(again));
    expect((await send(o)).status).toBe(200);
  });

  it('reports a refused connection as an error, not a hang', async () => {
    const o = origin(`http://127.0.0.1:${await freePort()}`);
    const r = await send(o);
    expect(r.status).toBeUndefined();
    expect(r.error).toBeDefined();
  });

  it('gives a headers timeout the code undici would (504 upstream)', async () => {
    const up = await startUpstream({ delayMs: 1_000 });
    cleanup.push(() => stop(up));
    const r = await send(origin(up.origin), { headersTimeout: 50 });
    expect(r.error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
  });

  it('sends a buffered body and gets the answer', async () => {
    const up = await startUpstream();
    cleanup.push(() => stop(up));
    const r = await send(origin(up.origin), { method: 'POST', body: Buffer.from('hello') });
    expect(r.body).toBe('POST / up.test');
  });
});
