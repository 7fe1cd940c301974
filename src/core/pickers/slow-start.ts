// Slow start: an instance that just joined (or rejoined) a route's rotation ramps from 10 % to
// its full share over the route's `slowStart` window, so a cold cache or a JIT that has not
// warmed up is not handed a full share at once. It wraps any picker: a choice that is ramping
// with factor f in (0.1, 1) is kept with probability f, else the inner picker is asked again
// (at most three times; the last answer stands). The share so drops roughly in proportion to f
// without the inner algorithm knowing.
//
// Cost: O(1) extra per pick (a clock read; nothing at all once every ramp has ended),
// O(n) per rebuild.

import { existingStats, type Upstream } from '../upstream.js';
import type { Picker, PickerDeps } from './picker.js';

const MIN_SHARE = 0.1;
const REPICKS = 3;

/** The share factor of an instance `age` ms into a ramp of `windowMs`. */
export function rampFactor(age: number, windowMs: number): number {
  if (age >= windowMs) return 1;
  return MIN_SHARE + (1 - MIN_SHARE) * Math.max(0, age / windowMs);
}

export function withSlowStart(inner: Picker, upstreams: readonly Upstream[], windowMs: number, deps: PickerDeps): Picker {
  if (windowMs <= 0 || upstreams.length < 2) return inner;
  let rampEnd = Number.NEGATIVE_INFINITY;
  // Instances never used have no stats yet, and so no ramp (joiners are stamped at build).
  for (const u of upstreams) rampEnd = Math.max(rampEnd, (existingStats(u)?.activeSince ?? Number.NEGATIVE_INFINITY) + windowMs);
  if (rampEnd === Number.NEGATIVE_INFINITY || rampEnd <= deps.now()) return inner;
  const { rng, now } = deps;
  return {
    pick(hash?: number) {
      const t = now();
      let u = inner.pick(hash);
      if (t >= rampEnd) return u;
      for (let i = 0; i < REPICKS && u !== undefined; i++) {
        const f = rampFactor(t - u.stats.activeSince, windowMs);
        if (f >= 1 || rng() < f) return u;
        u = inner.pick(hash);
      }
      return u;
    },
  };
}
