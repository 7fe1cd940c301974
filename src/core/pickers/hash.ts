// 32-bit hashing for consistent hashing: FNV-1a over the key's UTF-16 code units, finished with
// MurmurHash3's fmix32 so that near-identical keys ("user-1", "user-2") land far apart.

/** FNV-1a's 32-bit offset basis and prime (core/census.ts hashes bytes with them too). */
export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

export function hashString(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return fmix32(h);
}

/** MurmurHash3's finalizer: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
