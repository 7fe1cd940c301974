// Rate limits and allow lists across config reloads, end to end: Fairway in the test process
// watching its config file, a real backend, real keep-alive clients. A reload that leaves a
// route's limit alone keeps its buckets (an exhausted client stays exhausted), a changed limit
// takes effect at once, a route gaining an allow list keeps serving the clients it admits, and
// no request in flight across the swap fails; an invalid file changes nothing and is reported.

import { writeFileSync } from 'node:fs';
import { Client as UndiciClient } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackend, type Backend } from '../support/backends.js';
import { baseConfig, Client, startFairway, until } from '../support/fairway.js';

/** The config with route b's burst and the open route's allow list (or none) as given. */
function configWith(backend: Backend, o: { bRate?: string; bBurst?: number; openAllow?: string[] } = {}): Record<string, unknown> {
  return baseConfig({
    routes: [
      { name: 'a', match: { pathPrefix: '/a' }, endpoints: [backend.address], rateLimit: { rate: '1/m', burst: 5 } },
      { name: 'b', match: { pathPrefix: '/b' }, endpoints: [backend.address], rateLimit: { rate: o.bRate ?? '1/m', burst: o.bBurst ?? 5 } },
      { name: 'open', match: { pathPrefix: '/open' }, endpoints: [backend.address], ...(o.openAllow ? { allow: o.openAllow } : {}) },
    ],
  });
}

/** Answers (or errors) seen by a stream of GETs on one path, by status or error code. */
interface Stream {
  path: string;
  total: number;
  outcomes: Map<string, number>;
  stop(): Promise<void>;
}

/** `clients` keep-alive connections, each sending GETs to `path` one after another until stopped. */
function stream(url: string, path: string, clients: number): Stream {
  let stopped = false;
  const s: Stream = { path, total: 0, outcomes: new Map(), stop: async () => void 0 };
  const note = (what: string) => {
    s.total++;
    s.outcomes.set(what, (s.outcomes.get(what) ?? 0) + 1);
  };
  const worker = async (): Promise<void> => {
    const client = new UndiciClient(url, { pipelining: 1 });
    try {
      while (!stopped) {
        try {
          const res = await client.request({ method: 'GET', path });
          await res.body.text();
          note(String(res.statusCode));
        } catch (err) {
          note((err as { code?: string }).code ?? String(err));
        }
      }
    } finally {
      await client.close();
    }
  };
  const running = Promise.all(Array.from({ length: clients }, worker));
  s.stop = async () => {
    stopped = true;
    await running;
  };
  return s;
}

/** The limiter object of a route in the running table. */
function limiterOf(app: Fairway, name: string) {
  return app.table.routes.find((r) => r.config.name === name)?.guard?.limiter;
}

describe('traffic policy across reloads', () => {
  let backend: Backend;
  let app: Fairway;
  let client: Client;

  beforeAll(async () => {
    backend = await startBackend('b1');
    app = await startFairway(configWith(backend), { watch: true });
    client = new Client(app.proxyUrl);
  });

  afterAll(async () => {
    await client.close();
    await app.stop();
    await backend.close();
  });

  const status = async (path: string) => (await client.get(path)).status;
  const statuses = async (path: string, n: number) => (await Promise.all(Array.from({ length: n }, () => status(path)))).sort();
  const adminStatus = async () =>
    (await (await fetch(`${app.adminUrl}/api/status`)).json()) as { lastReload: { ok: boolean; at: string; problems: string[] } | null };

  it('a reload under load keeps an unchanged limit\'s buckets, applies a changed one, and fails no request', async () => {
    // Route a's burst of 5 is spent; the 6th is refused.
    expect(await statuses('/a', 5)).toEqual([200, 200, 200, 200, 200]);
    const refused = await client.get('/a');
    expect(refused.status).toBe(429);
    expect(refused.headers['x-fairway-error']).toBe('rate_limited');
    const limiterA = limiterOf(app, 'a');
    const limiterB = limiterOf(app, 'b');
    expect(limiterA).toBeDefined();

    const open = stream(app.proxyUrl, '/open/x', 4);
    const limited = stream(app.proxyUrl, '/a/x', 2);
    try {
      await until(() => open.total >= 50 && limited.total >= 20, 10_000, 'the streams under way');
      const [openBefore, limitedBefore] = [open.total, limited.total];
      writeFileSync(app.configPath, stringify(configWith(backend, { bBurst: 50, openAllow: ['127.0.0.0/8'] })));
      const result = await app.reload();
      expect(result).toMatchObject({ ok: true, problems: [] });
      // Requests keep flowing through the new table before the streams stop.
      await until(() => open.total >= openBefore + 50 && limited.total >= limitedBefore + 20, 10_000, 'the streams after the reload');
    } finally {
      await Promise.all([open.stop(), limited.stop()]);
    }
    // Every request on the open route was served, before, during and after the swap; every one
    // on a was refused by its limit, never by anything else.
    expect(Object.fromEntries(open.outcomes)).toEqual({ 200: open.total });
    expect(Object.fromEntries(limited.outcomes)).toEqual({ 429: limited.total });

    // The new config is the running one: the open route has its allow list, b its new burst.
    expect(app.table.routes.find((r) => r.config.name === 'open')?.guard?.allow).toBeDefined();
    expect(limiterOf(app, 'a')).toBe(limiterA);
    expect(limiterOf(app, 'b')).not.toBe(limiterB);
    expect(limiterOf(app, 'b')?.settings.burst).toBe(50);

    // a's bucket survived the reload: still exhausted.
    expect(await status('/a')).toBe(429);
    // b admits 50 at once now, and refuses the 51st.
    expect(new Set(await statuses('/b', 50))).toEqual(new Set([200]));
    const over = await client.get('/b');
    expect(over.status).toBe(429);
    expect(over.headers['ratelimit-policy']).toMatch(/q=50;/);
    // The open route's allow list admits this loopback client.
    expect(await status('/open')).toBe(200);
    expect((await adminStatus()).lastReload).toMatchObject({ ok: true, problems: [] });
  });

  it('an invalid rate is rejected: the running limits stay as they were, and /api/status reports it', async () => {
    const [limiterA, limiterB] = [limiterOf(app, 'a'), limiterOf(app, 'b')];
    const table = app.table;
    writeFileSync(app.configPath, stringify(configWith(backend, { bRate: 'ten/s', bBurst: 50, openAllow: ['127.0.0.0/8'] })));
    const result = await app.reload();
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([expect.stringMatching(/routes\[1\]\.rateLimit\.rate: expected a rate such as 100\/s, 5\/m or 1000\/h$/)]);

    // The same table, the same limiters, the same exhausted buckets.
    expect(app.table).toBe(table);
    expect(limiterOf(app, 'a')).toBe(limiterA);
    expect(limiterOf(app, 'b')).toBe(limiterB);
    expect(await status('/a')).toBe(429);
    expect(await status('/b')).toBe(429);
    expect(await status('/open')).toBe(200);

    const s = await adminStatus();
    expect(s.lastReload?.ok).toBe(false);
    expect(s.lastReload?.problems).toEqual(result.problems);
  });
});
