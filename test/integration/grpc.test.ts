// gRPC end to end: a real grpc-js client through Fairway (h2c on a plain `http2: true` listener,
// and TLS with ALPN h2) to a real grpc-js server that Fairway talks h2c to (a static endpoint,
// and one found in a real Consul agent). Calls of every shape, trailers, deadlines, and the
// answers Fairway makes itself (grpc-status 14 and 4 with x-fairway-error).

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { makeCa, type TestCa } from '../support/certs.js';
import { ConsulApi } from '../support/consul.js';
import { startFairway, until, waitReady } from '../support/fairway.js';
import { grpc, proto, serverStream, startEchoServer, unary, type EchoServer, type Msg } from '../support/grpc.js';
import { h2connect, h2request } from '../support/h2-client.js';
import { freePort } from '../support/ports.js';

const consul = new ConsulApi(inject('consulAddress'));

describe('gRPC through Fairway', () => {
  const service = `echo-${randomUUID().slice(0, 8)}`;
  let ca: TestCa;
  let echo: EchoServer;
  let viaConsul: EchoServer;
  /** Killed in the middle of a call by one test. */
  let doomed: EchoServer;
  let app: Fairway;
  let h2cUrl: string;
  let tlsUrl: string;
  const clients: grpc.Client[] = [];

  const plain = (ctor: typeof proto.Echo): grpc.Client => {
    const c = new ctor(new URL(h2cUrl).host, grpc.credentials.createInsecure());
    clients.push(c);
    return c;
  };
  const secure = (ctor: typeof proto.Echo): grpc.Client => {
    const c = new ctor(`127.0.0.1:${new URL(tlsUrl).port}`, grpc.credentials.createSsl(ca.caPem), { 'grpc.ssl_target_name_override': 'grpc.test', 'grpc.default_authority': 'grpc.test' });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    ca = makeCa();
    const cert = ca.issue('grpc', ['grpc.test']);
    echo = await startEchoServer('static');
    viaConsul = await startEchoServer('consul');
    doomed = await startEchoServer('doomed');
    await consul.put('/v1/agent/service/register', { ID: `${service}-1`, Name: service, Address: '127.0.0.1', Port: viaConsul.port });
    const down = await freePort();
    app = await startFairway({
      admin: { listen: '127.0.0.1:0' },
      consul: { address: inject('consulAddress'), wait: '5s' },
      listeners: [
        { address: '127.0.0.1:0', http2: true },
        { address: '127.0.0.1:0', http2: true, tls: { certificates: [{ cert: cert.cert, key: cert.key }] } },
      ],
      routes: [
        { name: 'consul', match: { host: 'consul.test', pathPrefix: '/fairway.test.Echo/' }, service, protocol: 'h2c' },
        { name: 'echo', match: { pathPrefix: '/fairway.test.Echo/' }, endpoints: [echo.address], protocol: 'h2c' },
        { name: 'doomed', match: { host: 'doomed.test', pathPrefix: '/fairway.test.Late/' }, endpoints: [doomed.address], protocol: 'h2c', retries: 0 },
        { name: 'late', match: { pathPrefix: '/fairway.test.Late/' }, endpoints: [echo.address], protocol: 'h2c', timeout: '300ms' },
        { name: 'down', match: { pathPrefix: '/fairway.test.Down/' }, endpoints: [`127.0.0.1:${down}`], protocol: 'h2c' },
        { name: 'nobody', match: { pathPrefix: '/fairway.test.Nobody/' }, service: `nobody-${service}`, protocol: 'h2c' },
      ],
    });
    await waitReady(app);
    [h2cUrl, tlsUrl] = app.proxyUrls as [string, string];
    await until(() => (app.table.routes.find((r) => r.config.name === 'consul')?.upstreams.length ?? 0) === 1, 10_000, 'the Consul instance in the route');
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await app?.stop();
    await consul.put(`/v1/agent/service/deregister/${service}-1`);
    await echo?.close();
    await viaConsul?.close();
    await doomed?.close();
  });

  it('a unary call over h2c reaches the server, which sees X-Forwarded-* and a request id', async () => {
    const r = await unary(plain(proto.Echo), 'Say', { text: 'hi', n: 7 });
    expect(r.value).toEqual({ text: 'hi from static', n: 7 });
    expect(echo.last?.get('x-forwarded-proto')).toEqual(['http']);
    expect(echo.last?.get('x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(echo.last?.get('x-request-id')[0]).toMatch(/.{8,}/);
  });

  it('a unary call over TLS with ALPN h2 reaches the server, which sees X-Forwarded-Proto https', async () => {
    const r = await unary(secure(proto.Echo), 'Say', { text: 'secure' });
    expect(r.value?.text).toBe('secure from static');
    expect(echo.last?.get('x-forwarded-proto')).toEqual(['https']);
  });

  it('a route to a Consul service reaches the instance registered there', async () => {
    const c = new proto.Echo(new URL(h2cUrl).host, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'consul.test' });
    clients.push(c);
    expect((await unary(c, 'Say', { text: 'found' })).value?.text).toBe('found from consul');
  });

  it('a server-streaming call gets every message in order, on both listeners', async () => {
    for (const c of [plain(proto.Echo), secure(proto.Echo)]) {
      const r = await serverStream(c, 'Count', { n: 50 });
      expect(r.error).toBeUndefined();
      expect(r.messages.map((m) => m.n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    }
  });

  it('a client-streaming call sends every message before the server answers', async () => {
    const c = plain(proto.Echo) as grpc.Client & { Gather(cb: (err: grpc.ServiceError | null, res?: Msg) => void): grpc.ClientWritableStream<Msg> };
    const answer = await new Promise<Msg | undefined>((resolve, reject) => {
      const call = c.Gather((err, res) => (err ? reject(err) : resolve(res)));
      for (const text of ['a', 'b', 'c']) call.write({ text, n: 0 });
      call.end();
    });
    expect(answer).toEqual({ text: 'a+b+c', n: 3 });
  });

  it('a bidi call is full duplex: each answer comes back before the next message is sent', async () => {
    const c = secure(proto.Echo) as grpc.Client & { Chat(): grpc.ClientDuplexStream<Msg, Msg> };
    const call = c.Chat();
    const next = (): Promise<Msg> => new Promise((resolve) => call.once('data', resolve));
    const got: string[] = [];
    for (const text of ['one', 'two', 'three']) {
      const reply = next();
      call.write({ text, n: 0 });
      got.push((await reply).text);
    }
    call.end();
    await new Promise((resolve) => call.on('status', resolve));
    expect(got).toEqual(['re: one', 're: two', 're: three']);
  });

  it("a server's failure passes through: grpc-status, grpc-message and trailing metadata (Trailers-Only)", async () => {
    const r = await unary(plain(proto.Echo), 'Fail', { n: grpc.status.NOT_FOUND, text: 'no such thing: ü' });
    expect(r.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(r.error?.details).toBe('no such thing: ü');
    expect(r.error?.metadata.get('x-why')).toEqual(['because']);
    expect(r.error?.metadata.get('x-fairway-error')).toEqual([]);
  });

  it("a failure after messages passes through in the stream's trailers", async () => {
    const r = await serverStream(secure(proto.Echo), 'Count', { n: -1 });
    expect(r.messages.map((m) => m.text)).toEqual(['0', '1']);
    expect(r.error?.code).toBe(grpc.status.ABORTED);
    expect(r.error?.details).toBe('stopped after two');
  });

  it("the client's deadline is honoured: DEADLINE_EXCEEDED, and the server's call is cancelled", async () => {
    const before = echo.cancelled;
    const r = await unary(plain(proto.Echo), 'Slow', { n: 5_000 }, { deadline: Date.now() + 300 });
    expect(r.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await until(() => echo.cancelled === before + 1, 5_000, 'the server to see its call cancelled');
  });

  it('an instance that is down: UNAVAILABLE (14) from Fairway, with x-fairway-error', async () => {
    const r = await unary(plain(proto.Down), 'Say', { text: 'x' });
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error?.metadata.get('x-fairway-error')).toEqual(['upstream_error']);
  });

  it('a service with no instance: UNAVAILABLE (14), with x-fairway-error no_healthy_upstream', async () => {
    const r = await unary(secure(proto.Nobody), 'Say', { text: 'x' });
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error?.metadata.get('x-fairway-error')).toEqual(['no_healthy_upstream']);
  });

  it('the route timeout: DEADLINE_EXCEEDED (4) from Fairway, with x-fairway-error upstream_timeout', async () => {
    const r = await unary(plain(proto.Late), 'Slow', { n: 3_000 });
    expect(r.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(r.error?.metadata.get('x-fairway-error')).toEqual(['upstream_timeout']);
  });

  it('the route timeout in the middle of a stream: the messages so far, then DEADLINE_EXCEEDED in the trailers', async () => {
    const before = echo.cancelled;
    const r = await serverStream(plain(proto.Late), 'Drip', { n: 50 });
    expect(r.messages.length).toBeGreaterThan(0);
    expect(r.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(r.error?.metadata.get('x-fairway-error')).toEqual(['upstream_timeout']);
    await until(() => echo.cancelled === before + 1, 5_000, 'the server to see its call cancelled');
  });

  it('the upstream killed in the middle of a stream: the messages so far, then UNAVAILABLE in the trailers; Fairway serves on', async () => {
    const client = new proto.Late(new URL(h2cUrl).host, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'doomed.test' });
    clients.push(client);
    const r = await serverStream(client, 'Drip', { n: 20 }, (_m, count) => count === 3 && doomed.kill());
    expect(r.messages.length).toBeGreaterThanOrEqual(3);
    expect(r.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error?.metadata.get('x-fairway-error')).toEqual(['upstream_error']);
    expect((await unary(plain(proto.Echo), 'Say', { text: 'still here' })).value?.text).toBe('still here from static');
  });

  it("Fairway's own gRPC answer is HTTP 200, Trailers-Only, with grpc-status and x-fairway-error", async () => {
    const session = await h2connect(h2cUrl);
    try {
      const r = await h2request(session, { ':method': 'POST', ':path': '/fairway.test.Down/Say', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.alloc(5));
      expect(r.status).toBe(200);
      expect(r.endedAtHeaders).toBe(true);
      expect(r.headers['grpc-status']).toBe('14');
      expect(r.headers['x-fairway-error']).toBe('upstream_error');
      expect(r.headers['content-type']).toBe('application/grpc');
    } finally {
      session.close();
    }
  });

  it('counts the calls by protocol in fairway_requests_total', async () => {
    const text = await (await fetch(`${app.adminUrl}/metrics`)).text();
    expect(text).toMatch(/fairway_requests_total\{route="echo",endpoint="[^"]+",addr="[^"]+",class="2xx",protocol="http2"\} \d+/);
    expect(text).not.toMatch(/fairway_requests_total\{route="echo",[^}]*protocol="http1"\}/);
  });
});
