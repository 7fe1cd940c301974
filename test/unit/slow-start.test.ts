// Slow start: rampFactor, the withSlowStart wrapper (scripted inner picker, rng and clock), and pickerFor's use of it.

import { describe, expect, it } from 'vitest';
import { consistentHash } from '../../src/core/pickers/consistent-hash.js';
import { hashString } from '../../src/core/pickers/hash.js';
import { pickerFor } from '../../src/core/pickers/index.js';
import { rampFactor, withSlowStart } from '../../src/core/pickers/slow-start.js';
import { clockAt, depsOf, noRng, routeConfig, scriptedPicker, sequence, upstreamWith } from './helpers.js';

describe('rampFactor', () => {
  it.each([
    { why: 'a ramp starts at 10%', age: 0, windowMs: 10_000, factor: 0.1 },
    { why: 'a quarter of the way in it is 10% + 90% × 1/4', age: 2_500, windowMs: 10_000, factor: 0.325 },
    { why: 'halfway it is 55%', age: 5_000, windowMs: 10_000, factor: 0.55 },
    { why: 'just before the end it is nearly 1', age: 9_999, windowMs: 10_000, factor: 0.1 + 0.9 * 0.9999 },
    { why: 'at the end of the window it is 1', age: 10_000, windowMs: 10_000, factor: 1 },
    { why: 'long after the window it stays 1', age: 50_000, windowMs: 10_000, factor: 1 },
    { why: 'an instance that never joined (age Infinity) is at full share', age: Infinity, windowMs: 10_000, factor: 1 },
    { why: 'a join stamped in the future counts as just joined', age: -1_000, windowMs: 10_000, factor: 0.1 },
    { why: 'a zero window is always full share', age: 0, windowMs: 0, factor: 1 },
  ])('$why', ({ age, windowMs, factor }) => {
    expect(rampFactor(age, windowMs)).toBeCloseTo(factor, 12);
  });

  it('rises linearly: equal steps in age give equal steps in factor', () => {
    const steps = [0, 1, 2, 3, 4].map((k) => rampFactor(k * 2_000, 10_000));
    for (let k = 1; k < steps.length; k++) expect(steps[k]! - steps[k - 1]!).toBeCloseTo(0.18, 12);
  });
});

/** A rng returning the given values in turn (then the last), counting draws. */
function countingRng(...values: number[]) {
  const rng = () => values[Math.min(rng.draws++, values.length - 1)]!;
  rng.draws = 0;
  return rng;
}

// A is an old hand; B joined at t = 0 and C at t = 4000, each ramping over 10 s.
const A = upstreamWith('A', { port: 1 });
const B = upstreamWith('B', { port: 2, stats: { activeSince: 0 } });
const C = upstreamWith('C', { port: 3, stats: { activeSince: 4_000 } });

describe('withSlowStart: when it steps aside', () => {
  const inner = scriptedPicker(A);
  it.each([
    { why: 'a window of 0 returns the inner picker itself', list: [A, B], windowMs: 0, now: 0 },
    { why: 'a negative window returns the inner picker itself', list: [A, B], windowMs: -1, now: 0 },
    { why: 'no upstream ever joined (all activeSince -Infinity)', list: [A, upstreamWith('D', { port: 4 })], windowMs: 10_000, now: 0 },
    { why: 'every ramp has ended by build time', list: [A, B], windowMs: 10_000, now: 10_000 },
    { why: 'a single upstream has no one to share with', list: [B], windowMs: 10_000, now: 0 },
  ])('$why', ({ list, windowMs, now }) => {
    expect(withSlowStart(inner, list, windowMs, depsOf(noRng, () => now))).toBe(inner);
  });

  it('a ramp still running at build time wraps the picker', () => {
    expect(withSlowStart(inner, [A, B], 10_000, depsOf(noRng, () => 9_999))).not.toBe(inner);
  });
});

