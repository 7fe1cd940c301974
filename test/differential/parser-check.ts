// Layer 1 of the differential test: the fast path's request-head parser (src/proxy/http1.ts)
// against Node's own (llhttp, through an http.Server; see node-oracle.ts), on the same bytes.
//
// The property: the fast parser may decline anything (Node then decides), but every head it
// accepts, Node accepts too, as the same request (method, target, header names and values,
// keep-alive), ending at the same byte with no body. A pipeline is read as the fast path reads
// it: heads one after another until one is declined, the rest handed to Node. Three Node runs
// per case check that:
//   full      Node on all the bytes (with the case's FIN): its verdict, and the pipeline as a
//             whole: the fast heads then Node on the rest must be what Node makes of it all;
//   sentinel  Node on the accepted heads only, followed by a known request: it must see the
//             same heads and then exactly that request (a head Node read as longer, or as
//             having a body, swallows it); after a `Connection: close` head, Node's "data after
//             close" error instead;
//   rest      Node on the bytes the fast path hands over.

import { parseRequestHead, type RequestHead } from '../../src/proxy/http1.js';
import type { Case } from './cases.js';
import { showEvent, type NodeEvent, type NodeOracle, type NodeRun } from './node-oracle.js';

export const SENTINEL = Buffer.from('GET /__differential_sentinel__ HTTP/1.1\r\nHost: sentinel.test\r\n\r\n', 'latin1');

/** The heads the fast path serves off `bytes`, each with `end` counted from the start of `bytes`. */
export interface FastRun {
  readonly heads: RequestHead[];
  /** Where the fast path stops: the bytes from here go to Node (or, after a close, nowhere). */
  readonly stop: number;
  /** The parser threw (never allowed). */
  readonly threw?: unknown;
}

/** parseRequestHead's signature: the parser under test (a deliberately broken one in self-checks). */
export type HeadParser = (buf: Buffer, maxHeaderSize: number) => RequestHead | undefined;

export function fastRun(bytes: Buffer, maxHeaderSize: number, parse: HeadParser = parseRequestHead): FastRun {
  const heads: RequestHead[] = [];
  let at = 0;
  try {
    while (at < bytes.length) {
      const head = parse(at === 0 ? bytes : bytes.subarray(at), maxHeaderSize);
      if (head === undefined) break;
      heads.push({ ...head, end: at + head.end });
      at += head.end;
      // After a `Connection: close` answer the fast path reads nothing more (RFC 9112 §9.6).
      if (head.close) break;
    }
  } catch (threw) {
    return { heads, stop: at, threw };
  }
  return { heads, stop: at };
}

/** The Node runs one case needs, started (events complete after the oracle settles). */
export interface PendingCheck {
  readonly c: Case;
  readonly fast: FastRun;
  readonly full: NodeRun;
  readonly sentinel: NodeRun | undefined;
  readonly rest: NodeRun | undefined;
}

export function startCheck(oracle: NodeOracle, c: Case, parse?: HeadParser): PendingCheck {
  const fast = fastRun(c.bytes, c.maxHeaderSize, parse);
  const full = oracle.run(c.bytes, c.fin, c.maxHeaderSize);
  const k = fast.heads.length;
  const sentinel = k > 0 ? oracle.run(Buffer.concat([c.bytes.subarray(0, fast.stop), SENTINEL]), false, c.maxHeaderSize) : undefined;
  const closed = k > 0 && fast.heads[k - 1]!.close;
  const rest = k > 0 && !closed && fast.stop < c.bytes.length ? oracle.run(c.bytes.subarray(fast.stop), c.fin, c.maxHeaderSize) : undefined;
  return { c, fast, full, sentinel, rest };
}

export interface Finding {
  /** The class of difference, e.g. `fast accepted, Node refused`. */
  readonly kind: string;
  readonly detail: string;
}

/** Every way the fast parser's verdict on this case breaks the property (none: it holds). */
export function findings(p: PendingCheck): Finding[] {
  const out: Finding[] = [];
  const { fast } = p;
  if (fast.threw !== undefined) out.push({ kind: 'fast parser threw', detail: String((fast.threw as Error)?.stack ?? fast.threw) });
  const k = fast.heads.length;
  if (k === 0) return out;
  const last = fast.heads[k - 1]!;

  const sentinel = p.sentinel!.events;
  fast.heads.forEach((head, i) => {
    const f = compareHead(head, sentinel[i], `head ${i + 1}`);
    if (f !== undefined) out.push(f);
  });
  if (out.length === 0) {
    const after = sentinel.slice(k);
    const ok = last.close
      ? after.length === 1 && after[0]!.kind === 'error' && after[0]!.code === 'HPE_CLOSED_CONNECTION'
      : after.length === 1 && after[0]!.kind === 'request' && after[0]!.url === '/__differential_sentinel__' && after[0]!.body === 0;
    if (!ok) {
      const expected = last.close ? 'error HPE_CLOSED_CONNECTION (data after close)' : 'the sentinel request, and nothing else';
      out.push({ kind: 'head end differs', detail: `fast: head ${k} ends at byte ${last.end}; Node, given the bytes up to there plus a sentinel request, then saw [${after.map(showEvent).join('; ')}] instead of ${expected}` });
    }
  }

  const full = p.full.events;
  if (out.length === 0) {
    fast.heads.forEach((head, i) => {
      const f = compareHead(head, full[i], `head ${i + 1} (whole input)`);
      if (f !== undefined) out.push(f);
    });
  }
  if (out.length === 0 && p.rest !== undefined) {
    const whole = full.slice(k).map((e) => shown(e, fast.stop));
    const rest = p.rest.events.map((e) => shown(e, 0));
    if (whole.join('\n') !== rest.join('\n')) {
      out.push({ kind: 'pipeline differs', detail: `Node on the whole input, after the ${k} fast heads: [${whole.join('; ')}]\n      Node on the ${p.c.bytes.length - fast.stop} bytes the fast path hands over: [${rest.join('; ')}]` });
    }
  }
  return out;
}

