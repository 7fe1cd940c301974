// Requests that carry an Upgrade header. WebSocket upgrades are tunnelled by http-proxy, which
// does that job well. Any other upgrade (h2c, say) is sent on as a plain request with the
// Upgrade dropped, as nginx does by default: the upstream answers it as HTTP/1.1 and the
// connection closes after, so clients that merely offered an upgrade still get their answer.

import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type HttpProxy from 'http-proxy';
import type { Logger } from 'pino';
import { upstreamPath, type RouteTable } from '../core/route-table.js';
import type { Upstream } from '../core/upstream.js';
import { affinityHash } from './affinity.js';
import { requestIdOf, upstreamRequestHeaders } from './headers.js';
import { newRequestId } from './request-id.js';
import { sendSocketError } from './respond.js';

export interface UpgradeHandler {
  (req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Client sockets of open tunnels, so a drain that runs out of time can cut them. */
  readonly tunnels: ReadonlySet<Duplex>;
}

export function createUpgradeHandler(table: () => RouteTable, log: Logger): UpgradeHandler {
  // Loaded at the first WebSocket, not at start: most deployments never see one, and the
  // module is ~1 MB of heap and code in every process (and every worker) that loads it.
  let proxy: HttpProxy | undefined;
  const wsProxy = (): HttpProxy => {
    if (proxy) return proxy;
    const httpProxy = createRequire(import.meta.url)('http-proxy') as typeof HttpProxy;
    // X-Forwarded-* are set below as for plain requests, not by http-proxy's xfwd (which sends
    // X-Forwarded-Proto: ws and no X-Forwarded-Host).
    proxy = httpProxy.createProxyServer({ ws: true });
    proxy.on('error', (err, _req, target) => {
      log.warn({ err: (err as NodeJS.ErrnoException).code ?? err.message }, 'websocket upstream failed');
      failSocket(target as Socket | undefined);
    });
    return proxy;
  };
  const tunnels = new Set<Duplex>();

  const handler = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Once Node hands the socket over for an upgrade, the server no longer listens for its
    // errors: without this, a client resetting the connection would crash the process.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      log.debug({ err: err.code ?? err.message }, 'upgrade client socket error');
      socket.destroy();
    });
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
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
      setForwarded(req, socket as Socket);
      wsProxy().ws(req, socket, head, { target: upstream.origin });
    } else {
      plainTunnel(req, socket as Socket, head, upstream, log);
    }
  };
  return Object.assign(handler, { tunnels });
}

/** X-Forwarded-For appended, -Proto and -Host set, X-Request-Id kept or made, as for plain requests. */
function setForwarded(req: IncomingMessage, socket: Socket): void {
  const h = req.headers;
  const prior = h['x-forwarded-for'];
  const ip = socket.remoteAddress ?? '';
  h['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${ip}` : ip;
  h['x-forwarded-proto'] = 'http';
  if (h.host !== undefined) h['x-forwarded-host'] = h.host;
  h['x-request-id'] = requestIdOf(h['x-request-id'], newRequestId);
}

function plainTunnel(req: IncomingMessage, socket: Socket, head: Buffer, upstream: Upstream, log: Logger): void {
  const requestId = requestIdOf(req.headers['x-request-id'], newRequestId);
  const headers = upstreamRequestHeaders(req.rawHeaders, { clientIp: socket.remoteAddress ?? '', proto: 'http', requestId });
  // The tunnel relays bytes as they come, so a body's framing could not be kept apart from
  // what follows it: an upgrade offer with a body is refused rather than risk smuggling.
  const len = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
  if (headers === undefined || hasBody) {
    log.info({ url: req.url }, 'rejected upgrade request with a body or several Host headers');
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
  socket.once('close', () => up.destroy());
  up.write(text);
  if (head.length > 0) up.write(head);
  socket.pipe(up);
  up.pipe(socket);
}

function failSocket(socket: Socket | undefined): void {
  if (socket && !socket.destroyed && socket.writable && socket.bytesWritten === 0) sendSocketError(socket, 'upstream_error');
  else socket?.destroy();
}
