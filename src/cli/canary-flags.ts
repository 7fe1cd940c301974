// The flags of `fairway config push --canary`, checked into the options canary-push.ts runs
// with: each bad value is a UserError naming the flag and what it expects.

import { parseShare } from '../core/canary.js';
import { parseDuration } from '../core/duration.js';
import { UserError } from '../core/errors.js';
import type { CanaryPushOptions } from './canary-push.js';

export const CANARY_FLAGS = {
  canary: { type: 'string' },
  watch: { type: 'string' },
  fleet: { type: 'string' },
  'max-5xx': { type: 'string' },
  'max-p99': { type: 'string' },
  'min-requests': { type: 'string' },
} as const;

type Flags = Record<string, string | boolean | string[] | undefined>;

/** A canary flag given without --canary (it would be silently ignored), or undefined. */
export function strayCanaryFlag(values: Flags): string | undefined {
  return values.canary === undefined ? Object.keys(CANARY_FLAGS).find((f) => values[f] !== undefined) : undefined;
}

/** The canary options the flags ask for (defaults: 60s, fleet "fairway", 1 %, 2x, 20 requests). */
export function canaryOptions(values: Flags): Pick<CanaryPushOptions, 'share' | 'watchMs' | 'fleet' | 'thresholds'> {
  const flag = (name: string, fallback: string) => (typeof values[name] === 'string' ? (values[name] as string) : fallback);
  const share = parseShare(flag('canary', ''));
  if (share === undefined) throw new UserError(`config push: --canary expected a number of Fairways (1) or a share of the fleet (25%), got "${flag('canary', '')}"`);
  const watchMs = parseDuration(flag('watch', '60s'));
  if (watchMs === undefined || watchMs < 1_000) throw new UserError(`config push: --watch expected a duration of at least 1s (60s, 5m), got "${flag('watch', '60s')}"`);
  const errors = /^(\d+(?:\.\d+)?)%$/.exec(flag('max-5xx', '1%'));
  if (!errors || Number(errors[1]) > 100) throw new UserError(`config push: --max-5xx expected percentage points such as 1% or 0.5%, got "${flag('max-5xx', '1%')}"`);
  const p99 = /^(\d+(?:\.\d+)?)x?$/.exec(flag('max-p99', '2x'));
  if (!p99 || Number(p99[1]) < 1) throw new UserError(`config push: --max-p99 expected a ratio of at least 1 such as 2x or 1.5x, got "${flag('max-p99', '2x')}"`);
  const min = flag('min-requests', '20');
  if (!/^\d+$/.test(min)) throw new UserError(`config push: --min-requests expected a whole number, got "${min}"`);
  return {
    share,
    watchMs,
    fleet: flag('fleet', 'fairway'),
    thresholds: { max5xxIncrease: Number(errors[1]) / 100, maxP99Ratio: Number(p99[1]), minRequests: Number(min) },
  };
}
