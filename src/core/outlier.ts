// Passive outlier detection: eject an instance from rotation after consecutive failures seen
// in real traffic, long before its health check notices (Consul checks run every few seconds).
//
// - `consecutiveFailures` failures in a row (connect errors, resets, timeouts, 5xx answers)
//   eject the instance for baseEjectionTime × (times ejected so far), capped at maxEjectionTime.
// - At most `maxEjectedPercent` of a route's instances are ejected at once; the check is made
//   before ejecting, so one instance can always be ejected (as in Envoy).
// - An instance back from ejection is on probation: its next failure ejects it again at once;
//   a success ends the probation and resets the count.
//
// The state lives on each instance's UpstreamStats; this module only decides. Time is passed in.

export interface OutlierOptions {
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectedPercent: number;
}

export interface OutlierState {
  consecutiveFailures: number;
  /** Clock time the current ejection ends; 0 when not ejected. */
  ejectedUntil: number;
  ejections: number;
  probation: boolean;
}

export const DEFAULT_OUTLIER: OutlierOptions = {
  consecutiveFailures: 5,
  baseEjectionMs: 10_000,
  maxEjectionMs: 300_000,
  maxEjectedPercent: 50,
};

export function isEjected(s: OutlierState, now: number): boolean {
  return s.ejectedUntil > now;
}

export function onSuccess(s: OutlierState): void {
  s.consecutiveFailures = 0;
  s.probation = false;
}

/**
 * Records a failure of `s`, one of `members` (the route's candidates). Returns true when this
 * failure ejects it.
 */
export function onFailure(s: OutlierState, members: readonly OutlierState[], now: number, o: OutlierOptions): boolean {
  if (isEjected(s, now)) return false;
  s.consecutiveFailures++;
  if (!s.probation && s.consecutiveFailures < o.consecutiveFailures) return false;
  let ejected = 0;
  for (const m of members) if (isEjected(m, now)) ejected++;
  if (members.length === 0 || (ejected / members.length) * 100 >= o.maxEjectedPercent) return false;
  s.ejections++;
  s.ejectedUntil = now + Math.min(o.maxEjectionMs, o.baseEjectionMs * s.ejections);
  s.consecutiveFailures = 0;
  s.probation = true;
  return true;
}
