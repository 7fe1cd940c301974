// Round-robin: each upstream in turn, ignoring weights.
// Cost: O(1) per pick, O(1) per rebuild. The rotation restarts when the upstream set changes.

import type { Upstream } from '../upstream.js';
import { EMPTY_PICKER, type Picker } from './picker.js';

export function roundRobin(upstreams: readonly Upstream[]): Picker {
  const n = upstreams.length;
  if (n === 0) return EMPTY_PICKER;
  let next = 0;
  return {
    pick() {
      const u = upstreams[next]!;
      next = next + 1 === n ? 0 : next + 1;
      return u;
    },
  };
}
