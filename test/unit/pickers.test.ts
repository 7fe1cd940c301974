// The balancing algorithms: round-robin, random (injected rng) and weighted EDF, plus the PICKERS registry and usesWarning.

import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/core/config.js';
import { STRATEGIES, type Strategy } from '../../src/core/config-schema.js';
import { consistentHash } from '../../src/core/pickers/consistent-hash.js';
import { ewma } from '../../src/core/pickers/ewma.js';
import { PICKERS, usesWarning } from '../../src/core/pickers/index.js';
import { leastRequest } from '../../src/core/pickers/least-request.js';
import { EMPTY_PICKER, randomIndex } from '../../src/core/pickers/picker.js';
import { random } from '../../src/core/pickers/random.js';
import { roundRobin } from '../../src/core/pickers/round-robin.js';
import { weighted } from '../../src/core/pickers/weighted.js';
import { depsOf, noRng, rngOf, routeConfig, sequence, upstreams } from './helpers.js';

/** A route of each strategy, as loadConfig makes it (failover gets its default block). */
const ROUTE: Record<Strategy, RouteConfig> = Object.fromEntries(
  STRATEGIES.map((s) => [s, routeConfig(`service: web\nstrategy: ${s}`)]),
) as Record<Strategy, RouteConfig>;

/** How many times each id appears in `s`. */
function counts(s: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const ch of s) out[ch] = (out[ch] ?? 0) + 1;
  return out;
}

/**
 * The documented EDF rule by brute force: upstream i is next due at (2k_i - 1) / (2w_i); take the
 * earliest (exact integer cross products), ties to the lower index; restart every Σw picks.
 */
function edfReference(weights: number[], picks: number): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const k = weights.map(() => 1);
  const out: number[] = [];
  for (let j = 0; j < picks; j++) {
    if (j % total === 0) k.fill(1);
    let best = 0;
    for (let i = 1; i < weights.length; i++) if ((2 * k[i]! - 1) * weights[best]! < (2 * k[best]! - 1) * weights[i]!) best = i;
    k[best]! += 1;
    out.push(best);
  }
  return out;
}

describe('PICKERS', () => {
  it('has a factory for every strategy the schema accepts', () => {
    expect(Object.keys(PICKERS).sort()).toEqual([...STRATEGIES].sort());
  });

  it.each([
    { name: 'round-robin', factory: roundRobin },
    { name: 'random', factory: random },
    { name: 'weighted', factory: weighted },
    { name: 'least-request', factory: leastRequest },
    { name: 'ewma', factory: ewma },
    { name: 'consistent-hash', factory: consistentHash },
  ] as const)('maps $name to its own file', ({ name, factory }) => {
    expect(PICKERS[name]).toBe(factory);
  });

  it.each(STRATEGIES)('%s returns undefined for an empty upstream list', (name) => {
    const p = PICKERS[name]([], depsOf(() => 0.5), ROUTE[name]);
    expect(p.pick()).toBeUndefined();
    expect(p.pick(123)).toBeUndefined();
  });

  it.each(STRATEGIES)('%s always picks the only upstream of a list of one', (name) => {
    const p = PICKERS[name](upstreams(7), depsOf(rngOf(0, 0.5, 0.999)), ROUTE[name]);
    expect(sequence(() => p.pick(), 5)).toBe('AAAAA');
    expect(p.pick(0xffffffff)!.id).toBe('A');
  });

  it.each(STRATEGIES)('%s builds its picker without drawing the rng or reading the clock', (name) => {
    const deps = depsOf(noRng, () => {
      throw new Error('the clock was read');
    });
    expect(() => PICKERS[name](upstreams(1, 2, 3), deps, ROUTE[name])).not.toThrow();
  });

  it('the empty picker is shared, not rebuilt', () => {
    expect(roundRobin([])).toBe(EMPTY_PICKER);
    expect(random([], depsOf())).toBe(EMPTY_PICKER);
    expect(weighted([])).toBe(EMPTY_PICKER);
  });
});

describe('usesWarning', () => {
  it.each([
    { why: 'weighted sends traffic to warning instances at their warning weight', yaml: 'strategy: weighted', uses: true },
    { why: 'round-robin does not', yaml: 'strategy: round-robin', uses: false },
    { why: 'random does not', yaml: 'strategy: random', uses: false },
    { why: 'least-request does not', yaml: 'strategy: least-request', uses: false },
    { why: 'ewma does not', yaml: 'strategy: ewma', uses: false },
    { why: 'consistent-hash does not', yaml: 'strategy: consistent-hash', uses: false },
    { why: 'failover with its default within (round-robin) does not', yaml: 'strategy: failover', uses: false },
    { why: 'failover spreading by weighted within a tier does', yaml: 'strategy: failover\nfailover: { within: weighted }', uses: true },
    { why: 'failover spreading by random within a tier does not', yaml: 'strategy: failover\nfailover: { within: random }', uses: false },
  ])('$why', ({ yaml, uses }) => {
    expect(usesWarning(routeConfig(`service: web\n${yaml}`))).toBe(uses);
  });
});

