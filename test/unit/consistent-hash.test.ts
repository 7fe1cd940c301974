// The consistent-hash ring picker: stable key → upstream mapping, minimal remapping on membership change, weights, order independence.

import { describe, expect, it } from 'vitest';
import { consistentHash } from '../../src/core/pickers/consistent-hash.js';
import { hashString } from '../../src/core/pickers/hash.js';
import type { Picker } from '../../src/core/pickers/picker.js';
import type { Upstream } from '../../src/core/upstream.js';
import { depsOf, noRng, rngOf, upstream } from './helpers.js';

const KEYS = Array.from({ length: 10_000 }, (_, k) => hashString(`user-${k}`));

/** Upstreams 'i0'..'i{n-1}' with the given weights (default 1 each). */
function ring(n: number, weight: (i: number) => number = () => 1): Upstream[] {
  return Array.from({ length: n }, (_, i) => upstream(`i${i}`, weight(i), 9000 + i));
}

/** The upstream id each of KEYS maps to. */
function mapping(p: Picker): string[] {
  return KEYS.map((h) => p.pick(h)!.id);
}

const TEN = ring(10);
const BASE = mapping(consistentHash(TEN, depsOf()));

describe('consistentHash: the same key always reaches the same upstream', () => {
  it('repeated picks of one hash give one upstream', () => {
    const p = consistentHash(TEN, depsOf());
    const h = hashString('user-42');
    const first = p.pick(h)!.id;
    for (let k = 0; k < 50; k++) expect(p.pick(h)!.id).toBe(first);
  });

  it('a rebuilt picker over the same upstreams maps every key the same way', () => {
    expect(mapping(consistentHash(ring(10), depsOf()))).toEqual(BASE);
  });

  it('picks with a hash never draw the rng', () => {
    const p = consistentHash(TEN, depsOf(noRng));
    expect(() => KEYS.slice(0, 100).forEach((h) => p.pick(h))).not.toThrow();
  });

  it.each([
    { why: 'hash 0 reaches an upstream', h: 0 },
    { why: 'the largest 32-bit hash reaches an upstream', h: 0xffffffff },
  ])('$why', ({ h }) => {
    expect(TEN).toContain(consistentHash(TEN, depsOf()).pick(h));
  });

  it('a hash beyond the last point wraps to the owner of the first point, the same one hash 0 reaches', () => {
    const p = consistentHash(TEN, depsOf());
    expect(p.pick(0xffffffff)).toBe(p.pick(0));
  });

  it('every upstream of ten owns some keys', () => {
    expect(new Set(BASE).size).toBe(10);
  });

  it('the order of the upstream list does not matter', () => {
    expect(mapping(consistentHash([...TEN].reverse(), depsOf()))).toEqual(BASE);
    const shuffled = [3, 7, 0, 9, 1, 5, 8, 2, 6, 4].map((i) => TEN[i]!);
    expect(mapping(consistentHash(shuffled, depsOf()))).toEqual(BASE);
  });
});

describe('consistentHash: a request without a key goes to a random upstream', () => {
  it.each([
    { why: 'rng 0 gives the first upstream', r: 0, id: 'i0' },
    { why: 'rng 0.55 gives the sixth of ten', r: 0.55, id: 'i5' },
    { why: 'rng 0.99 gives the last', r: 0.99, id: 'i9' },
  ])('$why', ({ r, id }) => {
    expect(consistentHash(TEN, depsOf(rngOf(r))).pick()!.id).toBe(id);
  });

  it('draws the rng once per keyless pick, in order', () => {
    const p = consistentHash(TEN, depsOf(rngOf(0.95, 0.05, 0.35)));
    expect([p.pick()!.id, p.pick()!.id, p.pick()!.id]).toEqual(['i9', 'i0', 'i3']);
  });
});

