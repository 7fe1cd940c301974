// Requests that carry an Upgrade header. WebSocket upgrades are tunnelled by http-proxy, which
// does that job well. Any other upgrade (h2c, say) is sent on as a plain request with the
// Upgrade dropped, as nginx does by default: the upstream answers it as HTTP/1.1 and the
// connection closes after, so clients that merely offered an upgrade still get their answer.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Logger } from 'pino';
import { upstreamPath, type RouteTable } from '../core/route-table.js';
import type { Upstream } from '../core/upstream.js';
import { affinityHash } from './affinity.js';
import { requestIdOf, upstreamRequestHeaders } from './headers.js';
import { sendSocketError } from './respond.js';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export function createUpgradeHandler(table: () => RouteTable, log: Logger): UpgradeHandler {
  const proxy = httpProxy.createProxyServer({ ws: true, xfwd: true });
  proxy.on('error', (err, _req, target) => {
    log.warn({ err: (err as NodeJS.ErrnoException).code ?? err.message }, 'websocket upstream failed');
    failSocket(target as Socket | undefined);
  });

  return (req, socket, head) => {
    const route = table().match(req.headers.host, req.url ?? '/', req.headers);
    if (route === undefined) {
      log.info({ host: req.headers.host, url: req.url }, 'no route for upgrade');
      sendSocketError(socket as Socket, 'no_route');
      return;
    }
    const upstream = route.picker.pick(affinityHash(route.config, req));
    if (upstream === undefined) {
      log.warn({ route: route.config.name }, 'no healthy upstream for upgrade');
      sendSocketError(socket as Socket, 'no_healthy_upstream');
      return;
    }
    req.url = upstreamPath(route.config, req.url ?? '/');
    if (req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket') {
      proxy.ws(req, socket, head, { target: upstream.origin });
    } else {
      plainTunnel(req, socket as Socket, head, upstream, log);
    }
  };
}

function plainTunnel(req: IncomingMessage, socket: Socket, head: Buffer, upstream: Upstream, log: Logger): void {
  const requestId = requestIdOf(req.headers['x-request-id'], randomUUID);
  const headers = upstreamRequestHeaders(req.rawHeaders, { clientIp: socket.remoteAddress ?? '', proto: 'http', requestId });
  if (headers === undefined) {
    sendSocketError(socket, 'bad_request');
    return;
  }
  let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  text += 'connection: close\r\n\r\n';
  const up = connect(upstream.port, upstream.host);
  let answered = false;
  up.once('data', () => (answered = true));
  up.on('error', (err: NodeJS.ErrnoException) => {
    log.warn({ upstream: upstream.id, err: err.code ?? err.message }, 'upstream failed during upgrade request');
    if (!answered) sendSocketError(socket, 'upstream_error');
    else socket.destroy();
  });
  socket.on('error', () => up.destroy());
  up.write(text);
  if (head.length > 0) up.write(head);
  socket.pipe(up);
  up.pipe(socket);
}

function failSocket(socket: Socket | undefined): void {
  if (socket && !socket.destroyed && socket.writable && socket.bytesWritten === 0) sendSocketError(socket, 'upstream_error');
  else socket?.destroy();
}
