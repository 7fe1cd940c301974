// Consistent hashing on a ring (Karger et al., "Consistent Hashing and Random Trees", 1997):
// each upstream owns points on a 32-bit ring, in number proportional to its weight; a request's
// key hash goes to the owner of the first point at or after it. When one of N upstreams leaves
// or joins, only the keys on its arcs move: about 1/N of them. A request without a key (no such
// header or cookie) goes to a random upstream.
//
// Points per upstream: `unit` × its weight, where unit is 160 while the ring (unit × Σw) fits in
// 100,000 points and halves each time it would not; the ring so stays small enough to rebuild in
// milliseconds at 10,000 instances (10 points each then: shares spread wider than with 160).
// Points are derived from the upstream's id and address by integer mixing, so each upstream's
// points depend only on them, its weight and the unit. A change therefore moves only the keys of the
// instance that changed, except when it takes Σw across one of the unit's halving steps: then
// every instance's point count changes once, and more keys move.
// A 65,536-entry index of where each top-16-bit prefix starts on the ring turns the lookup
// into a short forward scan instead of a binary search over the whole ring.
//
// Cost: O(1) expected per pick (index, then ~p/65,536 + 1 comparisons), O(p log p) per rebuild.

import { statsKey, type Upstream } from '../upstream.js';
import { fmix32, hashString } from './hash.js';
import { EMPTY_PICKER, randomIndex, type Picker, type PickerDeps } from './picker.js';

const POINTS_PER_WEIGHT = 160;
const MAX_POINTS = 100_000;
const INDEX_BITS = 16;

export function consistentHash(upstreams: readonly Upstream[], deps: PickerDeps): Picker {
  const n = upstreams.length;
  if (n === 0) return EMPTY_PICKER;
  const { rng } = deps;
  if (n === 1) return { pick: () => upstreams[0] };

  const weightSum = upstreams.reduce((sum, u) => sum + u.weight, 0);
  let unit = POINTS_PER_WEIGHT;
  while (unit * weightSum > MAX_POINTS && unit > 1 / 1024) unit /= 2;
  const counts = upstreams.map((u) => Math.max(1, Math.round(unit * u.weight)));
  const total = counts.reduce((a, b) => a + b, 0);

  // Each point packed as hash * 2^21 + owner index in one float64 (exact below 2^53), so one
  // typed-array sort orders points and carries their owners; ties resolve by owner index.
  if (n >= 2 ** 21) throw new RangeError('consistent-hash supports up to 2,097,151 upstreams');
  const packed = new Float64Array(total);
  let k = 0;
  for (let i = 0; i < n; i++) {
    // Seeded by id *and* address: Consul IDs are unique per agent only, and often repeat
    // across nodes (they default to the service name).
    const u = upstreams[i]!;
    const seed = hashString(statsKey(u.id, u.host, u.port));
    for (let v = 0; v < counts[i]!; v++) packed[k++] = fmix32(seed ^ Math.imul(v + 1, 0x9e3779b1)) * 2_097_152 + i;
  }
  packed.sort();
  const points = new Uint32Array(total);
  const owners = new Uint32Array(total);
  for (let p = 0; p < total; p++) {
    const x = packed[p]!;
    owners[p] = x % 2_097_152;
    points[p] = (x - owners[p]!) / 2_097_152;
  }

  // index[b] = first ring position whose point has top bits >= b (total when none).
  const index = new Uint32Array((1 << INDEX_BITS) + 1);
  let at = 0;
  for (let b = 0; b <= 1 << INDEX_BITS; b++) {
    while (at < total && points[at]! >>> (32 - INDEX_BITS) < b) at++;
    index[b] = at;
  }

  return {
    pick(hash?: number) {
      if (hash === undefined) return upstreams[randomIndex(rng, n)];
      // First point >= hash, wrapping to the start of the ring.
      let p = index[hash >>> (32 - INDEX_BITS)]!;
      while (p < total && points[p]! < hash) p++;
      return upstreams[owners[p === total ? 0 : p]!];
    },
  };
}
