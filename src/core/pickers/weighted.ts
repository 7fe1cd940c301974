// Weighted round-robin by earliest deadline first, the scheduler Envoy uses for weighted hosts.
//
// Upstream i with weight w_i is due at times 1/w_i, 2/w_i, 3/w_i, ...; each pick takes the
// upstream whose next due time is earliest (ties to the lower index) and moves it on by 1/w_i.
// Over every cycle of W = Σw picks, upstream i is chosen exactly w_i times, and its picks are
// spread through the cycle (1:2:3 gives C B C A B C), never bunched as naive WRR bunches them.
// Due times are compared as exact integer cross products (k_a·w_b vs k_b·w_a), so there is no
// floating-point drift; at the end of each cycle the schedule is back where it began and resets.
//
// Cost: O(log n) per pick (a binary heap), O(n) per rebuild.

import type { Upstream } from '../upstream.js';
import { EMPTY_PICKER, type Picker } from './picker.js';

export function weighted(upstreams: readonly Upstream[]): Picker {
  const n = upstreams.length;
  if (n === 0) return EMPTY_PICKER;
  if (n === 1) return { pick: () => upstreams[0] };

  const weight = upstreams.map((u) => Math.max(1, Math.floor(u.weight)));
  const total = weight.reduce((a, b) => a + b, 0);
  // next[i]: how many picks of i are due, counting its next one (its due time is next[i] / w_i).
  const next = new Float64Array(n);
  const heap = new Int32Array(n);
  let picksInCycle = 0;

  // a before b when a is due earlier, or equally due and listed first.
  const before = (a: number, b: number): boolean => {
    const lhs = next[a]! * weight[b]!;
    const rhs = next[b]! * weight[a]!;
    return lhs < rhs || (lhs === rhs && a < b);
  };

  const siftDown = (at: number): void => {
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
    next.fill(1);
    for (let i = 0; i < n; i++) heap[i] = i;
    for (let i = (n >> 1) - 1; i >= 0; i--) siftDown(i);
    picksInCycle = 0;
  };
  reset();

  return {
    pick() {
      const i = heap[0]!;
      next[i]! += 1;
      siftDown(0);
      if (++picksInCycle === total) reset();
      return upstreams[i];
    },
  };
}
