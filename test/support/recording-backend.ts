// A raw TCP backend that records exactly what reaches it: every connection's bytes, cut into the
// requests it can frame (Content-Length or chunked; the head kept byte for byte, a chunked body
// decoded so that how a proxy happened to chunk it does not matter), and whatever it cannot
// frame kept raw. Each framed request gets a fixed small answer (no body for HEAD).
//
// `Connection: close` is honoured with a lingering close: the answer goes out, nothing more is
// answered, and the backend waits a moment for the client to close first (as undici does after
// the `connection: close` it puts on every HEAD) before closing itself. Closing at once would
// race with a pool that has already sent the next request on that connection and will retry it
// elsewhere: noise that depends on timing, not on the proxy. Bytes that arrive after a close
// are still recorded, as `after-close`.
//
// Requests are attributed to a "lane": the last address in their X-Forwarded-For, i.e. the
// client address the proxy saw. A test that gives each concurrent client its own loopback
// source address (127.0.x.y) can then tell which requests a client caused, even though the
// proxy mixes all clients onto its pooled upstream connections. Bytes with no X-Forwarded-For
// of their own (a tail after a tunnelled head, say) take the lane of their connection.

import { createServer, type Server, type Socket } from 'node:net';

export const BACKEND_RESPONSE = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
const HEAD_RESPONSE = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n';
/** How long a closing connection waits for its client to close first. */
const LINGER_MS = 300;

export interface Received {
  readonly lane: string | undefined;
  /** Connection number at the backend (1, 2, ...), for reports. */
  readonly connection: number;
  /** `request`: framed and answered; `raw`: bytes it could not frame; `after-close`: bytes after a close. */
  /** `incomplete`: a well-framed head whose body never came whole (the sender gave up on it). */
  readonly kind: 'request' | 'raw' | 'after-close' | 'incomplete';
  /** The head as received (request) or the bytes (raw), latin1. */
  readonly text: string;
  /** Body bytes (decoded when chunked), latin1. */
  readonly body: string;
  readonly chunked: boolean;
  /** performance.now() when it was complete. */
  readonly at: number;
}

interface Connection {
  readonly id: number;
  readonly socket: Socket;
  buf: Buffer;
  lane: string | undefined;
  /** After a `Connection: close` request or unframeable bytes: record raw, answer nothing. */
  done: boolean;
  /** The buffer holds a complete head whose body has not all come yet. */
  waiting?: boolean;
}

export class RecordingBackend {
  readonly server: Server;
  port = 0;
  readonly #received: Received[] = [];
  readonly #lastActivity = new Map<string | undefined, number>();
  readonly #sockets = new Set<Socket>();
  #connections = 0;

