// RetryBudget: retries allowed per sliding 10 s window, ratio × requests + minPerSecond × 10, with time injected.

import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../../src/core/retry-budget.js';

/** How many tryRetry calls in a row succeed at `now` before the first refusal (at most 100 000). */
function allowed(b: RetryBudget, now: number): number {
  let n = 0;
  while (n < 100_000 && b.tryRetry(now)) n++;
  return n;
}

/** A budget with `count` requests recorded at each [time, count] pair. */
function budgetWith(options: { ratio?: number; minPerSecond?: number }, requests: Array<[number, number]> = []): RetryBudget {
  const b = new RetryBudget(options);
  for (const [t, count] of requests) for (let i = 0; i < count; i++) b.onRequest(t);
  return b;
}

describe('RetryBudget: options', () => {
  it.each([
    { why: 'defaults are ratio 0.2 and 5 per second', options: {}, ratio: 0.2, minPerSecond: 5 },
    { why: 'given values are kept', options: { ratio: 0.5, minPerSecond: 0 }, ratio: 0.5, minPerSecond: 0 },
  ])('$why', ({ options, ratio, minPerSecond }) => {
    const b = new RetryBudget(options);
    expect([b.ratio, b.minPerSecond]).toEqual([ratio, minPerSecond]);
  });
});

describe('RetryBudget: retries allowed in one go', () => {
  it.each([
    { why: 'with no requests, exactly minPerSecond × 10 retries (the default 5/s: 50)', options: {}, requests: [], at: 0, n: 50 },
    { why: 'with no requests and minPerSecond 1, exactly 10', options: { minPerSecond: 1 }, requests: [], at: 123_456, n: 10 },
    { why: 'with no requests and minPerSecond 0, none', options: { minPerSecond: 0 }, requests: [], at: 0, n: 0 },
    { why: '1000 requests this second at ratio 0.2 and no floor allow exactly 200', options: { ratio: 0.2, minPerSecond: 0 }, requests: [[500, 1000]], at: 900, n: 200 },
    { why: 'ratio and floor add up: 1000 × 0.2 + 5 × 10 = 250', options: { ratio: 0.2, minPerSecond: 5 }, requests: [[0, 1000]], at: 0, n: 250 },
    { why: 'a ratio of 0 leaves only the floor', options: { ratio: 0, minPerSecond: 2 }, requests: [[0, 1000]], at: 0, n: 20 },
    { why: '4 requests at ratio 0.2 make 0.8 of a retry: none', options: { ratio: 0.2, minPerSecond: 0 }, requests: [[0, 4]], at: 0, n: 0 },
    { why: '5 requests at ratio 0.2 make exactly one retry', options: { ratio: 0.2, minPerSecond: 0 }, requests: [[0, 5]], at: 0, n: 1 },
    {
      why: 'requests spread over ten seconds all count: 100 a second → 200 at the end of the window',
      options: { ratio: 0.2, minPerSecond: 0 },
      requests: Array.from({ length: 10 }, (_, s): [number, number] => [s * 1_000, 100]),
      at: 9_999,
      n: 200,
    },
    { why: 'requests 9 s ago (the oldest second of the window) still count', options: { ratio: 0.2, minPerSecond: 0 }, requests: [[0, 1000]], at: 9_000, n: 200 },
    { why: 'requests 9.999 s ago, in the same second, still count', options: { ratio: 0.2, minPerSecond: 0 }, requests: [[0, 1000]], at: 9_999, n: 200 },
    { why: 'requests 10 s ago have left the window', options: { ratio: 0.2, minPerSecond: 0 }, requests: [[0, 1000]], at: 10_000, n: 0 },
    { why: 'requests 11 s ago have left the window', options: { ratio: 0.2, minPerSecond: 0 }, requests: [[0, 1000]], at: 11_000, n: 0 },
    { why: 'requests long ago (bucket index reused many times over) have left the window', options: { ratio: 0.2, minPerSecond: 0 }, requests: [[0, 1000]], at: 1_000_000, n: 0 },
    {
      why: 'when the oldest second leaves the window, only the nine others count: 900 → 180',
      options: { ratio: 0.2, minPerSecond: 0 },
      requests: Array.from({ length: 10 }, (_, s): [number, number] => [s * 1_000, 100]),
      at: 10_000,
      n: 180,
    },
  ] as Array<{ why: string; options: { ratio?: number; minPerSecond?: number }; requests: Array<[number, number]>; at: number; n: number }>)(
    '$why',
    ({ options, requests, at, n }) => {
      expect(allowed(budgetWith(options, requests), at)).toBe(n);
    },
  );
});

describe('RetryBudget: retries spend the budget', () => {
  it('tryRetry counts each retry it allows: 4 now leave 6 of a 10-retry floor 5 s later', () => {
    const b = budgetWith({ minPerSecond: 1 });
    for (let i = 0; i < 4; i++) expect(b.tryRetry(0)).toBe(true);
    expect(allowed(b, 5_000)).toBe(6);
  });

  it('a refused tryRetry consumes nothing: 5 more requests allow exactly one more retry', () => {
    const b = budgetWith({ ratio: 0.2, minPerSecond: 0 }, [[0, 5]]);
    expect(b.tryRetry(0)).toBe(true);
    for (let i = 0; i < 10; i++) expect(b.tryRetry(0)).toBe(false);
    for (let i = 0; i < 5; i++) b.onRequest(0);
    expect(allowed(b, 0)).toBe(1);
  });

  it('retries expire with their second: a spent floor is whole again 10 s later, not 9 s later', () => {
    const b = budgetWith({ minPerSecond: 5 });
    expect(allowed(b, 0)).toBe(50);
    expect(allowed(b, 9_999)).toBe(0);
    expect(allowed(b, 10_000)).toBe(50);
  });

  it('retries spent over several seconds all count against the window', () => {
    const b = budgetWith({ minPerSecond: 1 });
    for (const t of [0, 3_000, 6_000]) for (let i = 0; i < 3; i++) expect(b.tryRetry(t)).toBe(true);
    expect(allowed(b, 9_000)).toBe(1);
    // At 10 s the three retries of second 0 leave the window.
    expect(allowed(b, 10_000)).toBe(3);
  });
});
