// Peak-EWMA: least expected latency, in the manner of Finagle's and Linkerd's balancers.
//
// Each upstream carries a moving average of its time to response headers that jumps up at once
// to any slower sample ("peak") and decays toward faster ones with a 10 s time constant
// (recordLatency in upstream.ts); between samples the estimate itself decays toward zero. An
// upstream's cost is its estimate times (in-flight + 1), the expected wait of one more request.
// Two random upstreams are compared (power of two choices) and the cheaper wins. A slow
// instance so gets little traffic; with no new samples its estimate keeps decaying, so it is
// tried again and wins back its share once it is fast. An instance with no sample yet borrows
// the estimate of the one it is compared with, which makes the comparison least-request.
//
// Cost: O(1) per pick (two exp()), O(1) per rebuild.

import { decayedLatency, type Upstream } from '../upstream.js';
import { EMPTY_PICKER, type Picker, type PickerDeps } from './picker.js';
import { twoChoices } from './two-choices.js';

/** Estimate used when neither compared instance has a sample yet. */
const DEFAULT_LATENCY_MS = 1;

export function ewma(upstreams: readonly Upstream[], deps: PickerDeps): Picker {
  const n = upstreams.length;
  if (n === 0) return EMPTY_PICKER;
  if (n === 1) return { pick: () => upstreams[0] };
  const { rng, now } = deps;
  let t = 0;
  const better = (b: Upstream, a: Upstream): boolean => {
    let ea = a.stats.ewmaAt === 0 ? undefined : decayedLatency(a.stats, t);
    let eb = b.stats.ewmaAt === 0 ? undefined : decayedLatency(b.stats, t);
    ea ??= eb ?? DEFAULT_LATENCY_MS;
    eb ??= ea;
    return eb * (b.stats.inflight + 1) < ea * (a.stats.inflight + 1);
  };
  return {
    pick() {
      t = now();
      return twoChoices(upstreams, rng, better);
    },
  };
}
