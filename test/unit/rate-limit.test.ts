// RateLimiter: GCRA token buckets per key, the clock a plain number passed in; its parsers, its
// exact edges, LRU-bounded memory under key flooding, and the RateLimit headers it answers with.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { parseRate, parseRateKey, rateLimitHeaders, RateLimiter, type RateLimitSettings } from '../../src/core/policy/rate-limit.js';

/** A limiter for `rate` as written and `burst`, keyed by ip, at `share`. */
function limiter(rate: string, burst: number, o: { share?: number; maxKeys?: number } = {}): RateLimiter {
  const l = new RateLimiter({ rate: parseRate(rate)!, burst, by: { kind: 'ip' } }, { maxKeys: o.maxKeys });
  if (o.share !== undefined) l.share = o.share;
  return l;
}

/** How many takes in a row pass for `key` at `now` before the first refusal (at most 100 000). */
function passing(l: RateLimiter, key: string, now: number): number {
  let n = 0;
  while (n < 100_000 && l.take(key, now).allowed) n++;
  return n;
}

/** The JS heap in use plus typed-array storage (kept outside the heap, so not in heapUsed). */
function heapBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Node's gc(), exposed at run time when the process was not started with --expose-gc. */
function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('parseRate', () => {
  it.each([
    { why: '100/s is 100 per 1 000 ms', text: '100/s', tokens: 100, perMs: 1_000 },
    { why: '5/m is 5 per 60 000 ms', text: '5/m', tokens: 5, perMs: 60_000 },
    { why: '1000/h is 1 000 per 3 600 000 ms', text: '1000/h', tokens: 1_000, perMs: 3_600_000 },
    { why: '20/d is 20 per day: daily quotas are a common way to state a limit', text: '20/d', tokens: 20, perMs: 86_400_000 },
    { why: 'a decimal count is fine: 0.5/s', text: '0.5/s', tokens: 0.5, perMs: 1_000 },
    { why: 'a decimal count above one is fine: 2.5/m', text: '2.5/m', tokens: 2.5, perMs: 60_000 },
    { why: '1000000/s, one a microsecond, is the fastest rate', text: '1000000/s', tokens: 1_000_000, perMs: 1_000 },
    { why: '1.2/d, one every 20 hours, is slow but fine', text: '1.2/d', tokens: 1.2, perMs: 86_400_000 },
  ])('$why', ({ text, tokens, perMs }) => {
    expect(parseRate(text)).toEqual({ tokens, perMs, text });
  });

  it.each([
    { why: 'a count in words is not a rate', text: 'ten/s' },
    { why: 'zero is no rate (deny the route instead)', text: '0/s' },
    { why: 'zero written with a point is still zero', text: '0.0/s' },
    { why: 'a negative count is refused', text: '-1/s' },
    { why: 'a plus sign is refused', text: '+1/s' },
    { why: 'an unknown unit is refused', text: '5/x' },
    { why: 'a unit spelled out is refused', text: '5/sec' },
    { why: 'upper-case units are refused, as durations refuse them', text: '5/S' },
    { why: 'a bare number has no unit', text: '5' },
    { why: 'a unit without a count is refused', text: '/s' },
    { why: 'a count without a unit is refused', text: '5/' },
    { why: 'a leading space is refused', text: ' 5/s' },
    { why: 'a trailing space is refused', text: '5/s ' },
    { why: 'a space before the slash is refused', text: '5 /s' },
    { why: 'a point needs a digit before it', text: '.5/s' },
    { why: 'a point needs a digit after it', text: '5./s' },
    { why: 'exponents are refused', text: '1e3/s' },
    { why: 'thousands separators are refused', text: '1,000/s' },
    { why: 'the empty string is refused', text: '' },
    { why: 'faster than one a microsecond is refused: time is kept in whole microseconds', text: '1000001/s' },
    { why: 'slower than one a year is refused', text: '0.001/d' },
  ])('$why: $text', ({ text }) => {
    expect(parseRate(text)).toBeUndefined();
  });
});

