// The real `fairway` CLI as a user runs it: validate, register/deregister against the real
// Consul agent (checked with the independent `consul` npm client), start, status, reload, stop.

import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Consul from 'consul';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startBackends, type Backend } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { Client, runCli, spawnFairway, stopProcess, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

const consulAddress = inject('consulAddress');
const consulUrl = new URL(consulAddress);
// An independent client, so registration is not checked only by our own client's reading of it.
const oracle = new Consul({ host: consulUrl.hostname, port: Number(consulUrl.port) });
const consul = new ConsulApi(consulAddress);
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

type AgentServices = Record<string, { Service: string; Port: number; Tags: string[]; Weights: { Passing: number } }>;

describe('fairway CLI', () => {
  it('prints its version and usage', async () => {
    expect((await runCli(['--version'])).stdout.trim()).toBe(VERSION);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('fairway validate -c FILE');
  });

  it('rejects an unknown command and an unknown flag with one line and exit 1', async () => {
    const a = await runCli(['frobnicate']);
    expect(a.code).toBe(1);
    expect(a.stderr.trim().split('\n')).toHaveLength(1);
    const b = await runCli(['validate', '--nope']);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('--nope');
    expect(b.stderr).not.toMatch(/\n\s+at /);
  });

  it('validate exits 0 on a good file', async () => {
    const file = writeConfig({ routes: [{ endpoints: ['127.0.0.1:9001'] }] });
    const r = await runCli(['validate', '-c', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok');
  });

  it('validate names file, line, column and key path of `strategy: fastest`, without a stack trace', async () => {
    const file = writeConfig('listen: 127.0.0.1:8080\nroutes:\n  - name: web\n    service: web\n    strategy: fastest\n');
    const r = await runCli(['validate', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${file}:5:15 routes[0].strategy: expected one of round-robin, random, weighted, least-request, ewma, consistent-hash, failover`);
  });

  it('validate reports every problem, one line each', async () => {
    const file = writeConfig('routes:\n  - service: web\n    timeout: soon\n  - endpoints: [nope]\n    retries: -1\n');
    const r = await runCli(['validate', '-c', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      `${file}:3:14 routes[0].timeout: expected a duration such as 250ms, 5s or 1m`,
      `${file}:4:17 routes[1].endpoints[0]: expected host:port or https://host:port, e.g. 127.0.0.1:8080`,
      `${file}:5:14 routes[1].retries: expected a whole number from 0 to 10`,
    ]);
  });

  it('validate on a missing file says so in one line', async () => {
    const r = await runCli(['validate', '-c', '/nonexistent/fairway.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('fairway: /nonexistent/fairway.yaml: cannot read config file (ENOENT)');
  });

  it('validate on a FIFO refuses it at once instead of waiting for a writer', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'fairway-fifo-')), 'fairway.yaml');
    execFileSync('mkfifo', [fifo]);
    const r = await runCli(['validate', '-c', fifo]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`fairway: ${fifo}: cannot read config file (not a regular file)`);
  });

  it('register puts a service with weight, tags and an HTTP check into Consul; deregister removes it', async () => {
    const id = `cli-${randomUUID().slice(0, 8)}`;
    const r = await runCli([
      'register', '--service', 'cli-web', '--id', id, '--address', '127.0.0.1', '--port', '9123',
      '--tag', 'v1', '--tag', 'blue', '--weight', '3', '--check-http', 'http://127.0.0.1:9123/health',
      '--interval', '5s', '--timeout', '1s', '--deregister-after', '1m', '--consul', consulAddress,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const services = (await oracle.agent.service.list()) as AgentServices;
    expect(services[id]).toMatchObject({ Service: 'cli-web', Port: 9123, Tags: ['v1', 'blue'], Weights: { Passing: 3 } });
    const checks = (await oracle.agent.check.list()) as Record<string, { ServiceID: string; Type: string }>;
    expect(Object.values(checks).find((c) => c.ServiceID === id)?.Type).toBe('http');

    const d = await runCli(['deregister', '--id', id], { CONSUL_HTTP_ADDR: consulUrl.host });
    expect(d.code).toBe(0);
    expect(((await oracle.agent.service.list()) as AgentServices)[id]).toBeUndefined();
  });

  it('register explains bad flags by flag name', async () => {
    const r = await runCli(['register', '--service', 'x', '--address', '127.0.0.1', '--port', '99999', '--check-ttl', '10s', '--check-tcp', 'a:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--port: expected a port from 1 to 65535');
    expect(r.stderr).toContain('--check-http | --check-tcp | --check-ttl: expected exactly one of http, tcp, ttl');
  });

  it('register fails with one line when Consul is unreachable', async () => {
    const port = await freePort();
    const r = await runCli(['register', '--service', 'x', '--address', '127.0.0.1', '--port', '80', '--consul', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`fairway: Consul at http://127.0.0.1:${port} unreachable: ECONNREFUSED`);
  });

  it("a Consul boolean variable Consul's CLI would refuse stops a Consul command with one line", async () => {
    const r = await runCli(['deregister', '--id', 'x'], { CONSUL_HTTP_SSL_VERIFY: 'no' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('fairway: $CONSUL_HTTP_SSL_VERIFY: expected true or false (or 1, 0, t, f, as Consul reads it), got "no"\n');
  });

  it('deregister without --id, or with Consul unreachable, fails with one line', async () => {
    const a = await runCli(['deregister']);
    expect(a.code).toBe(1);
    expect(a.stderr).toBe('fairway: deregister: --id is required\n');
    const port = await freePort();
    const b = await runCli(['deregister', '--id', 'x', '--consul', `http://127.0.0.1:${port}`]);
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(`fairway: Consul at http://127.0.0.1:${port} unreachable: ECONNREFUSED\n`);
  });

  it('status with no admin API to reach fails with one line; --debug adds the stack', async () => {
    const admin = `http://127.0.0.1:${await freePort()}`;
    const a = await runCli(['status', '--admin', admin]);
    expect(a.code).toBe(1);
    expect(a.stderr).toBe(`fairway: cannot reach the admin API at ${admin} (ECONNREFUSED)\n`);
    const b = await runCli(['status', '--admin', admin, '--debug']);
    expect(b.code).toBe(1);
    const [first, ...rest] = b.stderr.trim().split('\n');
    expect(first).toBe(a.stderr.trim());
    expect(rest.some((line) => /^\s+at /.test(line))).toBe(true);
  });

  it('sends --token as X-Consul-Token, and config pull reads fairway/config unless told otherwise', async () => {
    // A dev agent has no ACLs and ignores tokens: a scripted agent shows what was sent.
    const seen: Array<{ method: string; url: string; token: string | undefined }> = [];
    const agent = createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url!, token: req.headers['x-consul-token'] as string | undefined });
      req.resume();
      res.writeHead(req.method === 'GET' ? 404 : 200, { 'content-type': 'application/json' }).end(req.method === 'GET' ? '' : 'true');
    });
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;
    try {
      const r = await runCli(['register', '--service', 'x', '--address', '127.0.0.1', '--port', '80', '--check-ttl', '10s', '--consul', url, '--token', 'secret-1']);
      expect(r.code).toBe(0);
      const p = await runCli(['config', 'pull', '--consul', url, '--token', 'secret-2']);
      expect(p.code).toBe(1);
      expect(p.stderr).toBe('fairway: fairway/config: no such key in Consul KV\n');
      expect(seen.map((s) => [s.method, s.url.split('?')[0], s.token])).toEqual([
        ['PUT', '/v1/agent/service/register', 'secret-1'],
        ['GET', '/v1/kv/fairway/config', 'secret-2'],
      ]);
    } finally {
      await new Promise((resolve) => agent.close(resolve));
    }
  });
});

describe('fairway start', () => {
  const backends: Backend[] = [];
  afterAll(async () => Promise.all(backends.map((b) => b.close())));

  it('registers its services, serves, reports status, reloads, and deregisters on SIGTERM', async () => {
    backends.push(...(await startBackends(2)));
    const service = `svc-${randomUUID().slice(0, 8)}`;
    const [listen, admin] = [await freePort(), await freePort()];
    const config = (routes: unknown[]) => ({
      listen: `127.0.0.1:${listen}`,
      admin: { listen: `127.0.0.1:${admin}` },
      consul: { address: consulAddress },
      services: backends.map((b, i) => ({
        name: service,
        id: `${service}-${i + 1}`,
        address: '127.0.0.1',
        port: b.port,
        weight: i + 1,
        check: { http: `http://${b.address}/health`, interval: '1s' },
      })),
      routes,
    });
    const file = writeConfig(config([{ name: 'web', service, strategy: 'weighted' }]));
    const adminUrl = `http://127.0.0.1:${admin}`;
    const { child, logs } = await spawnFairway(file, adminUrl);
    const client = new Client(`http://127.0.0.1:${listen}`, 2);
    try {
      const registered = (await oracle.agent.service.list()) as AgentServices;
      expect(registered[`${service}-2`]?.Weights.Passing).toBe(2);
      await until(async () => (await consul.instanceStatus(service, `${service}-2`)) === 'passing', 10_000, 'checks passing');
      await until(async () => (await client.get('/')).status === 200, 5_000, 'traffic');

      const status = await runCli(['status', '--admin', adminUrl]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/ROUTE\s+STRATEGY\s+ENDPOINT/);
      expect(status.stdout).toContain(`${service}-2`);
      const json = JSON.parse((await runCli(['status', '--admin', adminUrl, '--json'])).stdout) as { status: { consul: string }; routes: unknown[] };
      expect(json.status.consul).toBe('connected');

      // A bad edit is rejected and the running config keeps serving.
      writeFileSync(file, 'routes:\n  - service: web\n    strategy: fastest\n');
      process.kill(child.pid!, 'SIGHUP');
      await until(async () => {
        const s = (await (await fetch(`${adminUrl}/api/status`)).json()) as { lastReload: { ok: boolean; problems: string[] } };
        return s.lastReload.ok === false && s.lastReload.problems[0]!.includes('routes[0].strategy');
      }, 5_000, 'rejected reload');
      expect((await client.get('/')).status).toBe(200);

      // A good edit (picked up by the file watch, no signal) swaps the routes.
      writeFileSync(file, JSON.stringify(config([{ name: 'moved', match: { pathPrefix: '/v2' }, service }])));
      await until(async () => (await client.get('/')).status === 404, 5_000, 'reloaded routes');
      expect((await client.get('/v2/x')).status).toBe(200);
    } finally {
      await client.close();
      expect(await stopProcess(child)).toBe(0);
    }
    const after = (await oracle.agent.service.list()) as AgentServices;
    expect(after[`${service}-1`]).toBeUndefined();
    expect(after[`${service}-2`]).toBeUndefined();
    expect(logs()).toContain('config rejected');
  });
});
