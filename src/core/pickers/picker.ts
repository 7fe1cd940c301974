// The contract every balancing algorithm meets. A picker is built from a frozen upstream list
// when that list changes; `pick` is then cheap and does no I/O. Randomness comes in as `rng`
// (a function returning [0, 1)), so tests are exact.

import type { Upstream } from '../upstream.js';

export type Rng = () => number;

export interface Picker {
  /** One upstream for the next request, or undefined when there are none. */
  pick(): Upstream | undefined;
}

export type PickerFactory = (upstreams: readonly Upstream[], rng: Rng) => Picker;

export const EMPTY_PICKER: Picker = { pick: () => undefined };
