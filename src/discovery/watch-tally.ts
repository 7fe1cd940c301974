// What Discovery says of its watches as a whole (its state, whether all have answered once),
// kept as counts that move with each watch's state instead of a walk of every watch. At 10,000
// watches (feed mode) those walks ran on every read while discovery started, and on every
// message the cluster primary sent its workers: most of a 10,000-service start's CPU.
// Pure: watches are whatever objects Discovery runs; states are the ones they report.

import type { WatchState } from './consul-watch.js';
import type { ConsulState } from './watch-source.js';

const SYNCED = 1;
const FAILING = 2;
const UNREACHABLE = 4;

/** What of a watch's state the tally reads: synced, failing, failing with no answer at all. */
function standingOf(state: Readonly<WatchState>): number {
  return (state.synced ? SYNCED : 0) | (state.failing ? FAILING : 0) | (state.failing && state.lastErrorStatus === undefined ? UNREACHABLE : 0);
}

export class WatchTally<W extends object> {
  #running = 0;
  #untried = 0;
  #synced = 0;
  #failing = 0;
  #unreachable = 0;
  /** Each running watch's standing (-1: not tried yet). */
  readonly #standing = new WeakMap<W, number>();

  /** A watch started. */
  add(watch: W): void {
    if (this.#standing.has(watch)) return;
    this.#standing.set(watch, -1);
    this.#running++;
    this.#untried++;
  }

  /** A watch stopped: it counts no more, whatever it reports after. */
  drop(watch: W): void {
    const was = this.#standing.get(watch);
    if (was === undefined) return;
    this.#move(was, 0);
    if (was === -1) this.#untried--;
    this.#standing.delete(watch);
    this.#running--;
  }

  /** A running watch finished an attempt with `state`; one no longer running is ignored. */
  tried(watch: W, state: Readonly<WatchState>): void {
    const was = this.#standing.get(watch);
    if (was === undefined) return;
    const standing = standingOf(state);
    if (was === -1) this.#untried--;
    this.#move(was === -1 ? 0 : was, standing);
    this.#standing.set(watch, standing);
  }

  /** Whether every running watch has finished an attempt. */
  get allTried(): boolean {
    return this.#untried === 0;
  }

  /** Discovery's state: unreachable if any watch gets no answer, else error if any fails, else connected once any is synced. */
  get state(): ConsulState {
    if (this.#running === 0) return 'unused';
    if (this.#unreachable > 0) return 'unreachable';
    if (this.#failing > 0) return 'error';
    return this.#synced > 0 ? 'connected' : 'connecting';
  }

  #move(from: number, to: number): void {
    const moved = (flag: number): number => ((to & flag) !== 0 ? 1 : 0) - (from > 0 && (from & flag) !== 0 ? 1 : 0);
    this.#synced += moved(SYNCED);
    this.#failing += moved(FAILING);
    this.#unreachable += moved(UNREACHABLE);
  }
}
