// The contract every balancing algorithm meets. A picker is built from a frozen upstream list
// when that list changes; `pick` is then cheap and does no I/O. Randomness (`rng`, returning
// [0, 1)) and time (`now`, in milliseconds) come in as dependencies, so tests are exact.

import type { RouteConfig } from '../config.js';
import type { Upstream } from '../upstream.js';

export type Rng = () => number;
export type Clock = () => number;

export interface PickerDeps {
  rng: Rng;
  /** Monotonic milliseconds (performance.now in the proxy). */
  now: Clock;
}

export interface Picker {
  /**
   * One upstream for the next request, or undefined when there are none. `hash` is the 32-bit
   * hash of the request's affinity key, for strategies that use one (undefined: no key).
   */
  pick(hash?: number): Upstream | undefined;
}

export type PickerFactory = (upstreams: readonly Upstream[], deps: PickerDeps, route: RouteConfig) => Picker;

export const EMPTY_PICKER: Picker = { pick: () => undefined };

/** An index in [0, n) from one draw of `rng`, safe against rng() returning values near 1. */
export function randomIndex(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}
