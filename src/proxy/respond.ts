// The answers Fairway itself gives, always with `x-fairway-error` so clients and logs can tell
// a proxy-made status from an upstream's. A gRPC request's is HTTP 200 with its grpc-status
// (h2-messages.ts).

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { messageOf, statusOf, type FairwayErrorCode } from '../core/errors.js';
import type { ProxyResponse } from './messages.js';

/** Header lines that end the connection after an answer to a request whose body is left unread. */
export const CLOSE: readonly string[] = ['connection', 'close'];

/** `extra`: more header lines for this answer ([name, value, ...]: Retry-After, Connection: close). */
export function sendError(res: ProxyResponse, code: FairwayErrorCode, detail?: string, extra?: readonly string[]): void {
  // A gRPC client reads grpc-status, even after part of the answer is out.
  if (res.answerGrpc?.(code, detail ?? messageOf(code)) === true) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = statusOf(code);
  const body = `${status} ${code}: ${detail ?? messageOf(code)}\n`;
  // The reason is given outright: Node's ServerResponse would otherwise reuse a statusMessage
  // left by a writeHead that threw on an upstream's invalid head.
  res.writeHead(status, STATUS_CODES[status]!, [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'x-fairway-error',
    code,
    'cache-control',
    'no-store',
    ...(extra ?? []),
  ]);
  res.end(body);
}

/** A route's `redirect` answer: never proxied, a short body for clients that do not follow it. */
export function sendRedirect(res: ProxyResponse, status: number, location: string): void {
  const body = `${status} ${STATUS_CODES[status]}: ${location}\n`;
  res.writeHead(status, STATUS_CODES[status]!, [
    'location',
    location,
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
  ]);
  res.end(body);
}

/** The answer to `OPTIONS *`: the server's own capabilities, which are the methods it relays. */
export function sendOptions(res: ProxyResponse): void {
  res.writeHead(200, 'OK', ['allow', 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH', 'content-length', '0']);
  res.end();
}

/**
 * How long a connection closed after an error answer is still read (and what comes discarded)
 * before it is cut: closing at once could reset it while the answer is still in flight, and
 * never cutting it would let a client that never closes its side hold it forever.
 */
export const LINGER_MS = 2_000;

/** The same answer written straight to a socket, for requests Node's parser rejected (and refused upgrades). */
export function sendSocketError(socket: Socket, code: FairwayErrorCode, detail?: string, extra: readonly string[] = []): void {
  const status = statusOf(code);
  sendSocketAnswer(socket, status, `${status} ${code}: ${detail ?? messageOf(code)}\n`, ['x-fairway-error', code, ...extra]);
}

/** A redirect written straight to a socket (a WebSocket upgrade to a redirect route). */
export function sendSocketRedirect(socket: Socket, status: number, location: string): void {
  sendSocketAnswer(socket, status, `${status} ${STATUS_CODES[status]}: ${location}\n`, ['location', location]);
}

function sendSocketAnswer(socket: Socket, status: number, body: string, headers: readonly string[]): void {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] !== 'connection') head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  socket.end(`${head}connection: close\r\n\r\n${body}`);
  lingerThenClose(socket);
}

/** After this side has ended: read and drop what the client still sends, then cut after LINGER_MS. */
export function lingerThenClose(socket: Socket): void {
  if (socket.readableEnded) {
    socket.destroy();
    return;
  }
  // The client's side ending is the end of the connection (this side ended already), whatever
  // allowHalfOpen says.
  socket.once('end', () => socket.destroy());
  socket.resume();
  socket.setTimeout(LINGER_MS, () => socket.destroy());
}
