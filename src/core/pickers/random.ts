// Random: a uniform choice, ignoring weights. Keeps no state, so many proxies in front of the
// same fleet never fall into step with each other the way round-robin can.
// Cost: O(1) per pick, O(1) per rebuild.

import type { Upstream } from '../upstream.js';
import { EMPTY_PICKER, type Picker, type Rng } from './picker.js';

export function random(upstreams: readonly Upstream[], rng: Rng): Picker {
  const n = upstreams.length;
  if (n === 0) return EMPTY_PICKER;
  return { pick: () => upstreams[Math.min(n - 1, Math.floor(rng() * n))] };
}
