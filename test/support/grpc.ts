// A real grpc-js server implementing test/fixtures/grpc/echo.proto, and promise-shaped calls of
// a real grpc-js client, for the gRPC tests through Fairway.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const PROTO = fileURLToPath(new URL('../fixtures/grpc/echo.proto', import.meta.url));

export interface Msg {
  text: string;
  n: number;
}

type ClientCtor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client & Record<string, (...args: never[]) => unknown>;

interface Package {
  Echo: ClientCtor & { service: grpc.ServiceDefinition };
  Down: ClientCtor & { service: grpc.ServiceDefinition };
  Late: ClientCtor & { service: grpc.ServiceDefinition };
  Nobody: ClientCtor & { service: grpc.ServiceDefinition };
}

export const proto = (grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { keepCase: true, defaults: true })) as unknown as { fairway: { test: Package } }).fairway.test;

export interface EchoServer {
  port: number;
  address: string;
  /** Metadata of the last call, for header assertions. */
  last: grpc.Metadata | undefined;
  /** Calls whose client went away (a deadline, a reset) before they answered. */
  cancelled: number;
  close(): Promise<void>;
  /** Drops every connection at once, calls under way included (a crash, as the client sees it). */
  kill(): void;
}

export async function startEchoServer(name: string): Promise<EchoServer> {
  const server = new grpc.Server();
  const state = { last: undefined, cancelled: 0 } as EchoServer;
  const seen = (call: { metadata: grpc.Metadata }): void => {
    state.last = call.metadata;
  };
  const slow = (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>): void => {
    seen(call);
    const timer = setTimeout(() => cb(null, { text: `slept ${call.request.n}`, n: call.request.n }), call.request.n);
    call.on('cancelled', () => {
      clearTimeout(timer);
      state.cancelled++;
    });
  };
  server.addService(proto.Echo.service, {
    Say(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      seen(call);
      cb(null, { text: `${call.request.text} from ${name}`, n: call.request.n });
    },
    Count(call: grpc.ServerWritableStream<Msg, Msg>) {
      seen(call);
      const n = call.request.n;
      for (let i = 0; i < (n < 0 ? 2 : n); i++) call.write({ text: String(i), n: i });
      if (n < 0) call.emit('error', { code: grpc.status.ABORTED, details: 'stopped after two' });
      else call.end();
    },
    Gather(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      seen(call);
      const texts: string[] = [];
      call.on('data', (m: Msg) => texts.push(m.text));
      call.on('end', () => cb(null, { text: texts.join('+'), n: texts.length }));
    },
    Chat(call: grpc.ServerDuplexStream<Msg, Msg>) {
      seen(call);
      call.on('data', (m: Msg) => call.write({ text: `re: ${m.text}`, n: m.n }));
      call.on('end', () => call.end());
    },
    Fail(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      seen(call);
      const trailers = new grpc.Metadata();
      trailers.set('x-why', 'because');
      cb({ code: call.request.n, details: call.request.text, metadata: trailers });
    },
    Slow: slow,
  });
  server.addService(proto.Late.service, {
    Slow: slow,
    Drip(call: grpc.ServerWritableStream<Msg, Msg>) {
      seen(call);
      let i = 0;
      const timer = setInterval(() => call.write({ text: String(i), n: i++ }), call.request.n);
      call.on('cancelled', () => {
        clearInterval(timer);
        state.cancelled++;
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  state.port = port;
  state.address = `127.0.0.1:${port}`;
  state.close = () => new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  state.kill = () => server.forceShutdown();
  return state;
}

export interface CallResult<T> {
  value?: T;
  error?: grpc.ServiceError;
}

type Unary = (req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Msg) => void) => void;

/** A unary call that resolves with its answer or its error (never rejects). */
export function unary(client: grpc.Client, method: string, req: Partial<Msg>, opts: grpc.CallOptions = {}, md = new grpc.Metadata()): Promise<CallResult<Msg>> {
  return new Promise((resolve) => {
    (client as unknown as Record<string, Unary>)[method]!.call(client, { text: '', n: 0, ...req }, md, opts, (err, res) => resolve(err ? { error: err } : { value: res! }));
  });
}

/** A server-streaming call: every message it got, and how it ended; `onMessage` sees each as it comes. */
export function serverStream(client: grpc.Client, method: string, req: Partial<Msg>, onMessage?: (m: Msg, count: number) => void): Promise<{ messages: Msg[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const messages: Msg[] = [];
    const call = (client as unknown as Record<string, (req: Msg) => grpc.ClientReadableStream<Msg>>)[method]!.call(client, { text: '', n: 0, ...req });
    call.on('data', (m: Msg) => {
      messages.push(m);
      onMessage?.(m, messages.length);
    });
    call.on('error', (error: grpc.ServiceError) => resolve({ messages, error }));
    call.on('status', (s: grpc.StatusObject) => s.code === grpc.status.OK && resolve({ messages }));
  });
}

export { grpc };
