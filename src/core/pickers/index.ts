// Strategy name → picker factory. Adding an algorithm is one file and one line here.

import type { Strategy } from '../config-schema.js';
import type { PickerFactory } from './picker.js';
import { random } from './random.js';
import { roundRobin } from './round-robin.js';
import { weighted } from './weighted.js';

export const PICKERS: Record<Strategy, PickerFactory> = {
  'round-robin': roundRobin,
  random,
  weighted,
};

/** Strategies that send traffic to `warning` instances, at their `Weights.Warning`. */
export const USES_WARNING: ReadonlySet<Strategy> = new Set<Strategy>(['weighted']);

export type { Picker, PickerFactory, Rng } from './picker.js';
