// Differential test, layer 1 (issue #18): the fast path's request-head parser against Node's
// own, in process, on the saved fixtures and then on many generated inputs. See parser-check.ts
// for the property and how Node's verdict is read.
//
//   FAIRWAY_SEED=<n>              replay a run (a failing run prints its seed)
//   FAIRWAY_CASE=<i>              ... only its case i
//   FAIRWAY_DIFF_PARSER_CASES=<n> generated inputs (default 100000)

import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_HEADER_SIZE, describeCase, fixtureCases, saveFailure, type Case } from './cases.js';
import { generateCase } from './generator.js';
import { minimise } from './minimise.js';
import { NodeOracle } from './node-oracle.js';
import { MUTANTS } from './mutants.js';
import { findings, startCheck, Tally, type Finding, type HeadParser, type PendingCheck } from './parser-check.js';
import { envCount, runSettings } from './random.js';

const { seed, only } = runSettings();
/** The seed the mutant checks use (see below); any seed whose 10,000 inputs expose all three. */
const MUTANT_SEED = 1;
const CASES = only !== undefined ? 1 : envCount(process.env, 'FAIRWAY_DIFF_PARSER_CASES', 100_000);
/** Cases given to Node at once: enough to amortise the turns it takes to read them. */
const BATCH = 400;
/** Differences reported in full (all are counted). */
const SHOWN = 12;
const GENERATOR = { maxHeaderSizes: [DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_HEADER_SIZE, 1024] };

interface Failure {
  c: Case;
  found: Finding[];
}

const oracle = new NodeOracle();
afterAll(() => oracle.close());

/** Checks the cases in batches; returns the failures and counts. */
async function check(cases: Iterable<Case>, tally: Tally, parse?: HeadParser): Promise<Failure[]> {
  const failures: Failure[] = [];
  let batch: PendingCheck[] = [];
  const drain = async (): Promise<void> => {
    await oracle.settle();
    for (const p of batch) {
      tally.add(p);
      const found = findings(p);
      if (found.length > 0) failures.push({ c: p.c, found });
    }
    batch = [];
  };
  for (const c of cases) {
    batch.push(startCheck(oracle, c, parse));
    if (batch.length >= BATCH) await drain();
  }
  await drain();
  return failures;
}

/** The smallest input (same FIN, one write) failing with the same kind of difference. */
async function shrink(f: Failure): Promise<Case> {
  const kind = f.found[0]!.kind;
  const failsAlike = async (bytes: Buffer): Promise<boolean> => {
    const p = startCheck(oracle, { ...f.c, bytes, splits: [] });
    await oracle.settle();
    return findings(p).some((x) => x.kind === kind);
  };
  const bytes = await minimise(f.c.bytes, failsAlike);
  return { ...f.c, name: `${f.c.name} minimised`, bytes, splits: [] };
}

async function report(failures: Failure[], replay: string): Promise<string> {
  const byKind = new Map<string, number>();
  for (const f of failures) for (const x of f.found) byKind.set(x.kind, (byKind.get(x.kind) ?? 0) + 1);
  const lines = [`${failures.length} inputs where the fast parser accepted a head Node does not read the same way:`];
  for (const [kind, n] of byKind) lines.push(`  ${kind}: ${n}`);
  const shownKinds = new Set<string>();
  for (const f of failures.slice(0, SHOWN)) {
    lines.push('', `- ${describeCase(f.c)}`, `  saved to ${saveFailure('parser', f.c)}`);
    for (const x of f.found) lines.push(`  ${x.kind}: ${x.detail}`);
    // One minimised input per kind of difference.
    if (!shownKinds.has(f.found[0]!.kind)) {
      shownKinds.add(f.found[0]!.kind);
      const small = await shrink(f);
      lines.push(`  minimised: ${describeCase(small)}`, `  saved to ${saveFailure('parser', small)}`);
    }
  }
  lines.push('', `replay: ${replay}`);
  return lines.join('\n');
}

describe('differential layer 1: the fast path parser (http1.ts) against Node (llhttp)', () => {
  it('agrees with Node on every saved fixture', async () => {
    const tally = new Tally();
    const failures = await check(fixtureCases(), tally);
    console.log(`differential parser, fixtures:\n  ${tally.summary()}`);
    expect(failures.length, await report(failures, 'npx vitest run test/differential/parser.test.ts')).toBe(0);
  });

  it(`agrees with Node on ${CASES} generated inputs (seed ${seed})`, async () => {
    const start = performance.now();
    const tally = new Tally();
    const indices = only !== undefined ? [only] : Array.from({ length: CASES }, (_, i) => i);
    const failures = await check(
      (function* () {
        for (const i of indices) yield generateCase(seed, i, GENERATOR);
      })(),
      tally,
    );
    const secs = ((performance.now() - start) / 1000).toFixed(1);
    console.log(`differential parser, seed ${seed}, ${secs} s:\n  ${tally.summary()}`);
    const replay = `FAIRWAY_SEED=${seed} npx vitest run test/differential/parser.test.ts (add FAIRWAY_CASE=<i> for one case)`;
    expect(failures.length, await report(failures, replay)).toBe(0);
    if (only === undefined && CASES >= 1000) {
      // Not vacuous: the fast parser takes a healthy share, and Node refuses some of the rest.
      expect(tally.fastFirst / tally.inputs).toBeGreaterThan(0.25);
      expect(tally.fastDeclined / tally.inputs).toBeGreaterThan(0.25);
      expect(tally.nodeRefused / tally.inputs).toBeGreaterThan(0.05);
    }
  }, 120_000);

  it.each(MUTANTS)('catches a parser that $name (checks the checker)', async ({ parse }) => {
    // A fixed seed: whether 10,000 random inputs happen to hold a case that exposes a mutant is
    // itself random, and a check of the checker must not depend on the run's seed.
    const cases = Array.from({ length: 10_000 }, (_, i) => generateCase(MUTANT_SEED, i, GENERATOR));
    const failures = await check(cases, new Tally(), parse);
    expect(failures.length).toBeGreaterThan(0);
  });
});
