// Requests that carry `Connection: upgrade`. Only WebSocket upgrades are honoured (SPEC "Edge
// rules"); http-proxy tunnels those, which it does well.
//
// Any other upgrade offer (h2c, say) is served as the plain request it also is: the head is
// written again without Upgrade and without the `upgrade` token in Connection, and handed back
// to Node's HTTP server together with the bytes that followed it, so llhttp frames its body and
// any pipelined request after it. The bytes after an upgrade head are therefore never relayed
// as they come: they were the hole that let a second request ride an h2c offer past routing,
// header rules and the access log.
//
// A WebSocket tunnel counts against `upstream.maxConnections` of its instance (an upgraded
// connection is one the pool can never reuse) and closes after `server.upgradeIdleTimeout`
// without traffic either way; http-proxy holds the bytes after the head until the upstream
// has answered 101.

import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type HttpProxy from 'http-proxy';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import type { FairwayErrorCode } from '../core/errors.js';
import { upstreamPath, type Route, type RouteTable } from '../core/route-table.js';
import type { Upstream } from '../core/upstream.js';
import { tlsAgent, tlsConnectOptions } from '../config-source/client-tls.js';
import { admit, isRefused, ASTERISK } from './admit.js';
import { affinityHash, hashesClient } from './affinity.js';
import type { Forwarder } from './forwarder.js';
import { declaresBody } from './messages.js';
import { afterClosed } from './pipeline.js';
import { policyAnswer } from './policy-gate.js';
import { localAnswer, type RequestObserver } from './observer.js';
import { lingerThenClose, sendSocketError, sendSocketRedirect } from './respond.js';

export interface UpgradeOptions {
  table: () => RouteTable;
  log: Logger;
  forwarder: Forwarder;
  /** Node's server, which takes back an upgrade offer that is served as a plain request. */
  http: HttpServer;
  settings: () => Pick<Config, 'server' | 'upstream'>;
  observer: RequestObserver;
}

export interface UpgradeHandler {
  (req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Client sockets of open tunnels, so a drain that runs out of time can cut them. */
  readonly tunnels: ReadonlySet<Duplex>;
}

export function createUpgradeHandler(opts: UpgradeOptions): UpgradeHandler {
  const { table, log, forwarder, http } = opts;
  // Loaded at the first WebSocket, not at start: most deployments never see one, and the
  // module is ~1 MB of heap and code in every process (and every worker) that loads it.
  let proxy: HttpProxy | undefined;
  const wsProxy = (): HttpProxy => {
    if (proxy) return proxy;
    const httpProxy = createRequire(import.meta.url)('http-proxy') as typeof HttpProxy;
    // Headers are made by the same rules as for plain requests (see wsHeaders), so http-proxy's
    // own xfwd stays off.
    proxy = httpProxy.createProxyServer({ ws: true });
    proxy.on('error', (err, req, target) => {
      log.warn({ err: (err as NodeJS.ErrnoException).code ?? err.message }, 'websocket upstream failed');
      const tunnel = (req as TunnelRequest)[kTunnel];
      if (tunnel !== undefined && !tunnel.failed) {
        // Passive health counts a failed upgrade like a failed request.
        tunnel.failed = true;
        forwarder.outcome(tunnel.route, tunnel.upstream, false);
      }
      failSocket(target as Socket | undefined);
    });
    return proxy;
  };
  const tunnels = new Set<Duplex>();
  /** Open tunnels per instance origin. */
  const open = new Map<string, number>();

  /** Refuses an upgrade with Fairway's own answer; observers see it like any refused request. */
  const refuse = (req: IncomingMessage, socket: Duplex, code: FairwayErrorCode, why: string, fields: object, route?: Route): void => {
    log.info({ ...fields, code }, why);
    sendSocketError(socket as Socket, code);
    opts.observer.onExchange(localAnswer(req, socket as Socket, code, route && { route }));
  };

  const handler = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Once Node hands the socket over for an upgrade, the server no longer listens for its
    // errors: without this, a client resetting the connection would crash the process.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      log.debug({ err: err.code ?? err.message }, 'upgrade client socket error');
      socket.destroy();
    });
    // Pipelined behind requests still being answered: this one's answer (or tunnel) comes after
    // theirs, in order.
    afterClosed(socket as Socket, () => upgrade(req, socket, head));
  };

  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (socket.destroyed) return;
    if (!offersWebSocket(req.headers.upgrade)) {
      servePlain(http, req, socket as Socket, head);
      return;
    }
    const settings = opts.settings();
    if (req.method !== 'GET' || declaresBody(req.headers)) {
      refuse(req, socket, 'bad_request', 'rejected websocket upgrade that is not a body-less GET', { method: req.method });
      return;
    }
    const admitted = admit(req, settings.server.maxHeaders);
    if (admitted === ASTERISK || isRefused(admitted)) {
      refuse(req, socket, admitted === ASTERISK ? 'bad_request' : admitted.code, 'rejected websocket upgrade', { url: req.url });
      return;
    }
    const route = table().match(admitted.host, req.url ?? '/', req.headers);
    if (route === undefined) {
      refuse(req, socket, 'no_route', 'no route for upgrade', { host: req.headers.host, url: req.url });
      return;
    }
    // The same policy gate as plain requests: no allow list or limit is stepped around by upgrading.
    const answer = route.config.policy === undefined ? undefined : policyAnswer({ forwarder, log, observer: opts.observer }, route, req, admitted.authority);
    if (answer !== undefined) {
      if (answer.code === undefined) sendSocketRedirect(socket as Socket, answer.status, answer.location);
      else sendSocketError(socket as Socket, answer.code, answer.detail, answer.headers);
      opts.observer.onExchange(localAnswer(req, socket as Socket, answer.code, { route, policy: answer.policy, ...(answer.code === undefined ? { status: answer.status } : {}) }));
      return;
    }
    const upstream = route.picker.pick(affinityHash(route.config, req, hashesClient(route.config) ? forwarder.clientAddress(req) : undefined));
    if (upstream === undefined) {
      refuse(req, socket, 'no_healthy_upstream', 'no healthy upstream for upgrade', { route: route.config.name }, route);
      return;
    }
    const origin = upstream.origin;
    const count = open.get(origin) ?? 0;
    if (count >= settings.upstream.maxConnections) {
      refuse(req, socket, 'upstream_busy', 'upgrade refused: the instance has upstream.maxConnections tunnels open', { upstream: upstream.id }, route);
      return;
    }
    const { headers, requestId } = forwarder.upstreamHeaders(req, admitted.authority, route);
    if (headers === undefined) {
      refuse(req, socket, 'bad_request', 'rejected upgrade request with several Host headers', { url: req.url });
      return;
    }
    open.set(origin, count + 1);
    tunnels.add(socket);
    const tunnel: Tunnel = { route, upstream, failed: false };
    (req as TunnelRequest)[kTunnel] = tunnel;
    const startedAt = performance.now();
    const url = req.url ?? '/';
    socket.once('close', () => {
      tunnels.delete(socket);
      const left = (open.get(origin) ?? 1) - 1;
      if (left === 0) open.delete(origin);
      else open.set(origin, left);
      // One exchange per tunnel, when it closes: metrics and the access log see WebSockets too.
      opts.observer.onExchange({
        route,
        upstream,
        method: 'GET',
        host: req.headers.host,
        url,
        status: tunnel.failed ? 502 : 101,
        protocol: 'http1',
        errorCode: tunnel.failed ? 'upstream_error' : undefined,
        attempts: 1,
        bytes: (socket as Socket).bytesWritten,
        durationMs: performance.now() - startedAt,
        requestId,
        remoteAddress: (socket as Socket).remoteAddress,
      });
    });
    req.headers = wsHeaders(headers);
    req.url = upstreamPath(route.config, req.url ?? '/');
    // An instance reached over TLS: the tunnel is too, with what upstream.tls says.
    const tls = origin.startsWith('https:') ? { agent: tlsAgent(settings.upstream.tls), secure: tlsConnectOptions(settings.upstream.tls).rejectUnauthorized } : {};
    wsProxy().ws(req, socket, head, { target: origin, ...tls });
    // Reads and writes both pass through the client socket, so its idle timer covers traffic
    // either way. Set after ws(): http-proxy clears the socket's timeout as it takes it.
    (socket as Socket).setTimeout(settings.server.upgradeIdleTimeoutMs, () => socket.destroy());
    // Once this side has ended (the tunnel closed upstream, or the upstream refused the upgrade
    // with a plain answer), whatever the client still sends is read and dropped until it
    // closes too, for a short while only.
    socket.once('finish', () => lingerThenClose(socket as Socket));
  };
  return Object.assign(handler, { tunnels });
}

