#!/usr/bin/env node
// `npm run bench:ab -- --against DIR`: this build of Fairway against another checkout's (DIR
// with its own `npm ci`, e.g. `git worktree add /tmp/base <commit>`), small responses, same
// backends, same load generator, interleaved rounds, ratios paired by round. For questions
// such as "what did this change cost per request?", where the full bench's other rows only
// add time. The direct row shows the load side's headroom as in the full bench.
//
//   npm run bench:ab -- --against /tmp/base [--rounds 5] [--seconds 5]

import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackends } from './backends.mjs';
import { saturate } from './load.mjs';
import { cpuPlan, Children } from './procs.mjs';
import { startFairway } from './proxies.mjs';

const { values } = parseArgs({ options: { against: { type: 'string' }, rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '5' }, 'no-pin': { type: 'boolean', default: false } } });
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
  const paired = (a, b, key) => median(a.map((x, i) => x[key] / b[i][key]));
  console.log(`\nmedian req/s: direct ${median(direct.map((m) => m.rps)).toFixed(0)}, this build ${median(mine.map((m) => m.rps)).toFixed(0)}, other ${median(theirs.map((m) => m.rps)).toFixed(0)}`);
  console.log(`this build / other: req/s ${paired(mine, theirs, 'rps').toFixed(3)}x, p99 ${paired(mine, theirs, 'p99').toFixed(3)}x (median of ${ROUNDS} paired rounds)`);
  const headroom = median(direct.map((m) => m.rps)) / Math.max(median(mine.map((m) => m.rps)), median(theirs.map((m) => m.rps)));
  console.log(`headroom: direct is ${headroom.toFixed(2)}x the faster build${headroom < 1.5 ? ' (load-side bound: ratio invalid)' : ''}`);
} finally {
  await children.stopAll();
}
