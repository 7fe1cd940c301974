// What Node's path still owes on a connection, so that an error answer keeps its place and a
// connection handed back to Node's parser is not taken from an answer under way.
//
// Node's server hands on pipelined requests side by side and writes their answers in order.
// Fairway relays them one at a time instead, as its fast path does (inTurn): each waits until
// every answer before it is written, so a request behind one whose answer closes the connection
// is never relayed (its client would never learn what became of a POST sent upstream), and
// requests that are not safe are not run in parallel (RFC 9112 §9.3.2). When a request behind
// them is malformed, its parser reports the error at once, while the
// answers before it still wait for their upstreams: writing the 400 then would put it first
// and lose them (Node's own handler does just that). The error answer waits until every answer
// before it has been written (SPEC "Edge rules": pipelined requests are all answered, in
// order). A malformed body of a request being read can never complete: that request's
// exchange is ended at once with a 400, which is then the last answer on the connection.
// Past MAX_WAITING requests waiting for their turn, the connection is not read until they go.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const kState = Symbol('fairway.owed');

/**
 * Requests waiting for their turn past which the connection stops being read, until half of
 * them have gone. Node's server pauses a connection only for answers it holds unwritten, and
 * these have none yet: without a bound, a client pipelining behind one slow request had every
 * request it sent parsed and kept (measured: 100,000 GETs in 2.9 MB held 250 MB, and their
 * release on disconnect blocked the event loop for 8 s). The fast path stops at 64 KiB alike.
 */
const MAX_WAITING = 64;

interface Owed {
  /** Answers not yet written (in full) to the socket. */
  unsent: number;
  /** Answers whose response objects have not closed yet. */
  open: number;
  /** An answer written said `Connection: close`: nothing after it is answered. */
  last: boolean;
  /** The request whose body is still being read, and its response, if any. */
  reading: { req: IncomingMessage; res: ServerResponse } | undefined;
  afterSent: (() => void) | undefined;
  afterClosed: (() => void) | undefined;
  /** Requests waiting for the answers before them (each is owed, so counted in unsent). */
  turns: Array<{ res: ServerResponse; go: () => void; drop: () => void }>;
  socket: Socket;
  /** Reading stopped here for MAX_WAITING requests waiting. */
  paused: boolean;
}

type Tracked = Socket & { [kState]?: Owed };

function stateOf(socket: Socket): Owed {
  const s = socket as Tracked;
  return (s[kState] ??= { unsent: 0, open: 0, last: false, reading: undefined, afterSent: undefined, afterClosed: undefined, turns: [], socket, paused: false });
}

/** Counts `res` as owed on `socket` until it is written (prefinish) and closed. */
export function owe(socket: Socket, req: IncomingMessage, res: ServerResponse): void {
  const st = stateOf(socket);
  st.unsent++;
  st.open++;
  if (!req.complete) {
    const reading = { req, res };
    st.reading = reading;
    req.once('end', () => {
      if (st.reading === reading) st.reading = undefined;
    });
  }
  let sent = false;
  const onSent = (): void => {
    if (sent) return;
    sent = true;
    if (!res.shouldKeepAlive) st.last = true;
    // Written, but Node's own bookkeeping (and a close it may do next) is still to come: an
    // error answer goes out now, ahead of that close.
    if (--st.unsent === 0) run(st, 'afterSent');
    nextTurn(st);
  };
  res.once('prefinish', onSent);
  res.once('close', () => {
    onSent();
    if (--st.open === 0) run(st, 'afterClosed');
  });
}

/**
 * Runs `go` (relay the request answered by `res`, owed already) once every answer before it on
 * `socket` has been written: at once when none is waiting. If one of them closes the connection,
 * `drop` runs instead: nothing after the connection's last answer is relayed (RFC 9112 §9.6).
 */
export function inTurn(socket: Socket, res: ServerResponse, go: () => void, drop: () => void): void {
  const st = stateOf(socket);
  if (st.last) drop();
  else if (st.turns.length === 0 && st.unsent === 1) go();
  else if (st.turns.push({ res, go, drop }) >= MAX_WAITING) pauseReading(st);
}

/**
 * Node's server reads a connection straight into its parser (it consumes the socket's handle),
 * so pausing the socket alone stops nothing: the parser is paused too, as Node's own flood guard
 * does (it does so for answers held unwritten, which these are not yet).
 */
type Parsed = Socket & { parser?: { pause(): void; resume(): void } | null };

function pauseReading(st: Owed): void {
  st.paused = true;
  st.socket.pause();
  (st.socket as Parsed).parser?.pause();
}

function resumeReading(st: Owed): void {
  st.paused = false;
  (st.socket as Parsed).parser?.resume();
  st.socket.resume();
}

/**
 * Changes what the waiting request answered by `res` does in its turn: `wrap` gets what it was
 * to do (its body turned out malformed while it waited). False when it is not waiting.
 */
export function replaceTurn(socket: Socket, res: ServerResponse, wrap: (go: () => void) => () => void): boolean {
  const turn = (socket as Tracked)[kState]?.turns.find((t) => t.res === res);
  if (turn !== undefined) turn.go = wrap(turn.go);
  return turn !== undefined;
}

/** After an answer is written: the next waiting request goes once only waiting ones are owed. */
function nextTurn(st: Owed): void {
  if (st.turns.length === 0) return;
  if (st.last) {
    for (const t of st.turns.splice(0)) t.drop();
    return;
  }
  if (st.unsent !== st.turns.length) return;
  const { go } = st.turns.shift()!;
  if (st.paused && st.turns.length <= MAX_WAITING / 2) resumeReading(st);
  // Not inside the 'prefinish' of the answer before it: its own answer may be written at once.
  process.nextTick(go);
}

function run(st: Owed, which: 'afterSent' | 'afterClosed'): void {
  const fn = st[which];
  st[which] = undefined;
  fn?.();
}

/**
 * Runs `fn` once every answer owed on `socket` has been written (at once when none is), unless
 * one of them closed the connection (`Connection: close`): then nothing after it is answered.
 */
export function afterSent(socket: Socket, fn: () => void): void {
  const st = stateOf(socket);
  const guarded = (): void => {
    if (!st.last) fn();
  };
  if (st.unsent === 0) guarded();
  else st.afterSent = guarded;
}

/** Runs `fn` once every response object owed on `socket` has closed: at once when none is. */
export function afterClosed(socket: Socket, fn: () => void): void {
  const st = stateOf(socket);
  if (st.open === 0) fn();
  else st.afterClosed = fn;
}

/** The response to the request on `socket` whose body is still being read, if any. */
export function unfinishedRequest(socket: Socket): ServerResponse | undefined {
  const r = (socket as Tracked)[kState]?.reading;
  return r !== undefined && !r.req.complete ? r.res : undefined;
}
