// One blocking-query loop against one Consul endpoint (a service's health, or the catalog's
// service list). It emits a value only when it really changed, keeps the last one through
// Consul outages, and stops promptly when aborted. What is queried is a parameter.

import { createHash } from 'node:crypto';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { AUTH_BACKOFF, backoffDelay, DEFAULT_BACKOFF, nextIndex, type Backoff } from './blocking.js';
import { ConsulError } from '../core/errors.js';

export interface WatchState {
  key: string;
  /** Has any query of this watch succeeded yet? */
  synced: boolean;
  /** Did the latest query fail? */
  failing: boolean;
  lastError: string | undefined;
  /** HTTP status of the latest failure; undefined when Consul could not be reached at all. */
  lastErrorStatus: number | undefined;
  lastSuccessAt: number | undefined;
  index: number;
  updates: number;
  errors: number;
  /** Milliseconds from the last changed answer's arrival to its use (parse, compare, rebuild). */
  lastApplyMs: number | undefined;
}

export interface WatchOptions<T> {
  key: string;
  /**
   * One (blocking, when index > 0) query; returns the value and its X-Consul-Index. The value
   * may be undefined when the index sent came back: nothing changed.
   */
  query: (index: number, waitMs: number, signal: AbortSignal) => Promise<{ value: T | undefined; index: number; receivedAt?: number }>;
  /** A string that changes exactly when routing cares that the value changed. */
  fingerprint: (value: T) => string;
  waitMs: number;
  /** Least time between the starts of two queries, so a churning service cannot spin the loop. */
  minIntervalMs?: number;
  backoff?: Backoff;
  rng?: () => number;
  onValue: (value: T) => void;
  /** Called after every attempt, success or failure. */
  onState: (state: Readonly<WatchState>, error?: Error) => void;
}

/** A watch's state before its first read. */
export function newWatchState(key: string): WatchState {
  return { key, synced: false, failing: false, lastError: undefined, lastErrorStatus: undefined, lastSuccessAt: undefined, index: 0, updates: 0, errors: 0, lastApplyMs: undefined };
}

/** A read succeeded: the watch is no longer failing. */
export function markSucceeded(state: WatchState): void {
  state.failing = false;
  state.lastError = undefined;
  state.lastErrorStatus = undefined;
  state.lastSuccessAt = Date.now();
}

/**
 * A read failed (the `failures`-th in a row): counted and recorded; returns the wait before the
 * next try, longer after 401/403 (a token does not fix itself in milliseconds).
 */
export function markFailed(state: WatchState, err: Error, failures: number, rng: () => number, backoff: Backoff = DEFAULT_BACKOFF): number {
  state.errors++;
  state.failing = true;
  state.lastError = err.message;
  state.lastErrorStatus = err instanceof ConsulError ? err.status : undefined;
  const auth = state.lastErrorStatus === 401 || state.lastErrorStatus === 403;
  return backoffDelay(failures, rng, auth ? AUTH_BACKOFF : backoff);
}

export class ConsulWatch<T> {
  readonly state: WatchState;
  readonly #opts: WatchOptions<T>;
  readonly #abort = new AbortController();
  #done: Promise<void> | undefined;

  constructor(options: WatchOptions<T>) {
    this.#opts = options;
    this.state = newWatchState(options.key);
  }

  start(): void {
    this.#done ??= this.#loop().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }

  /**
   * The wait to ask for. Watches that (re)synced together would see their waits run out
   * together, every `waitMs`, for as long as they run (at 1,000 watches: 1,000 answers within
   * two seconds, twice a minute). So the first blocking query after an index-0 query asks for
   * a random share between half and all of the wait, which spreads them out from then on.
   */
  #waitFor(sent: number, previous: number, rng: () => number): number {
    const waitMs = this.#opts.waitMs;
    if (sent === 0 || previous !== 0) return waitMs;
    return Math.round(waitMs * (0.5 + rng() * 0.5));
  }

  async #loop(): Promise<void> {
    const { signal } = this.#abort;
    const minInterval = this.#opts.minIntervalMs ?? 50;
    const rng = this.#opts.rng ?? Math.random;
    let lastPrint: string | undefined;
    let failures = 0;
    let lastStart = 0;
    let lastSent = -1;
    while (!signal.aborted) {
      const wait = lastStart + minInterval - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal });
      // Otherwise one turn of the event loop: the connection that carried the last answer is
      // back in the pool only then, and a query sent sooner opens another one (at 1,000
      // watches, a burst of first answers left ~650 spare connections and their state).
      else await nextTurn();
      lastStart = Date.now();
      const sent = this.state.index;
      const previous = lastSent;
      lastSent = sent;
      try {
        // Right after a failed read the wait is short: an answer with nothing new still shows
        // within a second that Consul answers again, instead of a whole wait later.
        const waitMs = failures > 0 ? Math.min(RECOVERY_WAIT_MS, this.#opts.waitMs) : this.#waitFor(sent, previous, rng);
        const res = await this.#opts.query(sent, waitMs, signal);
        failures = 0;
        this.state.index = nextIndex(sent, res.index);
        markSucceeded(this.state);
        // No value: the index sent came back, so nothing changed (only ever after a success).
        if (res.value !== undefined) {
          // Only a digest is kept between answers: a fingerprint string per watch, at 1,000
          // watches, was megabytes of heap.
          const print = digest(this.#opts.fingerprint(res.value));
          const first = !this.state.synced;
          this.state.synced = true;
          if (first || print !== lastPrint) {
            lastPrint = print;
            this.state.updates++;
            this.#opts.onValue(res.value);
            if (res.receivedAt !== undefined) this.state.lastApplyMs = performance.now() - res.receivedAt;
          }
        }
        this.#opts.onState(this.state);
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        const delay = markFailed(this.state, err as Error, failures, rng, this.#opts.backoff);
        // After a connection failure the agent may be a new one with a lower index: start over.
        // An HTTP error answer (a 500 while the cluster has no leader, say) came from the same
        // agent, so the index stays: a fresh read would need the leader again, keeping a watch
        // failing for the whole election, and nextIndex resets it anyway if it went backwards.
        if (!(err instanceof ConsulError) || err.status === undefined) this.state.index = 0;
        this.#opts.onState(this.state, err as Error);
        await sleep(delay, undefined, { signal });
      }
    }
  }
}

/** The wait of the first blocking read after a failed one (see #loop). */
const RECOVERY_WAIT_MS = 1_000;

/** What a watch keeps of a value between answers: a digest of its fingerprint. */
export function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}