  private constructor() {
    this.server = createServer({ allowHalfOpen: false, noDelay: true }, (socket) => this.#accept(socket));
  }

  static async start(): Promise<RecordingBackend> {
    const b = new RecordingBackend();
    await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
    b.port = (b.server.address() as { port: number }).port;
    return b;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** When the backend last received bytes of this lane (0: never). */
  lastActivity(lane: string): number {
    return this.#lastActivity.get(lane) ?? 0;
  }

  /** Removes and returns what was received for `lane`, in order. */
  take(lane: string): Received[] {
    const out: Received[] = [];
    for (let i = 0; i < this.#received.length; ) {
      if (this.#received[i]!.lane === lane) out.push(...this.#received.splice(i, 1));
      else i++;
    }
    return out;
  }

  /** What no lane claimed (no X-Forwarded-For anywhere on its connection). */
  unattributed(): Received[] {
    return this.#received.filter((r) => r.lane === undefined);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    const conn: Connection = { id: ++this.#connections, socket, buf: Buffer.alloc(0), lane: undefined, done: false };
    this.#sockets.add(socket);
    socket.on('data', (chunk: Buffer) => {
      conn.buf = conn.buf.length === 0 ? chunk : Buffer.concat([conn.buf, chunk]);
      if (conn.lane !== undefined) this.#lastActivity.set(conn.lane, performance.now());
      this.#frame(conn);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      if (conn.buf.length > 0) this.#raw(conn, conn.done ? 'after-close' : conn.waiting ? 'incomplete' : 'raw');
    });
  }

  #frame(conn: Connection): void {
    while (!conn.done && conn.buf.length > 0) {
      const end = conn.buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = conn.buf.toString('latin1', 0, end + 4);
      const fields = parseFields(head);
      const lane = laneOf(fields) ?? conn.lane;
      conn.lane ??= lane;
      const te = fields.get('transfer-encoding');
      const cl = fields.get('content-length');
      let body: Buffer;
      let rest: Buffer;
      let chunked = false;
      if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te.join(','))) {
        const decoded = dechunk(conn.buf, end + 4);
        conn.waiting = decoded === 'incomplete';
        if (decoded === 'incomplete') return;
        if (decoded === 'invalid') return this.#stop(conn);
        [body, rest] = decoded;
        chunked = true;
      } else if (te !== undefined || (cl !== undefined && (cl.length > 1 || !/^\d+$/.test(cl[0]!)))) {
        return this.#stop(conn);
      } else {
        const n = cl === undefined ? 0 : Number(cl[0]);
        conn.waiting = conn.buf.length < end + 4 + n;
        if (conn.waiting) return;
        body = conn.buf.subarray(end + 4, end + 4 + n);
        rest = conn.buf.subarray(end + 4 + n);
      }
      conn.buf = Buffer.from(rest);
      this.#record({ lane, connection: conn.id, kind: 'request', text: head, body: body.toString('latin1'), chunked, at: performance.now() });
      const close = (fields.get('connection') ?? []).some((v) => /(^|,)\s*close\s*(,|$)/i.test(v));
      const isHead = head.startsWith('HEAD ');
      conn.socket.write(isHead ? HEAD_RESPONSE : BACKEND_RESPONSE);
      if (close) {
        conn.done = true;
        setTimeout(() => conn.socket.end(), LINGER_MS).unref();
      }
    }
    if (conn.done && conn.buf.length > 0) this.#raw(conn, 'after-close');
  }

  /** Bytes it cannot frame: recorded raw, and the connection closed. */
  #stop(conn: Connection): void {
    this.#raw(conn, 'raw');
    conn.done = true;
    conn.socket.end();
  }

  #raw(conn: Connection, kind: 'raw' | 'after-close' | 'incomplete'): void {
    const text = conn.buf.toString('latin1');
    // A head among the bytes says whose they are; else they are the connection's.
    const end = text.indexOf('\r\n\r\n');
    const lane = (end === -1 ? undefined : laneOf(parseFields(text.slice(0, end + 4)))) ?? conn.lane;
    this.#record({ lane, connection: conn.id, kind, text, body: '', chunked: false, at: performance.now() });
    conn.buf = Buffer.alloc(0);
  }

  #record(r: Received): void {
    this.#received.push(r);
    this.#lastActivity.set(r.lane, r.at);
  }
}

/** Lower-cased field name → values, from a head ending in CRLFCRLF. */
function parseFields(head: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = fields.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    fields.set(name, list);
  }
  return fields;
}

/** The client address the proxy reported: the last entry of the last X-Forwarded-For. */
function laneOf(fields: Map<string, string[]>): string | undefined {
  const xff = fields.get('x-forwarded-for');
  if (xff === undefined) return undefined;
  const last = xff[xff.length - 1]!.split(',');
  return last[last.length - 1]!.trim() || undefined;
}

/** The decoded body and what follows it, or why not. */
function dechunk(buf: Buffer, start: number): [Buffer, Buffer] | 'incomplete' | 'invalid' {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol === -1) return 'incomplete';
    const size = Number.parseInt(buf.toString('latin1', at, eol).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) return 'invalid';
    if (size === 0) {
      // Trailer fields, then the blank line.
      let t = eol + 2;
      for (;;) {
        const e = buf.indexOf('\r\n', t);
        if (e === -1) return 'incomplete';
        if (e === t) return [Buffer.concat(parts), buf.subarray(e + 2)];
        t = e + 2;
      }
    }
    if (buf.length < eol + 2 + size + 2) return 'incomplete';
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    if (buf[eol + 2 + size] !== 0x0d || buf[eol + 3 + size] !== 0x0a) return 'invalid';
    at = eol + 4 + size;
  }
}
