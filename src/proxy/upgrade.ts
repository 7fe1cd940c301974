// Requests that carry `Connection: upgrade`. Only WebSocket upgrades are honoured (SPEC "Edge
// rules"); their upstream leg (the handshake, its deadline, and the heads written back for the
// instance's answer) is ws-upstream.ts.
//
// Any other upgrade offer (h2c, say) is served as the plain request it also is: the head is
// written again without Upgrade and without the `upgrade` token in Connection, and handed back
// to Node's HTTP server together with the bytes that followed it, so llhttp frames its body and
// any pipelined request after it. The bytes after an upgrade head are therefore never relayed
// as they come: they were the hole that let a second request ride an h2c offer past routing,
// header rules and the access log.
//
// A WebSocket upgrade counts against `upstream.maxConnections` of its instance (an upgraded
// connection is one the pool can never reuse) from the moment it is sent: until the tunnel
// closes, or until the instance has refused it or failed. A tunnel closes after
// `server.upgradeIdleTimeout` without traffic either way. The client socket is not read until
// the instance has answered 101, so nothing the client sent after the head reaches it before.

import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { codeOrMessage, statusOf, upstreamFailure, type FairwayErrorCode } from '../core/errors.js';
import { upstreamPath, type Route, type RouteTable } from '../core/route-table.js';
import { tlsAgent } from '../config-source/client-tls.js';
import { admit, isRefused, ASTERISK } from './admit.js';
import { affinityHash, hashesClient } from './affinity.js';
import type { Forwarder } from './forwarder.js';
import { declaresBody } from './messages.js';
import { afterClosed } from './pipeline.js';
import { policyAnswer } from './policy-gate.js';
import { localAnswer, type RequestObserver } from './observer.js';
import { lingerThenClose, sendSocketError, sendSocketRedirect } from './respond.js';
import { handshake, refusalHead, switchingHead } from './ws-upstream.js';

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
    let held = true;
    /** Gives the instance's place back: once its connection is a tunnel no more, or never became one. */
    const release = (): void => {
      if (!held) return;
      held = false;
      const left = (open.get(origin) ?? 1) - 1;
      if (left === 0) open.delete(origin);
      else open.set(origin, left);
    };
    // What the access log and metrics see; until the instance answers, a client that leaves is a 499.
    let status = 499;
    let errorCode: FairwayErrorCode | undefined;
    const startedAt = performance.now();
    const url = req.url ?? '/';
    const client = socket as Socket;
    /** No answer from the instance (or one no client may be sent): Fairway's own, if nothing is out yet. */
    const fail = (code: FairwayErrorCode, err: unknown, detail?: string): void => {
      log.warn({ route: route.config.name, upstream: upstream.id, err: codeOrMessage(err) }, 'websocket upstream failed');
      // Passive health counts a failed upgrade like a failed request.
      forwarder.outcome(route, upstream, false);
      release();
      status = statusOf(code);
      errorCode = code;
      if (!client.destroyed && client.writable && client.bytesWritten === 0) sendSocketError(client, code, detail);
      else client.destroy();
    };
    const abort = handshake(
      {
        origin,
        path: upstreamPath(route.config, url),
        headers: wsHeaders(headers),
        // An instance reached over TLS: the tunnel is too, with what upstream.tls says.
        ...(origin.startsWith('https:') ? { tlsAgent: tlsAgent(settings.upstream.tls) } : {}),
        connectTimeoutMs: settings.upstream.connectTimeoutMs,
        timeoutMs: route.config.timeoutMs,
        headersTimeoutMs: route.config.headersTimeoutMs,
      },
      {
        switched: (res, far, farHead) => {
          let text: string;
          try {
            text = switchingHead(res);
          } catch (err) {
            far.destroy();
            fail('upstream_error', err, 'invalid response head from the upstream');
            return;
          }
          forwarder.outcome(route, upstream, true);
          status = 101;
          far.on('error', () => client.destroy());
          client.once('close', () => far.destroy());
          // As http-proxy set them: frames go out as written, and a peer that vanished is found.
          for (const end of [far, client]) end.setNoDelay(true).setKeepAlive(true);
          client.write(text, 'latin1');
          if (farHead.length > 0) client.write(farHead);
          if (head.length > 0) far.write(head);
          far.pipe(client).pipe(far);
          // Reads and writes both pass through the client socket, so its idle timer covers
          // traffic either way.
          client.setTimeout(settings.server.upgradeIdleTimeoutMs, () => client.destroy());
          // Once the instance has ended the tunnel, whatever the client still sends is read and
          // dropped until it closes too, for a short while only.
          client.once('finish', () => lingerThenClose(client));
        },
        answered: (res) => {
          let text: string;
          try {
            text = refusalHead(res, route.config.policy?.responseHeaders);
          } catch (err) {
            res.destroy();
            fail('upstream_error', err, 'invalid response head from the upstream');
            return;
          }
          const answered = res.statusCode ?? 502;
          forwarder.outcome(route, upstream, answered < 500);
          status = answered;
          res.once('close', () => {
            release();
            // Cut short (the instance reset it, or the route timeout ran out): so is the answer.
            if (!res.complete) client.destroy();
          });
          res.on('error', () => undefined); // seen as the incomplete close above
          client.write(text, 'latin1');
          res.pipe(client);
          // The connection ends with this answer; the client's later bytes are read and dropped.
          client.once('finish', () => lingerThenClose(client));
        },
        failed: (err) => fail(upstreamFailure(err).code, err),
      },
    );
    client.once('close', () => {
      abort();
      release();
      tunnels.delete(socket);
      // One exchange per upgrade, when its connection closes: metrics and the access log see WebSockets too.
      opts.observer.onExchange({
        route,
        upstream,
        method: 'GET',
        host: req.headers.host,
        url,
        status,
        protocol: 'http1',
        errorCode,
        attempts: 1,
        bytes: client.bytesWritten,
        durationMs: performance.now() - startedAt,
        requestId,
        remoteAddress: client.remoteAddress,
      });
    });
  };
  return Object.assign(handler, { tunnels });
}

/** Whether an Upgrade value offers WebSocket (a list of protocols, case-insensitive). */
function offersWebSocket(upgrade: string | undefined): boolean {
  if (upgrade === undefined) return false;
  for (const p of upgrade.split(',')) if (p.trim().toLowerCase() === 'websocket') return true;
  return false;
}

/**
 * The headers of the upgrade request to the instance: the plain-request rules' list (hop-by-hop
 * and Connection-named headers gone, X-Forwarded-* set), plus the two headers the upgrade
 * needs. Of the protocols a client offered, WebSocket is the one chosen.
 */
function wsHeaders(list: readonly string[]): Record<string, string> {
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
