// Pipelined requests are relayed one at a time, with the fast path on and off (Node's server
// hands them on side by side; Fairway waits for each answer before relaying the next): a POST
// behind a slow answer reaches the upstream only after it, and nothing behind an answer that
// closes the connection is relayed at all, since its client would never learn what became of
// it. Found by the differential test (seed 1 case 511); real sockets, a real backend. Requests
// waiting their turn are read 64 at a time, so a flood behind a slow one cannot fill the heap
// (found by probing from outside: 100,000 GETs held 250 MB).

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, type Backend } from '../support/backends.js';
import { baseConfig, startFairway } from '../support/fairway.js';
import { parseResponses, requestText, sendRaw } from '../support/raw-client.js';

describe.each([true, false])('pipelining, fastPath %s', (fastPath) => {
  let backend: Backend;
  let app: Fairway;
  let port: number;
  const events: string[] = [];

  beforeAll(async () => {
    backend = await startBackend('b', (req, res) => {
      events.push(`${req.method} ${req.url} in`);
      req.resume();
      req.on('end', () => {
        const answer = () => {
          events.push(`${req.method} ${req.url} out`);
          res.end('ok');
        };
        // The slow one answers only once the test has seen whether the next one came early.
        if (req.url === '/slow') setTimeout(answer, 300);
        else if (req.url === '/slower') setTimeout(answer, 2_000);
        else answer();
      });
    });
    app = await startFairway(baseConfig({ server: { fastPath }, routes: [{ endpoints: [backend.address] }] }));
    port = Number(new URL(app.proxyUrl).port);
  });

  afterAll(async () => {
    await app.stop();
    await backend.close();
  });

  it('a POST behind a slow answer reaches the upstream only once that answer is back', async () => {
    events.length = 0;
    const text = requestText('POST', '/slow', 'a', [], 'one') + requestText('POST', '/next', 'a', ['Connection: close'], 'two');
    const { responses } = parseResponses(await sendRaw(port, text), { closed: true });
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(events).toEqual(['POST /slow in', 'POST /slow out', 'POST /next in', 'POST /next out']);
  });

  it('nothing behind an answer that closes the connection is relayed', async () => {
    events.length = 0;
    // No Host: 400. Its body was announced with Expect: 100-continue and not asked for (sent
    // all the same), so Fairway closes after it: those bytes could have been another request.
    const first = 'POST /first HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello';
    const text = first + requestText('POST', '/second', 'a', [], 'two') + requestText('GET', '/third', 'a');
    const raw = await sendRaw(port, text);
    const { responses } = parseResponses(raw, { closed: true });
    expect(responses.map((r) => r.status)).toEqual([400]);
    // The backend may see nothing at all: give a request relayed late the time to arrive.
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual([]);
  });
  it('answers every one of 300 requests pipelined behind a slow one, in order, past the bound on waiting ones', async () => {
    events.length = 0;
    let text = requestText('POST', '/slow', 'a', [], 'x');
    for (let i = 0; i < 300; i++) text += requestText('GET', `/g/${i}`, 'a', i === 299 ? ['Connection: close'] : []);
    const { responses } = parseResponses(await sendRaw(port, text), { closed: true });
    expect(responses).toHaveLength(301);
    expect(events.filter((e) => e.endsWith(' in'))).toEqual(['POST /slow in', ...Array.from({ length: 300 }, (_, i) => `GET /g/${i} in`)]);
  });

  it('does not read a flood pipelined behind a slow request all at once: its heap stays bounded', async () => {
    // 100,000 GETs (2.9 MB) behind a request answered in 2 s. Read and parsed without a bound,
    // they held about 250 MB of heap (2.4 KB each); read 64 waiting at a time, a few MB.
    const flood = requestText('POST', '/slower', 'a', [], 'x') + requestText('GET', '/f', 'a').repeat(100_000);
    const before = process.memoryUsage().heapUsed;
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.resume();
    s.write(flood);
    await new Promise((r) => setTimeout(r, 1_500));
    const grown = process.memoryUsage().heapUsed - before;
    s.destroy();
    console.log(`pipelined flood: heap grew ${(grown / 2 ** 20).toFixed(1)} MB while the first request waited`);
    expect(grown).toBeLessThan(64 * 2 ** 20);
  });
});
