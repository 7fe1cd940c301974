// GET /api/explain and `fairway explain` against a real Fairway with static endpoints: the
// route chosen and why an earlier one was not, policies as the proxy applies them (checked
// against what the proxy really answers), rate-limit tokens untouched by explaining, 400 for a
// malformed question, and in a cluster the worker that answered.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ExplainReport } from '../../src/admin/explain.js';
import type { Fairway } from '../../src/app.js';
import { startBackends, type Backend } from '../support/backends.js';
import { baseConfig, Client, runCli, spawnFairway, startFairway, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

function routes(a: string, b: string): unknown[] {
  return [
    { name: 'canary', match: { pathPrefix: '/api', headers: { 'x-canary': '1' } }, endpoints: [a] },
    { name: 'internal', match: { pathPrefix: '/internal' }, endpoints: [a], allow: ['10.0.0.0/8'] },
    { name: 'api', match: { pathPrefix: '/api' }, endpoints: [a, b], rateLimit: { rate: '1/m', burst: 5 }, rewrite: { pathPrefix: '/v2', host: 'upstream' } },
    { name: 'old', match: { pathPrefix: '/old' }, redirect: { to: 'https://example.com/new{path}', status: 301 } },
  ];
}

describe('explain a request', () => {
  let backends: Backend[];
  let app: Fairway;
  let client: Client;

  beforeAll(async () => {
    backends = await startBackends(2);
    app = await startFairway(baseConfig({ routes: routes(backends[0]!.address, backends[1]!.address) }));
    client = new Client(app.proxyUrl, 1);
  });

  afterAll(async () => {
    await client.close();
    await app.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  const explain = async (query: Record<string, string | string[]>): Promise<{ status: number; body: ExplainReport & { error?: string } }> => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const x of [v].flat()) q.append(k, x);
    const res = await fetch(`${app.adminUrl}/api/explain?${q}`);
    return { status: res.status, body: (await res.json()) as ExplainReport & { error?: string } };
  };
  const tokensLeft = (r: ExplainReport) => r.policies.find((p) => p.policy === 'rateLimit')!.tokens!.left;

  it('names the route taken, the earlier route and why it did not match, and the path and Host upstream', async () => {
    const { status, body } = await explain({ url: 'http://shop.test/api/items?x=1' });
    expect(status).toBe(200);
    expect(body.route).toMatchObject({ name: 'api', index: 3 });
    expect(body.rejected).toEqual([
      { route: 'canary', index: 1, reasons: ['header x-canary is missing (it must be "1")'] },
      { route: 'internal', index: 2, reasons: ['path /api/items does not start with /internal'] },
    ]);
    expect(body.pathUpstream).toBe('/v2/items?x=1');
    expect(body.upstream?.choice).not.toBeNull();
    expect(body.hostUpstream).toBe(body.upstream!.choice!.address);
    expect(body.text).toContain('Route "canary" (#1) did not match: header x-canary is missing (it must be "1").');
    expect(body.text.join('\n')).toContain('rewrite: path /api/items → /v2/items, Host → upstream');
  });

  it('takes no rate-limit token: two explanations in a row see the same count, real requests lower it', async () => {
    const before = tokensLeft((await explain({ url: 'http://shop.test/api/items' })).body);
    expect(before).toBe(5);
    for (let i = 0; i < 2; i++) expect((await client.get('/api/items', { host: 'shop.test' })).status).toBe(200);
    const first = (await explain({ url: 'http://shop.test/api/items' })).body;
    const second = (await explain({ url: 'http://shop.test/api/items' })).body;
    expect([tokensLeft(first), tokensLeft(second)]).toEqual([3, 3]);
    expect(first.text.join('\n')).toContain('rate limit: 3 of 5 tokens left for 127.0.0.1 (1/m, burst 5; explain takes none)');
    expect(backends.map((b) => b.last?.url)).toContain('/v2/items');
  });

  it('an allow list: the assumed client decides, and the proxy really answers what explain said', async () => {
    const inside = (await explain({ url: 'http://shop.test/internal', client: '10.0.0.7' })).body;
    expect(inside.policies[0]).toMatchObject({ policy: 'allow', effect: 'passes', detail: 'allow: 10.0.0.7 is in [10.0.0.0/8]' });
    const local = (await explain({ url: 'http://shop.test/internal' })).body;
    expect(local.outcome).toMatchObject({ status: 403, code: 'forbidden', by: 'policy' });
    expect(local.text).toContain('allow: 127.0.0.1 is not in [10.0.0.0/8] → 403 forbidden.');
    expect(local.text[0]).toContain('as if from client 127.0.0.1, the default');
    const real = await client.get('/internal', { host: 'shop.test' });
    expect([real.status, real.headers['x-fairway-error']]).toEqual([403, 'forbidden']);
  });

  it('a redirect: the same Location the proxy sends', async () => {
    const body = (await explain({ url: 'http://shop.test/old/page' })).body;
    expect(body.outcome).toMatchObject({ status: 301, by: 'policy', detail: 'redirect to https://example.com/new/old/page' });
    const real = await client.get('/old/page', { host: 'shop.test' });
    expect([real.status, real.headers.location]).toEqual([301, 'https://example.com/new/old/page']);
  });

  it('no route is still a 200 answer that explains every route', async () => {
    const { status, body } = await explain({ url: 'http://shop.test/nothing' });
    expect(status).toBe(200);
    expect(body.outcome).toMatchObject({ status: 404, code: 'no_route' });
    expect(body.rejected.map((r) => r.route)).toEqual(['canary', 'internal', 'api', 'old']);
  });

  it('a malformed url, method, header or client is a 400 with a message naming it', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'url: required'],
      [{ url: 'not a url' }, 'url:'],
      [{ url: 'http://h/', method: 'G T' }, 'method:'],
      [{ url: 'http://h/', header: 'x-canary' }, 'header: expected name:value'],
      [{ url: 'http://h/', client: 'nobody' }, 'client: expected an IP address'],
    ];
    for (const [query, message] of cases) {
      const { status, body } = await explain(query);
      expect(status, JSON.stringify(query)).toBe(400);
      expect(body.error).toContain(message);
    }
  });

  it('fairway explain prints the sentences, --json the answer, and a bad header is one line and exit 1', async () => {
    const admin = ['--admin', app.adminUrl];
    const text = await runCli(['explain', 'http://shop.test/api/items', '-H', 'x-canary: 1', '-X', 'POST', ...admin]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('POST http://shop.test/api/items as if from client 127.0.0.1');
    expect(text.stdout).toContain('Route "canary" (#1) matched');
    const json = await runCli(['explain', 'http://shop.test/internal', '--client', '10.1.2.3', '--json', ...admin]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as ExplainReport;
    expect(report.route?.name).toBe('internal');
    expect(report.request.client).toBe('10.1.2.3');
    const bad = await runCli(['explain', 'http://shop.test/', '-H', 'nocolon', ...admin]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toEqual(['fairway: explain: header: expected name:value such as x-canary:1, not "nocolon"']);
  });

  it('fairway explain exits 1 with one line when the admin API is unreachable', async () => {
    const port = await freePort();
    const r = await runCli(['explain', 'http://shop.test/', '--admin', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([`fairway: cannot reach the admin API at http://127.0.0.1:${port} (ECONNREFUSED)`]);
  });
});

it('in a cluster one worker answers, and the answer says which', async () => {
  const backends = await startBackends(2);
  const [listen, admin] = [await freePort(), await freePort()];
  const file = writeConfig({
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: inject('consulAddress') },
    workers: 2,
    routes: routes(backends[0]!.address, backends[1]!.address),
  });
  const adminUrl = `http://127.0.0.1:${admin}`;
  const { child } = await spawnFairway(file, adminUrl);
  try {
    const status = (await (await fetch(`${adminUrl}/api/status`)).json()) as { workers: Array<{ pid: number }> };
    const r = (await (await fetch(`${adminUrl}/api/explain?url=${encodeURIComponent('http://shop.test/api/items')}`)).json()) as ExplainReport;
    expect(r.route?.name).toBe('api');
    expect(r.worker?.workers).toBe(2);
    expect(status.workers.map((w) => w.pid)).toContain(r.worker?.pid);
    expect(r.text.at(-1)).toBe(
      `Answered by worker ${r.worker!.id} (pid ${r.worker!.pid}) of 2: each worker keeps its own rotation, rate-limit buckets and in-flight counts, so a request another worker takes may be treated differently.`,
    );
    const cli = await runCli(['explain', 'http://shop.test/api/items', '--admin', adminUrl]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`Answered by worker ${r.worker!.id}`);
  } finally {
    const exited = new Promise<number | null>((res) => child.once('exit', res));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await Promise.all(backends.map((b) => b.close()));
  }
});
