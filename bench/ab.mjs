#!/usr/bin/env node
// `npm run bench:ab -- --against DIR`: this build of Fairway against another checkout's (DIR
// with its own `npm ci`, e.g. `git worktree add /tmp/base <commit>`), small responses, same
// backends, same load generator, interleaved rounds, ratios paired by round. For questions
// such as "what did this change cost per request?", where the full bench's other rows only
// add time. The direct row shows the load side's headroom as in the full bench.
//
// --paired: both builds at once instead, on the proxy CPU, each saturated by its own wrk, and
// compared by CPU time per request over the same window. Rounds taken one after the other see
// the machine at different moments (two copies of one build differed by 8 % that way on the
// 2-core machine this was written on); side by side they see the same moment (within about
// 2 %). Only for Fairway against Fairway: two different programs sharing a CPU slow each other
// unequally.
//
//   npm run bench:ab -- --against /tmp/base [--rounds 5] [--seconds 5] [--paired]

import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackends } from './backends.mjs';
import { saturate } from './load.mjs';
import { cpuPlan, cpuTree, Children } from './procs.mjs';
import { startFairway } from './proxies.mjs';

const { values } = parseArgs({ options: { against: { type: 'string' }, rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '5' }, 'no-pin': { type: 'boolean', default: false }, paired: { type: 'boolean', default: false } } });
if (!values.against) {
  console.error('usage: npm run bench:ab -- --against DIR (a checkout with its own dist/)');
  process.exit(1);
}
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const tmp = mkdtempSync(join(os.tmpdir(), 'fairway-ab-'));
const plan = cpuPlan(values['no-pin']);
const children = new Children(plan);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const backend = await startBackends({ tmp, children });
  const ctx = { tmp, children, plan, ports: backend.ports };
  const rows = [
    { name: 'direct (no proxy)', port: backend.ports[0] },
    { name: 'Fairway (this build)', ...(await startFairway(ctx)) },
    { name: `Fairway (${values.against})`, ...(await startFairway(ctx, { root: resolve(values.against) })) },
  ];
  for (const r of rows) await saturate(r.port, '/small', 2, { tmp });
  if (values.paired) await paired(rows[1], rows[2]);
  else await interleaved(rows);
} finally {
  await children.stopAll();
}

/** The builds (and direct) in turn, round after round; req/s ratios paired by round. */
async function interleaved(rows) {
  const got = new Map(rows.map((r) => [r.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const r of rows) {
      await saturate(r.port, '/small', 1, { tmp });
      const m = await saturate(r.port, '/small', SECONDS, { tmp });
      got.get(r.name).push(m);
      console.log(`round ${round} ${r.name.padEnd(40)} ${m.rps.toFixed(0).padStart(7)} req/s  p99 ${m.p99.toFixed(2)} ms`);
    }
  }
  const [direct, mine, theirs] = rows.map((r) => got.get(r.name));
  const ratio = (a, b, key) => median(a.map((x, i) => x[key] / b[i][key]));
  console.log(`\nmedian req/s: direct ${median(direct.map((m) => m.rps)).toFixed(0)}, this build ${median(mine.map((m) => m.rps)).toFixed(0)}, other ${median(theirs.map((m) => m.rps)).toFixed(0)}`);
  console.log(`this build / other: req/s ${ratio(mine, theirs, 'rps').toFixed(3)}x, p99 ${ratio(mine, theirs, 'p99').toFixed(3)}x (median of ${ROUNDS} paired rounds)`);
  const headroom = median(direct.map((m) => m.rps)) / Math.max(median(mine.map((m) => m.rps)), median(theirs.map((m) => m.rps)));
  console.log(`headroom: direct is ${headroom.toFixed(2)}x the faster build${headroom < 1.5 ? ' (load-side bound: ratio invalid)' : ''}`);
}

/** Both builds saturated at once; CPU µs per request of each over the same window, per round. */
async function paired(mine, theirs) {
  const ratios = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const before = [cpuTree(mine.pid), cpuTree(theirs.pid)];
    // Which load starts first alternates: copies of one build showed a bias of 1-2 % towards it.
    const first = round % 2 === 1 ? [mine, theirs] : [theirs, mine];
    const m = await Promise.all(first.map((r) => saturate(r.port, '/small', SECONDS, { tmp })));
    const [a, b] = first[0] === mine ? m : [m[1], m[0]];
    const us = (row, m, i) => ((cpuTree(row.pid) - before[i]) * 1e6) / (m.rps * SECONDS);
    const [ua, ub] = [us(mine, a, 0), us(theirs, b, 1)];
    ratios.push(ua / ub);
    console.log(`round ${round}: this build ${ua.toFixed(1)} µs/req (${a.rps.toFixed(0)} req/s), other ${ub.toFixed(1)} µs/req (${b.rps.toFixed(0)} req/s), ratio ${(ua / ub).toFixed(3)}`);
  }
  console.log(`\nCPU per request, this build / other: ${median(ratios).toFixed(3)} (median of ${ROUNDS} rounds, range ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}; below 1: this build is cheaper)`);
}
