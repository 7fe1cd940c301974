// Strategy name → picker factory. Adding an algorithm is one file and one line here.

import type { RouteConfig } from '../config.js';
import type { Strategy } from '../config-schema.js';
import type { Upstream } from '../upstream.js';
import { consistentHash } from './consistent-hash.js';
import { ewma } from './ewma.js';
import { failover } from './failover.js';
import { leastRequest } from './least-request.js';
import type { Picker, PickerDeps, PickerFactory } from './picker.js';
import { random } from './random.js';
import { roundRobin } from './round-robin.js';
import { withSlowStart } from './slow-start.js';
import { weighted } from './weighted.js';

const WITHIN_TIER: Record<string, PickerFactory> = {
  'round-robin': roundRobin,
  random,
  weighted,
  'least-request': leastRequest,
  ewma,
};

export const PICKERS: Record<Strategy, PickerFactory> = {
  ...(WITHIN_TIER as Record<'round-robin' | 'random' | 'weighted' | 'least-request' | 'ewma', PickerFactory>),
  'consistent-hash': consistentHash,
  failover: failover(WITHIN_TIER),
};

/** Whether a route sends traffic to `warning` instances (at their Weights.Warning). */
export function usesWarning(route: RouteConfig): boolean {
  return route.strategy === 'weighted' || route.failover?.within === 'weighted';
}

/** The route's picker over `upstreams`, with slow start where the route asks for it. */
export function pickerFor(route: RouteConfig, upstreams: readonly Upstream[], deps: PickerDeps): Picker {
  const picker = PICKERS[route.strategy](upstreams, deps, route);
  // A ramp would break key affinity, so consistent-hash never slow-starts.
  if (route.strategy === 'consistent-hash') return picker;
  return withSlowStart(picker, upstreams, route.slowStartMs, deps);
}

export type { Clock, Picker, PickerDeps, PickerFactory, Rng } from './picker.js';
