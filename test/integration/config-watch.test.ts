// The config watcher on a real file system, in the layouts whose changes its folder's events do
// not name: a Kubernetes ConfigMap volume (the file is a symlink through `..data`, swapped by
// rename), a symlink to a file in another folder edited there, and the folder itself replaced.
// Each must reach the callback; before the watcher also looked at the file every so often, none
// did, and only SIGHUP reloaded.

import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FileWatcher } from '../../src/config-source/file-watcher.js';
import { until } from '../support/fairway.js';

const POLL_MS = 200;
const watchers: FileWatcher[] = [];

afterEach(() => {
  for (const w of watchers.splice(0)) w.stop();
});

/** Starts a watcher on `path`; its `calls` count the callbacks. */
async function watchFile(path: string): Promise<{ calls: () => number }> {
  let calls = 0;
  const w = new FileWatcher(path, () => void calls++, pino({ level: 'silent' }), 50, POLL_MS);
  watchers.push(w);
  w.start();
  // The first look (the baseline the polls compare with) is taken, and nothing fires on its own.
  await sleep(2 * POLL_MS);
  expect(calls).toBe(0);
  return { calls: () => calls };
}

describe('the config watcher sees changes its folder does not name', () => {
  it('a ConfigMap-style swap of the ..data symlink', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fairway-cm-'));
    mkdirSync(join(dir, '..v1'));
    writeFileSync(join(dir, '..v1', 'fairway.yaml'), 'routes: [{ service: one }]\n');
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync(join('..data', 'fairway.yaml'), join(dir, 'fairway.yaml'));
    const w = await watchFile(join(dir, 'fairway.yaml'));
    mkdirSync(join(dir, '..v2'));
    writeFileSync(join(dir, '..v2', 'fairway.yaml'), 'routes: [{ service: two }]\n');
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await until(async () => w.calls() > 0, 3_000, 'a call after the swap');
  });

  it('a symlink to a file in another folder, edited there in place', async () => {
    const base = mkdtempSync(join(tmpdir(), 'fairway-link-'));
    mkdirSync(join(base, 'targets'));
    mkdirSync(join(base, 'etc'));
    writeFileSync(join(base, 'targets', 'real.yaml'), 'routes: [{ service: one }]\n');
    symlinkSync(join(base, 'targets', 'real.yaml'), join(base, 'etc', 'fairway.yaml'));
    const w = await watchFile(join(base, 'etc', 'fairway.yaml'));
    writeFileSync(join(base, 'targets', 'real.yaml'), 'routes: [{ service: two }, { service: three }]\n');
    await until(async () => w.calls() > 0, 3_000, 'a call after the edit');
  });

  it('the folder replaced by another, then the new file edited', async () => {
    const base = mkdtempSync(join(tmpdir(), 'fairway-dir-'));
    mkdirSync(join(base, 'conf'));
    writeFileSync(join(base, 'conf', 'fairway.yaml'), 'routes: [{ service: one }]\n');
    const w = await watchFile(join(base, 'conf', 'fairway.yaml'));
    renameSync(join(base, 'conf'), join(base, 'conf.old'));
    mkdirSync(join(base, 'conf'));
    writeFileSync(join(base, 'conf', 'fairway.yaml'), 'routes: [{ service: two }]\n');
    await until(async () => w.calls() > 0, 3_000, 'a call after the replacement');
    const after = w.calls();
    await sleep(2 * POLL_MS);
    writeFileSync(join(base, 'conf', 'fairway.yaml'), 'routes: [{ service: three }, { service: four }]\n');
    await until(async () => w.calls() > after, 3_000, 'a call after an edit in the new folder');
  });
});
