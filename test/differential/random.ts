// Seeded randomness for the differential tests: mulberry32 (Tommy Ettinger's 32-bit generator,
// public domain), one generator per case, seeded from the run's seed and the case's index, so a
// single case can be replayed from `FAIRWAY_SEED=<seed> FAIRWAY_CASE=<index>` without
// generating the ones before it.

export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A whole number in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** One of the items, each as likely as its weight. */
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of items) total += w;
    let r = this.next() * total;
    for (const [w, item] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![1];
  }
}

/** The seed of case `index` in a run seeded with `seed` (murmur3's 32-bit finaliser over both). */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface RunSettings {
  /** The run's seed: FAIRWAY_SEED, or a fresh random one. */
  readonly seed: number;
  /** FAIRWAY_CASE: replay only this case index. */
  readonly only: number | undefined;
}

/**
 * The run's seed and case: FAIRWAY_SEED (a number, or `random`), else `fixed` when given, else
 * a random one. FAIRWAY_CASE picks one case of that seed.
 */
export function runSettings(env: NodeJS.ProcessEnv = process.env, fixed?: number): RunSettings {
  const fromEnv = env.FAIRWAY_SEED;
  const random = (): number => (Math.random() * 2 ** 32) >>> 0;
  const seed = fromEnv === 'random' ? random() : fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : (fixed ?? random());
  const only = env.FAIRWAY_CASE !== undefined && env.FAIRWAY_CASE !== '' ? Number(env.FAIRWAY_CASE) : undefined;
  return { seed, only };
}

/** A whole number from the environment, or the default. */
export function envCount(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not ${v}`);
  return n;
}
