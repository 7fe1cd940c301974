#!/usr/bin/env node
// An open-loop HTTP/1.1 load generator for the fixed-rate latency points of `npm run bench`:
// GET requests leave at a constant rate whatever the answers do, over CONNECTIONS keep-alive
// connections opened before the clock starts (no pipelining: one request per connection at a
// time, as browsers and proxies send them).
//
// Coordinated omission: a request that is due while every connection waits for an answer
// queues here, and its latency runs from when it was due, so a stall in the server counts
// against every request it delayed. What the generator itself adds is kept apart: a 1 ms timer
// sends what is due, each request is timed from the tick that found it due (not from its exact
// slot inside that millisecond), and the lateness of those ticks is reported as `lagP99`: a
// load side that cannot keep up shows there, not in the server's percentiles.
//
// Raw sockets, one fixed request buffer and a parser that reads only the status and
// Content-Length keep its cost per request a fraction of an HTTP client's: the load side shares
// a CPU with the backends. Requests of the first SETTLE seconds are sent but not counted; the
// ones still unanswered GRACE seconds after the last send count as errors, at their age then.
// Prints one JSON line: { p50, p99, p999 (ms), achieved (answers/s), errors, lagP99 (ms) }.
//   node bench/open-loop.mjs URL RATE SECONDS [SETTLE] [CONNECTIONS]
import { connect } from 'node:net';

const GRACE_MS = 1000;
const TICK_MS = 1;
const url = new URL(process.argv[2]);
const [rate, seconds, settle, connections] = [3, 4, 5, 6].map((i, k) => Number(process.argv[i] ?? [0, 0, 0, 64][k]));
const request = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: fairway-bench\r\n\r\n`, 'latin1');
const HEAD_END = Buffer.from('\r\n\r\n');

const skipped = Math.round(rate * settle);
const total = skipped + Math.round(rate * seconds);
const latencies = new Float64Array(total - skipped);
const lags = new Float64Array(Math.ceil(((settle + seconds) * 1000) / TICK_MS) + 16);
let [ticks, sent, answered, errors, lastAnswer, start, finished] = [0, 0, 0, 0, 0, 0, false];
// Requests due while no connection is free: [index, dueAt] pairs, read from `queueHead` on.
const queue = [];
let queueHead = 0;
const idle = [];
const conns = new Set();

function record(index, dueAt, now, ok) {
  if (index >= skipped) {
    latencies[index - skipped] = now - dueAt;
    if (!ok) errors++;
    else lastAnswer = now;
  }
  if (++answered === total) finish();
}

class Conn {
  constructor(onReady) {
    this.index = -1; // the request in flight, -1 when none
    this.dueAt = 0;
    this.head = null; // bytes of an incomplete head
    this.left = -1; // body bytes still to come; -1 while the head is incomplete
    this.ok = false;
    this.socket = connect({ host: url.hostname, port: Number(url.port || 80), noDelay: true }, () => onReady(this));
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => this.onClose());
    conns.add(this);
  }

  send(index, dueAt) {
    [this.index, this.dueAt, this.head, this.left] = [index, dueAt, null, -1];
    this.socket.write(request);
  }

  onData(chunk) {
    if (this.index < 0) return this.socket.destroy();
    if (this.left < 0) {
      const buf = this.head ? Buffer.concat([this.head, chunk]) : chunk;
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        this.head = buf;
        return;
      }
      const head = buf.latin1Slice(0, end);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!length) return this.socket.destroy(); // every row answers these with Content-Length
      this.ok = head.startsWith(' 200', 8);
      this.left = Number(length[1]) - (buf.length - end - 4);
    } else this.left -= chunk.length;
    if (this.left > 0) return;
    if (this.left < 0) return this.socket.destroy(); // bytes beyond the answer: protocol error
    const index = this.index;
    this.index = -1;
    record(index, this.dueAt, performance.now(), this.ok);
    this.next();
  }

  next() {
    if (queueHead < queue.length) {
      const [index, dueAt] = queue[queueHead];
      queue[queueHead++] = undefined;
      this.send(index, dueAt);
    } else idle.push(this);
  }

  onClose() {
    if (!start) {
      process.stderr.write(`open-loop: could not connect to ${url.host}\n`);
      process.exit(1);
    }
    conns.delete(this);
    const i = idle.indexOf(this);
    if (i >= 0) idle.splice(i, 1);
    if (this.index >= 0) record(this.index, this.dueAt, performance.now(), false);
    if (!finished) new Conn((c) => c.next()); // a replacement, so the pool keeps its size
  }
}

function tick() {
  const now = performance.now();
  // Request i is due at start + i / rate.
  const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
  if (sent < due) lags[ticks++] = now - (start + (sent * 1000) / rate);
  for (; sent < due; sent++) {
    const conn = idle.pop();
    if (conn) conn.send(sent, now);
    else queue.push([sent, now]);
  }
  if (sent < total) setTimeout(tick, TICK_MS);
  else setTimeout(finish, GRACE_MS);
}

function percentile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] : NaN;
}

function finish() {
  if (finished) return;
  finished = true;
  const now = performance.now();
  // Still queued or in flight: unanswered, counted at their age now (a lower bound).
  for (let i = queueHead; i < queue.length; i++) if (queue[i][0] >= skipped) [latencies[queue[i][0] - skipped], errors] = [now - queue[i][1], errors + 1];
  for (const c of conns) if (c.index >= skipped) [latencies[c.index - skipped], errors] = [now - c.dueAt, errors + 1];
  const measuredFrom = start + settle * 1000;
  const sorted = latencies.sort();
  const out = {
    ...Object.fromEntries([['p50', 0.5], ['p99', 0.99], ['p999', 0.999]].map(([k, q]) => [k, percentile(sorted, q)])),
    achieved: (latencies.length - errors) / (Math.max(lastAnswer - measuredFrom, 1) / 1000),
    errors,
    lagP99: percentile(lags.subarray(0, ticks).sort(), 0.99),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
}

let ready = 0;
for (let i = 0; i < connections; i++)
  new Conn((c) => {
    idle.push(c);
    if (++ready === connections) {
      start = performance.now();
      tick();
    }
  });
