// Passive outlier detection: eject an instance from rotation after consecutive failures seen
// in real traffic, long before its health check notices (Consul checks run every few seconds).
//
// - `consecutiveFailures` failures in a row (connect errors, resets, timeouts, 5xx answers)
//   eject the instance for baseEjectionTime × (times ejected so far), capped at maxEjectionTime.
// - No ejection while `maxEjectedPercent` or more of a route's instances are ejected; the check
//   is made before ejecting, so one instance can always be ejected, even at 0 (as in Envoy).
// - An instance back from ejection is on probation: its next failure ejects it again at once;
//   a success (even one that was in flight when the ejection began) ends the probation and
//   resets the count. After maxEjectionTime without an
//   ejection, the ejection count starts over.
// - consecutiveFailures 0 turns detection off.
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

export function isEjected(s: OutlierState, now: number): boolean {
  return s.ejectedUntil > now;
}

export function onSuccess(s: OutlierState): void {
  s.consecutiveFailures = 0;
  s.probation = false;
}

/**
 * Records a failure of `s`. Returns true when this failure ejects it. `ejectedShare` tells the
 * percent of the route's instances ejected right now (asked only when an ejection is due).
 */
export function onFailure(s: OutlierState, now: number, o: OutlierOptions, ejectedShare: () => number): boolean {
  if (o.consecutiveFailures === 0 || isEjected(s, now)) return false;
  // A long healthy spell forgives earlier ejections, so the next one starts short again.
  if (s.ejections > 0 && now - s.ejectedUntil > o.maxEjectionMs) {
    s.ejections = 0;
    s.probation = false;
  }
  s.consecutiveFailures++;
  if (!s.probation && s.consecutiveFailures < o.consecutiveFailures) return false;
  const share = ejectedShare();
  if (share > 0 && share >= o.maxEjectedPercent) return false;
  s.ejections++;
  s.ejectedUntil = now + Math.min(o.maxEjectionMs, o.baseEjectionMs * s.ejections);
  s.consecutiveFailures = 0;
  s.probation = true;
  return true;
}
