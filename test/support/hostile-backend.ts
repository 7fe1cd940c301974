// Raw TCP backends (net.Server) for tests that need an upstream to send exactly the bytes
// they choose, broken ones included, and to see exactly the bytes it got.
//
// A RawBackend frames the requests it receives itself (head, then a Content-Length or chunked
// body), records each with the connection it came on, and hands it to a handler that writes
// whatever it likes. It never closes a connection on its own: it keeps reading (and framing)
// after `Connection: close`, which is what makes smuggled bytes visible. A handler may switch
// a connection to raw mode (after a 101), after which bytes are only recorded.

import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

export interface RawRequest {
  method: string;
  target: string;
  version: string;
  /** Header lines as received: [name, value]. */
  rawHeaders: Array<[string, string]>;
  body: Buffer;
  /** The request head as received, up to and including the blank line. */
  head: string;
  connection: RawConnection;
  /** performance.now() when it was framed. */
  at: number;
}

export interface RawConnection {
  readonly id: number;
  readonly socket: Socket;
  /** Every byte received on this connection, in order. */
  received: Buffer;
  readonly requests: RawRequest[];
  /** Framing stopped: later bytes are only recorded (a tunnel after 101, or unframeable input). */
  raw: boolean;
  /** Why framing stopped, when it was not the handler's choice. */
  unframed?: string;
  open: boolean;
}

export type RawHandler = (req: RawRequest, conn: RawConnection, backend: RawBackend) => void;

export interface RawBackend {
  readonly port: number;
  readonly address: string;
  readonly server: Server;
  /** Every request framed, in arrival order, across connections. */
  readonly requests: RawRequest[];
  readonly connections: RawConnection[];
  /** Connections open now, and the most ever open at once. */
  open: number;
  peakOpen: number;
  readonly events: EventEmitter;
  /** Resolves with the first request (already seen or to come) that `pred` accepts, or undefined after `timeoutMs`. */
  waitForRequest(pred: (r: RawRequest) => boolean, timeoutMs?: number): Promise<RawRequest | undefined>;
  close(): Promise<void>;
}

/** The first value of header `name` (any case) of a recorded request. */
export function reqHeader(req: Pick<RawRequest, 'rawHeaders'>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return req.rawHeaders.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** Every value of header `name` (any case) of a recorded request. */
export function reqHeaders(req: Pick<RawRequest, 'rawHeaders'>, name: string): string[] {
  const lower = name.toLowerCase();
  return req.rawHeaders.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

/** A plain well-framed answer: `200 OK` (or `status`) with a Content-Length body. */
export function plainAnswer(body: string, status = 200, reason = 'OK', extra: string[] = []): string {
  return [`HTTP/1.1 ${status} ${reason}`, 'Content-Type: text/plain', `Content-Length: ${Buffer.byteLength(body, 'latin1')}`, ...extra, '', body].join('\r\n');
}

/** Answers every request with `200 <method> <target>` and keeps the connection open. */
export const echoTarget: RawHandler = (req, conn) => {
  conn.socket.write(plainAnswer(`${req.method} ${req.target}`), 'latin1');
};

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/;

export async function startRawBackend(handler: RawHandler = echoTarget): Promise<RawBackend> {
  const events = new EventEmitter();
  let nextId = 1;
  const backend = {
    requests: [] as RawRequest[],
    connections: [] as RawConnection[],
    open: 0,
    peakOpen: 0,
    events,
  } as unknown as RawBackend & { port: number; address: string; server: Server };

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const conn: RawConnection = { id: nextId++, socket, received: Buffer.alloc(0), requests: [], raw: false, open: true };
    backend.connections.push(conn);
    backend.open++;
    backend.peakOpen = Math.max(backend.peakOpen, backend.open);
    events.emit('connection', conn);
    let pending = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('end', () => events.emit('end', conn));
    socket.on('close', () => {
      conn.open = false;
      backend.open--;
      events.emit('close', conn);
    });
    socket.on('data', (chunk: Buffer) => {
      conn.received = Buffer.concat([conn.received, chunk]);
      events.emit('data', conn, chunk);
      if (conn.raw) return;
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (conn.raw) return;
        const framed = frameRequest(pending);
        if (framed === undefined) return;
        if ('error' in framed) {
          conn.raw = true;
          conn.unframed = framed.error;
          return;
        }
        pending = pending.subarray(framed.end);
        const req: RawRequest = { ...framed.request, connection: conn, at: performance.now() };
        conn.requests.push(req);
        backend.requests.push(req);
        events.emit('request', req);
        handler(req, conn, backend);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  backend.server = server;
  backend.port = (server.address() as { port: number }).port;
  backend.address = `127.0.0.1:${backend.port}`;
  backend.waitForRequest = (pred, timeoutMs = 5_000) =>
    new Promise((resolve) => {
      const seen = backend.requests.find(pred);
      if (seen) return resolve(seen);
      const onRequest = (r: RawRequest): void => {
        if (!pred(r)) return;
        clearTimeout(timer);
        events.off('request', onRequest);
        resolve(r);
      };
      const timer = setTimeout(() => {
        events.off('request', onRequest);
        resolve(undefined);
      }, timeoutMs);
      events.on('request', onRequest);
    });
  backend.close = () =>
    new Promise<void>((r) => {
      for (const c of backend.connections) c.socket.destroy();
      server.close(() => r());
    });
  return backend;
}

type Framed = { request: Omit<RawRequest, 'connection' | 'at'>; end: number } | { error: string };

/** One request at the start of `buf`: framed, incomplete (undefined), or not HTTP. */
function frameRequest(buf: Buffer): Framed | undefined {
  const headEnd = buf.indexOf(HEAD_END);
  if (headEnd === -1) return buf.length > 1024 * 1024 ? { error: 'no end of head in 1 MiB' } : undefined;
  const head = buf.toString('latin1', 0, headEnd + 4);
  const lines = head.slice(0, -4).split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]!);
  if (m === null) return { error: `not a request line: ${JSON.stringify(lines[0]!.slice(0, 100))}` };
  const rawHeaders: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: `not a header line: ${JSON.stringify(line.slice(0, 100))}` };
    rawHeaders.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const base = { method: m[1]!, target: m[2]!, version: m[3]!, rawHeaders, head };
  const bodyStart = headEnd + 4;
  const te = reqHeader({ rawHeaders }, 'transfer-encoding');
  if (te !== undefined && /chunked\s*$/i.test(te)) {
    const body: Buffer[] = [];
    let at = bodyStart;
    for (;;) {
      const le = buf.indexOf('\r\n', at, 'latin1');
      if (le === -1) return undefined;
      const size = parseInt(buf.toString('latin1', at, le), 16);
      if (Number.isNaN(size)) return { error: 'bad chunk size' };
      at = le + 2;
      if (size === 0) {
        // Trailers until the empty line.
        for (;;) {
          const tle = buf.indexOf('\r\n', at, 'latin1');
          if (tle === -1) return undefined;
          const empty = tle === at;
          at = tle + 2;
          if (empty) return { request: { ...base, body: Buffer.concat(body) }, end: at };
        }
      }
      if (buf.length < at + size + 2) return undefined;
      body.push(buf.subarray(at, at + size));
      at += size + 2;
    }
  }
  const len = Number(reqHeader({ rawHeaders }, 'content-length') ?? '0');
  if (!Number.isInteger(len) || len < 0) return { error: 'bad Content-Length' };
  if (buf.length < bodyStart + len) return undefined;
  return { request: { ...base, body: Buffer.from(buf.subarray(bodyStart, bodyStart + len)) }, end: bodyStart + len };
}
