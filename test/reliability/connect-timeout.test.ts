// An instance whose host does not answer at all: the connect neither succeeds nor fails, it
// hangs (a powered-off host, a firewall dropping packets; made here by test/support/
// unaccepting.ts). upstream.connectTimeout bounds it on every upstream path, well inside the
// route timeout, and a retryable request goes on to another instance, as after a refused
// connect: nothing was sent to the first.

import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, type Backend } from '../support/backends.js';
import { baseConfig, Client, startFairway } from '../support/fairway.js';
import { RawClient, requestText } from '../support/raw-client.js';
import { startUnaccepting, type Unaccepting } from '../support/unaccepting.js';

const CONNECT_TIMEOUT_MS = 300;
/** Far beyond the connect timeout: an answer before this is the connect timeout's doing. */
const ROUTE_TIMEOUT_MS = 8_000;

describe('an instance that never accepts the connection (upstream.connectTimeout)', () => {
  let hole: Unaccepting;
  let good: Backend;
  let app: Fairway;
  let client: Client;

  beforeAll(async () => {
    hole = await startUnaccepting();
    good = await startBackend('good');
    const timeout = `${ROUTE_TIMEOUT_MS}ms`;
    app = await startFairway(
      baseConfig({
        upstream: { connectTimeout: `${CONNECT_TIMEOUT_MS}ms` },
        // No ejection: every request here must meet the hanging instance afresh.
        outlier: { consecutiveFailures: 0 },
        routes: [
          { name: 'alone', match: { pathPrefix: '/alone' }, endpoints: [hole.address], retries: 0, timeout },
          { name: 'pair', match: { pathPrefix: '/pair' }, endpoints: [hole.address, good.address], strategy: 'round-robin', retries: 1, retryMethods: ['GET', 'PUT'], timeout },
        ],
      }),
    );
    client = new Client(app.proxyUrl, 1);
  });

  afterAll(async () => {
    await client?.close();
    await app?.stop();
    await good?.close();
    hole?.close();
  });

  const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const out = await f();
    return [out, performance.now() - t0];
  };

  it('a GET with no other instance: 504 upstream_timeout after the connect timeout, not the route timeout', async () => {
    const [r, ms] = await timed(() => client.get('/alone/x'));
    expect([r.status, r.headers['x-fairway-error']]).toEqual([504, 'upstream_timeout']);
    expect(ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 20);
    expect(ms).toBeLessThan(ROUTE_TIMEOUT_MS / 2);
  });

  it('GETs that meet the hanging instance first are retried on the other one (the lean client)', async () => {
    const answers: Array<[number, string, boolean]> = [];
    for (let i = 0; i < 4; i++) {
      const [r, ms] = await timed(() => client.get('/pair/x'));
      answers.push([r.status, r.body, ms >= CONNECT_TIMEOUT_MS - 20]);
    }
    // Round-robin over two: requests went to the hanging instance first (a retry takes a pick
    // from the rotation too), waited out the connect timeout, and were answered by the other.
    expect(answers.map(([s, b]) => `${s} ${b}`)).toEqual(Array(4).fill('200 good'));
    expect(answers.some(([, , slow]) => slow)).toBe(true);
  });

  it('a PUT with a body (read whole, sent through undici), PUT being in retryMethods, is retried the same way', async () => {
    const pool = new Pool(app.proxyUrl, { connections: 1 });
    try {
      const statuses: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await pool.request({ method: 'PUT', path: '/pair/put', body: 'payload' });
        statuses.push(`${res.statusCode} ${await res.body.text()}`);
      }
      expect(statuses).toEqual(Array(4).fill('200 good'));
    } finally {
      await pool.close();
    }
  });

  it('a WebSocket upgrade: 504 upstream_timeout after the connect timeout, connection closed', async () => {
    const c = await RawClient.connect(Number(new URL(app.proxyUrl).port));
    try {
      const t0 = performance.now();
      c.send(requestText('GET', '/alone/ws', 'a', ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']));
      await c.waitClose(ROUTE_TIMEOUT_MS);
      const ms = performance.now() - t0;
      expect(c.text).toMatch(/^HTTP\/1\.1 504 Gateway Timeout\r\n/);
      expect(c.text).toMatch(/\r\nx-fairway-error: upstream_timeout\r\n/i);
      expect(c.closed).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 20);
      expect(ms).toBeLessThan(ROUTE_TIMEOUT_MS / 2);
    } finally {
      c.destroy();
    }
  });
});
