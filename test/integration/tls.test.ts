// TLS listeners with real parts: certificates made here by openssl (test/support/certs.ts),
// Fairway in-process, a real backend, node:tls / node:https clients and curl.

import { execFile } from 'node:child_process';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, type Backend } from '../support/backends.js';
import { makeCa, type IssuedCertificate, type TestCa } from '../support/certs.js';
import { runCli, spawnFairway, startFairway, stopProcess, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

interface Seen {
  serial: string;
  san: string;
  alpn: string | false | null;
}

let ca: TestCa;

/** A fresh handshake (no session reuse): what certificate the listener presents. */
function handshake(port: number, servername?: string, extra: { maxVersion?: 'TLSv1.2' } = {}): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: ca.caPem, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'], ...(servername ? { servername } : {}), ...extra });
    s.once('secureConnect', () => {
      const cert = s.getPeerCertificate();
      resolve({ serial: cert.serialNumber, san: cert.subjectaltname ?? '', alpn: s.alpnProtocol });
      s.end();
    });
    s.once('error', reject);
  });
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  socket: TLSSocket;
  reused: boolean;
}

/** An https request that verifies the certificate for `servername` against the test CA. */
function get(port: number, servername: string, path = '/', opts: { agent?: Agent; method?: string; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, servername, ca: ca.caPem, method: opts.method ?? 'GET', headers: { host: servername }, agent: opts.agent ?? false },
      (res) => {
        // Taken now: a keep-alive agent takes the socket back once the body is read.
        const socket = res.socket as TLSSocket;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, socket, reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function plainGet(port: number, path: string, host: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Puts a pair in place the way a renewal tool does: write beside, rename over. */
function install(pair: { cert: string; key: string }, at: { cert: string; key: string }): void {
  copyFileSync(pair.cert, `${at.cert}.tmp`);
  copyFileSync(pair.key, `${at.key}.tmp`);
  renameSync(`${at.key}.tmp`, at.key);
  renameSync(`${at.cert}.tmp`, at.cert);
}

describe('TLS listeners', () => {
  let backend: Backend;
  let app: Fairway;
  let a: IssuedCertificate;
  let a2: IssuedCertificate;
  let b: IssuedCertificate;
  let expired: IssuedCertificate;
  let live: { cert: string; key: string };
  let tlsPort: number;
  let plainPort: number;
  let strictPort: number;

  const port = (url: string): number => Number(new URL(url).port);
  const status = async (): Promise<{ listeners: Array<{ address: string; certificates: Array<{ serial?: string; names: string[]; lastReloadError: string | null; daysLeft: number }> }> }> =>
    (await fetch(`${app.adminUrl}/api/status`)).json() as never;
  const metrics = async (): Promise<string> => (await fetch(`${app.adminUrl}/metrics`)).text();

  beforeAll(async () => {
    ca = makeCa();
    a = ca.issue('a', ['a.test']);
    a2 = ca.issue('a2', ['a.test']);
    b = ca.issue('b', ['*.b.test']);
    expired = ca.issue('expired', ['a.test'], -1);
    live = { cert: join(ca.dir, 'live.pem'), key: join(ca.dir, 'live.key') };
    install(a, live);
    backend = await startBackend('b1');
    app = await startFairway({
      admin: { listen: '127.0.0.1:0' },
      server: { keepAliveTimeout: '60s' },
      listeners: [
        { address: '127.0.0.1:0', tls: { certificates: [live, { cert: b.cert, key: b.key }] } },
        { address: '127.0.0.1:0', redirectToHttps: true },
        { address: '127.0.0.1:0', tls: { certificates: [{ cert: b.cert, key: b.key }], minVersion: 'TLSv1.3' } },
      ],
      routes: [
        { name: 'moved', match: { pathPrefix: '/moved' }, redirect: { to: '{scheme}://{host}/new{path}', status: 301 } },
        { name: 'web', endpoints: [backend.address] },
      ],
    });
    [tlsPort, plainPort, strictPort] = app.proxyUrls.map(port) as [number, number, number];
  });

  afterAll(async () => {
    await app?.stop();
    await backend?.close();
  });

  it('lists its listeners as https:// and http:// URLs', () => {
    expect(app.proxyUrls.map((u) => new URL(u).protocol)).toEqual(['https:', 'http:', 'https:']);
  });

  it('picks the certificate by SNI: each name its own, no SNI and unknown names the first', async () => {
    expect((await handshake(tlsPort, 'a.test')).serial).toBe(a.serial);
    expect((await handshake(tlsPort, 'x.b.test')).serial).toBe(b.serial);
    expect((await handshake(tlsPort)).serial).toBe(a.serial);
    expect((await handshake(tlsPort, 'unknown.test')).serial).toBe(a.serial);
  });

  it('advertises http/1.1 by ALPN, also after an SNI switch', async () => {
    expect((await handshake(tlsPort, 'x.b.test')).alpn).toBe('http/1.1');
    expect((await handshake(tlsPort)).alpn).toBe('http/1.1');
  });

  it('a verifying https client reaches the backend, which sees X-Forwarded-Proto https (fast path and Node path)', async () => {
    const r = await get(tlsPort, 'a.test', '/hello');
    expect(r.status).toBe(200);
    expect(r.body).toBe('b1');
    expect(backend.last?.headers['x-forwarded-proto']).toBe('https');
    const w = await get(tlsPort, 'www.b.test', '/upload', { method: 'POST', body: 'x'.repeat(1000) });
    expect(w.status).toBe(200);
    expect(backend.last?.method).toBe('POST');
    expect(backend.last?.headers['x-forwarded-proto']).toBe('https');
  });

  it("a route's redirect policy fills {scheme} with https on a TLS listener", async () => {
    const r = await get(tlsPort, 'a.test', '/moved/x');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('https://a.test/new/moved/x');
  });

  it('curl --cacert verifies the certificate and gets the answer over HTTP/1.1', async () => {
    // Asynchronously: Fairway runs in this process and must answer meanwhile.
    const { stdout: out } = await promisify(execFile)('curl', ['-sS', '--max-time', '10', '--cacert', ca.caPath, '--resolve', `x.b.test:${tlsPort}:127.0.0.1`, `https://x.b.test:${tlsPort}/curl`, '-w', '\n%{http_code} %{http_version}'], { encoding: 'utf8' });
    expect(out).toBe('b1\n200 1.1');
  });

  it('redirectToHttps answers 308 to https://host:tlsport/path?query, no x-fairway-error, and counts it', async () => {
    const r = await plainGet(plainPort, '/x/../y?z=1', 'Example.COM:8080');
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe(`https://example.com:${tlsPort}/y?z=1`);
    expect(r.headers['x-fairway-error']).toBeUndefined();
    expect(await metrics()).toMatch(/fairway_policy_actions_total\{route="-",policy="redirectToHttps"\} 1\b/);
  });

  it('redirectToHttps refuses a request with no Host (HTTP/1.0) with 400 bad_request: there is nowhere to send it', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      let text = '';
      const s = netConnect(plainPort, '127.0.0.1', () => s.write('GET /x HTTP/1.0\r\n\r\n'));
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.on('close', () => resolve(text));
      s.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw.toLowerCase()).toContain('\r\nx-fairway-error: bad_request\r\n');
    expect(raw.toLowerCase()).not.toContain('location:');
  });

  it('redirectToHttps routes ACME challenges normally, over plain HTTP', async () => {
    const r = await plainGet(plainPort, '/.well-known/acme-challenge/token-1', 'example.com');
    expect(r.status).toBe(200);
    expect(r.body).toBe('b1');
    expect(backend.last?.headers['x-forwarded-proto']).toBe('http');
  });

  it('garbage and too old a TLS version on a TLS port are counted, and the listener keeps serving', async () => {
    await new Promise<void>((resolve) => {
      const s = netConnect(tlsPort, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n'));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume();
    });
    await expect(handshake(strictPort, 'x.b.test', { maxVersion: 'TLSv1.2' })).rejects.toThrow();
    await until(async () => {
      const text = await metrics();
      return text.includes(`fairway_tls_handshake_errors_total{listener="127.0.0.1:${tlsPort}"} 1`) && text.includes(`fairway_tls_handshake_errors_total{listener="127.0.0.1:${strictPort}"} 1`);
    }, 5_000, 'handshake errors counted');
    expect((await get(tlsPort, 'a.test')).status).toBe(200);
    expect((await handshake(strictPort, 'x.b.test')).serial).toBe(b.serial);
  });

  it('/metrics has each certificate expiry as a unix time', async () => {
    const text = await metrics();
    const m = new RegExp(`fairway_tls_certificate_expiry_seconds\\{listener="127.0.0.1:${tlsPort}",certificate="${live.cert}"\\} (\\d+)`).exec(text);
    expect(m).not.toBeNull();
    const days = (Number(m![1]) * 1000 - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThan(31);
  });

  it('a certificate rotated on disk is served to new connections; an open keep-alive connection goes on', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.caPem });
    try {
      const first = await get(tlsPort, 'a.test', '/before', { agent });
      expect(first.socket.getPeerCertificate().serialNumber).toBe(a.serial);
      install(a2, live);
      await until(async () => (await handshake(tlsPort, 'a.test')).serial === a2.serial, 6_000, 'the new certificate served');
      expect((await handshake(tlsPort)).serial).toBe(a2.serial);
      const again = await get(tlsPort, 'a.test', '/after', { agent });
      expect(again.status).toBe(200);
      expect(again.reused).toBe(true);
      expect(again.socket.getPeerCertificate().serialNumber).toBe(a.serial);
    } finally {
      agent.destroy();
    }
  });

  it('a bad new file keeps the certificate in service, and /api/status says why', async () => {
    install(expired, live);
    await until(async () => ((await status()).listeners[0]?.certificates[0]?.lastReloadError ?? '').includes('expired'), 6_000, 'the expired file reported');
    expect((await handshake(tlsPort, 'a.test')).serial).toBe(a2.serial);
    const view = (await status()).listeners[0]!;
    expect(view.address).toBe(`127.0.0.1:${tlsPort}`);
    expect(view.certificates.map((c) => c.names)).toEqual([['a.test'], ['*.b.test']]);
    expect(view.certificates[0]!.daysLeft).toBe(29);

    install({ cert: a.cert, key: ca.strayKey('stray') }, live);
    await until(async () => ((await status()).listeners[0]?.certificates[0]?.lastReloadError ?? '').includes('is not the key'), 6_000, 'the stray key reported');
    expect((await handshake(tlsPort, 'a.test')).serial).toBe(a2.serial);
  });

  it('fairway status prints the listeners and the days left of each certificate', async () => {
    const r = await runCli(['status', '--admin', app.adminUrl]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`listener 127.0.0.1:${tlsPort}  https`);
    expect(r.stdout).toMatch(/a\.test {2}expires \S+ {2}29 days left/);
    expect(r.stdout).toContain('new files NOT in use');
    expect(r.stdout).toContain(`listener 127.0.0.1:${plainPort}  http  redirects to https`);
  });
});

