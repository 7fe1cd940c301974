// The running state of a route's request-side policy: the allow/deny sets and the token
// buckets, made when a route table is built and carried into the next table while their
// settings stay the same (so a reload that leaves a limit alone keeps its buckets, and a health
// change never resets them). `admitClient` is the per-request decision: pure, given the client
// address, the key's value and the time.

import { CidrSet } from '../cidr.js';
import type { RoutePolicy } from './route-policy.js';
import { RateLimiter, type RateDecision } from './rate-limit.js';

export interface RouteGuard {
  readonly allow: CidrSet | undefined;
  readonly deny: CidrSet | undefined;
  readonly limiter: RateLimiter | undefined;
  /** What the sets and limiter were made from, to tell whether the next table may keep them. */
  readonly made: string;
}

export type GuardVerdict =
  | { readonly code: 'forbidden'; readonly detail: string }
  | { readonly code: 'rate_limited'; readonly decision: RateDecision; readonly limiter: RateLimiter };

/** The guard for `policy`, keeping `before`'s state when nothing it was made from changed. */
export function guardFor(policy: RoutePolicy | undefined, before: RouteGuard | undefined, share = 1): RouteGuard | undefined {
  if (policy === undefined || (policy.allow === undefined && policy.deny === undefined && policy.rateLimit === undefined)) return undefined;
  const made = JSON.stringify([policy.allow, policy.deny, policy.rateLimit]);
  if (before?.made === made) {
    if (before.limiter) before.limiter.share = share;
    return before;
  }
  // A changed allow list keeps the buckets of an unchanged limit.
  const sameLimit = before?.limiter !== undefined && JSON.stringify(before.limiter.settings) === JSON.stringify(policy.rateLimit);
  const limiter = sameLimit ? before!.limiter : policy.rateLimit ? new RateLimiter(policy.rateLimit) : undefined;
  if (limiter) limiter.share = share;
  return {
    allow: policy.allow ? new CidrSet(policy.allow) : undefined,
    deny: policy.deny ? new CidrSet(policy.deny) : undefined,
    limiter,
    made,
  };
}

/**
 * Whether a client may go on: allow, then deny, then the rate limit (SPEC's order), so a
 * refused address never spends a token. `client`: the address after trustedProxies;
 * `keyValue`: what the limit is keyed by for this request (see rateKeyOf).
 */
export function admitClient(guard: RouteGuard, client: string, keyValue: string, now: number): GuardVerdict | undefined {
  if (guard.allow !== undefined && !guard.allow.has(client)) return { code: 'forbidden', detail: `client ${client} is not on the route's allow list` };
  if (guard.deny !== undefined && guard.deny.has(client)) return { code: 'forbidden', detail: `client ${client} is on the route's deny list` };
  const limiter = guard.limiter;
  if (limiter === undefined) return undefined;
  const decision = limiter.take(keyValue, now);
  return decision.allowed ? undefined : { code: 'rate_limited', decision, limiter };
}

/** The bucket key of a request: the client address, a header's value ('' when absent), or '' for the route. */
export function rateKeyOf(limiter: RateLimiter | undefined, client: string, headers: Readonly<Record<string, string | string[] | undefined>>): string {
  const by = limiter?.settings.by;
  if (by === undefined || by.kind === 'route') return '';
  if (by.kind === 'ip') return client;
  const v = headers[by.name];
  return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
}
