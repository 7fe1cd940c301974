// Least-request by the power of two random choices (Mitzenmacher, "The Power of Two Choices in
// Randomized Load Balancing", 2001): sample two distinct upstreams at random and take the one
// with fewer requests in flight. Nearly as good as scanning all n for the least loaded, and it
// never herds every proxy onto the same momentarily idle instance.
//
// With unequal weights the load compared is (in-flight + 1) / weight, so an instance of weight
// 3 carries about three times the concurrent requests of one of weight 1.
//
// Cost: O(1) per pick, O(n) per rebuild (checking whether weights differ).

import type { Upstream } from '../upstream.js';
import { EMPTY_PICKER, type Picker, type PickerDeps } from './picker.js';
import { twoChoices } from './two-choices.js';

export function leastRequest(upstreams: readonly Upstream[], deps: PickerDeps): Picker {
  const n = upstreams.length;
  if (n === 0) return EMPTY_PICKER;
  if (n === 1) return { pick: () => upstreams[0] };
  const weighted = upstreams.some((u) => u.weight !== upstreams[0]!.weight);
  const load = weighted ? (u: Upstream) => (u.stats.inflight + 1) / u.weight : (u: Upstream) => u.stats.inflight;
  const { rng } = deps;
  const better = (b: Upstream, a: Upstream) => load(b) < load(a);
  return { pick: () => twoChoices(upstreams, rng, better) };
}