describe('randomIndex', () => {
  it.each([
    { why: 'rng 0 gives index 0', r: 0, n: 4, index: 0 },
    { why: 'rng 0.25 gives index 1 of four', r: 0.25, n: 4, index: 1 },
    { why: 'rng just below 1 gives the last index', r: 0.9999999, n: 4, index: 3 },
    { why: 'a faulty rng returning 1 is clamped to the last index', r: 1, n: 4, index: 3 },
    { why: 'one choice is always index 0', r: 0.7, n: 1, index: 0 },
  ])('$why', ({ r, n, index }) => {
    expect(randomIndex(() => r, n)).toBe(index);
  });
});

describe('round-robin', () => {
  it.each([
    { why: 'two upstreams alternate', weights: [1, 1], picks: 6, seq: 'ABABAB' },
    { why: 'three upstreams rotate in list order', weights: [1, 1, 1], picks: 7, seq: 'ABCABCA' },
    { why: 'weights are ignored', weights: [5, 1, 1], picks: 6, seq: 'ABCABC' },
  ])('$why', ({ weights, picks, seq }) => {
    const p = roundRobin(upstreams(...weights));
    expect(sequence(() => p.pick(), picks)).toBe(seq);
  });

  it('each picker keeps its own rotation', () => {
    const list = upstreams(1, 1, 1);
    const p = roundRobin(list);
    const q = roundRobin(list);
    p.pick();
    p.pick();
    expect(q.pick()!.id).toBe('A');
    expect(p.pick()!.id).toBe('C');
  });
});

describe('random', () => {
  it.each([
    { why: 'rng 0 picks the first', rng: [0], n: 3, index: 0 },
    { why: 'rng 0.34 picks the second of three', rng: [0.34], n: 3, index: 1 },
    { why: 'rng 0.99 picks the last of three', rng: [0.99], n: 3, index: 2 },
    { why: 'rng just below 1/3 still picks the first', rng: [0.333], n: 3, index: 0 },
    { why: 'rng 0.5 picks the second of two', rng: [0.5], n: 2, index: 1 },
    { why: 'rng 0.9999999 stays in range', rng: [0.9999999], n: 3, index: 2 },
    { why: 'a faulty rng returning 1 is clamped to the last', rng: [1], n: 3, index: 2 },
  ])('$why', ({ rng, n, index }) => {
    const list = upstreams(...Array.from({ length: n }, () => 1));
    expect(random(list, depsOf(rngOf(...rng))).pick()).toBe(list[index]);
  });

  it('draws the rng once per pick, in order', () => {
    const p = random(upstreams(1, 1, 1), depsOf(rngOf(0, 0.34, 0.99, 0.5, 0.1)));
    expect(sequence(() => p.pick(), 5)).toBe('ABCBA');
  });

  it('ignores weights', () => {
    const p = random(upstreams(100, 1), depsOf(rngOf(0.5)));
    expect(p.pick()!.id).toBe('B');
  });
});

