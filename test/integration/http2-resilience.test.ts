// HTTP/2 when things go wrong, against Fairway in-process: a stream the client resets, broken
// frames and forbidden fields from hand-made byte streams (each kept to its stream or its
// connection, Fairway serving on), and a graceful stop that sends GOAWAY and lets the stream
// under way finish.

import { constants } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { PREFACE } from '../../src/proxy/preface.js';
import { startBackend, type Backend } from '../support/backends.js';
import { startFairwayLogged, until } from '../support/fairway.js';
import { h2connect, h2request } from '../support/h2-client.js';
import { END_STREAM_HEADERS, frame, frames, frameTypes, GET_A, GOAWAY, HEADERS, literal, RST_STREAM, SETTINGS } from '../support/h2-frames.js';

describe('HTTP/2 resilience', () => {
  let a: Backend;
  let b: Backend;
  let app: Fairway;
  let lines: Array<Record<string, unknown>>;
  let h2c: string;

  beforeAll(async () => {
    a = await startBackend('A');
    b = await startBackend('B');
    ({ app, lines } = await startFairwayLogged({
      admin: { listen: '127.0.0.1:0' },
      server: { keepAliveTimeout: '1s' },
      listeners: [{ address: '127.0.0.1:0', http2: true }],
      routes: [
        { name: 'a', match: { host: 'a.test' }, endpoints: [a.address] },
        { name: 'b', match: { host: 'b.test' }, endpoints: [b.address] },
      ],
    }));
    h2c = app.proxyUrl;
  });

  afterAll(async () => {
    await app?.stop();
    await a?.close();
    await b?.close();
  });

  it('a stream the client resets ends alone: the others on the session finish, and it is logged as 499', async () => {
    a.delayMs = 300;
    const c = await h2connect(h2c);
    try {
      const doomed = c.request({ ':method': 'GET', ':path': '/doomed', ':authority': 'a.test' });
      doomed.on('error', () => undefined);
      const survivor = h2request(c, { ':authority': 'a.test', ':path': '/survivor' });
      await until(() => a.hits >= 2, 5_000, 'both requests at the backend');
      doomed.close(constants.NGHTTP2_CANCEL);
      expect((await survivor).body).toBe('A');
      await until(() => lines.some((l) => l.msg === 'request' && l.path === '/doomed'), 5_000, 'the reset stream in the access log');
      expect(lines.find((l) => l.msg === 'request' && l.path === '/doomed')).toMatchObject({ status: 499, protocol: 'h2' });
      expect(lines.find((l) => l.msg === 'request' && l.path === '/survivor')).toMatchObject({ status: 200, protocol: 'h2' });
    } finally {
      a.delayMs = 0;
      c.close();
    }
  });

  it('an upload reset with an error code mid-body ends that stream alone; the session serves on', async () => {
    const c = await h2connect(h2c);
    try {
      const before = a.hits;
      const upload = c.request({ ':method': 'POST', ':path': '/upload', ':authority': 'a.test' });
      upload.on('error', () => undefined);
      upload.write('x'.repeat(1000));
      await until(() => a.hits === before + 1, 5_000, 'the upload at the backend');
      upload.close(constants.NGHTTP2_INTERNAL_ERROR);
      expect((await h2request(c, { ':authority': 'a.test', ':path': '/after' })).body).toBe('A');
      await until(() => lines.some((l) => l.msg === 'request' && l.path === '/upload'), 5_000, 'the reset upload in the access log');
      expect(lines.find((l) => l.msg === 'request' && l.path === '/upload')).toMatchObject({ status: 499 });
    } finally {
      c.close();
    }
  });

  it('a preface split across packets is still HTTP/2 (the listener waits for all of it)', async () => {
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = netConnect(Number(new URL(h2c).port), '127.0.0.1', () => {
        s.setNoDelay(true);
        s.write(PREFACE.subarray(0, 5));
        setTimeout(() => s.write(PREFACE.subarray(5, 20)), 30);
        setTimeout(() => s.write(Buffer.concat([PREFACE.subarray(20), frame(SETTINGS, 0, 0), frame(HEADERS, END_STREAM_HEADERS, 1, GET_A)])), 60);
      });
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        if (frames(Buffer.concat(chunks)).some((f) => f.type === HEADERS && f.stream === 1)) {
          s.destroy();
          resolve(Buffer.concat(chunks));
        }
      });
      s.on('error', reject);
      s.setTimeout(5_000, () => reject(new Error('no answer on stream 1')));
    });
    expect(frames(got)).toContainEqual({ type: HEADERS, stream: 1 });
  });

  it('a malformed frame after the preface ends only that session (GOAWAY, closed once idle), and Fairway keeps serving', async () => {
    const bystander = await h2connect(h2c);
    a.delayMs = 1_500;
    try {
      // In flight on another session all along: the broken one must not take it down.
      const inFlight = h2request(bystander, { ':authority': 'a.test', ':path': '/bystander' });
      const got = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = netConnect(Number(new URL(h2c).port), '127.0.0.1', () => {
          // A SETTINGS frame of 5 bytes (settings come in 6s): FRAME_SIZE_ERROR for the session.
          s.write(Buffer.concat([PREFACE, Buffer.from([0, 0, 5, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5])]));
        });
        s.on('data', (d: Buffer) => chunks.push(d));
        s.on('close', () => resolve(Buffer.concat(chunks)));
        s.on('error', reject);
        // node:http2 leaves closing to the client after its GOAWAY; Fairway closes the idle session.
        s.setTimeout(5_000, () => reject(new Error('session not closed')));
      });
      expect(frameTypes(got)).toContain(GOAWAY);
      expect((await inFlight).body).toBe('A');
      const fresh = await h2connect(h2c);
      expect((await h2request(fresh, { ':authority': 'a.test' })).status).toBe(200);
      fresh.close();
    } finally {
      a.delayMs = 0;
      bystander.close();
    }
  });

  it('a request with a connection-specific field is reset alone; the next stream on that connection is served', async () => {
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = netConnect(Number(new URL(h2c).port), '127.0.0.1', () => {
        s.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0), frame(HEADERS, END_STREAM_HEADERS, 1, Buffer.concat([GET_A, literal('connection', 'close')]))]));
        setTimeout(() => s.write(frame(HEADERS, END_STREAM_HEADERS, 3, GET_A)), 50);
      });
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        if (frames(Buffer.concat(chunks)).some((f) => f.type === HEADERS && f.stream === 3)) {
          s.destroy();
          resolve(Buffer.concat(chunks));
        }
      });
      s.on('error', reject);
      s.setTimeout(5_000, () => reject(new Error(`no answer on stream 3: ${JSON.stringify(frames(Buffer.concat(chunks)))}`)));
    });
    const seen = frames(got);
    expect(seen).toContainEqual({ type: RST_STREAM, stream: 1 });
    expect(seen).not.toContainEqual({ type: GOAWAY, stream: 0 });
  });

  it.each([
    { why: 'a header block HPACK cannot decode', bytes: frame(HEADERS, END_STREAM_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])) },
    { why: 'DATA on stream 0', bytes: frame(0, 0, 0, Buffer.from('x')) },
    { why: 'a WINDOW_UPDATE of 0 for the connection', bytes: frame(8, 0, 0, Buffer.alloc(4)) },
  ])('$why ends that connection with GOAWAY; Fairway keeps serving', async ({ bytes }) => {
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = netConnect(Number(new URL(h2c).port), '127.0.0.1', () => s.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0), bytes])));
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('close', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
      s.setTimeout(5_000, () => reject(new Error('connection not closed')));
    });
    expect(frameTypes(got)).toContain(GOAWAY);
    const c = await h2connect(h2c);
    expect((await h2request(c, { ':authority': 'b.test' })).body).toBe('B');
    c.close();
  });
});

describe('HTTP/2 and graceful shutdown', () => {
  it('a stop sends GOAWAY and lets the stream under way finish', async () => {
    const slow = await startBackend('slow');
    slow.delayMs = 400;
    const { app } = await startFairwayLogged({ admin: { listen: '127.0.0.1:0' }, listeners: [{ address: '127.0.0.1:0', http2: true }], routes: [{ endpoints: [slow.address] }] });
    const c = await h2connect(app.proxyUrl);
    try {
      const goaway = new Promise<number>((resolve) => c.once('goaway', (code: number) => resolve(code)));
      const inFlight = h2request(c, { ':authority': 'x.test', ':path': '/slow' });
      await until(() => slow.hits === 1, 5_000, 'the request at the backend');
      const stopping = app.stop();
      expect(await goaway).toBe(constants.NGHTTP2_NO_ERROR);
      const r = await inFlight;
      expect([r.status, r.body]).toEqual([200, 'slow']);
      await stopping;
    } finally {
      c.destroy();
      await app.stop();
      await slow.close();
    }
  });
});
