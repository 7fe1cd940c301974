// The upstream leg of a WebSocket upgrade: the handshake request to the instance, bounded in
// time, and the heads Fairway writes to the client for whatever the instance answered. Node's
// HTTP client parses the instance's answer (strictly: llhttp refuses control bytes in header
// values and conflicting framing); nothing of it reaches the client unchecked (SPEC "Edge rules"):
// - 101: the tunnel opens. The client gets `101 Switching Protocols` with the instance's headers
//   filtered like any answer's (clientResponseHeaders), then Connection and Upgrade.
// - any other final status: an ordinary answer, written by Fairway rather than relayed as raw
//   bytes. The reason is checked (reasonPhrase), the headers filtered (hop-by-hop and
//   Connection-named ones dropped; an invalid one makes it a 502), the body framed as Node
//   decoded it (Content-Length when the instance sent one, else until close), and the
//   connection closes after it: what a client sent behind an upgrade request is never read as
//   a request of its own.
// - no connection within upstream.connectTimeout, or no answer within the route's timeout
//   (its headersTimeout when shorter): 504 upstream_timeout. The route timeout bounds the whole
//   exchange, as for a plain request, so it also cuts a refusal whose body never ends.

import { request as httpRequest, STATUS_CODES, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { applyHeaderRules, type HeaderRules } from '../core/policy/header-rules.js';
import { TimeoutError, UpstreamError } from '../core/errors.js';
import { clientResponseHeaders, reasonPhrase } from './headers.js';

export interface Handshake {
  /** The instance: `http://host:port` or `https://host:port`. */
  origin: string;
  path: string;
  headers: OutgoingHttpHeaders;
  /** For an https:// origin: the agent that holds upstream.tls. */
  tlsAgent?: HttpsAgent;
  connectTimeoutMs: number;
  /** The route's timeout: the instance's answer, body included, must be in by then. */
  timeoutMs: number;
  /** The route's headersTimeout (0: none): the answer's head must be in by then. */
  headersTimeoutMs: number;
}

/** What became of a handshake: exactly one of these is called, at most once. */
export interface HandshakeEvents {
  /** 101: `upstream` is the tunnel's far end; `head`, what the instance sent after its 101. */
  switched(res: IncomingMessage, upstream: Socket, head: Buffer): void;
  /** Any other final answer, its body still to be read. */
  answered(res: IncomingMessage): void;
  /** No answer: the connection failed, was cut, or timed out (upstreamFailure maps `err`). */
  failed(err: Error): void;
}

/**
 * Sends the upgrade request. Returns a function that calls it off (the client left): no event
 * follows, and the upstream connection is destroyed.
 */
export function handshake(h: Handshake, on: HandshakeEvents): () => void {
  const url = new URL(h.origin);
  const tls = url.protocol === 'https:';
  const options = {
    // URL keeps an IPv6 literal's brackets; the connect options take the bare address.
    host: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
    method: 'GET',
    path: h.path,
    headers: h.headers,
    // A connection of its own, never pooled: it becomes a tunnel or is closed after one answer.
    agent: tls ? h.tlsAgent : false,
  };
  const startedAt = performance.now();
  let settled = false;
  let req: ClientRequest | undefined;
  let connectTimer: NodeJS.Timeout | undefined;
  const headMs = h.headersTimeoutMs > 0 ? Math.min(h.headersTimeoutMs, h.timeoutMs) : h.timeoutMs;
  let answerTimer: NodeJS.Timeout | undefined = setTimeout(() => cut(new TimeoutError(headMs)), headMs);
  const stopTimers = (): void => {
    clearTimeout(connectTimer);
    clearTimeout(answerTimer);
    answerTimer = undefined;
  };
  /** Ends the handshake before any answer: one `failed`, the request destroyed. */
  const cut = (err: Error): void => {
    if (!settled) {
      settled = true;
      stopTimers();
      on.failed(err);
    }
    req?.destroy();
  };
  try {
    req = (tls ? httpsRequest : httpRequest)(options);
  } catch (err) {
    // A head Node's client will not send: fail as the caller's next tick would see it.
    process.nextTick(cut, err as Error);
    return () => (settled = true);
  }
  const upstream = req;
  upstream.on('error', cut);
  upstream.once('socket', (socket: Socket) => {
    if (!socket.connecting) return;
    connectTimer = setTimeout(() => cut(new UpstreamError('ETIMEDOUT', `no connection within ${h.connectTimeoutMs}ms`)), h.connectTimeoutMs);
    socket.once('connect', () => clearTimeout(connectTimer));
  });
  upstream.once('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
    if (settled) {
      socket.destroy();
      return;
    }
    settled = true;
    stopTimers();
    on.switched(res, socket, head);
  });
  upstream.once('response', (res: IncomingMessage) => {
    if (settled) {
      upstream.destroy();
      return;
    }
    settled = true;
    clearTimeout(connectTimer);
    clearTimeout(answerTimer);
    // The body still has to come within the route's timeout; past it the answer is cut short.
    const left = h.timeoutMs - (performance.now() - startedAt);
    answerTimer = setTimeout(() => upstream.destroy(new TimeoutError(h.timeoutMs)), Math.max(left, 0));
    res.once('end', () => {
      clearTimeout(answerTimer);
      // Never reused: the instance was asked to switch protocols on it.
      upstream.destroy();
    });
    on.answered(res);
  });
  upstream.end();
  return () => {
    settled = true;
    stopTimers();
    upstream.destroy();
  };
}

