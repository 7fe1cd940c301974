// A client that stops reading, in front of an answer relayed by undici (a POST whose body is
// larger than Fairway reads whole: such a body streams, through undici, not the lean client of
// h1-upstream.ts).
//
// Why: undici 7 (the last for Node 20) asserts `!this.paused` when an upstream socket ends while
// an answer is paused (client-h1.js finish(), from onHttpSocketEnd): an AssertionError no handler
// can catch. A dispatch handler pauses by returning false from onData, so a proxy that passes a
// slow client's backpressure on to undici dies when an upstream answers in a way undici will not
// keep alive (`Connection: close`, a body delimited by the close, HTTP/1.0) and its end of stream
// reaches undici while the answer is paused. Fairway therefore never pauses an undici answer: it
// holds up to SLOW_CLIENT_HOLD_LIMIT of it for a slow client, and cuts it past that.
//
// Each exchange: the client POSTs and pauses its socket before the answer comes. The answer is
// larger than the socket buffers between Fairway and a paused client (about 4 MiB on Linux
// loopback, whose tcp_wmem lets a send buffer grow to 4 MiB), so Fairway must hold the rest.
// The client reads again only once the upstream has sent everything and Fairway is done with the
// upstream connection: that wait is what a Fairway that still pauses undici fails, since its
// undici answer stays paused, and the upstream connection open, until the client reads.
// The crash itself is a race on loopback (the end of stream must reach undici while it is paused
// on the answer's last bytes) that no client behaviour here forces; when it happens it is an
// uncaught exception in this worker, caught here, and ends the test at once with its stack.

import { once } from 'node:events';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { SLOW_CLIENT_HOLD_LIMIT } from '../../src/proxy/attempt.js';
import { WHOLE_BODY_LIMIT } from '../../src/proxy/exchange.js';
import { baseConfig, startFairwayLogged } from '../support/fairway.js';
import { plainAnswer, startRawBackend, type RawBackend, type RawConnection } from '../support/hostile-backend.js';
import { RawClient, requestText, type ReadResult } from '../support/raw-client.js';

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;
/** More than the socket buffers between Fairway and a paused client hold; less than the hold limit. */
const WITHIN = 6 * MiB;
/** Past the hold limit by more than any socket buffers could take. */
const BEYOND = 3 * SLOW_CLIENT_HOLD_LIMIT;
/** A request body that streams (so the answer comes through undici). */
const STREAMED = 'p'.repeat(WHOLE_BODY_LIMIT + 1);
/** Generous: every wait here ends on an event long before it on a sound Fairway. */
const WAIT_MS = 20_000;

interface Shape {
  /** Route-safe id. */
  id: string;
  /** The end of the sentence "the upstream answers ...". */
  sentence: string;
  /** The head for a body of `size` bytes, up to and including the blank line. */
  head: (size: number) => string;
  /** The upstream closes its side after the body. */
  closes: boolean;
}

const CLOSE_CL: Shape = {
  id: 'close-cl',
  sentence: 'HTTP/1.1 with `Connection: close` and a Content-Length, then closes',
  head: (n) => `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${n}\r\nConnection: close\r\n\r\n`,
  closes: true,
};
const UNTIL_CLOSE: Shape = {
  id: 'until-close',
  sentence: 'HTTP/1.1 without framing, the body running until it closes',
  head: () => 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n',
  closes: true,
};
const HTTP10: Shape = {
  id: 'http10',
  sentence: 'HTTP/1.0 with a Content-Length and no keep-alive, then closes',
  head: (n) => `HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${n}\r\n\r\n`,
  closes: true,
};
const KEEP_ALIVE: Shape = {
  id: 'keep-alive',
  sentence: 'HTTP/1.1 with a Content-Length and keeps the connection',
  head: (n) => `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${n}\r\n\r\n`,
  closes: false,
};

/** Block `k` of every body: a fixed pattern with the block number in front, so a lost, repeated or reordered block shows. */
function block(k: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) b[i] = (i * 31 + 7) & 0xff;
  b.writeUInt32BE(k, 0);
  return b;
}

function bodyOf(size: number): Buffer {
  return Buffer.concat(Array.from({ length: size / BLOCK }, (_, k) => block(k)));
}

/** The upstream's side of the big answer of one exchange. */
interface BigAnswer {
  conn: RawConnection;
  /** `sent`: every byte (and the FIN, if it closes) handed to the kernel; `cut`: the connection went first. */
  state: 'sending' | 'sent' | 'cut';
}

