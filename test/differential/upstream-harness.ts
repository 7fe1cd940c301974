// The machinery of the upstream-client differential test (upstream.test.ts): scripted upstreams
// in lanes, the recording handler, what is compared, and the allowances. One file (~580 lines)
// because the comparison and the allowances read the same recorded outcomes: split, each half
// would export most of its types and helpers to the other.
//
// A raw TCP server plays a scripted upstream. For each case (responses.ts) it answers the first
// request (a GET or a HEAD) with the case's bytes, written in parts (some after a pause, so the
// client parses across reads), then closes or not. Once that is over and the client has had a
// turn to read it all, a second, well-behaved request goes through the same client: it must get
// its own answer (a client that took stray bytes for it, or reused a connection it should have
// dropped, shows here). In a hurried case the upstream holds its stray bytes or its close back
// until the first answer is in, and the second request is sent the moment they go: they sit
// unread in the client's socket as it picks a connection (the race undici checks idle sockets
// for before reuse, GHSA-35p6-xmwp-9g52). Each side gets a fresh client and its own server, and
// drives the same recording handler (undici's raw handler interface, as attempt.ts does).
//
// Compared, as Fairway's client would see them (see view()): the outcome (complete, error before
// the final head, split by the 504/502 Fairway answers it with, or error after it); the final
// head (status, reason phrase, raw header pairs as latin1); for a complete answer the body and
// the trailers; the second request's answer and connection; that neither client called the
// handler out of order. Not compared: 1xx heads (the proxy ignores them), error codes after the
// head (the client's answer is cut short either way). A case that differs is judged again under
// each allowance that covers it (by its bytes and what the clients did, never by the difference
// alone), in the order of ALLOWANCES; one whose differences all go is allowed.
//
// undici 7.30 cannot be paused when the upstream closes: a FIN read while its parser is paused
// throws an uncatchable AssertionError (`assert(!this.paused)` in Parser.finish, nodejs/undici
// #5360, fixed in #5474). So where the case closes undici reads without pausing, H1Origin with:
// pausing must not change what a client gets. undici 7.30 also keeps only the last read's piece of
// a reason phrase (its onStatus assigns where llhttp appends: `Not Fou` + `nd` reads as `nd`);
// its statusText is taken back to the phrase as written when it is a piece of its end.

import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { upstreamFailure } from '../../src/core/errors.js';
import { H1Origin } from '../../src/proxy/h1-upstream.js';
import { Pool } from '../../src/proxy/undici-pool.js';
import type { UpstreamCase } from './responses.js';

/** Per-request headersTimeout and bodyTimeout: an answer that never ends fails on both sides. */
const TIMEOUT_MS = 1000;
/** A pause between two writes, and how long a paused handler waits before resuming. */
const PAUSE_MS = 2;
/** After the upstream's last write (and close): time for the client to read it while idle. */
const SETTLE_MS = 10;
/** An exchange neither completed nor failed by then never will: a client bug. */
const HANG_MS = 5000;
/** Node's and undici's default head limit, 16 KiB. */
const HEAD_LIMIT = 16_384;
const SECOND = 'HTTP/1.1 200 OK\r\nContent-Length: 13\r\nX-Answer: second\r\n\r\nsecond answer';
const SECOND_SEEN = 'complete 200 ["Content-Length","13","X-Answer","second"] "second answer"';
const HEAD_END = Buffer.from('\r\n\r\n');

interface UpstreamClient {
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  destroy(): unknown;
}

export interface Subject {
  readonly name: string;
  make(origin: string): UpstreamClient;
  /** Whether its handler may pause reading on a case where the upstream closes (see the header). */
  readonly pausesBeforeClose: boolean;
  /** Its statusText is only the last read's piece of a reason phrase split across reads. */
  readonly cutsReasons: boolean;
}

/** The reference (undici) and the client held to it. */
export interface Sides {
  readonly ref: Subject;
  readonly lean: Subject;
}

// As forwarder.ts makes them: timeouts per request, none at the pool.
const CLIENT = { connectTimeoutMs: 2000, keepAliveTimeoutMs: 4000, maxConnections: 8 };
const UNDICI: Subject = {
  name: 'undici',
  make: (origin) =>
    new Pool(origin, { connections: CLIENT.maxConnections, connectTimeout: CLIENT.connectTimeoutMs, keepAliveTimeout: CLIENT.keepAliveTimeoutMs, headersTimeout: 0, bodyTimeout: 0 }),
  pausesBeforeClose: false,
  cutsReasons: true,
};

