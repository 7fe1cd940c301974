// What Node's path still owes on a connection, so that an error answer keeps its place and a
// connection handed back to Node's parser is not taken from an answer under way.
//
// Node's server relays pipelined requests side by side and writes their answers in order. But
// when a request behind them is malformed, its parser reports the error at once, while the
// answers before it still wait for their upstreams: writing the 400 then would put it first
// and lose them (Node's own handler does just that). The error answer waits until every answer
// before it has been written (SPEC "Edge rules": pipelined requests are all answered, in
// order). A malformed body of a request being read can never complete: that request's
// exchange is ended at once with a 400, which is then the last answer on the connection.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const kState = Symbol('fairway.owed');

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
}

type Tracked = Socket & { [kState]?: Owed };

function stateOf(socket: Socket): Owed {
  const s = socket as Tracked;
  return (s[kState] ??= { unsent: 0, open: 0, last: false, reading: undefined, afterSent: undefined, afterClosed: undefined });
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
  };
  res.once('prefinish', onSent);
  res.once('close', () => {
    onSent();
    if (--st.open === 0) run(st, 'afterClosed');
  });
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
