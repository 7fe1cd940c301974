// The shared step of the power-of-two-choices pickers: two distinct upstreams drawn uniformly
// at random; `better(b, a)` says whether the second beats the first (ties keep the first).

import type { Upstream } from '../upstream.js';
import { randomIndex, type Rng } from './picker.js';

export function twoChoices(upstreams: readonly Upstream[], rng: Rng, better: (b: Upstream, a: Upstream) => boolean): Upstream {
  const n = upstreams.length;
  const i = randomIndex(rng, n);
  // The second index is drawn from the other n-1, so the two always differ.
  let j = randomIndex(rng, n - 1);
  if (j >= i) j++;
  const a = upstreams[i]!;
  const b = upstreams[j]!;
  return better(b, a) ? b : a;
}
