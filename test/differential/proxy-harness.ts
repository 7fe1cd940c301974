// Layer 2 of the differential test: the same bytes sent over real TCP to two Fairway listeners,
// one with the fast path on and one with it off (`server.fastPath: false`), each in front of
// its own recording backend (test/support/recording-backend.ts). What the client got back
// (status lines and x-fairway-error, in order, and whether the connection closed) and what
// reached the backend (normalised for per-run values) must be the same either way.
//
// Clients run in lanes, each from its own loopback address (127.0.2.N): the backend attributes
// what it receives to a lane by X-Forwarded-For, so lanes can run side by side while each lane
// sends one input at a time. An input is over when the proxy closed the connection, or when
// nothing has moved for a quiet period (no bytes to the client, none to the lane's backend).

import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Received, RecordingBackend } from '../support/recording-backend.js';
import { segments, type Case } from './cases.js';

/** One side: a Fairway listener and the backend behind it. */
export interface Side {
  readonly name: 'fast' | 'node';
  readonly port: number;
  readonly backend: RecordingBackend;
}

export interface Timing {
  /** Pause between the writes of one input, so they arrive as separate reads. */
  readonly gapMs: number;
  /** Nothing moved for this long: the input is over. */
  readonly quietMs: number;
  /** An input never takes longer than this. */
  readonly capMs: number;
}

/** What one side made of one input. */
export interface Outcome {
  /** Each response: its status line, plus ` [x-fairway-error: code]` when it had one. */
  readonly responses: string[];
  /** Bytes after the last whole response (a partial one, or a tunnel's raw stream). */
  readonly rest: string;
  /** How the connection ended, seen from the client. */
  readonly ending: 'closed' | 'reset' | 'open';
  /** What reached the backend for this input, normalised (see normalise), in arrival order. */
  readonly upstream: string[];
  /** The input hit capMs before going quiet. */
  readonly capped: boolean;
  /** The client's port (the proxy's end of the connection has it as remotePort). */
  readonly localPort: number;
  /** Messages of the lane's previous input that reached the backend after it went quiet. */
  readonly late: number;
}

export function laneAddress(lane: number): string {
  return `127.0.2.${lane + 1}`;
}

/**
 * Whether this machine lets a client bind 127.0.2.N (Linux routes all of 127/8 to loopback;
 * macOS, by default, only 127.0.0.1).
 */
export async function lanesAvailable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: laneAddress(0) });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Sends one case to one side from `address`, and collects the outcome. */
export async function runCase(side: Side, address: string, c: Case, timing: Timing): Promise<Outcome> {
  // Whatever reached the backend for this lane after its previous input went quiet belongs to
  // that input, not to this one.
  const late = side.backend.take(address).length;
  const start = performance.now();
  let last = start;
  const chunks: Buffer[] = [];
  let ending: Outcome['ending'] = 'open';
  const socket: Socket = connect({ port: side.port, host: '127.0.0.1', localAddress: address, noDelay: true, allowHalfOpen: true });
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    last = performance.now();
  });
  socket.on('error', () => {
    ending = 'reset';
    last = performance.now();
  });
  // 'end': the proxy sent FIN. With allowHalfOpen the socket stays writable; that is the
  // proxy's last word either way.
  socket.on('end', () => {
    if (ending === 'open') ending = 'closed';
    last = performance.now();
  });
  socket.on('close', () => {
    if (ending === 'open') ending = 'closed';
    last = performance.now();
  });
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('error', resolve);
  });
  const parts = segments(c);
  for (let i = 0; i < parts.length && !socket.destroyed; i++) {
    if (i > 0) await sleep(timing.gapMs);
    socket.write(parts[i]!);
    last = performance.now();
  }
  if (c.fin && !socket.destroyed) socket.end();
  let capped = false;
  for (;;) {
    await sleep(Math.min(10, timing.quietMs));
    const now = performance.now();
    const moved = Math.max(last, side.backend.lastActivity(address));
    if (ending !== 'open' && now - moved >= Math.min(20, timing.quietMs)) break;
    if (now - moved >= timing.quietMs) break;
    if (now - start >= timing.capMs) {
      capped = true;
      break;
    }
  }
  const localPort = socket.localPort ?? 0;
  socket.destroy();
  const { responses, rest } = parseResponses(Buffer.concat(chunks).toString('latin1'));
  return { responses, rest, ending, upstream: side.backend.take(address).map(normalise), capped, localPort, late };
}

const REQUEST_ID = /^(x-request-id:\s*)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\r$/gim;
/**
 * The Host sent for a request that came without one (undici's for HTTP/1.0, http-proxy's for
 * an empty one): the backend's own address, whose port differs between the two sides.
 */
const BACKEND_HOST = /(\r\nhost: )127\.0\.0\.1:\d+\r/i;

/**
 * What reached the backend, without per-run values: a request id Fairway made up (UUID form,
 * see src/proxy/request-id.ts) becomes `<id>`. X-Forwarded-For holds the lane's address, the
 * same on both sides; a chunked body is shown decoded.
 */
export function normalise(r: Received): string {
  const text = r.text.replace(REQUEST_ID, '$1<id>\r').replace(BACKEND_HOST, '$1<backend>\r');
  if (r.kind !== 'request') return `${r.kind} ${JSON.stringify(text)}`;
  return `${JSON.stringify(text)}${r.body.length > 0 || r.chunked ? ` body${r.chunked ? ' (chunked)' : ''} ${JSON.stringify(r.body)}` : ''}`;
}

