// TLS from Fairway outward: to instances (`https://` endpoints, Consul meta `scheme: https`,
// `protocol: h2`, WebSocket tunnels) with upstream.tls, mutual TLS included; and to a Consul
// agent that serves HTTPS only to clients with a certificate, from consul.tls or the standard
// CONSUL_* variables. Certificates come from a throwaway CA made by openssl.

import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createSecureServer } from 'node:http2';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Fairway } from '../../src/app.js';
import { makeCa, type IssuedCertificate, type TestCa } from '../support/certs.js';
import { ConsulAgent, ConsulApi } from '../support/consul.js';
import { baseConfig, runCli, startFairway, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

let ca: TestCa;
/** The backends' certificate (for backend.test and 127.0.0.1), read. */
let backend: { cert: Buffer; key: Buffer };
let client: IssuedCertificate;
const servers: Array<{ close(): unknown }> = [];
const apps: Fairway[] = [];

/** An HTTPS backend that wants a client certificate from the test CA, and says who presented one. */
async function httpsBackend(requireClient: boolean): Promise<number> {
  const server: Server = createHttpsServer({ cert: backend.cert, key: backend.key, ca: ca.caPem, requestCert: requireClient, rejectUnauthorized: requireClient }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`tls ${req.httpVersion} ${peer?.subject?.CN ?? 'anonymous'}`);
  });
  server.on('upgrade', (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(`echo over tls: ${d.toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push({ close: () => server.close() });
  return (server.address() as AddressInfo).port;
}

async function get(app: Fairway, path = '/'): Promise<{ status: number; body: string; error: string | undefined }> {
  const res = await fetch(`${app.proxyUrl}${path}`);
  return { status: res.status, body: await res.text(), error: res.headers.get('x-fairway-error') ?? undefined };
}

async function start(extra: Record<string, unknown>): Promise<Fairway> {
  const app = await startFairway(baseConfig(extra));
  apps.push(app);
  return app;
}

beforeAll(() => {
  ca = makeCa();
  const issued = ca.issue('backend', ['backend.test', 'IP:127.0.0.1']);
  backend = { cert: readFileSync(issued.cert), key: readFileSync(issued.key) };
  client = ca.issue('fairway-client', ['fairway.client']);
});

afterAll(async () => {
  for (const a of apps) await a.stop();
  for (const s of servers) s.close();
});

describe('TLS to instances', () => {
  it('an https:// endpoint, with the CA, a client certificate and a server name from upstream.tls (mutual TLS)', async () => {
    const port = await httpsBackend(true);
    const app = await start({
      upstream: { tls: { ca: ca.caPath, cert: client.cert, key: client.key, serverName: 'backend.test' } },
      routes: [{ endpoints: [`https://127.0.0.1:${port}`] }],
    });
    expect(await get(app)).toEqual({ status: 200, body: 'tls 1.1 fairway.client', error: undefined });
  });

  it('refuses an instance it cannot verify, or one that wants a certificate it does not have: 502 upstream_error', async () => {
    const port = await httpsBackend(true);
    const noCa = await start({ routes: [{ endpoints: [`https://127.0.0.1:${port}`] }] });
    expect(await get(noCa)).toMatchObject({ status: 502, error: 'upstream_error' });
    const noClientCert = await start({ upstream: { tls: { ca: ca.caPath } }, routes: [{ endpoints: [`https://127.0.0.1:${port}`] }] });
    expect(await get(noClientCert)).toMatchObject({ status: 502, error: 'upstream_error' });
    const wrongName = await start({ upstream: { tls: { ca: ca.caPath, cert: client.cert, key: client.key, serverName: 'other.test' } }, routes: [{ endpoints: [`https://127.0.0.1:${port}`] }] });
    expect(await get(wrongName)).toMatchObject({ status: 502, error: 'upstream_error' });
  });

  it('a Consul instance with meta scheme: https is reached over TLS; its neighbour without it over plain HTTP', async () => {
    const consul = new ConsulApi(inject('consulAddress'));
    const service = `tlsmeta-${randomUUID().slice(0, 8)}`;
    const port = await httpsBackend(false);
    await consul.put('/v1/agent/service/register', { ID: `${service}-1`, Name: service, Address: '127.0.0.1', Port: port, Meta: { scheme: 'https' } });
    try {
      const app = await start({ consul: { address: inject('consulAddress') }, upstream: { tls: { ca: ca.caPath } }, routes: [{ service }] });
      await until(async () => (await get(app)).status === 200, 5_000, 'instance discovered');
      expect(await get(app)).toEqual({ status: 200, body: 'tls 1.1 anonymous', error: undefined });
    } finally {
      await consul.put(`/v1/agent/service/deregister/${service}-1`);
    }
  });

  it('protocol: h2 talks HTTP/2 over TLS (ALPN) to the instance', async () => {
    const server = createSecureServer({ cert: backend.cert, key: backend.key }, (req, res) => res.end(`h2 ${req.httpVersion} ${req.headers[':scheme']}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    const app = await start({ upstream: { tls: { ca: ca.caPath } }, routes: [{ endpoints: [`127.0.0.1:${(server.address() as AddressInfo).port}`], protocol: 'h2' }] });
    expect(await get(app)).toEqual({ status: 200, body: 'h2 2.0 https', error: undefined });
  });

  it('a WebSocket tunnel to an https:// instance is TLS too', async () => {
    const port = await httpsBackend(true);
    const app = await start({ upstream: { tls: { ca: ca.caPath, cert: client.cert, key: client.key, serverName: 'backend.test' } }, routes: [{ endpoints: [`https://127.0.0.1:${port}`] }] });
    const got = await new Promise<string>((resolve, reject) => {
      const url = new URL(app.proxyUrl);
      const req = httpRequest({ host: url.hostname, port: url.port, path: '/ws', headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('upgrade', (res, socket) => {
        socket.once('data', (d: Buffer) => {
          socket.destroy();
          resolve(`${res.statusCode} ${d.toString()}`);
        });
        socket.write('ping');
      });
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    expect(got).toBe('101 echo over tls: ping');
  });

  it('validate names a missing CA file and a lone client certificate with file:line and key path', async () => {
    const file = writeConfig(`routes:\n  - endpoints: ["https://127.0.0.1:1"]\nupstream:\n  tls:\n    ca: /nonexistent/ca.pem\nconsul:\n  tls: { cert: ${client.cert} }\n`);
    const r = await runCli(['validate', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/fairway\.yaml:7:\d+ consul\.tls: expected cert and key together/);
    const fixed = writeConfig(`routes:\n  - endpoints: ["https://127.0.0.1:1"]\nupstream:\n  tls:\n    ca: /nonexistent/ca.pem\n`);
    const r2 = await runCli(['validate', '-c', fixed]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/fairway\.yaml:5:\d+ upstream\.tls\.ca: cannot read \/nonexistent\/ca\.pem: no such file/);
  });
});

describe('TLS to Consul', () => {
  let agent: ConsulAgent;
  let httpsPort: number;
  const service = `tlsconsul-${randomUUID().slice(0, 8)}`;
  let backendPort: number;

  beforeAll(async () => {
    const server = ca.issue('consul-server', ['consul.test', 'server.dc1.consul']);
    httpsPort = await freePort();
    agent = new ConsulAgent(inject('consulBin'), {
      extraArgs: [
        '-hcl', `ports { https = ${httpsPort} }`,
        '-hcl', `tls { defaults { ca_file = "${ca.caPath}" cert_file = "${server.cert}" key_file = "${server.key}" verify_incoming = true } }`,
      ],
    });
    await agent.start();
    backendPort = await httpsBackend(false);
    // Registered over the plain port, which the agent keeps for this test's set-up.
    await new ConsulApi(agent.address).put('/v1/agent/service/register', { ID: `${service}-1`, Name: service, Address: '127.0.0.1', Port: backendPort, Meta: { scheme: 'https' } });
  });

  afterAll(async () => {
    await agent?.stop();
  });

  const routes = () => [{ service }];

  it('consul.tls: an https:// address, the CA, a client certificate and the server name', async () => {
    const app = await start({
      consul: { address: `https://127.0.0.1:${httpsPort}`, tls: { ca: ca.caPath, cert: client.cert, key: client.key, serverName: 'consul.test' } },
      upstream: { tls: { ca: ca.caPath } },
      routes: routes(),
    });
    await until(async () => (await get(app)).status === 200, 10_000, 'discovered over HTTPS');
    await until(() => app.consulState === 'connected', 5_000, `consul connected (state ${app.consulState}, watches ${JSON.stringify(app.watchStates())})`);
  });

  it('the same from CONSUL_CACERT, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME', async () => {
    const app = await Fairway.start({
      configPath: writeConfig(baseConfig({ upstream: { tls: { ca: ca.caPath } }, routes: routes() })),
      log: pino({ level: 'silent' }),
      env: { CONSUL_HTTP_ADDR: `https://127.0.0.1:${httpsPort}`, CONSUL_CACERT: ca.caPath, CONSUL_CLIENT_CERT: client.cert, CONSUL_CLIENT_KEY: client.key, CONSUL_TLS_SERVER_NAME: 'consul.test' },
      watch: false,
    });
    apps.push(app);
    await until(async () => (await get(app)).status === 200, 10_000, 'discovered over HTTPS from the environment');
  });

  it('a reload to a CA that does not sign the agent: the error is reported, the last known instances serve on', async () => {
    const config = (caPath: string) => baseConfig({ consul: { address: `https://127.0.0.1:${httpsPort}`, tls: { ca: caPath, cert: client.cert, key: client.key, serverName: 'consul.test' } }, upstream: { tls: { ca: ca.caPath } }, routes: routes() });
    const app = await start(config(ca.caPath));
    await until(async () => (await get(app)).status === 200, 10_000, 'discovered over HTTPS');
    writeFileSync(app.configPath, JSON.stringify(config(makeCa().caPath)));
    expect((await app.reload()).ok).toBe(true);
    await until(() => app.consulState === 'unreachable', 10_000, 'consul unreachable with the wrong CA');
    expect(app.watchStates()[0]?.lastError).toMatch(/unreachable: .*(CERT|SIGNATURE|ISSUER)/i);
    expect(await get(app)).toMatchObject({ status: 200, error: undefined });
  });

  it('without a client certificate the agent refuses it: status says so, the route has no instance', async () => {
    const app = await start({ consul: { address: `https://127.0.0.1:${httpsPort}`, tls: { ca: ca.caPath, serverName: 'consul.test' } }, routes: routes() });
    await until(() => app.consulState === 'unreachable', 10_000, 'consul unreachable');
    const [watch] = app.watchStates();
    expect(watch?.lastError).toMatch(/Consul at https:\/\/127\.0\.0\.1:\d+ unreachable/);
    expect(await get(app)).toMatchObject({ status: 503, error: 'no_healthy_upstream' });
  });
});