describe('consistentHash: membership changes move only the keys they must', () => {
  it.each(['i0', 'i3', 'i9'])('removing %s of ten moves 5–15% of keys, and only keys that were on it', (gone) => {
    const after = mapping(consistentHash(TEN.filter((u) => u.id !== gone), depsOf()));
    let moved = 0;
    KEYS.forEach((_, k) => {
      if (after[k] === BASE[k]) return;
      moved++;
      expect(BASE[k]).toBe(gone);
    });
    expect(moved).toBe(BASE.filter((id) => id === gone).length); // every key it held had to move
    expect(moved).toBeGreaterThan(500);
    expect(moved).toBeLessThan(1_500);
    expect(after).not.toContain(gone);
  });

  it('adding the removed upstream back restores the original mapping exactly', () => {
    const nine = TEN.filter((u) => u.id !== 'i3');
    expect(mapping(consistentHash(nine, depsOf()))).not.toEqual(BASE);
    expect(mapping(consistentHash([...nine, TEN[3]!], depsOf()))).toEqual(BASE);
  });

  it('adding an eleventh upstream moves keys only onto it', () => {
    const after = mapping(consistentHash([...TEN, upstream('i10', 1, 9010)], depsOf()));
    let moved = 0;
    KEYS.forEach((_, k) => {
      if (after[k] === BASE[k]) return;
      moved++;
      expect(after[k]).toBe('i10');
    });
    expect(moved).toBeGreaterThan(10_000 / 11 / 2);
    expect(moved).toBeLessThan((10_000 / 11) * 1.5);
  });

  it('the same id on three addresses (one service ID on three Consul nodes) splits the keys three ways', () => {
    const same = [upstream('web', 1, 9001), upstream('web', 1, 9002), upstream('web', 1, 9003)];
    const p = consistentHash(same, depsOf());
    const ports = new Map<number, number>();
    for (const h of KEYS) {
      const port = p.pick(h)!.port;
      ports.set(port, (ports.get(port) ?? 0) + 1);
    }
    expect([...ports.keys()].sort()).toEqual([9001, 9002, 9003]);
    for (const n of ports.values()) expect(n).toBeGreaterThan(KEYS.length / 5);
  });

  it('an instance that moves to a new address moves only its own keys', () => {
    const moved = TEN.map((u) => (u.id === 'i4' ? upstream('i4', 1, 7777) : u));
    const after = mapping(consistentHash(moved, depsOf()));
    expect(after.every((id, k) => id === BASE[k] || BASE[k] === 'i4' || id === 'i4')).toBe(true);
  });
});

describe('consistentHash: weights', () => {
  it.each([
    { why: '1:3 gives the heavier about 75% of keys', weights: [1, 3], share: [0.25, 0.75] },
    { why: '1:1 gives each about half', weights: [1, 1], share: [0.5, 0.5] },
    { why: '2:1:1 gives the first about half', weights: [2, 1, 1], share: [0.5, 0.25, 0.25] },
  ])('$why (± 5 points over 10,000 keys)', ({ weights, share }) => {
    const ids = mapping(consistentHash(ring(weights.length, (i) => weights[i]!), depsOf()));
    share.forEach((s, i) => {
      const got = ids.filter((id) => id === `i${i}`).length / ids.length;
      expect(got, `i${i}`).toBeGreaterThan(s - 0.05);
      expect(got, `i${i}`).toBeLessThan(s + 0.05);
    });
  });

  it.each([
    { why: 'unequal weights 1:3:1, the third removed', weights: [1, 3, 1], removed: 2 },
    { why: 'one heavy instance among nine light ones, a light one removed', weights: [1, 1, 1, 1, 1, 1, 1, 1, 1, 10], removed: 0 },
  ])('only keys of the removed upstream move while Σw stays in one unit step: $why', ({ weights, removed }) => {
    const all = ring(weights.length, (i) => weights[i]!);
    const before = mapping(consistentHash(all, depsOf()));
    const after = mapping(consistentHash(all.filter((_, i) => i !== removed), depsOf()));
    const gone = `i${removed}`;
    expect(after.every((id, k) => id === before[k] || before[k] === gone)).toBe(true);
  });

  it('weights scaled together keep their shares (10:30 like 1:3)', () => {
    const ids = mapping(consistentHash(ring(2, (i) => [10, 30][i]!), depsOf()));
    const share = ids.filter((id) => id === 'i1').length / ids.length;
    expect(Math.abs(share - 0.75)).toBeLessThan(0.05);
  });
});
