// recordLatency (peak-EWMA), decayedLatency, newStats and the small naming helpers of upstream.ts.

import { describe, expect, it } from 'vitest';
import { decayedLatency, newStats, originOf, originsInUse, recordLatency, statsKey } from '../../src/core/upstream.js';
import { upstreamWith } from './helpers.js';

describe('recordLatency', () => {
  it('the first sample sets the estimate and its time', () => {
    const s = newStats();
    recordLatency(s, 120, 5_000);
    expect(s).toEqual({ host: '', port: 0, inflight: 0, requests: 0, failures: 0, ewmaMs: 120, ewmaAt: 5_000, activeSince: -Infinity, consecutiveFailures: 0, ejectedUntil: 0, ejections: 0, probation: false, sweep: 0 });
  });

  // Each case: estimate 100 ms at t = 1000, then one sample dt later.
  it.each([
    { why: 'a slower sample replaces the estimate at once (peak)', dt: 1_000, sample: 200, expected: 200 },
    { why: 'a slower sample replaces it even long after', dt: 10_000, sample: 200, expected: 200 },
    { why: 'a slower sample at the same instant still replaces it', dt: 0, sample: 900, expected: 900 },
    { why: 'a faster sample 10 s later blends in with weight 1 - 1/e', dt: 10_000, sample: 50, expected: 100 * Math.exp(-1) + 50 * (1 - Math.exp(-1)) },
    { why: 'a faster sample 1 s later blends in with weight 1 - e^-0.1', dt: 1_000, sample: 0, expected: 100 * Math.exp(-0.1) },
    { why: 'a sample of 0 ms 5 s later leaves 100·e^-0.5', dt: 5_000, sample: 0, expected: 100 * Math.exp(-0.5) },
    { why: 'a faster sample at the same instant changes nothing', dt: 0, sample: 10, expected: 100 },
    { why: 'a faster sample after a long silence all but replaces the estimate', dt: 1_000_000, sample: 30, expected: 30 },
    { why: 'a sample equal to the estimate keeps it', dt: 3_000, sample: 100, expected: 100 },
    { why: 'a faster sample stamped before the last one (clock skew) counts as simultaneous', dt: -500, sample: 10, expected: 100 },
  ])('$why', ({ dt, sample, expected }) => {
    const s = newStats();
    recordLatency(s, 100, 1_000);
    recordLatency(s, sample, 1_000 + dt);
    expect(s.ewmaMs).toBeCloseTo(expected, 9);
    expect(s.ewmaAt).toBe(1_000 + dt);
  });

  it('follows a slowdown at once and a speed-up over seconds, sample after sample', () => {
    const s = newStats();
    recordLatency(s, 100, 1);
    recordLatency(s, 200, 10_001); // peak: 200
    expect(s.ewmaMs).toBe(200);
    recordLatency(s, 50, 20_001); // 200/e + 50(1 - 1/e)
    const third = 200 * Math.exp(-1) + 50 * (1 - Math.exp(-1));
    expect(s.ewmaMs).toBeCloseTo(third, 9);
    recordLatency(s, 20, 25_001); // blended over 5 s
    expect(s.ewmaMs).toBeCloseTo(third * Math.exp(-0.5) + 20 * (1 - Math.exp(-0.5)), 9);
  });

  it('leaves the counters and activeSince alone', () => {
    const s = { ...newStats(), inflight: 2, requests: 9, failures: 1, activeSince: 42 };
    recordLatency(s, 10, 100);
    expect([s.inflight, s.requests, s.failures, s.activeSince]).toEqual([2, 9, 1, 42]);
  });
});

