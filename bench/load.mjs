// Load generators for `npm run bench`.
//
// saturate(): closed loop, for maximum req/s. wrk -t1 with a fixed number of keep-alive
// connections (autocannon when wrk is not installed). Its latencies are those of a saturated
// proxy, where each connection waits for the previous answer: fine for comparing maxima, not
// for "what latency does a user see at my load".
//
// fixedRate(): open loop, for latency at a given load: requests leave at a constant rate
// whatever the answers do, so a stall shows in the percentiles instead of silently lowering the
// rate (coordinated omission). By default bench/open-loop.mjs (raw sockets, timed from when
// each request was due); with `--vegeta`, vegeta. On the 2-core machine this was written on,
// vegeta could not send more than about 7,700 req/s with a whole CPU to itself (p50 near
// 100 ms at that rate: it was queueing on its own CPU), below a quarter of HAProxy's maximum;
// open-loop.mjs sent 20,000 req/s sharing one CPU with the backend. Either way every point is
// also measured direct (no proxy), which shows whether the load side kept up.
import { spawn } from 'node:child_process';
import { createReadStream, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { has, ROOT } from './lib.mjs';

export const CONNECTIONS = 50;
const USE_WRK = has('wrk');
export const SATURATOR = USE_WRK ? `wrk -t1, ${CONNECTIONS} keep-alive connections` : `autocannon, ${CONNECTIONS} keep-alive connections`;

/** Runs a command; resolves to its stdout, or rejects with the end of its stderr. */
export function output(cmd, args, { stdin, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err.trim()}`))));
    if (stdin !== undefined) child.stdin.end(stdin);
  });
}

/** `12.3us`, `4.5ms` or `1.2s` (as wrk and h2load print them) in ms. */
export function parseMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

/** Closed-loop maximum: `{ rps, p50, p99, errors }` (latencies in ms). */
/** `headers`: extra request headers, e.g. `{ 'accept-encoding': 'gzip' }`. */
export async function saturate(port, path, seconds, { tmp, upload = false, headers = {}, scheme = 'http' }) {
  const url = `${scheme}://127.0.0.1:${port}${path}`;
  if (USE_WRK) {
    const script = join(tmp, 'post.lua');
    if (upload) writeFileSync(script, `wrk.method = "POST"\nwrk.body = string.rep("a", 65536)\nwrk.headers["Content-Type"] = "application/octet-stream"\n`);
    const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    const out = await output('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...h, ...(upload ? ['-s', script] : []), url]);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
      p50: parseMs(/\s50%\s+(\S+)/.exec(out)?.[1]),
      p99: parseMs(/\s99%\s+(\S+)/.exec(out)?.[1]),
      errors: non2xx + (socket ? socket.slice(1).reduce((a, n) => a + Number(n), 0) : 0),
    };
  }
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers, ...(upload ? { method: 'POST', body: Buffer.alloc(65536, 97) } : {}) });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.non2xx + r.errors };
}

/** Percentiles (ms) of latencies given in ms. */
function percentiles(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : NaN);
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) };
}

async function vegetaRun(vegeta, url, rate, seconds, settle, tmp) {
  const bin = join(tmp, 'vegeta.bin');
  // -max-workers bounds the connections a stalled proxy can make vegeta open; a proxy that needs
  // more than that at this rate is saturated anyway, and shows it as a missed rate. vegeta costs
  // several times wrk's CPU per request: keeping no bodies and collecting garbage less often
  // buys back part of it on the shared load CPU.
  const args = ['attack', `-rate=${rate}/1s`, `-duration=${seconds + settle}s`, '-http2=false', '-timeout=5s', '-max-workers=1000', '-max-body=0', `-output=${bin}`];
  await output(vegeta, args, { stdin: `GET ${url}\n`, env: { GOGC: '400' } });
  const csv = join(tmp, 'vegeta.csv');
  await output(vegeta, ['encode', '-to=csv', `-output=${csv}`, bin]);
  rmSync(bin);
  // Results arrive in completion order; requests sent during the first `settle` seconds (while
  // vegeta starts its workers and connections) are left out.
  const sent = [];
  for await (const line of createInterface({ input: createReadStream(csv) })) {
    const [ts, code, latency] = line.split(',', 3);
    sent.push([Number(ts) / 1e6, Number(latency) / 1e6, code === '200']);
  }
  rmSync(csv);
  const start = sent.reduce((a, r) => Math.min(a, r[0]), Infinity) + settle * 1000;
  const kept = sent.filter((r) => r[0] >= start);
  const last = kept.reduce((a, r) => Math.max(a, r[0]), 0);
  const achieved = kept.length > 1 ? (kept.length - 1) / ((last - start) / 1000) : 0;
  return { ...percentiles(kept.map((r) => r[1])), achieved, errors: kept.filter((r) => !r[2]).length };
}

/**
 * Open-loop latency at `rate` req/s for `seconds` (after a short unmeasured start):
 * `{ p50, p99, p999, achieved, errors }` (ms; `achieved` is the rate actually sent or
 * answered). `vegeta` is its binary, or undefined for bench/open-loop.mjs.
 */
export async function fixedRate(port, path, rate, seconds, { tmp, vegeta }) {
  const url = `http://127.0.0.1:${port}${path}`;
  // Unmeasured first part of every run: the generator starts cold each time.
  const settle = Math.min(0.5, seconds / 4);
  if (vegeta) return vegetaRun(vegeta, url, rate, seconds, settle, tmp);
  return JSON.parse(await output(process.execPath, [join(ROOT, 'bench/open-loop.mjs'), url, String(rate), String(seconds), String(settle)]));
}