/**
 * The responses in a client's byte stream: status line and x-fairway-error of each. A body is
 * framed by Content-Length or chunked; none for 1xx, 204 and 304, and none when the next bytes
 * are already the next response or nothing more came (the answer to a HEAD).
 */
export function parseResponses(text: string): { responses: string[]; rest: string } {
  const responses: string[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1 || !text.startsWith('HTTP/', at)) break;
    const lines = text.slice(at, end).split('\r\n');
    const statusLine = lines[0]!;
    const status = Number(statusLine.split(' ')[1]);
    const fields = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) fields.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
    }
    const error = fields.get('x-fairway-error');
    responses.push(error === undefined ? statusLine : `${statusLine} [x-fairway-error: ${error}]`);
    let p = end + 4;
    if (status === 101) {
      at = p;
      break;
    }
    const bodiless = (status >= 100 && status < 200) || status === 204 || status === 304 || p === text.length || text.startsWith('HTTP/1.', p);
    if (!bodiless) {
      const te = fields.get('transfer-encoding');
      const cl = fields.get('content-length');
      if (te !== undefined && /chunked/i.test(te)) {
        for (;;) {
          const le = text.indexOf('\r\n', p);
          if (le === -1) return { responses, rest: text.slice(p) };
          const size = Number.parseInt(text.slice(p, le), 16);
          p = le + 2 + size + 2;
          if (size === 0 || !Number.isFinite(size)) break;
        }
      } else if (cl !== undefined) {
        p += Number(cl);
      } else {
        // Framed by close: the body runs to the end.
        p = text.length;
      }
    }
    at = Math.min(p, text.length);
  }
  return { responses, rest: text.slice(at) };
}

const CONTINUE = /^HTTP\/1\.1 100 /;

/**
 * One input's outcomes on both sides, when they differ: how, in a line each.
 *
 * One difference is expected and allowed: the interim `100 Continue`. Fairway sends it for a
 * request with `Expect: 100-continue` and a body only once that request's answer is first in
 * line (Node wrote it at once, into the middle of the answer before it). A request the fast
 * path hands over is always first in line; on Node's path alone the same request may be
 * pipelined behind an answer still under way, and if its own answer is ready first, no 100 is
 * sent (RFC 9110 §10.1.1 lets a server omit it) and Node closes the connection after that
 * answer, as it must when it cannot know whether the client will still send the body, while
 * the side that sent the 100 reads that body and goes on. So 100s are left out of the
 * comparison, and when exactly one side sent one, the comparison ends with the answer it was
 * sent for. A 100 written inside another answer still shows: that answer's body no longer
 * parses.
 */
export function differences(fast: Outcome, node: Outcome): string[] {
  const out: string[] = [];
  const finals = (o: Outcome): string[] => o.responses.filter((r) => !CONTINUE.test(r));
  const continuedAt = (o: Outcome): number => o.responses.findIndex((r) => CONTINUE.test(r));
  const [f, n] = [continuedAt(fast), continuedAt(node)];
  if ((f === -1) !== (n === -1)) {
    // Answers up to and including the one the single 100 was sent for (finals before it + 1).
    const upTo = (f === -1 ? n : f) + 1;
    if (finals(fast).slice(0, upTo).join('\n') !== finals(node).slice(0, upTo).join('\n')) out.push('responses');
    return out;
  }
  if (finals(fast).join('\n') !== finals(node).join('\n')) out.push('responses');
  if ((fast.ending === 'open') !== (node.ending === 'open')) out.push('connection close');
  if (fast.rest !== node.rest) out.push('bytes after the responses');
  if (compared(fast.upstream) !== compared(node.upstream)) out.push('upstream bytes');
  return out;
}

/**
 * The upstream messages as compared: in any order (the Node path forwards pipelined requests
 * side by side, the fast path one at a time), without bytes sent on a connection the backend
 * had already answered `Connection: close` on (it acts on none of them; a pool that raced the
 * close retries them elsewhere, or the client gets a 502, which the responses show).
 */
/**
 * The upstream's requests as compared: bytes after a close are left out, and so is a request
 * whose body never came whole because Fairway gave up on it (its client's body turned out
 * malformed): whether its head had reached the upstream before the abort is a race.
 */
function compared(upstream: readonly string[]): string {
  return upstream.filter((u) => !u.startsWith('after-close ') && !u.startsWith('incomplete ')).sort().join('\n');
}

export function showOutcome(o: Outcome): string {
  const lines = [
    `responses: ${o.responses.length === 0 ? '(none)' : o.responses.join(' | ')}`,
    `connection: ${o.ending}${o.capped ? ' (still moving when the per-input cap ran out)' : ''}${o.late > 0 ? ` (${o.late} late upstream messages of the previous input dropped)` : ''}`,
  ];
  if (o.rest.length > 0) lines.push(`then: ${JSON.stringify(o.rest.length > 300 ? `${o.rest.slice(0, 300)}...` : o.rest)}`);
  lines.push(`upstream got ${o.upstream.length}:`, ...o.upstream.map((u) => `  ${u.length > 600 ? `${u.slice(0, 600)}...` : u}`));
  return lines.join('\n        ');
}
