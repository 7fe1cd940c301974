// What a test sees from outside a Fairway process: its connections to Consul (from `ss`, which
// sees every process), and answers to requests each on a connection of its own (so the kernel
// may hand them to any worker).

import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { promisify } from 'node:util';

/** Established TCP connections to 127.0.0.1:port, per owning pid. */
export async function connectionsTo(port: number): Promise<Map<number, number>> {
  const { stdout } = await promisify(execFile)('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${port}`]);
  const out = new Map<number, number>();
  for (const m of stdout.matchAll(/pid=(\d+)/g)) out.set(Number(m[1]), (out.get(Number(m[1])) ?? 0) + 1);
  return out;
}

/** One GET on a connection of its own: `status body`. */
export function getFresh(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The distinct answers of `n` such requests, sorted. */
export async function answers(port: number, path: string, n: number): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(await getFresh(port, path));
  return [...seen].sort();
}
