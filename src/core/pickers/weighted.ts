// Weighted round-robin by earliest deadline first, as Envoy schedules weighted hosts.
//
// Upstream i with weight w_i is due at the midpoints (k - 1/2) / w_i, k = 1, 2, 3, ...; each
// pick takes the upstream due earliest (ties to the lower index) and moves it to its next due
// time. Over every cycle of W = Σw picks, upstream i is chosen exactly w_i times (its due times
// below 1 are exactly k = 1..w_i), and its picks spread through the cycle: 1:2:3 gives
// C B A C B C, and 5:1:1 gives A A A B C A A rather than five A's in a row. Due times are
// kept as doubles (2k - 1) / 2w: equal fractions divide to equal doubles, and distinct ones with
// weights below a million differ far above double precision, so ties and order are exact; at the
// end of each cycle the schedule is back where it began and resets.
//
// When the cycle is short (Σw <= 65,536) the whole cycle is computed at rebuild and a pick just
// reads the next entry; otherwise the heap runs live.
//
// Cost: O(1) per pick for short cycles, else O(log n) (a binary heap); O(n + min(Σw, 65,536)
// · log n) per rebuild.

import type { Upstream } from '../upstream.js';
import { EMPTY_PICKER, type Picker } from './picker.js';

const PRECOMPUTE_LIMIT = 65_536;

export function weighted(upstreams: readonly Upstream[]): Picker {
  const n = upstreams.length;
  if (n === 0) return EMPTY_PICKER;
  if (n === 1) return { pick: () => upstreams[0] };
  const weights = upstreams.map((u) => Math.max(1, Math.floor(u.weight)));
  const total = weights.reduce((a, b) => a + b, 0);
  const next = edfSchedule(weights);
  if (total > PRECOMPUTE_LIMIT) return { pick: () => upstreams[next()] };
  const cycle = new Uint32Array(total);
  for (let j = 0; j < total; j++) cycle[j] = next();
  let at = 0;
  return {
    pick() {
      const u = upstreams[cycle[at]!];
      at = at + 1 === total ? 0 : at + 1;
      return u;
    },
  };
}

/** The EDF schedule over `weights`: each call returns the index of the next upstream. */
function edfSchedule(weights: readonly number[]): () => number {
  const n = weights.length;
  const total = weights.reduce((a, b) => a + b, 0);
  const k = new Float64Array(n);
  const due = new Float64Array(n);
  const heap = new Int32Array(n);
  let picksInCycle = 0;

  // a before b when a is due earlier, or equally due and listed first.
  const before = (a: number, b: number): boolean => due[a]! < due[b]! || (due[a] === due[b] && a < b);

  const siftDown = (from: number): void => {
    let at = from;
    const item = heap[at]!;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, item)) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = item;
  };

  const reset = (): void => {
    for (let i = 0; i < n; i++) {
      k[i] = 1;
      due[i] = 1 / (2 * weights[i]!);
      heap[i] = i;
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(i);
    picksInCycle = 0;
  };
  reset();

  return () => {
    const i = heap[0]!;
    k[i]! += 1;
    due[i] = (2 * k[i]! - 1) / (2 * weights[i]!);
    siftDown(0);
    if (++picksInCycle === total) reset();
    return i;
  };
}
