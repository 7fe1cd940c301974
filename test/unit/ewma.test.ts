// The peak-EWMA picker: cost = decayed latency × (in-flight + 1) over two random choices, with an injected clock and rng.

import { describe, expect, it } from 'vitest';
import { ewma } from '../../src/core/pickers/ewma.js';
import type { UpstreamStats } from '../../src/core/upstream.js';
import { clockAt, depsOf, noRng, rngOf, upstreamWith } from './helpers.js';

/** Two upstreams A and B with the given stats. */
function pair(a: Partial<UpstreamStats>, b: Partial<UpstreamStats>) {
  return [upstreamWith('A', { port: 8000, stats: a }), upstreamWith('B', { port: 8001, stats: b })];
}

/** rng draws that sample A first (then B), or B first (then A). */
const A_FIRST = [0, 0];
const B_FIRST = [0.5, 0];

describe('ewma: cost is the latency estimate times (in-flight + 1)', () => {
  it.each([
    { why: 'slow A (50 ms) loses to fast B (1 ms), A sampled first', a: { ewmaMs: 50 }, b: { ewmaMs: 1 }, rng: A_FIRST, id: 'B' },
    { why: 'slow A (50 ms) loses to fast B (1 ms), B sampled first', a: { ewmaMs: 50 }, b: { ewmaMs: 1 }, rng: B_FIRST, id: 'B' },
    { why: '10 ms × 1 beats 3 ms × (3 + 1) = 12', a: { ewmaMs: 10 }, b: { ewmaMs: 3, inflight: 3 }, rng: A_FIRST, id: 'A' },
    { why: '10 ms × 1 loses to 3 ms × (2 + 1) = 9', a: { ewmaMs: 10 }, b: { ewmaMs: 3, inflight: 2 }, rng: A_FIRST, id: 'B' },
    { why: 'equal costs (4 × 3 = 6 × 2) keep the first sampled', a: { ewmaMs: 4, inflight: 2 }, b: { ewmaMs: 6, inflight: 1 }, rng: A_FIRST, id: 'A' },
    { why: 'equal costs keep the first sampled, whichever it is', a: { ewmaMs: 4, inflight: 2 }, b: { ewmaMs: 6, inflight: 1 }, rng: B_FIRST, id: 'B' },
  ])('$why', ({ a, b, rng, id }) => {
    const list = pair({ ...a, ewmaAt: 1_000 }, { ...b, ewmaAt: 1_000 });
    expect(ewma(list, depsOf(rngOf(...rng), () => 1_000)).pick()!.id).toBe(id);
  });
});

describe('ewma: an instance without a sample borrows the other one\'s estimate', () => {
  it.each([
    { why: 'new A (0 in flight) vs B at 100 ms with 1 in flight: 100 vs 200, A wins', a: { inflight: 0 }, b: { ewmaMs: 100, ewmaAt: 1_000, inflight: 1 }, rng: B_FIRST, id: 'A' },
    { why: 'new A with 2 in flight vs B at 100 ms with 1: 300 vs 200, B wins', a: { inflight: 2 }, b: { ewmaMs: 100, ewmaAt: 1_000, inflight: 1 }, rng: A_FIRST, id: 'B' },
    { why: 'new A vs B at 100 ms, both idle: a tie keeps the first (B)', a: {}, b: { ewmaMs: 100, ewmaAt: 1_000 }, rng: B_FIRST, id: 'B' },
    { why: 'new A vs B at 100 ms, both idle: a tie keeps the first (A), however slow B is', a: {}, b: { ewmaMs: 100, ewmaAt: 1_000 }, rng: A_FIRST, id: 'A' },
    { why: 'neither has a sample: fewer in flight wins, as least-request', a: { inflight: 2 }, b: { inflight: 1 }, rng: A_FIRST, id: 'B' },
    { why: 'neither has a sample and both idle: the first is kept', a: {}, b: {}, rng: B_FIRST, id: 'B' },
  ])('$why', ({ a, b, rng, id }) => {
    expect(ewma(pair(a, b), depsOf(rngOf(...rng), () => 1_000)).pick()!.id).toBe(id);
  });
});

describe('ewma: estimates decay with the injected clock', () => {
  // A's 50 ms sample is from t = 1000; B is sampled at 1 ms right at each pick. A's decayed
  // estimate 50·e^(-idle/10 s) drops below 1 ms after 10 s × ln 50 ≈ 39.1 s of idleness.
  it.each([
    { why: 'just sampled: 50 ms vs 1 ms, B wins', now: 1_000, id: 'B' },
    { why: 'after 10 s idle: 50/e ≈ 18.4 ms, B still wins', now: 11_000, id: 'B' },
    { why: 'after 39 s idle: 50·e^-3.9 ≈ 1.012 ms, B still wins', now: 40_000, id: 'B' },
    { why: 'after 40 s idle: 50·e^-4 ≈ 0.916 ms, the slow instance wins again', now: 41_000, id: 'A' },
  ])('$why', ({ now, id }) => {
    const list = pair({ ewmaMs: 50, ewmaAt: 1_000 }, { ewmaMs: 1, ewmaAt: now });
    expect(ewma(list, depsOf(rngOf(...A_FIRST), () => now)).pick()!.id).toBe(id);
  });

  it('reads the clock at each pick, not when built', () => {
    const clock = clockAt(1_000);
    const list = pair({ ewmaMs: 50, ewmaAt: 1_000 }, { ewmaMs: 1, ewmaAt: 1_000 });
    const p = ewma(list, depsOf(rngOf(0, 0, 0, 0), clock.now));
    expect(p.pick()!.id).toBe('B');
    clock.set(41_000);
    list[1]!.stats.ewmaAt = 41_000; // B keeps being sampled; A sat idle
    expect(p.pick()!.id).toBe('A');
  });

  it('when both sat idle equally long, both decay alike and the faster keeps winning', () => {
    const list = pair({ ewmaMs: 50, ewmaAt: 1_000 }, { ewmaMs: 1, ewmaAt: 1_000 });
    expect(ewma(list, depsOf(rngOf(...A_FIRST), () => 1_000_000)).pick()!.id).toBe('B');
  });

  it('a list of one needs neither rng nor clock', () => {
    const p = ewma([upstreamWith('A')], depsOf(noRng, () => {
      throw new Error('the clock was read');
    }));
    expect(p.pick()!.id).toBe('A');
  });
});