describe('weighted (earliest deadline first, midpoint due times)', () => {
  // Upstream i is due at (k - 1/2) / w_i; the earliest due goes first, ties to the lower index.
  it.each([
    // A: 1/2; B: 1/4, 3/4; C: 1/6, 1/2, 5/6 → C 1/6, B 1/4, A 1/2 (tie with C, A listed first), C 1/2, B 3/4, C 5/6.
    { why: '1:2:3 gives the documented C B A C B C', weights: [1, 2, 3], cycle: 'CBACBC' },
    // A: 1/6, 1/2, 5/6; B: 1/4, 3/4; C: 1/2 → A B A C B A.
    { why: '3:2:1 gives A B A C B A (A and C tied at 1/2 go to A)', weights: [3, 2, 1], cycle: 'ABACBA' },
    // A: 1/10, 3/10, 5/10, 7/10, 9/10; B and C: 1/2 → A A A (tie at 1/2 to A) B C A A.
    { why: '5:1:1 gives the documented A A A B C A A', weights: [5, 1, 1], cycle: 'AAABCAA' },
    { why: 'equal weights degrade to round-robin', weights: [1, 1, 1], cycle: 'ABC' },
    { why: 'equal weights above 1 also degrade to round-robin', weights: [2, 2], cycle: 'ABAB' },
    // A: 1/2; B: 1/6, 1/2, 5/6 → B A B B.
    { why: '1:3 gives B A B B', weights: [1, 3], cycle: 'BABB' },
    // Floors to 1:2 → A: 1/2; B: 1/4, 3/4 → B A B.
    { why: 'fractional weights are rounded down', weights: [1.9, 2.5], cycle: 'BAB' },
    { why: 'weights below 1 count as 1', weights: [0, 1], cycle: 'AB' },
  ])('$why', ({ weights, cycle }) => {
    const p = weighted(upstreams(...weights));
    // Three cycles: the schedule resets exactly at each cycle boundary.
    expect(sequence(() => p.pick(), cycle.length * 3)).toBe(cycle.repeat(3));
  });

  it.each([
    { why: '1:2:3', weights: [1, 2, 3] },
    { why: '5:1:1', weights: [5, 1, 1] },
    { why: '7:3:2:1', weights: [7, 3, 2, 1] },
    { why: '1000:1000:1000', weights: [1000, 1000, 1000] },
    { why: '1000:999:1', weights: [1000, 999, 1] },
    { why: '13:8:5:3:2:1:1', weights: [13, 8, 5, 3, 2, 1, 1] },
  ])('$why: every consecutive cycle of Σw picks holds each upstream exactly w times', ({ weights }) => {
    const p = weighted(upstreams(...weights));
    const total = weights.reduce((a, b) => a + b, 0);
    const expected = Object.fromEntries(weights.map((w, i) => [String.fromCharCode(65 + i), w]));
    for (let cycle = 0; cycle < 50; cycle++) expect(counts(sequence(() => p.pick(), total))).toEqual(expected);
  });

  it('1:2:3 never picks the same upstream three times in a row, even across cycles', () => {
    const p = weighted(upstreams(1, 2, 3));
    const s = sequence(() => p.pick(), 6 * 100);
    expect(s).not.toMatch(/(.)\1\1/);
  });

  it('1000:1000:1000 is exact round-robin over many cycles', () => {
    const p = weighted(upstreams(1000, 1000, 1000));
    expect(sequence(() => p.pick(), 9_000)).toBe('ABC'.repeat(3_000));
  });

  it('1:1:8 gives C four times, then A B (tied at 1/2, lower index first), then C four times', () => {
    // C is due at 1/16, 3/16, ..., 15/16; A and B at 1/2.
    const p = weighted(upstreams(1, 1, 8));
    expect(sequence(() => p.pick(), 20)).toBe('CCCCABCCCC'.repeat(2));
  });

  it('1000:1 puts the light upstream in the middle of the cycle, after 500 picks of the heavy one', () => {
    // B is due at 1/2, between A's 500th (499.5/1000) and 501st (500.5/1000) due times.
    const p = weighted(upstreams(1000, 1));
    expect(sequence(() => p.pick(), 1001)).toBe(`${'A'.repeat(500)}B${'A'.repeat(500)}`);
  });

  it.each([
    { why: 'a short cycle (1:2:3), precomputed at rebuild', weights: [1, 2, 3], cycles: 5 },
    { why: 'uneven weights 13:8:5:3:2:1:1', weights: [13, 8, 5, 3, 2, 1, 1], cycles: 5 },
    { why: 'weights with many ties 4:6:4:6', weights: [4, 6, 4, 6], cycles: 5 },
    { why: 'a cycle of exactly 65,536 picks (the largest precomputed)', weights: [32_768, 32_768], cycles: 2 },
    { why: 'a cycle of 65,537 picks, scheduled live by the heap', weights: [32_768, 32_769], cycles: 2 },
    { why: 'a long live cycle with a light upstream, 40000:30000:1', weights: [40_000, 30_000, 1], cycles: 2 },
  ])('matches a plain scan of the documented rule over whole cycles: $why', ({ weights, cycles }) => {
    const p = weighted(upstreams(...weights));
    const total = weights.reduce((a, b) => a + b, 0);
    const expected = edfReference(weights, total * cycles);
    let mismatch = -1;
    for (let j = 0; j < expected.length && mismatch === -1; j++) if (p.pick()!.id !== String.fromCharCode(65 + expected[j]!)) mismatch = j;
    expect(mismatch).toBe(-1);
  });

  it('pick order does not depend on the rng or the clock', () => {
    const a = weighted(upstreams(1, 2, 3));
    const b = PICKERS.weighted(upstreams(1, 2, 3), depsOf(() => 0.42, () => 99), ROUTE.weighted);
    expect(sequence(() => b.pick(), 12)).toBe(sequence(() => a.pick(), 12));
  });
});