describe('TLS listeners: stop', () => {
  it('stops within the drain timeout with an idle keep-alive connection, a busy one and one that never handshakes', async () => {
    ca ??= makeCa();
    const c = ca.issue('stop', ['stop.test']);
    const slow = await startBackend('slow');
    const app = await startFairway({
      admin: { listen: '127.0.0.1:0' },
      drainTimeout: '1s',
      server: { keepAliveTimeout: '60s', headersTimeout: '30s' },
      listeners: [{ address: '127.0.0.1:0', tls: { certificates: [{ cert: c.cert, key: c.key }] } }],
      routes: [{ name: 'slow', match: { pathPrefix: '/slow' }, endpoints: [slow.address] }, { endpoints: [slow.address.replace(/:\d+$/, ':9')] }],
    });
    const tlsPort = Number(new URL(app.proxyUrls[0]!).port);
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.caPem });
    const raw = netConnect(tlsPort, '127.0.0.1');
    raw.on('error', () => undefined);
    try {
      slow.delayMs = 0;
      expect((await get(tlsPort, 'stop.test', '/slow/idle', { agent })).status).toBe(200);
      // Whatever could hold the stop would hold it 20 s or more: the busy request (its upstream
      // answers after 20 s), the idle keep-alive (keepAliveTimeout 60 s), the connection that
      // never handshakes (headersTimeout 30 s). The 10 s bound tells that from the 1 s drain with
      // room for a loaded machine; the figure is printed.
      slow.delayMs = 20_000;
      const busy = get(tlsPort, 'stop.test', '/slow/busy').catch((err: Error) => err);
      await until(() => slow.hits === 2, 5_000, 'the busy request upstream');
      const started = Date.now();
      await app.stop();
      const stopMs = Date.now() - started;
      console.log(`TLS listener stopped in ${stopMs} ms (drainTimeout 1 s)`);
      expect(stopMs).toBeLessThan(10_000);
      expect(await busy).toBeInstanceOf(Error);
    } finally {
      agent.destroy();
      raw.destroy();
      await slow.close();
    }
  });
});

