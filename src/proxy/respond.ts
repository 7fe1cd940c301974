// The answers Fairway itself gives, always with `x-fairway-error` so clients and logs can tell
// a proxy-made status from an upstream's.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { messageOf, statusOf, type FairwayErrorCode } from '../core/errors.js';
import type { ProxyResponse } from './fast-path.js';

export function sendError(res: ProxyResponse, code: FairwayErrorCode, detail?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = statusOf(code);
  const body = `${status} ${code}: ${detail ?? messageOf(code)}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-fairway-error': code,
    'cache-control': 'no-store',
  });
  res.end(body);
}

/** The same answer written straight to a socket, for requests Node's parser rejected. */
export function sendSocketError(socket: Socket, code: FairwayErrorCode): void {
  const status = statusOf(code);
  const body = `${status} ${code}: ${messageOf(code)}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-fairway-error: ${code}\r\nconnection: close\r\n\r\n${body}`,
  );
}
