// Passive outlier detection (isEjected, onSuccess, onFailure): ejection, its length, probation, the ejected-share cap.

import { describe, expect, it } from 'vitest';
import { isEjected, onFailure, onSuccess, type OutlierOptions, type OutlierState } from '../../src/core/outlier.js';
import { newStats } from '../../src/core/upstream.js';
import { config, rngOf } from './helpers.js';

/** The config's defaults (the schema is their one home). */
const DEFAULT_OUTLIER: OutlierOptions = config('routes: [{ endpoints: [127.0.0.1:1] }]').outlier;

/** Base 10 s, capped at 25 s, so the third ejection hits the cap. */
const CAPPED: OutlierOptions = { ...DEFAULT_OUTLIER, baseEjectionMs: 10_000, maxEjectionMs: 25_000 };

interface Run {
  /** Per token: one character per failure ('.' kept, 'E' ejected), or 'S' for a success. */
  results: string;
  state: OutlierState;
  /** How many times the ejectedShare callback was asked. */
  asked: number;
}

/**
 * Runs a script of space-separated tokens on fresh stats: `F<n>@<t>` is n failures at clock
 * time t, `S` a success. `shares` are the ejectedShare answers in turn (the last repeats).
 */
function run(script: string, o: OutlierOptions = DEFAULT_OUTLIER, shares: number[] = [0]): Run {
  const s = newStats();
  const share = rngOf(...shares);
  let asked = 0;
  const ejectedShare = (): number => {
    asked++;
    return share();
  };
  const results = script.split(' ').map((tok) => {
    if (tok === 'S') {
      onSuccess(s);
      return 'S';
    }
    const m = /^F(\d+)@(\d+)$/.exec(tok);
    if (!m) throw new Error(`bad token ${tok}`);
    let out = '';
    for (let i = 0; i < Number(m[1]); i++) out += onFailure(s, Number(m[2]), o, ejectedShare) ? 'E' : '.';
    return out;
  });
  const { consecutiveFailures, ejectedUntil, ejections, probation } = s;
  return { results: results.join(' '), state: { consecutiveFailures, ejectedUntil, ejections, probation }, asked };
}

const state = (consecutiveFailures: number, ejectedUntil: number, ejections: number, probation: boolean): OutlierState => ({
  consecutiveFailures,
  ejectedUntil,
  ejections,
  probation,
});

describe('isEjected', () => {
  it.each([
    { why: 'fresh stats (ejectedUntil 0) are not ejected', until: 0, now: 0, ejected: false },
    { why: 'an instance is ejected before its ejection ends', until: 10_000, now: 9_999, ejected: true },
    { why: 'the ejection has ended at exactly ejectedUntil', until: 10_000, now: 10_000, ejected: false },
    { why: 'the ejection has ended after ejectedUntil', until: 10_000, now: 10_001, ejected: false },
  ])('$why', ({ until, now, ejected }) => {
    expect(isEjected({ ...newStats(), ejectedUntil: until }, now)).toBe(ejected);
  });
});

describe('onSuccess', () => {
  it('resets the failure count and ends probation, leaving the ejection and its count alone', () => {
    const s = { ...newStats(), consecutiveFailures: 3, ejectedUntil: 20_000, ejections: 2, probation: true };
    onSuccess(s);
    expect([s.consecutiveFailures, s.ejectedUntil, s.ejections, s.probation]).toEqual([0, 20_000, 2, false]);
  });
});

