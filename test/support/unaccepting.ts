// An address where a TCP connect hangs: what a powered-off host or a firewall that drops
// packets looks like, made on loopback. A child process listens with a backlog of one and is
// stopped (SIGSTOP), so nothing accepts; two connections fill its accept queue, and from then
// on the kernel drops every new SYN and the connecting side waits, retransmitting, until its
// own timeout.

import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

export interface Unaccepting {
  /** host:port where a connect hangs. */
  address: string;
  port: number;
  close(): void;
}

const LISTENER = "const s = require('net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));";

export async function startUnaccepting(): Promise<Unaccepting> {
  const child = spawn(process.execPath, ['-e', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  process.kill(child.pid!, 'SIGSTOP');
  const fillers: Socket[] = [];
  // Backlog 1 queues two connections; a third would hang, so stop at the first that does not connect.
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    fillers.push(s);
    const connected = await new Promise<boolean>((resolve) => {
      s.once('connect', () => resolve(true));
      setTimeout(() => resolve(false), 300);
    });
    if (!connected) break;
  }
  return {
    address: `127.0.0.1:${port}`,
    port,
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}
