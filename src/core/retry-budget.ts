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

export class RetryBudget {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly #requests = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  /** The second each bucket currently counts. */
  readonly #second = new Float64Array(BUCKETS).fill(-1);

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.2;
    this.minPerSecond = options.minPerSecond ?? 5;
  }

  onRequest(now: number): void {
    this.#requests[this.#bucket(now)]! += 1;
  }

  /** Whether one more retry fits the budget now; if so it is counted. */
  tryRetry(now: number): boolean {
    this.#bucket(now);
    const oldest = Math.floor(now / BUCKET_MS) - BUCKETS + 1;
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.#second[i]! < oldest) continue;
      requests += this.#requests[i]!;
      retries += this.#retries[i]!;
    }
    if (retries + 1 > this.ratio * requests + this.minPerSecond * BUCKETS) return false;
    this.#retries[this.#bucket(now)]! += 1;
    return true;
  }

  #bucket(now: number): number {
    const second = Math.floor(now / BUCKET_MS);
    const i = second % BUCKETS;
    if (this.#second[i] !== second) {
      this.#second[i] = second;
      this.#requests[i] = 0;
      this.#retries[i] = 0;
    }
    return i;
  }
}