describe('decayedLatency', () => {
  // Each case: estimate 100 ms as of t = 1000.
  it.each([
    { why: 'at the sample time it is the estimate itself', now: 1_000, expected: 100 },
    { why: '10 s later it has decayed by 1/e', now: 11_000, expected: 100 * Math.exp(-1) },
    { why: '20 s later by 1/e²', now: 21_000, expected: 100 * Math.exp(-2) },
    { why: '1 s later by e^-0.1', now: 2_000, expected: 100 * Math.exp(-0.1) },
    { why: 'a clock reading before the sample does not inflate it', now: 500, expected: 100 },
  ])('$why', ({ now, expected }) => {
    const s = { ...newStats(), ewmaMs: 100, ewmaAt: 1_000 };
    expect(decayedLatency(s, now)).toBeCloseTo(expected, 9);
  });

  // Gaps under 10 ms use a series for e^-x; the documented relative error bound is 2e-10.
  it.each([
    { why: '1 ms after the sample', dt: 1 },
    { why: '5 ms after the sample', dt: 5 },
    { why: '9.99 ms after, the longest gap the series covers', dt: 9.99 },
    { why: '10 ms after, the first gap computed with exp()', dt: 10 },
  ])('$why it is e^(-dt/10 s) of the estimate within a relative 2e-10', ({ dt }) => {
    const s = { ...newStats(), ewmaMs: 100, ewmaAt: 1_000 };
    const exact = 100 * Math.exp(-dt / 10_000);
    expect(Math.abs(decayedLatency(s, 1_000 + dt) / exact - 1)).toBeLessThan(2e-10);
  });

  it('decays monotonically across the short-gap shortcut', () => {
    const s = { ...newStats(), ewmaMs: 100, ewmaAt: 1_000 };
    const values = [1_000, 1_001, 1_005, 1_009.9, 1_009.999, 1_010, 1_010.001, 1_011, 1_100].map((t) => decayedLatency(s, t));
    for (let k = 1; k < values.length; k++) expect(values[k]!).toBeLessThan(values[k - 1]!);
  });

  it('an estimate of 0 stays 0', () => {
    expect(decayedLatency({ ...newStats(), ewmaMs: 0, ewmaAt: 1 }, 50_000)).toBe(0);
  });

  it('only reads: the stored estimate and its time are unchanged', () => {
    const s = { ...newStats(), ewmaMs: 100, ewmaAt: 1_000 };
    decayedLatency(s, 30_000);
    expect([s.ewmaMs, s.ewmaAt]).toEqual([100, 1_000]);
  });
});

describe('newStats', () => {
  it('starts at zero, never active, and is a fresh object each time', () => {
    expect(newStats('10.0.0.1', 80)).toEqual({ host: '10.0.0.1', port: 80, inflight: 0, requests: 0, failures: 0, ewmaMs: 0, ewmaAt: 0, activeSince: -Infinity, consecutiveFailures: 0, ejectedUntil: 0, ejections: 0, probation: false, sweep: 0 });
    expect(newStats()).not.toBe(newStats());
  });
});

describe('originOf and statsKey', () => {
  it.each([
    { why: 'IPv4', host: '10.0.0.1', port: 80, origin: 'http://10.0.0.1:80', key: 'web-1@10.0.0.1:80' },
    { why: 'a host name', host: 'web.local', port: 8080, origin: 'http://web.local:8080', key: 'web-1@web.local:8080' },
    { why: 'IPv6 is bracketed', host: '::1', port: 9000, origin: 'http://[::1]:9000', key: 'web-1@[::1]:9000' },
  ])('$why', ({ host, port, origin, key }) => {
    expect(originOf(host, port)).toBe(origin);
    expect(statsKey('web-1', host, port)).toBe(key);
  });
});

describe('originsInUse', () => {
  const at = (host: string, port: number, tls = false) => ({ ...upstreamWith('x'), host, port, tls, origin: originOf(host, port, tls) });
  const open = ['http://10.0.0.1:80', 'https://10.0.0.1:80', 'http://[::1]:9000', 'http://web.local:8080', 'http://10.0.0.2:81'];

  it.each([
    { why: 'an upstream keeps the origin of its address and scheme', upstreams: [at('10.0.0.1', 80)], kept: ['http://10.0.0.1:80'] },
    { why: 'over TLS, the https:// one', upstreams: [at('10.0.0.1', 80, true)], kept: ['https://10.0.0.1:80'] },
    { why: 'IPv6 hosts are matched without brackets', upstreams: [at('::1', 9000)], kept: ['http://[::1]:9000'] },
    { why: 'host names too', upstreams: [at('web.local', 8080)], kept: ['http://web.local:8080'] },
    { why: 'another port of the same host keeps nothing', upstreams: [at('10.0.0.2', 80)], kept: [] },
    { why: 'no upstreams, nothing kept', upstreams: [], kept: [] },
  ])('$why', ({ upstreams, kept }) => {
    expect([...originsInUse(open, upstreams)].sort()).toEqual(kept.sort());
    // The same answer as comparing each upstream's origin string.
    expect([...originsInUse(open, upstreams)].sort()).toEqual(open.filter((o) => upstreams.some((u) => u.origin === o)).sort());
  });
});
