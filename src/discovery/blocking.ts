// The rules of Consul blocking queries, as pure functions (see Consul's "Blocking Queries" docs):
// an index that goes backwards resets the query, a zero index is never sent twice in a row,
// and failures back off exponentially with jitter so a fleet of proxies does not stampede a
// recovering agent.

/** The index to send next, given the one just sent and the X-Consul-Index that came back. */
export function nextIndex(sent: number, returned: number): number {
  if (!Number.isFinite(returned) || returned <= 0) return 1;
  if (returned < sent) return sent === 0 ? 1 : 0;
  return returned;
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 100, maxMs: 1_000 };

/** For 401/403 answers: a token does not fix itself in milliseconds, so ask less often. */
export const AUTH_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 5_000 };

/**
 * Delay before retry number `attempt` (1 for the first retry): exponential, capped, with
 * "equal jitter" (half fixed, half random) so retries spread but never collapse to zero.
 */
export function backoffDelay(attempt: number, rng: () => number, b: Backoff = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(ceiling / 2 + rng() * (ceiling / 2));
}
