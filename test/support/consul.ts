// A real `consul agent -dev` on free loopback ports, for integration tests. DNS and gRPC are
// off; HTTP, serf and server RPC get ports the kernel handed out just before.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/** The Consul binary the install script provides (built once, then cached). */
export function consulBinary(): string {
  const r = spawnSync('bash', [join(ROOT, 'scripts/consul-install.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`consul:install failed with exit ${r.status}`);
  const lines = r.stdout.trim().split('\n');
  return lines[lines.length - 1]!;
}

export class ConsulAgent {
  readonly bin: string;
  /** A single-server agent with a data dir kept across restarts, instead of `-dev` (in memory). */
  readonly persistent: boolean;
  httpPort = 0;
  #ports: number[] = [];
  #proc: ChildProcess | undefined;
  #dir: string | undefined;
  #output = '';

  /** Extra agent flags, e.g. `-hcl` for ACLs. */
  readonly extraArgs: readonly string[];

  constructor(bin: string, options: { persistent?: boolean; extraArgs?: string[] } = {}) {
    this.bin = bin;
    this.persistent = options.persistent ?? false;
    this.extraArgs = options.extraArgs ?? [];
  }

  get address(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** Starts the agent (on the same ports as before, after a kill) and waits for a leader. */
  async start(): Promise<void> {
    if (this.#ports.length === 0) {
      this.#ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
      this.httpPort = this.#ports[0]!;
    }
    const [http, lan, wan, server] = this.#ports as [number, number, number, number];
    this.#dir ??= mkdtempSync(join(tmpdir(), 'fairway-consul-'));
    this.#output = '';
    const mode = this.persistent ? ['-server', '-bootstrap-expect', '1', '-ui=false'] : ['-dev'];
    const proc = spawn(
      this.bin,
      [
        'agent', ...mode, '-bind', '127.0.0.1', '-client', '127.0.0.1',
        '-http-port', String(http), '-dns-port', '-1', '-grpc-port', '-1', '-grpc-tls-port', '-1',
        '-serf-lan-port', String(lan), '-serf-wan-port', String(wan), '-server-port', String(server),
        '-node', `fairway-test-${http}`, '-data-dir', this.#dir, '-log-level', 'warn',
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout!.on('data', (d: Buffer) => (this.#output = (this.#output + d.toString()).slice(-4000)));
    proc.stderr!.on('data', (d: Buffer) => (this.#output = (this.#output + d.toString()).slice(-4000)));
    this.#proc = proc;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`consul exited with ${proc.exitCode}:\n${this.#output}`);
      try {
        const res = await fetch(`${this.address}/v1/status/leader`);
        if (res.ok && (await res.json()) !== '') return;
      } catch {
        // not up yet
      }
      await sleep(50);
    }
    throw new Error(`consul did not elect a leader in 30s:\n${this.#output}`);
  }

  /** SIGKILL: no goodbye to anyone, as in a crash. A persistent agent keeps its data dir. */
  async kill(): Promise<void> {
    await this.#signal('SIGKILL', !this.persistent);
  }

  async stop(): Promise<void> {
    await this.#signal('SIGTERM', true);
  }

  async #signal(signal: NodeJS.Signals, removeData: boolean): Promise<void> {
    const proc = this.#proc;
    this.#proc = undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await exited;
    }
    if (removeData && this.#dir) {
      rmSync(this.#dir, { recursive: true, force: true });
      this.#dir = undefined;
    }
  }
}

/** A small typed helper over Consul's HTTP API for test set-up and assertions. */
export class ConsulApi {
  readonly #headers: Record<string, string>;

  constructor(
    readonly address: string,
    token?: string,
  ) {
    this.#headers = token ? { 'x-consul-token': token } : {};
  }

  async put(path: string, body?: unknown): Promise<void> {
    const res = await fetch(`${this.address}${path}`, {
      method: 'PUT',
      headers: this.#headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
  }

  async get<T>(path: string): Promise<T> {
    const res = await fetch(`${this.address}${path}`, { headers: this.#headers });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** The aggregated status of one instance as Consul sees it now. */
  async instanceStatus(service: string, id: string): Promise<string | undefined> {
    const entries = await this.get<Array<{ Service: { ID: string }; Checks: Array<{ Status: string }> }>>(`/v1/health/service/${service}`);
    const e = entries.find((x) => x.Service.ID === id);
    if (!e) return undefined;
    const s = e.Checks.map((c) => c.Status);
    return s.includes('critical') ? 'critical' : s.includes('warning') ? 'warning' : 'passing';
  }
}
