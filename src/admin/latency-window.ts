// Recent request rate and latency percentiles of one endpoint, for the dashboard and
// `fairway status`: the last 10 s in one-second slots, each a log-scale histogram of
// latencies (buckets 19 % wide from 0.05 ms to ~60 s, so a percentile is within 10 %).
// Memory is allocated on the first sample, so idle endpoints cost nothing.
// Cost: O(1) per sample (one log), O(slots × buckets) per read. Time is passed in.

const SLOTS = 10;
const SLOT_MS = 1_000;
const BUCKETS = 80;
const MIN_MS = 0.05;
const GROWTH = 2 ** 0.25;
const LOG_GROWTH = Math.log(GROWTH);

/** Upper bound of bucket i, in ms. */
function upper(i: number): number {
  return MIN_MS * GROWTH ** (i + 1);
}

export class LatencyWindow {
  #counts: Uint32Array | undefined;
  readonly #slotSecond = new Float64Array(SLOTS).fill(-1);
  readonly #slotTotal = new Uint32Array(SLOTS);

  record(ms: number, now: number): void {
    this.#counts ??= new Uint32Array(SLOTS * BUCKETS);
    const slot = this.#slot(now);
    const b = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.#counts[slot * BUCKETS + b]! += 1;
    this.#slotTotal[slot]! += 1;
  }

  /** Requests per second over the last 10 s, and latency percentiles (ms) over the same samples. */
  read(now: number): { rps: number; p50Ms: number | null; p99Ms: number | null } {
    const counts = this.#counts;
    if (!counts) return { rps: 0, p50Ms: null, p99Ms: null };
    const oldest = Math.floor(now / SLOT_MS) - SLOTS + 1;
    const merged = new Float64Array(BUCKETS);
    let total = 0;
    for (let s = 0; s < SLOTS; s++) {
      if (this.#slotSecond[s]! < oldest) continue;
      total += this.#slotTotal[s]!;
      for (let b = 0; b < BUCKETS; b++) merged[b]! += counts[s * BUCKETS + b]!;
    }
    if (total === 0) return { rps: 0, p50Ms: null, p99Ms: null };
    return { rps: total / SLOTS, p50Ms: percentile(merged, total, 0.5), p99Ms: percentile(merged, total, 0.99) };
  }

  #slot(now: number): number {
    const second = Math.floor(now / SLOT_MS);
    const s = second % SLOTS;
    if (this.#slotSecond[s] !== second) {
      this.#slotSecond[s] = second;
      this.#slotTotal[s] = 0;
      this.#counts!.fill(0, s * BUCKETS, (s + 1) * BUCKETS);
    }
    return s;
  }
}

/** The upper bound of the bucket holding the q-quantile sample, rounded to 0.01 ms. */
function percentile(merged: Float64Array, total: number, q: number): number {
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let b = 0; b < BUCKETS; b++) {
    seen += merged[b]!;
    if (seen >= rank) return Math.round(upper(b) * 100) / 100;
  }
  return Math.round(upper(BUCKETS - 1) * 100) / 100;
}
