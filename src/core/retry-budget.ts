// A retry budget: retries may add at most `ratio` of the request rate, plus a small floor, over
// a sliding window. When a whole fleet is failing, unbounded retries multiply the load exactly
// when it can least take it (a retry storm); a budget keeps retries for the transient failures
// they are good at. (Finagle and Linkerd budget retries the same way; Envoy's retry_budget too.)
//
// The window is ten one-second buckets of request and retry counts, reset as time passes them.
// Cost: O(1) per request, O(buckets) per retry decision. Time is passed in.

export interface RetryBudgetOptions {
  /** Retries allowed per request over the window (default 0.2: at most +20 % load). */
  ratio?: number;
  /** Retries per second always allowed, so a quiet route can still retry (default 5). */
  minPerSecond?: number;
}

const BUCKETS = 10;
const BUCKET_MS = 1_000;
const REQUESTS = 0;
const RETRIES = BUCKETS;
const SECOND = 2 * BUCKETS;

export class RetryBudget {
  readonly ratio: number;
  readonly minPerSecond: number;
  // Three rows of BUCKETS in one array (one allocation per route, not three; there is a
  // budget per route, and ten thousand routes are not unusual): requests, retries, and the
  // second each bucket currently counts. Made at the route's first request: a route never
  // used costs no array (about 450 bytes each).
  #cellsMade: Float64Array | undefined;
  get #cells(): Float64Array {
    return (this.#cellsMade ??= new Float64Array(3 * BUCKETS).fill(-1, 2 * BUCKETS));
  }

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.2;
    this.minPerSecond = options.minPerSecond ?? 5;
  }

  onRequest(now: number): void {
    this.#cells[REQUESTS + this.#bucket(now)]! += 1;
  }

  /** Whether one more retry fits the budget now; if so it is counted. */
  tryRetry(now: number): boolean {
    this.#bucket(now);
    const oldest = Math.floor(now / BUCKET_MS) - BUCKETS + 1;
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.#cells[SECOND + i]! < oldest) continue;
      requests += this.#cells[REQUESTS + i]!;
      retries += this.#cells[RETRIES + i]!;
    }
    if (retries + 1 > this.ratio * requests + this.minPerSecond * BUCKETS) return false;
    this.#cells[RETRIES + this.#bucket(now)]! += 1;
    return true;
  }

  #bucket(now: number): number {
    const second = Math.floor(now / BUCKET_MS);
    const i = second % BUCKETS;
    if (this.#cells[SECOND + i] !== second) {
      this.#cells[SECOND + i] = second;
      this.#cells[REQUESTS + i] = 0;
      this.#cells[RETRIES + i] = 0;
    }
    return i;
  }
}