describe('TLS listeners: config reload', () => {
  it('a reload applies a new certificate list; one naming a missing file is rejected at its line and the old list serves', async () => {
    ca ??= makeCa();
    const c = ca.issue('r1', ['one.test']);
    const d = ca.issue('r2', ['two.test']);
    const backend = await startBackend('r');
    const config = (certs: Array<{ cert: string; key: string }>) => ({
      admin: { listen: '127.0.0.1:0' },
      listeners: [{ address: '127.0.0.1:0', tls: { certificates: certs } }],
      routes: [{ endpoints: [backend.address] }],
    });
    const app = await startFairway(config([{ cert: c.cert, key: c.key }]));
    try {
      const tlsPort = Number(new URL(app.proxyUrls[0]!).port);
      expect((await handshake(tlsPort, 'two.test')).serial).toBe(c.serial);
      writeFileSync(app.configPath, stringify(config([{ cert: c.cert, key: c.key }, { cert: d.cert, key: d.key }])));
      expect((await app.reload()).ok).toBe(true);
      expect((await handshake(tlsPort, 'two.test')).serial).toBe(d.serial);
      expect(Number(new URL(app.proxyUrls[0]!).port)).toBe(tlsPort);

      writeFileSync(app.configPath, stringify(config([{ cert: c.cert, key: c.key }, { cert: '/nonexistent/three.pem', key: d.key }])));
      const rejected = await app.reload();
      expect(rejected.ok).toBe(false);
      expect(rejected.problems).toEqual([`${app.configPath}:9:17 listeners[0].tls.certificates[1].cert: cannot read /nonexistent/three.pem: no such file`]);
      expect((await handshake(tlsPort, 'two.test')).serial).toBe(d.serial);
      expect((await get(tlsPort, 'two.test')).body).toBe('r');
    } finally {
      await app.stop();
      await backend.close();
    }
  });
});