/** Raw header strings as Node's parser gave them (latin1, one char per byte), as bytes. */
function rawBytes(raw: readonly string[]): Buffer[] {
  return raw.map((s) => Buffer.from(s, 'latin1'));
}

function headerLines(list: readonly string[]): string {
  let text = '';
  for (let i = 0; i < list.length; i += 2) text += `${list[i]}: ${list[i + 1]}\r\n`;
  return text;
}

/**
 * The client's `101 Switching Protocols` head (latin1): the instance's headers as for any
 * answer, then Connection and its Upgrade. Throws InvalidHeaderError for a head no client may
 * be sent.
 */
export function switchingHead(res: IncomingMessage): string {
  const headers = clientResponseHeaders(rawBytes(res.rawHeaders), 101);
  return `HTTP/1.1 101 Switching Protocols\r\n${headerLines(headers)}Connection: Upgrade\r\nUpgrade: ${res.headers.upgrade ?? 'websocket'}\r\n\r\n`;
}

/**
 * The client's head (latin1) for an instance's answer other than 101, with the route's
 * `responseHeaders` rules, framed for the body Node decoded and closing the connection.
 * Throws InvalidHeaderError for a head no client may be sent.
 */
export function refusalHead(res: IncomingMessage, rules: HeaderRules | undefined): string {
  const status = res.statusCode ?? 502;
  const kept = clientResponseHeaders(rawBytes(res.rawHeaders), status);
  // Framing is this hop's: Transfer-Encoding went with the hop-by-hop headers, Content-Length
  // is written again below from what Node's parser framed the body by.
  const headers: string[] = [];
  for (let i = 0; i < kept.length; i += 2) if (kept[i]!.toLowerCase() !== 'content-length') headers.push(kept[i]!, kept[i + 1]!);
  if (rules !== undefined) applyHeaderRules(headers, rules);
  const bodiless = status < 200 || status === 204 || status === 304;
  const length = bodiless || res.headers['transfer-encoding'] !== undefined ? undefined : res.headers['content-length'];
  const reason = reasonPhrase(status, res.statusMessage ?? '', STATUS_CODES[status]);
  return `HTTP/1.1 ${status} ${reason}\r\n${headerLines(headers)}${length === undefined ? '' : `content-length: ${length}\r\n`}connection: close\r\n\r\n`;
}
