// The power-of-two-choices step (twoChoices) and the least-request picker built on it, with scripted rng and preset in-flight counts.

import { describe, expect, it } from 'vitest';
import { leastRequest } from '../../src/core/pickers/least-request.js';
import { twoChoices } from '../../src/core/pickers/two-choices.js';
import type { Upstream } from '../../src/core/upstream.js';
import { depsOf, noRng, rngOf, sequence, upstreams, upstreamWith } from './helpers.js';

/** The indices twoChoices compares, as [first, second], for two rng draws over n upstreams. */
function sampled(n: number, r1: number, r2: number): [number, number] {
  const list = upstreams(...Array.from({ length: n }, () => 1));
  let seen: [number, number] = [-1, -1];
  twoChoices(list, rngOf(r1, r2), (b, a) => {
    seen = [list.indexOf(a), list.indexOf(b)];
    return false;
  });
  return seen;
}

describe('twoChoices: which two are compared', () => {
  it.each([
    { why: 'rng 0 and 0 give indices 0 and 1 (the second skips over the first)', n: 2, r: [0, 0], pair: [0, 1] },
    { why: 'rng 0.5 then 0 give 1 and 0 of two', n: 2, r: [0.5, 0], pair: [1, 0] },
    { why: 'rng 0.99 and 0.99 give 1 and 0 of two', n: 2, r: [0.99, 0.99], pair: [1, 0] },
    { why: 'rng 0 and 0 give 0 and 1 of three', n: 3, r: [0, 0], pair: [0, 1] },
    { why: 'rng 0 and 0.99 give 0 and 2 of three', n: 3, r: [0, 0.99], pair: [0, 2] },
    { why: 'rng 0.5 and 0.5 give 1 and 2 of three (the second is drawn from the other two)', n: 3, r: [0.5, 0.5], pair: [1, 2] },
    { why: 'rng 0.5 and 0 give 1 and 0 of three', n: 3, r: [0.5, 0], pair: [1, 0] },
    { why: 'rng 0.99 and 0.99 give 2 and 1 of three', n: 3, r: [0.99, 0.99], pair: [2, 1] },
    { why: 'a faulty rng returning 1 twice still gives two distinct in-range indices', n: 4, r: [1, 1], pair: [3, 2] },
  ])('$why', ({ n, r, pair }) => {
    expect(sampled(n, r[0]!, r[1]!)).toEqual(pair);
  });

  it.each([2, 3, 4, 5, 7])('over %i upstreams, the n·(n-1) draw cells map one-to-one onto the ordered pairs of distinct indices', (n) => {
    const pairs = new Set<string>();
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n - 1; j++) {
        const [a, b] = sampled(n, (i + 0.5) / n, (j + 0.5) / (n - 1));
        expect(a).not.toBe(b);
        pairs.add(`${a},${b}`);
      }
    expect(pairs.size).toBe(n * (n - 1));
  });

  it('draws the rng exactly twice per call', () => {
    let draws = 0;
    const list = upstreams(1, 1, 1);
    for (let k = 0; k < 5; k++)
      twoChoices(list, () => (draws++, 0.3), () => false);
    expect(draws).toBe(10);
  });
});

describe('twoChoices: which one wins', () => {
  const list = upstreams(1, 1, 1);
  it.each([
    { why: 'when the second is not better, the first is kept (ties keep the first)', better: false, id: 'A' },
    { why: 'when the second is better, it wins', better: true, id: 'B' },
  ])('$why', ({ better, id }) => {
    expect(twoChoices(list, rngOf(0, 0), () => better).id).toBe(id);
  });
});

/** Upstreams A, B, C, ... with the given in-flight counts (and weights, default 1). */
function loaded(inflight: number[], weights: number[] = inflight.map(() => 1)): Upstream[] {
  return inflight.map((n, i) => upstreamWith(String.fromCharCode(65 + i), { weight: weights[i]!, port: 8000 + i, stats: { inflight: n } }));
}

describe('leastRequest', () => {
  it.each([
    { why: 'of A (5) and B (2) in flight, B wins', inflight: [5, 2, 0], rng: [0, 0], id: 'B' },
    { why: 'of A (5) and C (0), C wins', inflight: [5, 2, 0], rng: [0, 0.99], id: 'C' },
    { why: 'of B (2) and C (0), C wins', inflight: [5, 2, 0], rng: [0.5, 0.5], id: 'C' },
    { why: 'the first sampled stays when it has fewer', inflight: [0, 2, 5], rng: [0, 0], id: 'A' },
    { why: 'a tie keeps the first sampled (A)', inflight: [3, 3, 0], rng: [0, 0], id: 'A' },
    { why: 'a tie keeps the first sampled (B)', inflight: [3, 3, 0], rng: [0.5, 0], id: 'B' },
    { why: 'only the two sampled count: C idle but unsampled loses to B', inflight: [4, 1, 0], rng: [0, 0], id: 'B' },
  ])('equal weights compare in-flight counts: $why', ({ inflight, rng, id }) => {
    expect(leastRequest(loaded(inflight), depsOf(rngOf(...rng))).pick()!.id).toBe(id);
  });

  it.each([
    { why: '(1+1)/1 = 2 vs (4+1)/3 ≈ 1.67: the heavier B wins', inflight: [1, 4], weights: [1, 3], id: 'B' },
    { why: '(1+1)/1 = 2 vs (5+1)/3 = 2: a tie keeps the first', inflight: [1, 5], weights: [1, 3], id: 'A' },
    { why: '(1+1)/1 = 2 vs (2+1)/3 = 1: B wins though it has more in flight', inflight: [1, 2], weights: [1, 3], id: 'B' },
    { why: 'both idle: 1/1 vs 1/3, so the heavier B wins', inflight: [0, 0], weights: [1, 3], id: 'B' },
    { why: '(0+1)/4 = 0.25 vs (0+1)/1 = 1: the heavier first stays', inflight: [0, 0], weights: [4, 1], id: 'A' },
    { why: '(3+1)/4 = 1 vs (0+1)/1 = 1: a tie keeps the first', inflight: [3, 0], weights: [4, 1], id: 'A' },
  ])('unequal weights compare (in-flight + 1) / weight: $why', ({ inflight, weights, id }) => {
    expect(leastRequest(loaded(inflight, weights), depsOf(rngOf(0, 0))).pick()!.id).toBe(id);
  });

  it('reads in-flight counts live at each pick, not when built', () => {
    const list = loaded([0, 0]);
    const p = leastRequest(list, depsOf(rngOf(0, 0)));
    list[0]!.stats.inflight = 4;
    expect(p.pick()!.id).toBe('B');
    list[1]!.stats.inflight = 9;
    expect(p.pick()!.id).toBe('A');
  });

  it('draws two rng values per pick, in order', () => {
    // Picks compare (A,B), (C,A), (B,C) with A busiest and C idlest.
    const p = leastRequest(loaded([9, 5, 0]), depsOf(rngOf(0, 0, 0.99, 0, 0.5, 0.5)));
    expect(sequence(() => p.pick(), 3)).toBe('BCC');
  });

  it('a list of one never draws the rng', () => {
    expect(leastRequest(loaded([3]), depsOf(noRng)).pick()!.id).toBe('A');
  });
});
