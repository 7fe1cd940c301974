// Random: a uniform choice, ignoring weights. Keeps no state, so many proxies in front of the
// same fleet never fall into step with each other the way round-robin can.
// Cost: O(1) per pick, O(1) per rebuild.

import type { Upstream } from '../upstream.js';
import { EMPTY_PICKER, randomIndex, type Picker, type PickerDeps } from './picker.js';

export function random(upstreams: readonly Upstream[], deps: PickerDeps): Picker {
  const n = upstreams.length;
  if (n === 0) return EMPTY_PICKER;
  const { rng } = deps;
  return { pick: () => upstreams[randomIndex(rng, n)] };
}
