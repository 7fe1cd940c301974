// Fairway in the test process (for traffic tests) or as the real CLI in a child process.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { Fairway } from '../../src/app.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist/cli/main.js');

/** Writes `config` (an object, or YAML text) to a fresh temp file and returns its path. */
export function writeConfig(config: unknown, name = 'fairway.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'fairway-test-'));
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : stringify(config));
  return path;
}

/** Config defaults for tests: both listeners on port 0 on loopback. */
export function baseConfig(extra: Record<string, unknown>): Record<string, unknown> {
  return { listen: '127.0.0.1:0', admin: { listen: '127.0.0.1:0' }, ...extra };
}

export async function startFairway(config: unknown, options: { watch?: boolean; rng?: () => number } = {}): Promise<Fairway> {
  const log = pino({ level: process.env.FAIRWAY_TEST_LOG ?? 'silent' });
  return Fairway.start({ configPath: writeConfig(config), log, env: {}, watch: options.watch ?? false, ...(options.rng ? { rng: options.rng } : {}) });
}

/** Fairway in-process with its log lines kept as parsed JSON (the access log among them). */
export async function startFairwayLogged(config: unknown): Promise<{ app: Fairway; lines: Array<Record<string, unknown>> }> {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const app = await Fairway.start({ configPath: writeConfig(config), log: pino({ level: 'info' }, sink), env: {}, watch: false });
  return { app, lines };
}

export async function waitReady(app: Fairway, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!app.ready) {
    if (Date.now() > deadline) throw new Error('fairway not ready in time');
    await sleep(10);
  }
}

/** Polls `cond` every 10 ms until it holds; returns how long that took. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await sleep(10);
  }
  return Date.now() - start;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A keep-alive client for sending many requests through the proxy. */
export class Client {
  readonly pool: Pool;
  constructor(readonly url: string, connections = 8) {
    this.pool = new Pool(url, { connections });
  }

  async get(path = '/', headers: Record<string, string> = {}, method: 'GET' | 'POST' | 'HEAD' = 'GET', body?: string): Promise<Reply> {
    const res = await this.pool.request({ method, path, headers, ...(body === undefined ? {} : { body }) });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  /** Sends `n` GETs, `concurrency` at a time; counts answers by body. */
  async spread(n: number, path = '/', concurrency = 8): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    let sent = 0;
    const worker = async () => {
      while (sent < n) {
        sent++;
        const r = await this.get(path);
        const key = r.status === 200 ? r.body : `status ${r.status}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return counts;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env, FAIRWAY_LOG_FORMAT: 'json' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fairway ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `fairway start` as a child process and waits until its admin API says ready. */
export async function spawnFairway(configPath: string, adminUrl: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; logs: () => string }> {
  const child = spawn(process.execPath, [CLI, 'start', '-c', configPath], {
    env: { ...process.env, FAIRWAY_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  child.stdout!.on('data', (d: Buffer) => (logs += d));
  child.stderr!.on('data', (d: Buffer) => (logs += d));
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`fairway exited with ${child.exitCode}:\n${logs}`);
    try {
      return (await fetch(`${adminUrl}/-/ready`)).status === 200;
    } catch {
      return false;
    }
  }, 15_000, 'fairway ready');
  return { child, logs: () => logs };
}

/** Sends SIGTERM to a spawned Fairway (or any child) and resolves with its exit code once it has exited. */
export function stopProcess(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  child.kill('SIGTERM');
  return exited;
}
