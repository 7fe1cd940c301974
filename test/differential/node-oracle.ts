// Node's verdict on a byte stream, without sockets: an http.Server that never listens is handed
// an in-memory Duplex carrying the bytes (`server.emit('connection', duplex)`, as fast-path.ts
// hands sockets over), and everything the server makes of them is recorded in order: requests,
// upgrades, CONNECTs, unmet expectations, parse errors, and answers Node writes on its own
// (400 for a missing Host, 417, 100 Continue), recorded when Node decides them (a response
// queued behind an unanswered pipelined request is not written yet, but is decided).
//
// The server is set up as Fairway's (server.ts): same maxHeaderSize, no Host required (Fairway
// answers a missing Host itself), every header line kept, half-open connections allowed, and
// listeners for 'upgrade', 'connect' and 'checkExpectation', recorded here as events.

import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';

export type NodeEvent =
  | {
      kind: 'request';
      method: string;
      url: string;
      rawHeaders: string[];
      headers: IncomingMessage['headers'];
      /** Node would keep the connection open after answering (res.shouldKeepAlive). */
      keepAlive: boolean;
      /** Body bytes Node delivered for this request. */
      body: number;
    }
  | { kind: 'upgrade' | 'connect'; method: string; url: string; rawHeaders: string[]; head: number }
  | { kind: 'expectation'; method: string; url: string; expect: string }
  | { kind: 'error'; code: string; bytesParsed: number | undefined }
  /** An answer Node made on its own (no listener here answers anything): its status. */
  | { kind: 'answered'; status: number };

/** One stream given to Node; its events fill in as the server reads it (see NodeOracle.settle). */
export interface NodeRun {
  readonly events: NodeEvent[];
}

const kRun = Symbol('differential.run');

interface Carrier extends Duplex {
  [kRun]: NodeRun;
}

function runOf(x: { socket: unknown }): NodeRun {
  return (x.socket as Carrier)[kRun];
}

/** Records the answers Node's server makes itself, as it makes them. */
class RecordingResponse extends ServerResponse {}
const baseWriteHead = ServerResponse.prototype.writeHead;
RecordingResponse.prototype.writeHead = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]) {
  runOf(this.req).events.push({ kind: 'answered', status });
  return (baseWriteHead as (...args: unknown[]) => ServerResponse).call(this, status, ...rest);
} as typeof baseWriteHead;
const baseWriteContinue = ServerResponse.prototype.writeContinue;
RecordingResponse.prototype.writeContinue = function writeContinue(this: ServerResponse, cb?: () => void) {
  runOf(this.req).events.push({ kind: 'answered', status: 100 });
  baseWriteContinue.call(this, cb);
};

export class NodeOracle {
  readonly #servers = new Map<number, Server>();
  #open: Duplex[] = [];

  /** Starts Node on `bytes` (then FIN if `fin`); the events are complete after settle(). */
  run(bytes: Buffer, fin: boolean, maxHeaderSize: number): NodeRun {
    const run: NodeRun = { events: [] };
    const duplex = new Duplex({
      read() {},
      write(_chunk, _enc, cb) {
        cb();
      },
      final(cb) {
        cb();
      },
    }) as Carrier;
    duplex[kRun] = run;
    // What Node's server reads off a net.Socket; an in-memory stream has no address.
    Object.defineProperty(duplex, 'remoteAddress', { value: '127.0.0.1' });
    duplex.on('error', () => undefined);
    this.#server(maxHeaderSize).emit('connection', duplex);
    if (bytes.length > 0) duplex.push(bytes);
    if (fin) duplex.push(null);
    this.#open.push(duplex);
    return run;
  }

  /** Lets Node read everything handed to it so far, then frees those streams. */
  async settle(): Promise<void> {
    // Data flows on the next turn (the stream starts flowing then); bodies and errors the turn after.
    await nextTurn();
    await nextTurn();
    await nextTurn();
    for (const d of this.#open) d.destroy();
    this.#open = [];
  }

  /** One run, settled. */
  async once(bytes: Buffer, fin: boolean, maxHeaderSize: number): Promise<NodeEvent[]> {
    const run = this.run(bytes, fin, maxHeaderSize);
    await this.settle();
    return run.events;
  }

  #server(maxHeaderSize: number): Server {
    let server = this.#servers.get(maxHeaderSize);
    if (server !== undefined) return server;
    server = createServer({ maxHeaderSize, noDelay: true, requireHostHeader: false, ServerResponse: RecordingResponse });
    server.maxHeadersCount = 0;
    (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const event: NodeEvent = {
        kind: 'request',
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        keepAlive: res.shouldKeepAlive,
        body: 0,
      };
      runOf(req).events.push(event);
      req.on('data', (chunk: Buffer) => (event.body += chunk.length));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      runOf({ socket }).events.push({ kind: 'upgrade', method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, head: head.length });
      socket.destroy();
    });
    server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      runOf({ socket }).events.push({ kind: 'connect', method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, head: head.length });
      socket.destroy();
    });
    server.on('checkExpectation', (req: IncomingMessage) => {
      runOf(req).events.push({ kind: 'expectation', method: req.method ?? '', url: req.url ?? '', expect: String(req.headers.expect) });
    });
    server.on('clientError', (err: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Duplex) => {
      runOf({ socket }).events.push({ kind: 'error', code: err.code ?? err.message, bytesParsed: err.bytesParsed });
      socket.destroy();
    });
    this.#servers.set(maxHeaderSize, server);
    return server;
  }

  close(): void {
    for (const s of this.#servers.values()) s.close();
    this.#servers.clear();
  }
}

/** An event in one line, for reports. */
export function showEvent(e: NodeEvent): string {
  switch (e.kind) {
    case 'request':
      return `request ${JSON.stringify(e.method)} ${JSON.stringify(e.url)} ${JSON.stringify(e.rawHeaders)}${e.keepAlive ? '' : ' (close)'}${e.body > 0 ? ` body ${e.body}` : ''}`;
    case 'upgrade':
    case 'connect':
      return `${e.kind} ${JSON.stringify(e.method)} ${JSON.stringify(e.url)} ${JSON.stringify(e.rawHeaders)} head ${e.head}`;
    case 'expectation':
      return `expectation ${JSON.stringify(e.expect)} on ${e.method} ${JSON.stringify(e.url)}`;
    case 'error':
      return `error ${e.code}${e.bytesParsed === undefined ? '' : ` at ${e.bytesParsed}`}`;
    case 'answered':
      return `Node answered ${e.status} itself`;
  }
}