describe('withSlowStart: a ramping choice is kept iff rng() < its factor', () => {
  // At t = 5000: B's factor is 0.55, C's is 0.19, A's is 1.
  it.each([
    { why: 'B kept: rng 0.5 < 0.55', answers: [B, A], rng: [0.5], id: 'B', innerCalls: 1, draws: 1 },
    { why: 'B re-picked: rng 0.6 ≥ 0.55, and A, not ramping, is taken without a draw', answers: [B, A], rng: [0.6], id: 'A', innerCalls: 2, draws: 1 },
    { why: 'B re-picked once, then B again kept: 0.9, then 0.54 < 0.55', answers: [B, B, A], rng: [0.9, 0.54], id: 'B', innerCalls: 2, draws: 2 },
    { why: 'at most three re-picks: the fourth answer stands unchecked', answers: [B, B, B, B, A], rng: [0.99], id: 'B', innerCalls: 4, draws: 3 },
    { why: 'the fourth answer stands even when the third re-pick gives another ramping one', answers: [B, C, B, C, A], rng: [0.99], id: 'C', innerCalls: 4, draws: 3 },
    { why: 'each choice is judged by its own factor: C rejected at 0.3 ≥ 0.19, B kept at 0.3 < 0.55', answers: [C, B], rng: [0.3], id: 'B', innerCalls: 2, draws: 2 },
    { why: 'a non-ramping first answer is returned with no draw', answers: [A], rng: [0.99], id: 'A', innerCalls: 1, draws: 0 },
    { why: 'an inner picker with nothing to give is not asked again', answers: [undefined], rng: [0.99], id: undefined, innerCalls: 1, draws: 0 },
  ])('$why', ({ answers, rng, id, innerCalls, draws }) => {
    const inner = scriptedPicker(...answers);
    const r = countingRng(...rng);
    const p = withSlowStart(inner, [A, B, C], 10_000, depsOf(r, () => 5_000));
    expect(p.pick()?.id).toBe(id);
    expect(inner.calls.length).toBe(innerCalls);
    expect(r.draws).toBe(draws);
  });

  it('a choice exactly at its factor is re-picked (rng 0.1 at age 0 is not < 0.1)', () => {
    const inner = scriptedPicker(B, A);
    const p = withSlowStart(inner, [A, B], 10_000, depsOf(countingRng(0.1), () => 0));
    expect(p.pick()!.id).toBe('A');
  });

  it('passes the hash on to every inner pick', () => {
    const inner = scriptedPicker(B, B, A);
    withSlowStart(inner, [A, B], 10_000, depsOf(countingRng(0.9), () => 5_000)).pick(1234);
    expect(inner.calls).toEqual([1234, 1234, 1234]);
  });

  it('reads the clock at each pick: once every ramp has ended, answers pass straight through', () => {
    const clock = clockAt(5_000);
    const inner = scriptedPicker(B);
    const r = countingRng(0.99);
    const p = withSlowStart(inner, [A, B, C], 10_000, depsOf(r, clock.now));
    expect(p.pick()!.id).toBe('B');
    expect(r.draws).toBe(3);
    clock.set(14_000); // C, the last to join, ends its ramp at 4000 + 10000
    inner.calls.length = 0;
    expect(p.pick()!.id).toBe('B');
    expect([inner.calls.length, r.draws]).toEqual([1, 3]);
  });

  it('while the latest ramp runs, an instance whose own ramp ended is kept without a draw', () => {
    const r = countingRng(0.99);
    const p = withSlowStart(scriptedPicker(B), [A, B, C], 10_000, depsOf(r, () => 12_000));
    expect(p.pick()!.id).toBe('B');
    expect(r.draws).toBe(0);
  });
});

describe('pickerFor: slow start per strategy', () => {
  const list = [A, B];

  it('a round-robin route with slowStart re-picks away from a ramping instance when rng ≥ its factor', () => {
    // At t = 0 B's factor is 0.1. Picks: A; B rejected (0.5) → A; B kept (0.05).
    const r = countingRng(0.5, 0.05);
    const p = pickerFor(routeConfig('service: web\nslowStart: 10s'), list, depsOf(r, () => 0));
    expect(sequence(() => p.pick(), 3)).toBe('AAB');
    expect(r.draws).toBe(2);
  });

  it('the same route without slowStart rotates plainly and never draws', () => {
    const p = pickerFor(routeConfig('service: web'), list, depsOf(noRng, () => 0));
    expect(sequence(() => p.pick(), 4)).toBe('ABAB');
  });

  it('a consistent-hash route never slow-starts: keys reach a ramping instance as the ring says, without a draw', () => {
    const rc = routeConfig('service: web\nstrategy: consistent-hash\nslowStart: 10s');
    const p = pickerFor(rc, list, depsOf(noRng, () => 0));
    const ring = consistentHash(list, depsOf());
    const keys = Array.from({ length: 200 }, (_, k) => hashString(`user-${k}`));
    expect(keys.map((h) => p.pick(h)!.id)).toEqual(keys.map((h) => ring.pick(h)!.id));
    expect(keys.some((h) => p.pick(h)!.id === 'B')).toBe(true);
  });
});