/** Writes `head` then `size` body bytes, one block at a time as the socket drains, then ends if `close`. */
async function sendAnswer(socket: Socket, head: string, size: number, close: boolean): Promise<boolean> {
  const gone = once(socket, 'close').then(() => false);
  socket.write(head, 'latin1');
  for (let k = 0; k < size / BLOCK; k++) {
    if (socket.destroyed) return false;
    if (!socket.write(block(k)) && !(await Promise.race([once(socket, 'drain').then(() => true), gone]))) return false;
  }
  if (socket.destroyed) return false;
  const done = new Promise<boolean>((resolve) => (close ? socket.end(() => resolve(true)) : socket.write(Buffer.alloc(0), () => resolve(true))));
  return Promise.race([done, gone]);
}

describe('a client that stops reading an answer relayed by undici', () => {
  const uncaught: string[] = [];
  const crashWaiters = new Set<(stack: string) => void>();
  const onUncaught = (err: unknown): void => {
    const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
    uncaught.push(stack);
    for (const w of crashWaiters) w(stack);
  };
  const backends = new Map<string, RawBackend>();
  const big = new Map<string, BigAnswer>();
  let app: Fairway;
  let logLines: Array<Record<string, unknown>>;
  let port: number;

  /** `p`, or a rejection naming the crash as soon as anything in this process throws uncaught. */
  function orCrash<T>(p: Promise<T>, what: string): Promise<T> {
    if (uncaught.length > 0) return Promise.reject(new Error(`Fairway crashed before ${what}:\n${uncaught[0]}`));
    let waiter: ((stack: string) => void) | undefined;
    const crashed = new Promise<never>((_, reject) => {
      waiter = (stack) => reject(new Error(`Fairway crashed (uncaught in the test process) while ${what}:\n${stack}`));
      crashWaiters.add(waiter);
    });
    return Promise.race([p, crashed]).finally(() => crashWaiters.delete(waiter!));
  }

  /** Resolves true once `cond` holds, false after `ms`. */
  async function within(ms: number, cond: () => boolean): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!cond()) {
      if (performance.now() > deadline) return false;
      await sleep(10);
    }
    return true;
  }

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    for (const [shape, size] of [
      [CLOSE_CL, WITHIN],
      [UNTIL_CLOSE, WITHIN],
      [HTTP10, WITHIN],
      [KEEP_ALIVE, WITHIN],
      [CLOSE_CL, BEYOND],
    ] as const) {
      const key = `${shape.id}-${size / MiB}`;
      const backend = await startRawBackend((req, conn) => {
        if (!req.target.endsWith('/big')) return void conn.socket.write(plainAnswer(`${req.method} ${req.target}`), 'latin1');
        const answer: BigAnswer = { conn, state: 'sending' };
        big.set(key, answer);
        // A reset while waiting for 'drain' rejects (events.once does): that is a cut too.
        void sendAnswer(conn.socket, shape.head(size), size, shape.closes).then(
          (sent) => (answer.state = sent ? 'sent' : 'cut'),
          () => (answer.state = 'cut'),
        );
      });
      backends.set(key, backend);
    }
    ({ app, lines: logLines } = await startFairwayLogged(
      baseConfig({
        // A cut answer counts against the instance; these tests want it served again, not ejected.
        outlier: { consecutiveFailures: 0 },
        routes: [...backends].map(([key, b]) => ({ name: key, match: { pathPrefix: `/${key}/` }, endpoints: [b.address], timeout: '60s', retries: 0 })),
      }),
    ));
    port = Number(new URL(app.proxyUrl).port);
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    // After a crash Fairway's undici pool is wedged, and a graceful stop could wait on it.
    await Promise.race([app?.stop(), sleep(10_000, undefined, { ref: false })]);
    await Promise.all([...backends.values()].map((b) => b.close()));
  });

  /**
   * One exchange with a client that pauses before the answer comes: POST, wait (reading nothing)
   * until the upstream is done with its answer, then read it to the end or the close.
   */
  async function slowExchange(key: string, closes: boolean): Promise<{ read: ReadResult; answer: BigAnswer; letGo: boolean; client: RawClient }> {
    const client = await RawClient.connect(port);
    client.socket.pause();
    client.send(requestText('POST', `/${key}/big`, 'slow.test', [], STREAMED));
    await orCrash(within(WAIT_MS, () => big.has(key)), 'waiting for the POST to reach the upstream');
    const answer = big.get(key)!;
    // A closing answer is done with when undici has read it to the end (or given it up) and
    // closed its side; a keep-alive one stays pooled, so its having been sent is all there is.
    const letGo = await orCrash(within(WAIT_MS, () => (closes ? !answer.conn.open : answer.state !== 'sending')), 'the upstream answered a client reading nothing');
    client.socket.resume();
    const read = await orCrash(client.read(1, WAIT_MS), 'the client read the end of the answer');
    return { read, answer, letGo, client };
  }

  /** A fresh connection is served by the same route, through undici (a POST) and the fast path (a GET). */
  async function expectServedAfter(key: string): Promise<void> {
    for (const [method, body] of [['POST', STREAMED], ['GET', '']] as const) {
      const client = await RawClient.connect(port);
      client.send(requestText(method, `/${key}/next`, 'slow.test', [], body));
      const { responses } = await orCrash(client.read(1, WAIT_MS), `a ${method} on a new connection was answered`);
      client.destroy();
      expect(responses[0], `a ${method} on a new connection afterwards`).toMatchObject({ status: 200, body: `${method} /${key}/next` });
    }
    expect(uncaught, 'uncaught exceptions or unhandled rejections').toEqual([]);
  }

  for (const shape of [CLOSE_CL, UNTIL_CLOSE, HTTP10, KEEP_ALIVE]) {
    it(`delivers a ${WITHIN / MiB} MiB answer whole to a client that stopped reading, when the upstream answers ${shape.sentence}`, async () => {
      const key = `${shape.id}-${WITHIN / MiB}`;
      const { read, answer, letGo, client } = await slowExchange(key, shape.closes);
      client.destroy();
      const r = read.responses[0];
      const got = r === undefined ? `nothing complete (${read.rest.length} bytes, ${read.closed ? 'closed' : read.timedOut ? 'timed out' : 'open'}${read.error ? `, ${read.error}` : ''})` : `${r.status} with ${r.body.length} body bytes`;
      expect(uncaught, 'uncaught exceptions or unhandled rejections').toEqual([]);
      expect(r?.status, `the client's answer: ${got}`).toBe(200);
      expect(r!.body.length, 'body bytes delivered').toBe(WITHIN);
      expect(Buffer.from(r!.body, 'latin1').equals(bodyOf(WITHIN)), "the body is the upstream's, byte for byte").toBe(true);
      expect(answer.state, 'the upstream sent its whole answer while the client read nothing (Fairway held it)').toBe('sent');
      expect(letGo, 'Fairway was done with the upstream connection while the client read nothing (an undici answer left paused is what crashes on the end of stream)').toBe(true);
      await expectServedAfter(key);
    }, 120_000);
  }

  it('cuts short an answer larger than the hold limit to a client that stopped reading, and keeps serving', async () => {
    expect(SLOW_CLIENT_HOLD_LIMIT, 'attempt.ts exports SLOW_CLIENT_HOLD_LIMIT').toBeTypeOf('number');
    expect(WITHIN, 'the whole-answer tests stay within the hold limit').toBeLessThan(SLOW_CLIENT_HOLD_LIMIT);
    const key = `${CLOSE_CL.id}-${BEYOND / MiB}`;
    const { read, answer, letGo, client } = await slowExchange(key, true);
    const upstreamWrote = answer.conn.socket.bytesWritten;
    const closed = read.closed || (await orCrash(client.waitClose(WAIT_MS), 'waiting for the cut connection to close')) !== undefined;
    client.destroy();
    const bodyStart = read.rest.indexOf('\r\n\r\n') + 4;
    const received = bodyStart >= 4 ? Buffer.from(read.rest.slice(bodyStart), 'latin1') : Buffer.alloc(0);
    expect(uncaught, 'uncaught exceptions or unhandled rejections').toEqual([]);
    // The memory bound, seen from the upstream: it could not hand over the whole answer, because
    // Fairway stopped taking it while the client still read nothing.
    expect(letGo, 'Fairway gave up the upstream connection while the client read nothing').toBe(true);
    expect(answer.state, `the upstream's answer was cut (it wrote ${upstreamWrote} of ${BEYOND} body bytes and the head)`).toBe('cut');
    expect(read.responses, 'a complete answer reached the client').toEqual([]);
    expect(read.rest.startsWith('HTTP/1.1 200 '), `the client got the head of the answer: ${JSON.stringify(read.rest.slice(0, 40))}`).toBe(true);
    expect(received.length, 'body bytes delivered before the cut').toBeLessThan(BEYOND);
    expect(received.equals(bodyOf(BEYOND).subarray(0, received.length)), "what was delivered is the start of the upstream's body").toBe(true);
    expect(closed, "the client's connection was closed").toBe(true);
    expect(logLines.filter((l) => l.route === key && Number(l.level) >= 40), 'a warning names the route whose answer was cut').not.toEqual([]);
    await expectServedAfter(key);
  }, 120_000);
});
