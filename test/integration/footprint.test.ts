// What the built proxy loads: undici's Pool on its own, not the package entry (which brings
// fetch, WebSocket and the rest; see src/proxy/undici-pool.ts), and no http-proxy (WebSocket
// handshakes are src/proxy/ws-upstream.ts). A fresh process, as `fairway` runs.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url);

describe('module footprint of the built proxy', () => {
  it("loads undici's Pool without the package entry, and the Pool can dispatch on its own; no http-proxy", () => {
    const script = `
      import { createRequire } from 'node:module';
      await import('./dist/app.js');
      const { Pool } = await import('./dist/proxy/undici-pool.js');
      const cached = Object.keys(createRequire(import.meta.url).cache);
      const loaded = cached.filter((k) => k.includes('/undici/'));
      console.log(JSON.stringify({
        httpProxy: cached.some((k) => k.includes('/http-proxy/')),
        entry: loaded.some((k) => k.endsWith('/undici/index.js')),
        pool: loaded.some((k) => k.endsWith('/lib/dispatcher/pool.js')),
        dispatch: typeof Pool.prototype.dispatch,
        request: typeof Pool.prototype.request,
      }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ httpProxy: false, entry: false, pool: true, dispatch: 'function', request: 'undefined' });
  });
});

describe('the fairway executable', () => {
  it('runs through its shebang with the young-generation, thread-pool and heap-growth flags, as the Dockerfile does', () => {
    const bin = new URL('dist/cli/main.js', ROOT);
    const first = readFileSync(bin, 'utf8').split('\n', 1)[0];
    expect(first).toBe('#!/usr/bin/env -S node --max-semi-space-size=8 --v8-pool-size=1 --heap-growing-percent=25');
    expect(readFileSync(new URL('Dockerfile', ROOT), 'utf8')).toContain('ENTRYPOINT ["node", "--max-semi-space-size=8", "--v8-pool-size=1", "--heap-growing-percent=25", "dist/cli/main.js"]');
    const version = (JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version: string }).version;
    expect(execFileSync(bin.pathname, ['--version'], { encoding: 'utf8' }).trim()).toContain(version);
  });
});
