// Child processes for `npm run bench`: where each one runs (CPU pinning) and how they all stop.
//
// With taskset (util-linux) and two or more CPUs, each proxy under test runs alone on the last
// CPU and everything else (load generator, backends, Consul, this script) on the others, so a
// single-threaded proxy gets one whole core and the scheduler's placement stops deciding the
// result. A multi-process row (`workers: auto`) gets every CPU, the load side's included.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { has } from './lib.mjs';

/** The CPU split: `proxy`, `load` and `all` are taskset lists; `pin` false means unpinned. */
export function cpuPlan(noPin) {
  const count = os.cpus().length;
  const pin = !noPin && count >= 2 && has('taskset');
  const plan = { pin, count, proxy: String(count - 1), load: count === 2 ? '0' : `0-${count - 2}`, all: `0-${count - 1}` };
  // Children inherit this process's CPUs: the backends, the load generator and Consul stay off
  // the proxy's CPU without being told.
  if (pin) execFileSync('taskset', ['-a', '-cp', plan.load, String(process.pid)], { stdio: 'ignore' });
  return plan;
}

export class Children {
  constructor(plan) {
    this.plan = plan;
    this.list = [];
    this.stopping = false;
  }

  /** Starts a long-lived child; `cpus` (a taskset list) pins it when pinning is on. */
  run(name, cmd, args, { env = {}, cpus } = {}) {
    const [file, argv] = this.plan.pin && cpus ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args];
    const child = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    child.on('exit', (code, signal) => {
      if (!this.stopping && code !== 0 && signal === null) console.error(`bench: ${name} exited with ${code}: ${err}`);
    });
    this.list.push(child);
    return child;
  }

  /** Adopts a child started elsewhere (Consul) so it stops with the rest. */
  adopt(child) {
    this.list.push(child);
  }

  async stopAll() {
    this.stopping = true;
    for (const c of this.list) c.kill('SIGTERM');
    await sleep(300);
    for (const c of this.list) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** A process and its children (taskset execs in place, so the pid is the proxy's own). */
function tree(pid) {
  const pids = [pid];
  try {
    for (const entry of execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n'))
      if (entry.trim()) pids.push(Number(entry.trim()));
  } catch {
    // no children
  }
  return pids;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process and its children have used, from /proc. */
export function cpuTree(pid) {
  let ticks = 0;
  for (const p of tree(pid)) {
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return ticks / TICKS;
}

/** Summed RSS (bytes) of a process and its children, from /proc. */
export function rssTree(pid) {
  let total = 0;
  for (const p of tree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}
