// A real three-server Consul cluster on loopback, for tests that lose a server (the leader) and
// want to see a new one elected. Every node listens on 127.0.0.1 with its own free ports (HTTP,
// serf LAN and WAN, server RPC) and data dir; DNS, the external gRPC ports and the UI are off. Raft runs with
// `raft_multiplier = 1` (Consul's production advice; the default 5 suits the slowest machines), so
// followers notice a dead leader after about a second instead of five.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';

export interface ClusterNode {
  readonly name: string;
  readonly httpPort: number;
  /** Raft and RPC: what /v1/status/leader and /v1/status/peers name (`127.0.0.1:<port>`). */
  readonly serverPort: number;
  readonly lanPort: number;
  readonly wanPort: number;
  readonly dir: string;
  /** The HTTP API, e.g. `http://127.0.0.1:8500`. */
  readonly address: string;
  /** This node as Raft knows it. */
  readonly raftAddress: string;
  proc: ChildProcess | undefined;
  output: string;
}

export class ConsulCluster {
  readonly bin: string;
  readonly size: number;
  #root: string | undefined;
  #nodes: ClusterNode[] = [];
  /** Should the test process end without stop() (a hook that timed out), no server outlives it. */
  readonly #onExit = (): void => {
    for (const n of this.#nodes) n.proc?.kill('SIGKILL');
    if (this.#root) rmSync(this.#root, { recursive: true, force: true });
  };

  constructor(bin: string, size = 3) {
    this.bin = bin;
    this.size = size;
  }

  get nodes(): readonly ClusterNode[] {
    return this.#nodes;
  }

  /** Starts every server and waits until all of them agree on one leader and know every peer. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.#root = mkdtempSync(join(tmpdir(), 'fairway-consul-cluster-'));
    process.once('exit', this.#onExit);
    // Ports free now, none handed out twice (a port the kernel gave back may come round again).
    const ports = new Set<number>();
    while (ports.size < 4 * this.size) ports.add(await freePort());
    const free = [...ports];
    for (let i = 0; i < this.size; i++) {
      const [httpPort, serverPort, lanPort, wanPort] = free.slice(4 * i, 4 * i + 4);
      const name = `fairway-server-${i + 1}-${httpPort}`;
      this.#nodes.push({
        name,
        httpPort: httpPort!,
        serverPort: serverPort!,
        lanPort: lanPort!,
        wanPort: wanPort!,
        dir: join(this.#root, name),
        address: `http://127.0.0.1:${httpPort}`,
        raftAddress: `127.0.0.1:${serverPort}`,
        proc: undefined,
        output: '',
      });
    }
    for (const node of this.#nodes) this.#spawn(node);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const n of this.#nodes)
        if (n.proc && n.proc.exitCode !== null) throw new Error(`consul ${n.name} exited with ${n.proc?.exitCode}:\n${n.output}`);
      const views = await Promise.all(this.#nodes.map((n) => this.#view(n)));
      const leader = views[0]?.leader;
      if (leader && views.every((v) => v.leader === leader && v.peers === this.size)) return;
      await sleep(100);
    }
    throw new Error(`consul cluster did not elect a leader known to all in ${timeoutMs} ms:\n${this.#nodes.map((n) => `--- ${n.name}\n${n.output}`).join('\n')}`);
  }

  /** The leader as `node` sees it now (undefined: none, or `node` does not answer). */
  async leader(node: ClusterNode): Promise<ClusterNode | undefined> {
    const { leader } = await this.#view(node);
    return this.#nodes.find((n) => n.raftAddress === leader);
  }

  /** Waits until `node` names a leader other than `not`, and returns it. */
  async waitForLeader(node: ClusterNode, not: ClusterNode | undefined, timeoutMs = 30_000): Promise<ClusterNode> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.leader(node);
      if (leader !== undefined && leader !== not) return leader;
      await sleep(50);
    }
    throw new Error(`${node.name} named no new leader in ${timeoutMs} ms:\n${node.output}`);
  }

  /** SIGKILL: no leave message, as in a crash. The data dir stays until stop(). */
  async kill(node: ClusterNode): Promise<void> {
    const proc = node.proc;
    node.proc = undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
  }

  /** Starts a killed server again on its ports, with its data dir (its Raft log and peers). */
  restart(node: ClusterNode): void {
    if (node.proc !== undefined) throw new Error(`${node.name} is running`);
    node.output = '';
    this.#spawn(node);
  }

  /** Kills every server still running and removes every data dir; safe after a failed start. */
  async stop(): Promise<void> {
    await Promise.all(this.#nodes.map((n) => this.kill(n)));
    if (this.#root) rmSync(this.#root, { recursive: true, force: true });
    this.#root = undefined;
    process.off('exit', this.#onExit);
  }

  #spawn(node: ClusterNode): void {
    const joins = this.#nodes.filter((n) => n !== node).flatMap((n) => ['-retry-join', `127.0.0.1:${n.lanPort}`]);
    const proc = spawn(
      this.bin,
      [
        'agent', '-server', '-bootstrap-expect', String(this.size), '-ui=false',
        '-bind', '127.0.0.1', '-client', '127.0.0.1', '-node', node.name, '-data-dir', node.dir,
        '-http-port', String(node.httpPort), '-dns-port', '-1', '-grpc-port', '-1', '-grpc-tls-port', '-1',
        '-serf-lan-port', String(node.lanPort), '-serf-wan-port', String(node.wanPort), '-server-port', String(node.serverPort),
        '-retry-interval', '200ms', ...joins,
        '-hcl', 'performance { raft_multiplier = 1 }',
        '-log-level', 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer) => (node.output = (node.output + d.toString()).slice(-8000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    node.proc = proc;
  }

  async #view(node: ClusterNode): Promise<{ leader: string; peers: number }> {
    try {
      const [leader, peers] = await Promise.all([
        fetch(`${node.address}/v1/status/leader`, { signal: AbortSignal.timeout(2_000) }).then((r) => (r.ok ? (r.json() as Promise<string>) : '')),
        fetch(`${node.address}/v1/status/peers`, { signal: AbortSignal.timeout(2_000) }).then((r) => (r.ok ? (r.json() as Promise<string[]>) : [])),
      ]);
      return { leader, peers: peers.length };
    } catch {
      return { leader: '', peers: 0 };
    }
  }
}
