// Consul blocking-query rules: nextIndex (reset, sanity, never 0 twice) and backoffDelay (capped, jittered).

import { describe, expect, it } from 'vitest';
import { AUTH_BACKOFF, backoffDelay, DEFAULT_BACKOFF, nextIndex } from '../../src/discovery/blocking.js';

describe('nextIndex', () => {
  it.each([
    { why: 'a normal advance uses the returned index', sent: 10, returned: 15, next: 15 },
    { why: 'an unchanged index is used as is (a timed-out wait)', sent: 10, returned: 10, next: 10 },
    { why: 'the first query (sent 0) takes whatever came back', sent: 0, returned: 42, next: 42 },
    { why: 'an index that goes backwards resets to 0', sent: 100, returned: 7, next: 0 },
    { why: 'going back by one also resets', sent: 2, returned: 1, next: 0 },
    { why: 'a returned 0 is replaced by 1', sent: 10, returned: 0, next: 1 },
    { why: 'a returned 0 right after a reset is 1, never 0 twice in a row', sent: 0, returned: 0, next: 1 },
    { why: 'a negative index is replaced by 1', sent: 10, returned: -5, next: 1 },
    { why: 'a negative index after a reset is 1', sent: 0, returned: -1, next: 1 },
    { why: 'NaN (missing or garbled header) is replaced by 1', sent: 10, returned: NaN, next: 1 },
    { why: 'Infinity is replaced by 1', sent: 10, returned: Infinity, next: 1 },
  ])('$why', ({ sent, returned, next }) => {
    expect(nextIndex(sent, returned)).toBe(next);
  });

  it.each([-1, 0, 0.5, 1, 2, 1_000, NaN])('after sending 0, the next index is never 0 (returned %d)', (returned) => {
    expect(nextIndex(0, returned)).not.toBe(0);
  });
});

describe('backoffDelay', () => {
  const low = () => 0;
  const high = () => 1;

  it.each([
    { why: 'first retry, lowest jitter: half of base', attempt: 1, rng: low, ms: 50 },
    { why: 'first retry, highest jitter: base', attempt: 1, rng: high, ms: 100 },
    { why: 'first retry, middle jitter', attempt: 1, rng: () => 0.5, ms: 75 },
    { why: 'second retry doubles: lowest', attempt: 2, rng: low, ms: 100 },
    { why: 'second retry doubles: highest', attempt: 2, rng: high, ms: 200 },
    { why: 'fourth retry: 800 ms ceiling, lowest', attempt: 4, rng: low, ms: 400 },
    { why: 'fourth retry: 800 ms ceiling, highest', attempt: 4, rng: high, ms: 800 },
    { why: 'fifth retry is capped at 1000: lowest', attempt: 5, rng: low, ms: 500 },
    { why: 'fifth retry is capped at 1000: highest', attempt: 5, rng: high, ms: 1_000 },
    { why: 'a very late retry stays capped', attempt: 1_000, rng: high, ms: 1_000 },
    { why: 'attempt 0 is treated as the first retry', attempt: 0, rng: high, ms: 100 },
    { why: 'a negative attempt is treated as the first retry', attempt: -3, rng: low, ms: 50 },
  ])('$why', ({ attempt, rng, ms }) => {
    expect(backoffDelay(attempt, rng)).toBe(ms);
  });

  it.each([
    { why: 'custom base, first retry', attempt: 1, rng: low, b: { baseMs: 1_000, maxMs: 60_000 }, ms: 500 },
    { why: 'custom base, fourth retry', attempt: 4, rng: high, b: { baseMs: 1_000, maxMs: 60_000 }, ms: 8_000 },
    { why: 'a cap below base wins', attempt: 1, rng: high, b: { baseMs: 1_000, maxMs: 300 }, ms: 300 },
    { why: 'the result is rounded to whole milliseconds', attempt: 1, rng: () => 0.333, b: { baseMs: 3, maxMs: 100 }, ms: 2 },
  ])('$why', ({ attempt, rng, b, ms }) => {
    expect(backoffDelay(attempt, rng, b)).toBe(ms);
  });

  it('grows exponentially until the cap, never shrinking', () => {
    const ceilings = Array.from({ length: 8 }, (_, i) => backoffDelay(i + 1, high));
    expect(ceilings).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
  });

  it('never falls below half the ceiling nor above it, whatever the rng', () => {
    for (let attempt = 1; attempt <= 10; attempt++)
      for (const r of [0, 0.1, 0.5, 0.9, 0.999999]) {
        const d = backoffDelay(attempt, () => r);
        const ceiling = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.baseMs * 2 ** (attempt - 1));
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
  });

  it('the defaults are 100 ms base and 1 s cap, so a watch resumes within about a second of Consul returning', () => {
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 100, maxMs: 1_000 });
  });

  it('answers that need a new token back off from 1 s to 5 s', () => {
    expect(AUTH_BACKOFF).toEqual({ baseMs: 1_000, maxMs: 5_000 });
    expect(backoffDelay(10, high, AUTH_BACKOFF)).toBe(5_000);
  });
});