describe('onFailure: counting and ejection length (defaults: 5 failures, 10 s base, 5 min cap)', () => {
  it.each([
    { why: 'four failures in a row do not eject', script: 'F4@0', results: '....', state: state(4, 0, 0, false) },
    { why: 'the fifth failure in a row ejects for baseEjectionTime from now', script: 'F5@1000', results: '....E', state: state(0, 11_000, 1, true) },
    { why: 'a success in between resets the count', script: 'F4@0 S F4@0', results: '.... S ....', state: state(4, 0, 0, false) },
    { why: 'after a reset it takes five fresh failures to eject', script: 'F4@0 S F5@0', results: '.... S ....E', state: state(0, 10_000, 1, true) },
    { why: 'failures while ejected are ignored: not counted, the ejection not extended', script: 'F5@0 F10@5000 F3@9999', results: '....E .......... ...', state: state(0, 10_000, 1, true) },
    {
      why: 'back from ejection (at exactly ejectedUntil), the very next failure ejects again, for 2 × base',
      script: 'F5@0 F1@10000',
      results: '....E E',
      state: state(0, 30_000, 2, true),
    },
    {
      why: 'the third ejection in a row lasts 3 × base',
      script: 'F5@0 F1@10000 F1@30000',
      results: '....E E E',
      state: state(0, 60_000, 3, true),
    },
    {
      why: 'a success ends probation: the next ejection takes five failures again (and is still the 2nd, 2 × base)',
      script: 'F5@0 S F4@10000 F1@10000',
      results: '....E S .... E',
      state: state(0, 30_000, 2, true),
    },
    {
      why: 'exactly maxEjectionTime after the ejection ended, probation still holds and the count is kept',
      script: 'F5@0 F1@310000',
      results: '....E E',
      state: state(0, 330_000, 2, true),
    },
    {
      why: 'more than maxEjectionTime after the ejection ended, probation and the ejection count are forgiven',
      script: 'F5@0 F1@310001',
      results: '....E .',
      state: state(1, 10_000, 0, false),
    },
    {
      why: 'after forgiveness the next ejection takes five failures and is base length again',
      script: 'F5@0 F5@310001',
      results: '....E ....E',
      state: state(0, 320_001, 1, true),
    },
  ])('$why', ({ script, results, state: want }) => {
    const r = run(script);
    expect(r.results).toBe(results);
    expect(r.state).toEqual(want);
  });

  it.each([
    { why: 'the first ejection lasts baseEjectionTime', script: 'F5@0', until: 10_000, ejections: 1 },
    { why: 'the second lasts 2 × base (20 s, under the 25 s cap)', script: 'F5@0 F1@10000', until: 30_000, ejections: 2 },
    { why: 'the third would last 30 s and is capped at maxEjectionTime (25 s)', script: 'F5@0 F1@10000 F1@30000', until: 55_000, ejections: 3 },
    { why: 'the fourth stays at the cap', script: 'F5@0 F1@10000 F1@30000 F1@55000', until: 80_000, ejections: 4 },
  ])('with a 25 s cap: $why', ({ script, until, ejections }) => {
    const r = run(script, CAPPED);
    expect([r.state.ejectedUntil, r.state.ejections]).toEqual([until, ejections]);
  });

  it.each([
    { why: 'a custom threshold of 1 ejects on the first failure', o: { ...DEFAULT_OUTLIER, consecutiveFailures: 1 }, script: 'F1@0', results: 'E' },
    { why: 'a custom threshold of 3 ejects on the third failure, not before', o: { ...DEFAULT_OUTLIER, consecutiveFailures: 3 }, script: 'F3@0', results: '..E' },
    { why: 'consecutiveFailures 0 turns detection off, however many failures come', o: { ...DEFAULT_OUTLIER, consecutiveFailures: 0 }, script: 'F100@0', results: '.'.repeat(100) },
  ])('$why', ({ o, script, results }) => {
    expect(run(script, o).results).toBe(results);
  });

  it('consecutiveFailures 0 leaves the state untouched', () => {
    expect(run('F100@0', { ...DEFAULT_OUTLIER, consecutiveFailures: 0 }).state).toEqual(state(0, 0, 0, false));
  });
});

describe('onFailure: the ejected-share cap', () => {
  it.each([
    { why: 'the share is not asked before an ejection is due', script: 'F4@0', o: DEFAULT_OUTLIER, shares: [0], results: '....', asked: 0 },
    { why: 'the share is asked once, on the failure that is due to eject', script: 'F5@0', o: DEFAULT_OUTLIER, shares: [0], results: '....E', asked: 1 },
    { why: 'a share equal to maxEjectedPercent blocks the ejection', script: 'F5@0', o: DEFAULT_OUTLIER, shares: [50], results: '.....', asked: 1 },
    { why: 'a share above maxEjectedPercent blocks the ejection', script: 'F5@0', o: DEFAULT_OUTLIER, shares: [75], results: '.....', asked: 1 },
    { why: 'a share just under maxEjectedPercent allows it', script: 'F5@0', o: DEFAULT_OUTLIER, shares: [49.9], results: '....E', asked: 1 },
    {
      why: 'at share 0 one instance can always be ejected, even with maxEjectedPercent 10',
      script: 'F5@0',
      o: { ...DEFAULT_OUTLIER, maxEjectedPercent: 10 },
      shares: [0],
      results: '....E',
      asked: 1,
    },
    {
      why: 'once blocked, each further failure asks again and ejects as soon as the share allows',
      script: 'F5@0 F1@0 F1@0',
      o: DEFAULT_OUTLIER,
      shares: [50, 50, 25],
      results: '..... . E',
      asked: 3,
    },
    { why: 'failures while ejected do not ask', script: 'F5@0 F7@5000', o: DEFAULT_OUTLIER, shares: [0], results: '....E .......', asked: 1 },
    { why: 'on probation the very next failure asks', script: 'F5@0 F1@10000', o: DEFAULT_OUTLIER, shares: [0], results: '....E E', asked: 2 },
    { why: 'on probation a full share blocks the re-ejection', script: 'F5@0 F1@10000', o: DEFAULT_OUTLIER, shares: [0, 50], results: '....E .', asked: 2 },
    { why: 'with detection off the share is never asked', script: 'F10@0', o: { ...DEFAULT_OUTLIER, consecutiveFailures: 0 }, shares: [0], results: '..........', asked: 0 },
  ])('$why', ({ script, o, shares, results, asked }) => {
    const r = run(script, o, shares);
    expect(r.results).toBe(results);
    expect(r.asked).toBe(asked);
  });

  it('a blocked ejection changes neither ejectedUntil nor the ejection count', () => {
    expect(run('F5@0', DEFAULT_OUTLIER, [50]).state).toEqual(state(5, 0, 0, false));
  });
});

describe('onFailure: maxEjectedPercent 0 still lets one instance be ejected (as Envoy does)', () => {
  it.each([
    { why: 'with nothing ejected yet, the first instance due is ejected', share: 0, ejects: true },
    { why: 'with one already ejected, no second one is', share: 10, ejects: false },
  ])('$why', ({ share, ejects }) => {
    const s = newStats();
    const o = { ...DEFAULT_OUTLIER, consecutiveFailures: 1, maxEjectedPercent: 0 };
    expect(onFailure(s, 1_000, o, () => share)).toBe(ejects);
  });
});