/** H1Origin against undici; `self`: a second undici Pool instead, which checks the harness. */
export function sides(self: boolean): Sides {
  const lean: Subject = self
    ? { ...UNDICI, name: 'undici again' }
    : { name: 'h1-upstream', make: (origin) => new H1Origin(origin, CLIENT), pausesBeforeClose: true, cutsReasons: false };
  return { ref: UNDICI, lean };
}

/** What a client handed the handler for one request. */
export class Recorder implements Dispatcher.DispatchHandler {
  readonly interim: number[] = [];
  head: { status: number; statusText: string; headers: string[] } | undefined;
  readonly chunks: Buffer[] = [];
  trailers: string[] | undefined;
  error: (Error & { code?: string }) | undefined;
  /** Calls out of order: after the end, body before the head, a second final head. */
  readonly misuse: string[] = [];
  /** The statusText was taken back to the whole reason phrase (see wholeReason). */
  reasonRepaired = false;
  ended = false;
  hung = false;
  readonly done: Promise<void>;
  #end: () => void = () => undefined;
  #resume: (() => void) | undefined;
  #calls = 0;
  readonly #pauses: boolean;

  constructor(pauses: boolean) {
    this.#pauses = pauses;
    this.done = new Promise((resolve) => (this.#end = resolve));
  }

  onConnect(): void {
    if (this.ended) this.misuse.push('onConnect after the end');
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.ended || this.head !== undefined) {
      this.misuse.push(this.ended ? 'onHeaders after the end' : 'onHeaders after the final head');
      return true;
    }
    if (status < 200) {
      this.interim.push(status);
      return true;
    }
    this.head = { status, statusText, headers: raw.map((b) => b.toString('latin1')) };
    this.#resume = resume;
    return this.#flow();
  }

  onData(chunk: Buffer): boolean {
    if (this.ended || this.head === undefined) this.misuse.push(this.ended ? 'onData after the end' : 'onData before the final head');
    this.chunks.push(Buffer.from(chunk));
    return this.#flow();
  }

  // undici's types say string[]; its HTTP/1.1 client hands over Buffers.
  onComplete(trailers: ReadonlyArray<string | Buffer> | null): void {
    if (this.#settle('onComplete')) this.trailers = (trailers ?? []).map((t) => (typeof t === 'string' ? t : t.toString('latin1')));
  }

  onError(err: Error): void {
    if (this.#settle('onError')) this.error = err;
  }

  #settle(what: string): boolean {
    if (this.ended) {
      this.misuse.push(`${what} after the end`);
      return false;
    }
    this.ended = true;
    this.#end();
    return true;
  }

  /** When the case says so, every other call pauses reading, resumed PAUSE_MS later. */
  #flow(): boolean {
    if (!this.#pauses || this.#calls++ % 2 === 1) return true;
    const resume = this.#resume;
    setTimeout(() => resume?.(), PAUSE_MS);
    return false;
  }
}

/** One case as one side's upstream plays it. */
interface Script {
  readonly c: UpstreamCase;
  /** Resolves when the client is done with the first request (see UpstreamCase.hurryAt). */
  readonly firstDone: Promise<void>;
  /** Sends the second request there and then (once). */
  readonly atOnce: () => void;
}

/** A raw TCP origin: `/first` gets the loaded case's bytes, `/second` gets SECOND. */
class ScriptedUpstream {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #busy = new Set<Promise<void>>();
  #script: Script | undefined;
  #connections = 0;
  /** Each request head received since load(): the number of its connection, and its path. */
  requests: Array<{ conn: number; path: string }> = [];

  private constructor() {
    this.#server = createServer((s) => this.#accept(s));
  }

  static async start(): Promise<ScriptedUpstream> {
    const u = new ScriptedUpstream();
    await new Promise<void>((resolve) => u.#server.listen(0, '127.0.0.1', resolve));
    return u;
  }

  get origin(): string {
    const a = this.#server.address();
    return `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
  }

  load(script: Script): void {
    this.#script = script;
    this.requests = [];
  }

  /** Resolves once every answer begun has been written out (and the close sent). */
  async idle(): Promise<void> {
    while (this.#busy.size > 0) await Promise.all(this.#busy);
  }

  /** Cuts every connection: the next case starts clean. */
  reset(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #accept(socket: Socket): void {
    const conn = ++this.#connections;
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => this.#sockets.delete(socket));
    let pending = Buffer.alloc(0);
    let queue = Promise.resolve();
    socket.on('data', (d: Buffer) => {
      // Requests carry no body here: each one is a head.
      pending = Buffer.concat([pending, d]);
      for (let end = pending.indexOf(HEAD_END); end !== -1; end = pending.indexOf(HEAD_END)) {
        const path = pending.toString('latin1', 0, end).split(' ')[1] ?? '';
        pending = pending.subarray(end + HEAD_END.length);
        this.requests.push({ conn, path });
        const script = this.#script;
        const answered = queue.then(() => this.#answer(socket, path, script));
        queue = answered;
        this.#busy.add(answered);
        void answered.finally(() => this.#busy.delete(answered));
      }
    });
  }

  async #answer(socket: Socket, path: string, script: Script | undefined): Promise<void> {
    if (path === '/second') return write(socket, Buffer.from(SECOND, 'latin1'));
    if (script === undefined) return;
    const c = script.c;
    const hold = c.hurryAt ?? c.bytes.length;
    let at = 0;
    for (const cut of [...c.cuts.filter((k) => k.at < hold), { at: hold, pause: false }]) {
      await write(socket, c.bytes.subarray(at, cut.at));
      at = cut.at;
      if (cut.pause) await sleep(PAUSE_MS);
    }
    if (c.hurryAt !== undefined) {
      await script.firstDone;
      // In one go, and the second request right behind: it finds them in the client's socket,
      // unread. A small write on an idle socket reaches the kernel at once, and so does the FIN
      // of a socket destroyed with nothing left to write.
      if (!socket.destroyed) {
        socket.write(c.bytes.subarray(hold));
        if (c.close) socket.destroy();
      }
      script.atOnce();
      return;
    }
    if (c.close && !socket.destroyed) await new Promise<void>((resolve) => socket.end(resolve));
  }
}

/** Writes and waits until the bytes are handed to the kernel (or the socket is gone). */
async function write(socket: Socket, bytes: Buffer): Promise<void> {
  if (socket.destroyed || bytes.length === 0) return;
  await new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
}

/** One request through `client`, recorded; gives up after HANG_MS. */
async function exchange(client: UpstreamClient, method: 'GET' | 'HEAD', path: string, pauses: boolean): Promise<Recorder> {
  const rec = new Recorder(pauses);
  const opts: Dispatcher.DispatchOptions = { method, path, headers: ['host', 'upstream.test', 'accept', '*/*'], body: null, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS };
  try {
    client.dispatch(opts, rec);
  } catch (err) {
    rec.onError(err as Error);
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([rec.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, HANG_MS)))]);
  clearTimeout(timer);
  rec.hung = !rec.ended;
  return rec;
}

export interface Outcome {
  first: Recorder;
  second: Recorder;
  /** Requests the upstream saw, in order, as `path@connection`. */
  requests: string[];
  /** The second request reached the upstream on the first one's connection. */
  reused: boolean;
  /** The connections the second request went on, in words. */
  route: string;
}

/** One case through a fresh client of `subject` against `upstream`. */
async function runSide(subject: Subject, upstream: ScriptedUpstream, c: UpstreamCase): Promise<Outcome> {
  const client = subject.make(upstream.origin);
  let second: Promise<Recorder> | undefined;
  const sendSecond = (): Promise<Recorder> => (second ??= exchange(client, 'GET', '/second', false));
  let firstDone = (): void => undefined;
  upstream.load({ c, firstDone: new Promise<void>((resolve) => (firstDone = resolve)), atOnce: sendSecond });
  try {
    const first = await exchange(client, c.method, '/first', c.pauseReads && (subject.pausesBeforeClose || !c.close));
    if (subject.cutsReasons && first.head !== undefined) {
      const whole = wholeReason(c.bytes, first.head.status, first.head.statusText);
      first.reasonRepaired = whole !== first.head.statusText;
      first.head.statusText = whole;
    }
    firstDone();
    await upstream.idle();
    if (second === undefined) {
      // Time to read what the upstream sent last, and a turn of the event loop after it: a busy
      // loop runs expired timers before it polls sockets, and this is a timer.
      await sleep(SETTLE_MS);
      await new Promise(setImmediate);
    }
    const secondSeen = await sendSecond();
    // The upstream's record is read a full turn of the event loop later: an answer made of
    // stray bytes can come before the request itself has been read there.
    await new Promise(setImmediate);
    await new Promise(setImmediate);
    const requests = upstream.requests;
    const lastFirst = requests.filter((r) => r.path === '/first').at(-1);
    const sent = requests.filter((r) => r.path === '/second');
    const route = sent.length === 0 || lastFirst === undefined ? 'never reached the upstream' : `on ${sent.map((r) => (r.conn === lastFirst.conn ? 'the same connection' : 'a new connection')).join(', then again on ')}`;
    return { first, second: secondSeen, requests: requests.map((r) => `${r.path}@${r.conn}`), reused: sent[0] !== undefined && sent[0].conn === lastFirst?.conn, route };
  } finally {
    await Promise.resolve(client.destroy()).catch(() => undefined);
    upstream.reset();
  }
}

/**
 * The final head's reason phrase as written (decoded as UTF-8, as undici does), when `text` is
 * a piece of its end; else `text`. The final head is the first status line with its status (1xx
 * heads before it have others; stray bytes come after it).
 */
function wholeReason(bytes: Buffer, status: number, text: string): string {
  const m = new RegExp(`HTTP/1\\.[01] ${status} ([^\\r\\n]*)`).exec(bytes.toString('latin1', 0, Math.min(bytes.length, 65_536)));
  if (m === null) return text;
  const whole = Buffer.from(m[1]!, 'latin1').toString();
  return whole.endsWith(text) ? whole : text;
}

// ---- what is compared, and what the allowances take out ---------------------------------

/** What the allowances take out of the comparison; each one sets some of these. */
interface Relax {
  /** Compare with undici's outcome for the case without its 1xx heads. */
  bare?: boolean;
  /** Header and trailer values without trailing SP and HTAB. */
  trim?: boolean;
  /** Reason phrases only when both are plain visible ASCII (SP, VCHAR). */
  plainReasons?: boolean;
  /** An answer without a body that failed for its Content-Length counts as complete. */
  lengthOfNothing?: boolean;
  /** Aspects of the view not compared. */
  excuse?: readonly string[];
}

/** The aspects of the first exchange, and the second request's connection. */
const FIRST = ['outcome', 'status', 'reason', 'fields', 'body', 'trailers', 'second request'];

function bodiless(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304;
}

/** undici's error for a bodiless answer that declared a length (attempt.ts ends it as complete). */
function lengthOfNothing(r: Recorder, method: string): boolean {
  return r.head !== undefined && bodiless(method, r.head.status) && r.error?.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH';
}

function trimmed(pairs: readonly string[], trim: boolean | undefined): string {
  return JSON.stringify(trim === true ? pairs.map((v, i) => (i % 2 === 1 ? v.replace(/[ \t]+$/, '') : v)) : pairs);
}

/** What Fairway's client would make of one exchange, as comparable aspects. */
export function seen(r: Recorder, method: string, relax: Relax = {}): Map<string, string> {
  const m = new Map<string, string>();
  const error = r.error !== undefined && !(relax.lengthOfNothing === true && lengthOfNothing(r, method));
  if (r.hung) m.set('outcome', 'no end');
  else if (error) m.set('outcome', r.head === undefined ? `error before the head (${upstreamFailure(r.error).code})` : 'error after the head');
  else m.set('outcome', r.head === undefined ? 'complete without a head' : 'complete');
  if (r.head !== undefined) {
    m.set('status', String(r.head.status));
    m.set('reason', JSON.stringify(r.head.statusText));
    m.set('fields', trimmed(r.head.headers, relax.trim));
  }
  if (m.get('outcome') === 'complete') {
    m.set('body', JSON.stringify(Buffer.concat(r.chunks).toString('latin1')));
    m.set('trailers', trimmed(r.trailers ?? [], relax.trim));
  }
  return m;
}

/** The compared view of one side: aspect → value. */
export function view(o: Outcome, c: UpstreamCase, relax: Relax = {}): Map<string, string> {
  const m = seen(o.first, c.method, relax);
  const second = seen(o.second, 'GET');
  const secondSeen = second.get('outcome') === 'complete' ? `complete ${second.get('status')} ${second.get('fields')} ${second.get('body')}` : second.get('outcome')!;
  m.set('second answer', secondSeen === SECOND_SEEN ? 'right' : secondSeen);
  m.set('second request', o.route);
  m.set('first request sent', `${o.requests.filter((r) => r.startsWith('/first')).length} times`);
  const misuse = [...o.first.misuse.map((x) => `first: ${x}`), ...o.second.misuse.map((x) => `second: ${x}`)];
  m.set('handler contract', misuse.length === 0 ? 'kept' : misuse.join('; '));
  for (const k of relax.excuse ?? []) m.delete(k);
  return m;
}

/** A reason the proxy passes on as it is (headers.ts reasonPhrase): the rest it replaces. */
const PLAIN = /^[\x20-\x7e]*$/;

/** Aspects that differ, with each side's value; then failures that no allowance excuses. */
function differences(names: Sides, c: UpstreamCase, ref: Outcome, lean: Outcome, relax: Relax): string[][] {
  const [a, b] = [view(ref, c, relax), view(lean, c, relax)];
  if (relax.plainReasons === true && !(PLAIN.test(ref.first.head?.statusText ?? '') && PLAIN.test(lean.first.head?.statusText ?? ''))) {
    a.delete('reason');
    b.delete('reason');
  }
  const out = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).map((k) => [k, a.get(k) ?? '', b.get(k) ?? '']);
  for (const [name, v] of [[names.ref.name, a], [names.lean.name, b]] as const) {
    if (v.get('second answer') !== 'right') out.push([`second request failed on ${name}`]);
    if (v.get('handler contract') !== 'kept') out.push([`handler contract broken by ${name}`]);
  }
  return out;
}

interface Judged {
  readonly c: UpstreamCase;
  readonly ref: Outcome;
  readonly lean: Outcome;
  /** undici's outcome for the case without its 1xx heads, when it was run. */
  readonly refBare: Outcome | undefined;
}

interface Allowance {
  readonly name: string;
  /** Whether it applies: by the case's bytes and what the clients did. */
  covers(j: Judged): boolean;
  readonly relax: Relax;
}

/** H1Origin refused the answer before its head, as Fairway's 502 (with `code`, if given). */
function refused(o: Outcome, code?: string): boolean {
  const e = o.first.error;
  return !o.first.hung && o.first.head === undefined && e !== undefined && upstreamFailure(e).code === 'upstream_error' && (code === undefined || e.code === code);
}

/**
 * In the order they are applied (their reasons are in upstream.test.ts's header): undici's
 * outcome without the 1xx first, as the others compare against it; refusals before the
 * normalisations of values, so a refused answer is counted under its refusal alone.
 */
export const ALLOWANCES: readonly Allowance[] = [
  // undici failed before the head, and the case with its 1xx heads taken out was run on undici.
  { name: '1xx before the final answer', covers: (j) => j.refBare !== undefined, relax: { bare: true } },
  { name: 'chunked applied twice', covers: (j) => chunkedTwice(finalHead(j.c)) && refused(j.lean), relax: { excuse: FIRST } },
  { name: 'status line undici tolerates', covers: (j) => oddStatusLine(finalHead(j.c)) && refused(j.lean), relax: { excuse: FIRST } },
  { name: 'head over 16 KiB as a whole', covers: (j) => finalHead(j.c).length > HEAD_LIMIT && refused(j.lean, 'UND_ERR_HEADERS_OVERFLOW'), relax: { excuse: FIRST } },
  {
    name: 'bodiless answer with Content-Length',
    covers: (j) => lengthOfNothing(j.ref.first, j.c.method) || lengthOfNothing(j.lean.first, j.c.method),
    relax: { lengthOfNothing: true, excuse: ['second request'] },
  },
  { name: 'trailing whitespace in a value', covers: () => true, relax: { trim: true } },
  { name: 'reason phrase not ASCII', covers: () => true, relax: { plainReasons: true } },
  { name: 'blank lines after the answer', covers: (j) => j.c.strayAt !== undefined && /^(?:\r\n)+$/.test(j.c.bytes.toString('latin1', j.c.strayAt)), relax: { excuse: ['second request'] } },
];

export interface Verdict {
  /** Aspects that differ as the clients did it: none when they agree outright. */
  readonly raw: string[];
  /** Aspects that still differ under the allowances that cover the case. */
  readonly how: string[];
  /** The allowances that took a difference away. */
  readonly allowed: string[];
}

export function judge(names: Sides, j: Judged): Verdict {
  let relax: Relax = {};
  let d = differences(names, j.c, j.ref, j.lean, relax);
  const raw = d.map((x) => x[0]!);
  const allowed: string[] = [];
  if (d.length === 0) return { raw, how: raw, allowed };
  for (const a of ALLOWANCES) {
    if (!a.covers(j)) continue;
    relax = { ...relax, ...a.relax, excuse: [...(relax.excuse ?? []), ...(a.relax.excuse ?? [])] };
    const next = differences(names, j.c, relax.bare === true ? j.refBare! : j.ref, j.lean, relax);
    if (JSON.stringify(next) !== JSON.stringify(d)) allowed.push(a.name);
    d = next;
  }
  return { raw, how: d.map((x) => x[0]!), allowed };
}

const INTERIM = /HTTP\/1\.[01] 1[0-9]{2}[^\r\n]*\r\n/y;

/** Where the final head begins: past the 1xx heads at the start of `text`. */
function finalHeadAt(text: string): number {
  let at = 0;
  for (INTERIM.lastIndex = 0; INTERIM.test(text); INTERIM.lastIndex = at) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    at = end + 4;
  }
  return at;
}

/** The final head as written, through its blank line (or to the end of the bytes). */
function finalHead(c: UpstreamCase): string {
  const text = c.bytes.toString('latin1');
  const at = finalHeadAt(text);
  const end = text.indexOf('\r\n\r\n', at);
  return text.slice(at, end === -1 ? text.length : end + 4);
}

/** The case without the 1xx heads before its final answer; undefined if it has none. */
export function withoutInterim(c: UpstreamCase): UpstreamCase | undefined {
  const at = finalHeadAt(c.bytes.toString('latin1'));
  if (at === 0) return undefined;
  const shift = (n: number | undefined): number | undefined => (n === undefined ? undefined : Math.max(0, n - at));
  const cuts = c.cuts.filter((k) => k.at > at).map((k) => ({ ...k, at: k.at - at }));
  return { ...c, name: `${c.name} without its 1xx`, bytes: c.bytes.subarray(at), cuts, hurryAt: shift(c.hurryAt), strayAt: shift(c.strayAt) };
}

function chunkedTwice(head: string): boolean {
  let n = 0;
  for (const m of head.matchAll(/\r\ntransfer-encoding:([^\r\n]*)/gi)) for (const t of m[1]!.split(',')) if (t.trim().toLowerCase() === 'chunked') n++;
  return n > 1;
}

/** A blank line before it, a version other than HTTP/1.0 or 1.1, a control byte in the reason. */
function oddStatusLine(head: string): boolean {
  if (head.startsWith('\r\n')) return true;
  const nl = head.indexOf('\n');
  const line = head.slice(0, nl === -1 ? head.length : nl).replace(/\r$/, '');
  const version = /^[^ \t]*/.exec(line)![0];
  if (version !== '' && version !== 'HTTP/1.0' && version !== 'HTTP/1.1') return true;
  const lead = /^[^ \t]* [0-9]{3} /.exec(line);
  return lead !== null && /[\0-\x08\n-\x1f\x7f]/.test(line.slice(lead[0].length));
}

// ---- lanes and runs ---------------------------------------------------------------------

export interface Lane {
  readonly ref: ScriptedUpstream;
  readonly lean: ScriptedUpstream;
}

export async function openLanes(n: number): Promise<Lane[]> {
  const lanes: Lane[] = [];
  for (let i = 0; i < n; i++) lanes.push({ ref: await ScriptedUpstream.start(), lean: await ScriptedUpstream.start() });
  return lanes;
}

export async function closeLanes(lanes: readonly Lane[]): Promise<void> {
  await Promise.all(lanes.flatMap((l) => [l.ref.close(), l.lean.close()]));
}

export interface Result extends Judged {
  readonly verdict: Verdict;
}

/** One case on both sides; where undici failed before a head its 1xx may explain, once more without them. */
export async function runCase(s: Sides, lane: Lane, c: UpstreamCase): Promise<Result> {
  const [ref, lean] = await Promise.all([runSide(s.ref, lane.ref, c), runSide(s.lean, lane.lean, c)]);
  const j: Judged = { c, ref, lean, refBare: undefined };
  const verdict = judge(s, j);
  const bare = ref.first.head === undefined && ref.first.error !== undefined ? withoutInterim(c) : undefined;
  if (verdict.how.length === 0 || bare === undefined) return { ...j, verdict };
  const again: Judged = { ...j, refBare: await runSide(s.ref, lane.ref, bare) };
  return { ...again, verdict: judge(s, again) };
}
