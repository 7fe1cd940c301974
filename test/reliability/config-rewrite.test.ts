// A config file rewritten while traffic flows never empties the proxy (issue #18): 50 rewrites in
// place (open with truncate, write in two chunks with a pause between, close: what shell `>` and
// many editors do) and 50 write-temp-and-rename saves, each waited for until it is live. Every
// request must get 200, and the proxy must end on the last good config.
//
// Two defences, and the rewrites in place are built so that each one is needed:
// - half of them pause after a first chunk that is a valid config on its own, but one whose
//   only route does not match the traffic; for pauses shorter than two watch windows only the
//   watcher's wait for a stable file keeps that half file from going live;
// - the other half pause after a first chunk without `routes:`, some longer than the watcher
//   waits (it then reads the half file), and only the rule that a config needs a route rejects it.

import { execFileSync } from 'node:child_process';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Client } from 'undici';
import { expect, it } from 'vitest';
import { Fairway } from '../../src/app.js';
import { startBackends } from '../support/backends.js';
import { spawnFairway, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

/**
 * Pauses between the two chunks, in turn. The old watcher read the file 100 ms after the last
 * event; the new one hands it on after two agreeing looks, 100 and 200 ms after it. 110 ms
 * fooled the old one; 300 ms outlasts the new one's wait too, so only a routeless half gets it.
 */
const PAUSES_MS = { routedHalf: [5, 50, 110], routelessHalf: [5, 110, 300] };

it('50 rewrites in place and 50 renames under traffic: every request 200, the last good config serves', async () => {
  const backends = await startBackends(2);
  const [listen, admin] = [await freePort(), await freePort()];
  const endpoints = `[${backends.map((b) => b.address).join(', ')}]`;
  const header = `listen: 127.0.0.1:${listen}\nadmin:\n  listen: 127.0.0.1:${admin}\n`;
  // Route `side` matches no request the traffic sends; route `v<i>` takes them all.
  const side = `routes:\n  - name: side\n    match: { pathPrefix: /side }\n    endpoints: ${endpoints}\n`;
  const main = (i: number) => `  - name: v${i}\n    strategy: ${i % 2 === 0 ? 'round-robin' : 'random'}\n    endpoints: ${endpoints}\n`;
  const text = (i: number) => header + side + main(i);
  const file = writeConfig(text(0));
  const adminUrl = `http://127.0.0.1:${admin}`;
  const { child, logs } = await spawnFairway(file, adminUrl);

  const routeNames = async () => ((await (await fetch(`${adminUrl}/api/routes`)).json()) as Array<{ name: string }>).map((r) => r.name);
  const live = (i: number) => until(async () => (await routeNames()).includes(`v${i}`), 5_000, `config v${i} live`);

  // Traffic: two keep-alive clients, paced so the run stays a few thousand requests a window.
  const statuses = new Map<string, number>();
  let stopped = false;
  const client = async (): Promise<void> => {
    const c = new Client(`http://127.0.0.1:${listen}`);
    try {
      while (!stopped) {
        let key: string;
        try {
          const res = await c.request({ method: 'GET', path: '/' });
          await res.body.text();
          key = res.statusCode === 200 ? '200' : `${res.statusCode} ${res.headers['x-fairway-error'] ?? ''}`.trim();
        } catch (err) {
          key = (err as { code?: string }).code ?? String(err);
        }
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        await sleep(4);
      }
    } finally {
      await c.close();
    }
  };
  const traffic = Promise.all([client(), client()]);

  try {
    let i = 0;
    for (let n = 0; n < 50; n++) {
      i++;
      const whole = text(i);
      const routeless = n % 2 === 1;
      // The split: before `routes:` (a file with no route) or after route `side` (valid, but routing nothing the traffic sends).
      const cut = routeless ? header.length : header.length + side.length;
      const pauses = routeless ? PAUSES_MS.routelessHalf : PAUSES_MS.routedHalf;
      const handle = await open(file, 'w');
      await handle.write(whole.slice(0, cut));
      await sleep(pauses[Math.floor(n / 2) % pauses.length]!);
      await handle.write(whole.slice(cut));
      await handle.close();
      await live(i);
    }
    const rejectedInPlace = logs().split('config rejected').length - 1;
    const temp = join(dirname(file), '.fairway.yaml.tmp');
    for (let n = 0; n < 50; n++) {
      i++;
      await writeFile(temp, text(i));
      await rename(temp, file);
      await live(i);
    }
    // Finally a truncate with nothing written after it, left so: long enough for the watcher to
    // read it, and the empty file must be rejected with the last good config still serving.
    await (await open(file, 'w')).close();
    await sleep(1_000);
    stopped = true;
    await traffic;

    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    console.log(
      `config rewrite: 50 in place (${rejectedInPlace} half files rejected by the route rule), 50 renamed, then an empty file; ` +
        `${total} requests: ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(Object.fromEntries(statuses)).toEqual({ '200': total });
    expect(total).toBeGreaterThan(1_000);
    const { lastReload } = (await (await fetch(`${adminUrl}/api/status`)).json()) as { lastReload: { ok: boolean; problems: string[] } };
    expect(lastReload).toEqual({ ok: false, at: expect.any(String), problems: [`${file}:1:1 routes: expected at least one route (or consulTags, for routes from Consul tags)`] });
    expect(await routeNames()).toEqual(['side', `v${i}`]);
    const after = await fetch(`http://127.0.0.1:${listen}/`);
    expect([after.status, await after.text()]).toEqual([200, expect.stringMatching(/^b[12]$/)]);
  } finally {
    stopped = true;
    await traffic;
    child.kill('SIGTERM');
    await Promise.all(backends.map((b) => b.close()));
  }
}, 120_000);

it('a FIFO put at the config path is refused, not waited on: the last good config serves, later saves apply, and stop drains', async () => {
  // Reading a FIFO blocks until a writer comes; the reload chain and the drain used to wait on it.
  const backends = await startBackends(1);
  const file = writeConfig({ listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, routes: [{ name: 'before', endpoints: [backends[0]!.address] }] });
  const app = await Fairway.start({ configPath: file, log: pino({ level: 'silent' }), env: {}, watch: false });
  try {
    await rm(file);
    execFileSync('mkfifo', [file]);
    const refused = await app.reload();
    expect(refused).toMatchObject({ ok: false, problems: [`${file}: cannot read config file (not a regular file)`] });
    expect((await fetch(app.proxyUrl)).status).toBe(200);
    await rm(file);
    await writeFile(file, JSON.stringify({ listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, routes: [{ name: 'after', endpoints: [backends[0]!.address] }] }));
    expect((await app.reload()).ok).toBe(true);
    const routes = (await (await fetch(`${app.adminUrl}/api/routes`)).json()) as Array<{ name: string }>;
    expect(routes.map((r) => r.name)).toEqual(['after']);
  } finally {
    await app.stop();
    await Promise.all(backends.map((b) => b.close()));
  }
});
