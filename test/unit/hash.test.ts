// hashString (FNV-1a over UTF-16 code units, finished by fmix32) and fmix32, against published vectors and a BigInt reference.

import { describe, expect, it } from 'vitest';
import { fmix32, hashString } from '../../src/core/pickers/hash.js';

const M32 = 0xffffffffn;

/** MurmurHash3's fmix32, written from the reference in BigInt arithmetic (no Math.imul). */
function refFmix32(x: number): number {
  let h = BigInt(x >>> 0);
  h ^= h >> 16n;
  h = (h * 0x85ebca6bn) & M32;
  h ^= h >> 13n;
  h = (h * 0xc2b2ae35n) & M32;
  h ^= h >> 16n;
  return Number(h);
}

/** 32-bit FNV-1a over UTF-16 code units, in BigInt arithmetic. */
function refFnv1a(s: string): number {
  let h = 0x811c9dc5n;
  for (let i = 0; i < s.length; i++) h = ((h ^ BigInt(s.charCodeAt(i))) * 0x01000193n) & M32;
  return Number(h);
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v >>>= 1) n += v & 1;
  return n;
}

describe('fmix32', () => {
  // MurmurHash3_x86_32 of the empty input is fmix32(seed): the published vectors for seeds 0, 1 and 0xffffffff.
  it.each([
    { why: '0 maps to 0', x: 0, h: 0 },
    { why: '1 gives MurmurHash3("", seed 1) = 0x514e28b7', x: 1, h: 0x514e28b7 },
    { why: '0xffffffff gives MurmurHash3("", seed 0xffffffff) = 0x81f16f39', x: 0xffffffff, h: 0x81f16f39 },
  ])('$why', ({ x, h }) => {
    expect(fmix32(x)).toBe(h);
  });

  it.each([
    { why: 'a signed int32 input is taken as its unsigned bits', x: -1, same: 0xffffffff },
    { why: 'the most negative int32 equals 2^31', x: -0x80000000, same: 0x80000000 },
  ])('$why', ({ x, same }) => {
    expect(fmix32(x)).toBe(fmix32(same));
  });

  it.each([0x12345678, 0xdeadbeef, 7, 0x80000000, 0x7fffffff])('matches the BigInt reference for %i', (x) => {
    expect(fmix32(x)).toBe(refFmix32(x));
  });

  it('flipping any one input bit flips between 8 and 24 output bits (avalanche)', () => {
    const x = 0x9e3779b9;
    for (let b = 0; b < 32; b++) {
      const d = popcount(fmix32(x) ^ fmix32((x ^ (1 << b)) >>> 0));
      expect(d, `bit ${b}`).toBeGreaterThanOrEqual(8);
      expect(d, `bit ${b}`).toBeLessThanOrEqual(24);
    }
  });
});

describe('hashString', () => {
  // FNV-1a 32-bit published vectors ("" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968), then fmix32.
  it.each([
    { why: 'the empty string finishes the FNV offset basis', s: '', fnv: 0x811c9dc5 },
    { why: '"a" finishes FNV-1a("a")', s: 'a', fnv: 0xe40c292c },
    { why: '"foobar" finishes FNV-1a("foobar")', s: 'foobar', fnv: 0xbf9cf968 },
  ])('$why', ({ s, fnv }) => {
    expect(hashString(s)).toBe(fmix32(fnv));
  });

  it.each([
    { why: 'a typical session id', s: 'sess-3f9a0c' },
    { why: 'an IPv6 address', s: '2001:db8::1' },
    { why: 'a Latin-1 character is one code unit', s: 'café' },
    { why: 'a character above Latin-1 is hashed as its whole UTF-16 code unit', s: '€uro' },
    { why: 'an astral character is hashed as its two surrogate code units', s: 'k🔑' },
    { why: 'a long key', s: 'x'.repeat(1000) },
  ])('matches the BigInt reference: $why', ({ s }) => {
    expect(hashString(s)).toBe(refFmix32(refFnv1a(s)));
  });

  it('is deterministic: the same key always gives the same hash', () => {
    const keys = Array.from({ length: 100 }, (_, k) => `user-${k}`);
    expect(keys.map(hashString)).toEqual(keys.map(hashString));
  });

  it('always gives an unsigned 32-bit integer, using the top bit too', () => {
    const hashes = Array.from({ length: 2_000 }, (_, k) => hashString(`key-${k}`));
    for (const h of hashes) {
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 32);
    }
    expect(hashes.some((h) => h >= 2 ** 31)).toBe(true);
  });

  it.each([
    { a: 'user-1', b: 'user-2' },
    { a: 'user-10', b: 'user-11' },
    { a: 'a', b: 'b' },
    { a: 'sid', b: 'Sid' },
    { a: '10.0.0.1', b: '10.0.0.2' },
    { a: '/cart', b: '/cart/' },
  ])('near-identical keys $a and $b land far apart (at least 8 of 32 bits differ)', ({ a, b }) => {
    expect(popcount(hashString(a) ^ hashString(b))).toBeGreaterThanOrEqual(8);
  });

  it('spreads consecutive keys evenly: each sixteenth of the range gets 625 ± 15% of 10,000 keys', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let k = 0; k < 10_000; k++) buckets[hashString(`user-${k}`) >>> 28]! += 1;
    for (const n of buckets) {
      expect(n).toBeGreaterThan(625 * 0.85);
      expect(n).toBeLessThan(625 * 1.15);
    }
  });
});
