// h2c with prior knowledge on a plain `http2: true` listener (RFC 9113 §3.3): a client that
// knows the server speaks HTTP/2 opens with the connection preface, "PRI * HTTP/2.0\r\n\r\nSM
// \r\n\r\n", which no HTTP/1.1 request starts with. The first bytes of each connection are read
// here and the connection goes to the HTTP/2 server when they are the preface, else to the
// HTTP/1.1 pipeline, with the bytes already read handed on first in either case. (The h2c
// Upgrade dance of RFC 7540 §3.2 is gone from RFC 9113; its Upgrade header is dropped as any.)
//
// Bytes that match the start of the preface are waited on until all 24 are there; a client
// that sends nothing at all is dropped after `timeoutMs` (the listener's headersTimeout).

import type { Socket } from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** What the first bytes of a connection say: 'h2', 'http1', or undefined while they could still be the preface. */
export function prefaceVerdict(seen: Buffer): 'h2' | 'http1' | undefined {
  const n = Math.min(seen.length, PREFACE.length);
  if (seen.compare(PREFACE, 0, n, 0, n) !== 0) return 'http1';
  return n === PREFACE.length ? 'h2' : undefined;
}

export interface PrefaceRoutes {
  accept(socket: Socket): void;
  acceptH2(socket: Socket): void;
}

/** Reads the connection's first bytes and hands it to the HTTP/2 or the HTTP/1.1 side. */
export function routeByPreface(socket: Socket, to: PrefaceRoutes, timeoutMs: number): void {
  let seen: Buffer | undefined;
  const onData = (chunk: Buffer): void => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const verdict = prefaceVerdict(seen);
    if (verdict === undefined) return;
    socket.pause();
    stop();
    if (verdict === 'h2') {
      // node:http2 takes bytes put back on the stream before it reads the socket itself.
      socket.unshift(seen);
      to.acceptH2(socket);
      return;
    }
    // As fast-path.ts hands a connection over: the pipeline's listeners first, then the bytes.
    to.accept(socket);
    socket.emit('data', seen);
    socket.resume();
  };
  const onGone = (): void => {
    stop();
    socket.destroy();
  };
  const stop = (): void => {
    socket.off('data', onData);
    socket.off('end', onGone);
    socket.off('error', onGone);
    socket.off('timeout', onGone);
    socket.setTimeout(0);
  };
  socket.on('data', onData);
  socket.on('end', onGone);
  socket.on('error', onGone);
  socket.on('timeout', onGone);
  socket.setTimeout(timeoutMs);
}
