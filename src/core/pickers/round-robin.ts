// Round-robin: each upstream in turn, ignoring weights.
// Cost: O(1) per pick, O(1) per rebuild. The rotation restarts when the upstream set changes.
// A class, not a closure: it is the default, so a table of 10,000 routes holds 10,000 of these,
// and one object costs a third of a closure with its context and wrapper.

import type { Upstream } from '../upstream.js';
import { EMPTY_PICKER, type Picker } from './picker.js';

class RoundRobin implements Picker {
  #next = 0;

  constructor(readonly upstreams: readonly Upstream[]) {}

  pick(): Upstream {
    const u = this.upstreams[this.#next]!;
    this.#next = this.#next + 1 === this.upstreams.length ? 0 : this.#next + 1;
    return u;
  }
}

export function roundRobin(upstreams: readonly Upstream[]): Picker {
  return upstreams.length === 0 ? EMPTY_PICKER : new RoundRobin(upstreams);
}