describe('TLS listeners: workers', () => {
  it('two workers serve one TLS listener; the primary shows its certificate in /api/status and /metrics', async () => {
    ca ??= makeCa();
    const c = ca.issue('w', ['w.test']);
    const backend = await startBackend('w');
    const [tlsPort, admin] = [await freePort(), await freePort()];
    const file = writeConfig({
      admin: { listen: `127.0.0.1:${admin}` },
      consul: { address: inject('consulAddress') },
      workers: 2,
      listeners: [{ address: `127.0.0.1:${tlsPort}`, tls: { certificates: [{ cert: c.cert, key: c.key }] } }],
      routes: [{ endpoints: [backend.address] }],
    });
    const adminUrl = `http://127.0.0.1:${admin}`;
    const { child } = await spawnFairway(file, adminUrl);
    try {
      for (let i = 0; i < 6; i++) expect((await get(tlsPort, 'w.test', `/${i}`)).body).toBe('w');
      expect(backend.hits).toBe(6);
      const st = (await (await fetch(`${adminUrl}/api/status`)).json()) as { listeners: Array<{ certificates: Array<{ names: string[] }> }> };
      expect(st.listeners[0]!.certificates[0]!.names).toEqual(['w.test']);
      const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`fairway_tls_certificate_expiry_seconds\\{listener="127.0.0.1:${tlsPort}",certificate="${c.cert}"\\} \\d+`));
    } finally {
      expect(await stopProcess(child)).toBe(0);
      await backend.close();
    }
  });
});

describe('fairway validate: certificate files', () => {
  beforeAll(() => {
    ca ??= makeCa();
  });

  it('names file:line:col and key path of a missing certificate file', async () => {
    const file = writeConfig(`listeners:\n  - address: 127.0.0.1:8443\n    tls:\n      certificates:\n        - cert: /nonexistent/site.pem\n          key: /nonexistent/site.key\nroutes: [{ endpoints: ["127.0.0.1:9"] }]\n`);
    const r = await runCli(['validate', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${file}:5:17 listeners[0].tls.certificates[0].cert: cannot read /nonexistent/site.pem: no such file`);
  });

  it('names the key that does not belong to its certificate, and a file that is not PEM', async () => {
    const c = ca.issue('v', ['v.test']);
    const file = writeConfig({
      listeners: [{ address: '127.0.0.1:8443', tls: { certificates: [{ cert: c.cert, key: ca.strayKey('v-stray') }, { cert: c.key.replace(/\.key$/, '.ext'), key: c.key }] } }],
      routes: [{ endpoints: ['127.0.0.1:9'] }],
    });
    const r = await runCli(['validate', '-c', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${file}:\\d+:\\d+ listeners\\[0\\]\\.tls\\.certificates\\[0\\]\\.key: .*v-stray\\.key is not the key of the certificate in .*v\\.pem$`));
    expect(lines[1]).toMatch(new RegExp(`^${file}:\\d+:\\d+ listeners\\[0\\]\\.tls\\.certificates\\[1\\]\\.cert: .*v\\.ext is not PEM`));
  });
});