const kTunnel = Symbol('fairway.tunnel');

/** What an upgrade request carries into http-proxy's error event: whose tunnel it was. */
interface Tunnel {
  readonly route: Route;
  readonly upstream: Upstream;
  failed: boolean;
}

type TunnelRequest = IncomingMessage & { [kTunnel]?: Tunnel };

/** Whether an Upgrade value offers WebSocket (a list of protocols, case-insensitive). */
function offersWebSocket(upgrade: string | undefined): boolean {
  if (upgrade === undefined) return false;
  for (const p of upgrade.split(',')) if (p.trim().toLowerCase() === 'websocket') return true;
  return false;
}

/**
 * The headers http-proxy sends upstream: the plain-request rules' list (hop-by-hop and
 * Connection-named headers gone, X-Forwarded-* set), plus the two headers the upgrade needs.
 * Of the protocols a client offered, WebSocket is the one chosen (and http-proxy takes only
 * an Upgrade of exactly `websocket`).
 */
function wsHeaders(list: readonly string[]): IncomingMessage['headers'] {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!.toLowerCase();
    const prior = out[name];
    out[name] = prior === undefined ? list[i + 1]! : `${prior}${name === 'cookie' ? '; ' : ', '}${list[i + 1]!}`;
  }
  out.connection = 'upgrade';
  out.upgrade = 'websocket';
  return out;
}

/**
 * Hands an upgrade offer back to Node's server as a plain request: its head rewritten without
 * the upgrade, then the bytes that followed it, for llhttp to frame.
 */
function servePlain(http: HttpServer, req: IncomingMessage, socket: Socket, head: Buffer): void {
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower === 'upgrade') continue;
    let value = raw[i + 1]!;
    if (lower === 'connection') {
      value = value
        .split(',')
        .filter((t) => t.trim().toLowerCase() !== 'upgrade')
        .join(',');
      if (value.trim() === '') continue;
    }
    text += `${raw[i]}: ${value}\r\n`;
  }
  const bytes = Buffer.concat([Buffer.from(`${text}\r\n`, 'latin1'), head]);
  // The handler ran this only once the answers owed before it were out (afterClosed), so the
  // new parser's answers are not queued behind a parser Node has let go of.
  socket.resume();
  http.emit('connection', socket);
  socket.emit('data', bytes);
  // A client that half-closed meanwhile: the new parser must see that end too.
  if (socket.readableEnded) socket.emit('end');
}

function failSocket(socket: Socket | undefined): void {
  if (socket && !socket.destroyed && socket.writable && socket.bytesWritten === 0) sendSocketError(socket, 'upstream_error');
  else socket?.destroy();
}