function compareHead(head: RequestHead, e: NodeEvent | undefined, which: string): Finding | undefined {
  const fastSays = `fast: ${head.method} ${JSON.stringify(head.url)} ${JSON.stringify(head.rawHeaders)}${head.close ? ' (close)' : ''}`;
  if (e === undefined || e.kind !== 'request') {
    return { kind: 'fast accepted, Node refused', detail: `${which}: ${fastSays}\n      Node: ${e === undefined ? 'no event (waits for more bytes, or dropped it)' : showEvent(e)}` };
  }
  const nodeSays = `Node: ${showEvent(e)}`;
  if (e.method !== head.method || e.url !== head.url) return { kind: 'request line differs', detail: `${which}: ${fastSays}\n      ${nodeSays}` };
  if (JSON.stringify(e.rawHeaders) !== JSON.stringify(head.rawHeaders)) return { kind: 'header fields differ', detail: `${which}: ${fastSays}\n      ${nodeSays}` };
  for (const [name, value] of Object.entries(head.headers)) {
    if (e.headers[name] !== value) return { kind: 'header map differs', detail: `${which}: fast headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}, Node's ${JSON.stringify(e.headers[name])}` };
  }
  if (e.keepAlive === head.close) return { kind: 'keep-alive differs', detail: `${which}: ${fastSays}\n      ${nodeSays}` };
  if (e.body !== 0) return { kind: 'head end differs', detail: `${which}: fast: no body; Node read ${e.body} body bytes` };
  return undefined;
}

/**
 * An event as compared across runs: a parse error's offset counted from where that run's bytes
 * start. (An error raised at FIN, such as HPE_INVALID_EOF_STATE, has offset 0 in every run.)
 */
function shown(e: NodeEvent, offset: number): string {
  return e.kind === 'error' && e.bytesParsed !== undefined && e.bytesParsed >= offset ? showEvent({ ...e, bytesParsed: e.bytesParsed - offset }) : showEvent(e);
}

/** Counts that show the test is not vacuous. */
export class Tally {
  inputs = 0;
  /** Inputs whose first head the fast parser accepted. */
  fastFirst = 0;
  fastHeads = 0;
  /** Inputs on which the fast parser declined something (a head, or the rest of a pipeline). */
  fastDeclined = 0;
  /** Inputs on which Node saw at least one request. */
  nodeRequests = 0;
  /** Inputs on which Node refused something: a parse error, or an answer of its own (400, 417). */
  nodeRefused = 0;
  nodeUpgrades = 0;
  nodeConnects = 0;
  nodeExpectations = 0;
  readonly nodeErrors = new Map<string, number>();

  add(p: PendingCheck): void {
    this.inputs++;
    const k = p.fast.heads.length;
    if (k > 0) this.fastFirst++;
    this.fastHeads += k;
    if (p.fast.stop < p.c.bytes.length && !(k > 0 && p.fast.heads[k - 1]!.close)) this.fastDeclined++;
    const events = p.full.events;
    if (events.some((e) => e.kind === 'request')) this.nodeRequests++;
    if (events.some((e) => e.kind === 'error' || (e.kind === 'answered' && e.status >= 400))) this.nodeRefused++;
    if (events.some((e) => e.kind === 'upgrade')) this.nodeUpgrades++;
    if (events.some((e) => e.kind === 'connect')) this.nodeConnects++;
    if (events.some((e) => e.kind === 'expectation')) this.nodeExpectations++;
    for (const e of events) if (e.kind === 'error') this.nodeErrors.set(e.code, (this.nodeErrors.get(e.code) ?? 0) + 1);
  }

  summary(): string {
    const pct = (n: number): string => `${((100 * n) / Math.max(1, this.inputs)).toFixed(1)}%`;
    const errors = [...this.nodeErrors].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
    return [
      `${this.inputs} inputs`,
      `fast parser: accepted the first head of ${this.fastFirst} (${pct(this.fastFirst)}), ${this.fastHeads} heads in all; declined something in ${this.fastDeclined} (${pct(this.fastDeclined)})`,
      `Node: requests in ${this.nodeRequests} (${pct(this.nodeRequests)}), refused something in ${this.nodeRefused} (${pct(this.nodeRefused)}), upgrades ${this.nodeUpgrades}, CONNECTs ${this.nodeConnects}, unmet Expect ${this.nodeExpectations}`,
      `Node parse errors: ${errors || 'none'}`,
    ].join('\n  ');
  }
}
