#!/usr/bin/env node
// Micro-benchmark of every strategy: ns per pick and ms per rebuild at 3, 100, 1,000 and 10,000
// instances. Targets (issue: strategies): pick <= 200 ns and rebuild <= 20 ms at 10,000.
// Not a test: numbers depend on the machine. Run `npm run bench:pickers` (builds first).

import os from 'node:os';
import { loadConfig } from '../dist/core/config.js';
import { hashString } from '../dist/core/pickers/hash.js';
import { pickerFor } from '../dist/core/pickers/index.js';
import { STRATEGIES } from '../dist/core/config-schema.js';
import { newStats, originOf } from '../dist/core/upstream.js';

const SIZES = [3, 100, 1_000, 10_000];
const PICKS = 2_000_000;

function route(strategy) {
  const extra = strategy === 'consistent-hash' ? '    hashKey: header:x-user\n' : strategy === 'failover' ? '    failover: { within: least-request }\n' : '';
  const r = loadConfig(`routes:\n  - service: s\n    strategy: ${strategy}\n${extra}`, 'bench.yaml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.routes[0];
}

function upstreams(n) {
  return Array.from({ length: n }, (_, i) => {
    const stats = newStats();
    stats.inflight = i % 7;
    stats.ewmaMs = 1 + (i % 13);
    stats.ewmaAt = 1;
    return Object.freeze({
      id: `svc-${i}`, host: '10.0.0.1', port: 10_000 + i, origin: originOf('10.0.0.1', 10_000 + i),
      weight: 1 + (i % 5), status: 'passing', tags: [i % 4 === 0 ? 'backup' : 'primary'], meta: {}, stats,
    });
  });
}

// A fast deterministic rng (xorshift32) so the benchmark measures the picker, not Math.random.
let seed = 0x9e3779b9;
const rng = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4_294_967_296;
};
// In the proxy, `now` is the time the forwarder read once for the attempt (it times the attempt
// anyway: see src/proxy/clock.ts), so a pick pays no clock read. Here it moves every 1,024 picks.
let clockT = performance.now();
const deps = { rng, now: () => clockT };
const hashes = Array.from({ length: 4096 }, (_, i) => hashString(`user-${i}`));

const rows = [];
let worstPick = 0;
let worstRebuild = 0;
for (const strategy of STRATEGIES) {
  const rc = route(strategy);
  for (const n of SIZES) {
    const list = upstreams(n);
    // Rebuild: median of 7.
    const times = [];
    let picker;
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      picker = pickerFor(rc, list, deps);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const rebuildMs = times[3];
    // Picks: warm up, then time PICKS picks.
    let sink = 0;
    for (let i = 0; i < 200_000; i++) sink += picker.pick(hashes[i & 4095]).port;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PICKS; i++) {
      if ((i & 1023) === 0) clockT = performance.now();
      sink += picker.pick(hashes[i & 4095]).port;
    }
    const ns = Number(process.hrtime.bigint() - t0) / PICKS;
    if (sink === 42) console.log('');
    if (n === 10_000) {
      worstPick = Math.max(worstPick, ns);
      worstRebuild = Math.max(worstRebuild, rebuildMs);
    }
    rows.push([strategy, n.toLocaleString('en'), ns.toFixed(1), rebuildMs.toFixed(3)]);
  }
}

const head = ['strategy', 'instances', 'ns/pick', 'rebuild ms'];
const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const line = (r) => `| ${r.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join(' | ')} |`;
console.log(`Picker micro-benchmark, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} (${os.cpus().length} cores)\n`);
console.log(line(head));
console.log(`|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log(`\nat 10,000 instances: worst pick ${worstPick.toFixed(1)} ns (target <= 200), worst rebuild ${worstRebuild.toFixed(2)} ms (target <= 20)`);