describe('parseRateKey', () => {
  it.each([
    { why: 'ip keys by client address', text: 'ip', key: { kind: 'ip' } },
    { why: 'route keys the whole route as one bucket', text: 'route', key: { kind: 'route' } },
    { why: 'header:NAME keys by that header, its name lower-cased', text: 'header:X-Api-Key', key: { kind: 'header', name: 'x-api-key' } },
    { why: 'a header name may hold any token character', text: 'header:x_tenant.id~1', key: { kind: 'header', name: 'x_tenant.id~1' } },
  ])('$why', ({ text, key }) => {
    expect(parseRateKey(text)).toEqual(key);
  });

  it.each([
    { why: 'IP in capitals is refused', text: 'IP' },
    { why: 'Route in capitals is refused', text: 'Route' },
    { why: 'Header: in capitals is refused', text: 'Header:x' },
    { why: 'header without a name is refused', text: 'header' },
    { why: 'header: with an empty name is refused', text: 'header:' },
    { why: 'a space before the name is refused', text: 'header: x' },
    { why: 'a space inside the name is refused', text: 'header:X Api' },
    { why: 'a colon inside the name is refused', text: 'header:a:b' },
    { why: 'a non-ASCII name is refused', text: 'header:é' },
    { why: 'an unknown kind is refused', text: 'cookie:session' },
    { why: 'surrounding spaces are refused', text: ' ip ' },
    { why: 'the empty string is refused', text: '' },
  ])('$why: "$text"', ({ text }) => {
    expect(parseRateKey(text)).toBeUndefined();
  });
});

describe('RateLimiter: settings', () => {
  it('keeps the settings object it was given, so a route table can compare them', () => {
    const settings: RateLimitSettings = { rate: parseRate('10/s')!, burst: 5, by: { kind: 'route' } };
    expect(new RateLimiter(settings).settings).toBe(settings);
  });

  it.each([
    { why: 'a burst of 0 is refused', burst: 0, maxKeys: undefined },
    { why: 'a fractional burst is refused', burst: 1.5, maxKeys: undefined },
    { why: 'a negative burst is refused', burst: -1, maxKeys: undefined },
    { why: 'maxKeys 0 is refused', burst: 1, maxKeys: 0 },
    { why: 'a fractional maxKeys is refused', burst: 1, maxKeys: 2.5 },
  ])('$why', ({ burst, maxKeys }) => {
    expect(() => limiter('1/s', burst, { maxKeys })).toThrow(RangeError);
  });

  it.each([
    { why: 'a share of 0 is refused', share: 0 },
    { why: 'a negative share is refused', share: -0.5 },
    { why: 'a share above 1 is refused', share: 1.5 },
    { why: 'NaN is refused', share: Number.NaN },
  ])('$why', ({ share }) => {
    const l = limiter('1/s', 1);
    expect(() => (l.share = share)).toThrow(RangeError);
    expect(l.share).toBe(1);
  });
});

describe('RateLimiter: burst, then refusal', () => {
  it('100/s burst 200: a new key passes 200 at once, counting remaining down from 199 to 0, then is refused', () => {
    const l = limiter('100/s', 200);
    const remaining = Array.from({ length: 200 }, () => l.take('a', 0)).map((d) => (d.allowed ? d.remaining : -1));
    expect(remaining).toEqual(Array.from({ length: 200 }, (_, i) => 199 - i));
    expect(l.take('a', 0)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 10, resetMs: 2_000, limit: 200 });
  });

  it('a refused take spends nothing: after 50 refusals one token still comes back 10 ms later', () => {
    const l = limiter('100/s', 200);
    expect(passing(l, 'a', 0)).toBe(200);
    for (let i = 0; i < 50; i++) expect(l.take('a', 5).allowed).toBe(false);
    expect(passing(l, 'a', 10)).toBe(1);
  });

  it('an empty key (by: route, or an absent header) is a bucket like any other', () => {
    const l = limiter('1/s', 2);
    expect(passing(l, '', 0)).toBe(2);
    expect(l.size).toBe(1);
  });
});

/** [time, 'pass'] or [time, retryAfterMs of a refusal]. */
type Step = readonly [number, 'pass' | number];

describe('RateLimiter: exact edges', () => {
  it.each([
    { why: '5/m burst 1: passes at 0, at 11 999 ms is refused with exactly 1 ms to wait, passes at 12 000', rate: '5/m', burst: 1, steps: [[0, 'pass'], [11_999, 1], [12_000, 'pass']] },
    { why: '5/m burst 1: 1 ms after a pass the wait is 11 999 ms', rate: '5/m', burst: 1, steps: [[0, 'pass'], [1, 11_999], [12_000, 'pass'], [12_001, 11_999]] },
    { why: '0.5/s burst 1: one every 2 s exactly, never a millisecond sooner', rate: '0.5/s', burst: 1, steps: [[0, 'pass'], [1_999, 1], [2_000, 'pass'], [3_999, 1], [4_000, 'pass']] },
    { why: '1/h burst 1: the second request waits the whole hour, to the millisecond', rate: '1/h', burst: 1, steps: [[0, 'pass'], [1, 3_599_999], [3_599_999, 1], [3_600_000, 'pass']] },
    { why: '20/d burst 1: one each 72 minutes', rate: '20/d', burst: 1, steps: [[0, 'pass'], [4_319_999, 1], [4_320_000, 'pass']] },
    { why: '100/s burst 200: after the burst one more passes at 10 ms, and the next waits 10 ms more', rate: '100/s', burst: 200, steps: [[0, 'pass'], [10, 'pass'], [10, 10]], spend: 199 },
    { why: '100/s burst 200: a token earned stays earned: nothing at 9 ms, one at 10 ms', rate: '100/s', burst: 200, steps: [[9, 1], [10, 'pass'], [10, 10]], spend: 200 },
    { why: '3/s burst 1 (333 333.3 µs a token, kept as 333 333): refused at 333 ms with 0.333 ms to wait, passes at 333.333 ms', rate: '3/s', burst: 1, steps: [[0, 'pass'], [333, 0.333], [333.333, 'pass']] },
    { why: 'a fractional clock counts to the microsecond: 1/s burst 1 from 0.25 ms waits 0.001 ms at 1 000.249 and passes at 1 000.25', rate: '1/s', burst: 1, steps: [[0.25, 'pass'], [1_000.249, 0.001], [1_000.25, 'pass']] },
    { why: '5/s at share 5/6: a token every 240 ms exactly (the quotient 239 999.999 999 999 97 µs is taken as 240 000)', rate: '5/s', burst: 1, share: 5 / 6, steps: [[0, 'pass'], [239, 1], [240, 'pass']] },
    { why: '100/s at share 0.5: a token every 20 ms', rate: '100/s', burst: 1, share: 0.5, steps: [[0, 'pass'], [19, 1], [20, 'pass']] },
  ] as Array<{ why: string; rate: string; burst: number; steps: Step[]; spend?: number; share?: number }>)('$why', ({ rate, burst, steps, spend = 0, share = 1 }) => {
    const l = limiter(rate, burst, { share });
    for (let i = 0; i < spend; i++) expect(l.take('a', 0).allowed).toBe(true);
    const got = steps.map(([at]): Step => {
      const d = l.take('a', at);
      return [at, d.allowed ? 'pass' : d.retryAfterMs];
    });
    expect(got).toEqual(steps);
  });

  it.each([
    { why: '3/s burst 3: three pass and the fourth is refused in each of 10 000 whole seconds in a row', rate: '3/s', burst: 3, share: 1, everyMs: 1_000, n: 3 },
    { why: '7/m burst 7: seven per whole minute for 10 000 minutes', rate: '7/m', burst: 7, share: 1, everyMs: 60_000, n: 7 },
    { why: '10/s burst 10 at share 0.3: three per whole second', rate: '10/s', burst: 10, share: 0.3, everyMs: 1_000, n: 3 },
    { why: '5/s burst 6 at share 5/6: five every 1.2 s', rate: '5/s', burst: 6, share: 5 / 6, everyMs: 1_200, n: 5 },
  ])('no drift: $why', ({ rate, burst, share, everyMs, n }) => {
    const l = limiter(rate, burst, { share });
    const counts = new Map<number, number>();
    for (let k = 0; k < 10_000; k++) {
      const c = passing(l, 'a', k * everyMs);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect([...counts]).toEqual([[n, 10_000]]);
  });
});

describe('RateLimiter: remaining and reset', () => {
  it.each([
    { why: 'a new key at 100/s burst 200, after one take: 199 left, full again in 10 ms', spend: 0, at: 0, remaining: 199, resetMs: 10 },
    { why: 'the last of the burst at once: 0 left, full again in 2 s', spend: 199, at: 0, remaining: 0, resetMs: 2_000 },
    { why: 'half a second after the whole burst, a take finds 50 and leaves 49, full again in 1.51 s', spend: 200, at: 500, remaining: 49, resetMs: 1_510 },
    { why: 'remaining is floored: 5 ms after a take the half-earned token does not count', spend: 200, at: 1_995, remaining: 198, resetMs: 15 },
    { why: 'two seconds after the whole burst the bucket is full: 199 left after one', spend: 200, at: 2_000, remaining: 199, resetMs: 10 },
    { why: 'long after, still only a full bucket: 199 left after one', spend: 200, at: 1e9, remaining: 199, resetMs: 10 },
  ])('$why', ({ spend, at, remaining, resetMs }) => {
    const l = limiter('100/s', 200);
    for (let i = 0; i < spend; i++) l.take('a', 0);
    const d = l.take('a', at);
    expect({ allowed: d.allowed, remaining: d.remaining, resetMs: d.resetMs }).toEqual({ allowed: true, remaining, resetMs });
  });

  it('keys are independent: one spent key leaves another full', () => {
    const l = limiter('100/s', 200);
    expect(passing(l, '192.0.2.1', 0)).toBe(200);
    expect(passing(l, '192.0.2.2', 0)).toBe(200);
    expect(l.take('192.0.2.1', 0).allowed).toBe(false);
    expect(l.size).toBe(2);
  });
});

describe('RateLimiter: share', () => {
  it('share 0.5 halves burst and rate: 100 at once, then one per 20 ms', () => {
    const l = limiter('100/s', 200, { share: 0.5 });
    expect(passing(l, 'a', 0)).toBe(100);
    expect(l.take('a', 19)).toMatchObject({ allowed: false, retryAfterMs: 1, limit: 100 });
    expect(passing(l, 'a', 20)).toBe(1);
  });

  it('a new share keeps every key, and each key its fraction of the bucket spent', () => {
    const l = limiter('100/s', 200);
    expect(passing(l, 'spent', 0)).toBe(200);
    for (let i = 0; i < 100; i++) l.take('spent-half', 0);
    l.share = 0.5;
    expect(l.size).toBe(2);
    // Half of 200 was spent: half of 100 is left (50, so 49 after the peeked request).
    expect(l.peek('spent-half', 0)).toMatchObject({ allowed: true, remaining: 49, limit: 100 });
    expect(l.peek('spent', 0).allowed).toBe(false);
    l.share = 1;
    expect(l.peek('spent-half', 0)).toMatchObject({ allowed: true, remaining: 99, limit: 200 });
  });

  it('burst × share below 1 still lets one request through at a time, at rate × share', () => {
    const l = limiter('4/s', 1, { share: 0.25 });
    expect(passing(l, 'a', 0)).toBe(1);
    expect(l.take('a', 999)).toMatchObject({ allowed: false, retryAfterMs: 1, limit: 1 });
    expect(passing(l, 'a', 1_000)).toBe(1);
  });
});

describe('RateLimiter: peek', () => {
  it('peek takes nothing: a thousand peeks leave the whole burst', () => {
    const l = limiter('100/s', 200);
    for (let i = 0; i < 1_000; i++) l.peek('a', 0);
    expect(passing(l, 'a', 0)).toBe(200);
  });

  it('peek on an unknown key tracks nothing', () => {
    const l = limiter('100/s', 200);
    expect(l.peek('a', 0)).toEqual({ allowed: true, remaining: 199, retryAfterMs: 0, resetMs: 10, limit: 200 });
    expect(l.size).toBe(0);
  });

  it.each([
    { why: 'peek on a fresh key says what its first take says', spend: 0, at: 0 },
    { why: 'peek on a half-spent key says what its next take says', spend: 100, at: 250 },
    { why: 'peek on a spent key gives the same refusal and wait as the take', spend: 200, at: 3 },
  ])('$why', ({ spend, at }) => {
    const l = limiter('100/s', 200);
    for (let i = 0; i < spend; i++) l.take('a', 0);
    expect(l.peek('a', at)).toEqual(l.take('a', at));
  });
});

describe('RateLimiter: bounded keys', () => {
  it('at maxKeys a new key evicts the least recently used one; a recent take (even refused) keeps a key, a peek does not', () => {
    const l = limiter('1/h', 1, { maxKeys: 3 });
    for (const [i, key] of ['a', 'b', 'c'].entries()) expect(l.take(key, i).allowed).toBe(true);
    expect(l.take('a', 3).allowed).toBe(false); // a is now the most recent
    l.peek('b', 4); // b stays the least recent
    expect(l.take('d', 5).allowed).toBe(true);
    expect([l.size, l.evictions]).toEqual([3, 1]);
    // b was evicted: it is a new, full bucket again (the cost of eviction); a kept its state.
    expect(l.take('b', 6).allowed).toBe(true);
    expect(l.take('a', 7)).toMatchObject({ allowed: false, retryAfterMs: 3_600_000 - 7 });
    expect(l.size).toBe(3);
  });

  it('keys whose buckets are full again are dropped, two per new key, before anything in debt is evicted', () => {
    const l = limiter('1/s', 1, { maxKeys: 5 });
    for (let i = 0; i < 5; i++) l.take(`old${i}`, 0);
    l.take('new1', 1_000);
    expect(l.size).toBe(4); // old0, old1 dropped
    l.take('new2', 1_000);
    expect(l.size).toBe(3); // old2, old3 dropped
    expect(l.evictions).toBe(0);
    expect(l.peek('old4', 1_000).remaining).toBe(0); // old4 is still tracked (but full: 0 left after one)
  });

  it('1 000 distinct keys at one instant through maxKeys 10 leave exactly 10, the last ten', () => {
    const l = limiter('1/h', 1, { maxKeys: 10 });
    for (let i = 0; i < 1_000; i++) l.take(`k${i}`, 0);
    expect([l.size, l.evictions]).toEqual([10, 990]);
    expect(l.take('k990', 0).allowed).toBe(false);
    expect(l.take('k989', 0).allowed).toBe(true);
  });

  it('200 000 keys 1 µs apart at 100/s burst 200 (each full again 10 ms later) keep only the last 10 ms of keys', () => {
    const l = limiter('100/s', 200);
    let most = 0;
    for (let i = 0; i < 200_000; i++) {
      l.take(`k${i}`, i / 1_000);
      most = Math.max(most, l.size);
    }
    expect([most, l.size, l.evictions]).toEqual([10_000, 10_000, 0]);
  });

  // The bound: 100 000 keys of 8 to 11 characters measured 13.3 MiB here (string, Map entry,
  // slot arrays); 1 000 000 kept would cost ten times that. 32 MiB leaves room for V8's variance.
  it('1 000 000 distinct IPv4 addresses at one instant leave 100 000 keys and grow the heap by less than 32 MiB', () => {
    const gc = collector();
    const l = limiter('100/s', 200);
    gc();
    const before = heapBytes();
    for (let i = 0; i < 1_000_000; i++) l.take(`10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, 0);
    gc();
    const grown = heapBytes() - before;
    expect([l.size, l.evictions]).toEqual([100_000, 900_000]);
    expect(grown).toBeLessThan(32 * 2 ** 20);
  });
});

describe('rateLimitHeaders', () => {
  it.each([
    {
      why: '100/s burst 200, a first request: 199 left, full in 10 ms (t=1), policy 200 per 2 s',
      rate: '100/s', burst: 200, share: 1, spend: 0, at: 0,
      headers: ['ratelimit-policy', '"default";q=200;w=2', 'ratelimit', '"default";r=199;t=1'],
    },
    {
      why: '100/s burst 200, a request past the burst: refused, 10 ms to wait rounds up to 1 s in both t and retry-after',
      rate: '100/s', burst: 200, share: 1, spend: 200, at: 0,
      headers: ['ratelimit-policy', '"default";q=200;w=2', 'ratelimit', '"default";r=0;t=1', 'retry-after', '1'],
    },
    {
      why: '100/s burst 200, the last of the burst: allowed with 0 left, full again in 2 s',
      rate: '100/s', burst: 200, share: 1, spend: 199, at: 0,
      headers: ['ratelimit-policy', '"default";q=200;w=2', 'ratelimit', '"default";r=0;t=2'],
    },
    {
      why: '5/m burst 1, 1 ms after a pass: 11 999 ms to wait is retry-after 12, policy 1 per 12 s',
      rate: '5/m', burst: 1, share: 1, spend: 1, at: 1,
      headers: ['ratelimit-policy', '"default";q=1;w=12', 'ratelimit', '"default";r=0;t=12', 'retry-after', '12'],
    },
    {
      why: '5/m burst 1, at 11 999 ms: 1 ms to wait is still retry-after 1, never 0',
      rate: '5/m', burst: 1, share: 1, spend: 1, at: 11_999,
      headers: ['ratelimit-policy', '"default";q=1;w=12', 'ratelimit', '"default";r=0;t=1', 'retry-after', '1'],
    },
    {
      why: '1/h burst 3, a first request: 2 left, full in an hour, policy 3 per 3 h',
      rate: '1/h', burst: 3, share: 1, spend: 0, at: 0,
      headers: ['ratelimit-policy', '"default";q=3;w=10800', 'ratelimit', '"default";r=2;t=3600'],
    },
    {
      why: '100/s burst 1: a 10 ms refill rounds the window up to w=1 (understating the rate, on the safe side)',
      rate: '100/s', burst: 1, share: 1, spend: 0, at: 0,
      headers: ['ratelimit-policy', '"default";q=1;w=1', 'ratelimit', '"default";r=0;t=1'],
    },
    {
      why: '0.3/s burst 1: 3.333 333 s a token rounds the window up to 4 s',
      rate: '0.3/s', burst: 1, share: 1, spend: 0, at: 0,
      headers: ['ratelimit-policy', '"default";q=1;w=4', 'ratelimit', '"default";r=0;t=4'],
    },
    {
      why: 'share 0.5 on 100/s burst 200: q=100, and still w=2 (a share never changes the refill time)',
      rate: '100/s', burst: 200, share: 0.5, spend: 0, at: 0,
      headers: ['ratelimit-policy', '"default";q=100;w=2', 'ratelimit', '"default";r=99;t=1'],
    },
  ])('$why', ({ rate, burst, share, spend, at, headers }) => {
    const l = limiter(rate, burst, { share });
    for (let i = 0; i < spend; i++) l.take('a', 0);
    expect(rateLimitHeaders(l, l.take('a', at))).toEqual(headers);
  });

  it('a peek gives the same headers as the take after it', () => {
    const l = limiter('100/s', 200);
    expect(rateLimitHeaders(l, l.peek('a', 0))).toEqual(rateLimitHeaders(l, l.take('a', 0)));
  });
});
