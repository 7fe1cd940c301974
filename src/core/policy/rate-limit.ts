// Per-key rate limiting by GCRA, the generic cell rate algorithm: a token bucket kept as one
// number per key. GCRA policed cell rates in ATM networks (ITU-T I.371, the ATM Forum's Traffic
// Management 4.0 "virtual scheduling algorithm"); redis-cell and Go's throttled brought it to
// HTTP. It decides exactly what a token bucket of `capacity` tokens refilled one per interval T
// decides, without a refill step and without fractional token counts.
//
// Each key keeps its theoretical arrival time (TAT): when its bucket will be full again. A request
// at `now` finds a debt of TAT - now (zero when TAT has passed: a full bucket) and passes when the
// debt is at most τ = (capacity - 1) · T, leaving room for its own token; passing adds T to
// the debt. A refused request changes nothing. Example, 5/m with burst 2 (T = 12 s, τ = 12 s):
//   t=0   new key, debt 0 <= 12: passes, TAT 12   (1 more could pass now)
//   t=1   debt 11 <= 12:         passes, TAT 24   (none could)
//   t=2   debt 22 > 12:          refused, retry after 22 - 12 = 10 s, full again in 22 s
//   t=12  debt 12 <= 12:         passes, TAT 36
// Remaining, retry-after and reset all follow from the debt in O(1).
//
// Exactness: time is counted in whole microseconds and T is rounded down to one, so every
// number kept is an integer (below 2^53 while burst × T is under 285 years) and sums and
// comparisons are exact: no drift, however long a client runs at the edge. For a rate whose
// interval is a whole number of microseconds (n/s for n dividing 10^6, 5/m, 0.5/s, 1/h, 20/d
// ...) the limiter is exact; otherwise (3/s) it is generous by under 1 µs per token, so a
// request on an exact boundary never fails. A naive GCRA in float milliseconds fails the
// test's drift cases: 3/s burst 3 lets only two through in 44 % of whole seconds.
//
// `share` (workers or fleet members splitting one limit) scales rate and capacity alike, so the
// time to refill a whole bucket does not change; a key's debt is kept as time, so a new share
// keeps every key's fraction of its bucket used.
//
// Memory: at most maxKeys keys, in a recency list (a take, refused or not, makes its key the
// newest; peek does not). A new key first drops up to two of the oldest keys whose buckets are
// full again (that loses nothing: a full bucket is what a new key gets), so the limiter shrinks
// to the keys active within one refill time; if none could go and maxKeys are tracked, the
// oldest key goes anyway, in debt or not. That client gets a full bucket again on its next
// request: a flood of more than maxKeys distinct keys within one refill time (burst / rate)
// lets evicted clients burst again, and `evictions` counts it happening.
//
// Cost: O(1) per take and peek; about 140 bytes per tracked IPv4 key (measured by the test:
// 13.3 MiB for 100,000), so the default 100,000 keys hold under 16 MiB per limiter.

export interface Rate {
  /** Requests allowed per `perMs`. */
  readonly tokens: number;
  readonly perMs: number;
  /** As written in the config. */
  readonly text: string;
}

export type RateKey = { readonly kind: 'ip' } | { readonly kind: 'route' } | { readonly kind: 'header'; readonly name: string };

export interface RateLimitSettings {
  readonly rate: Rate;
  /** Whole number >= 1: requests allowed at once from a full bucket. */
  readonly burst: number;
  readonly by: RateKey;
}

export interface RateDecision {
  readonly allowed: boolean;
  /** Whole requests that could still pass right now after this one (floored, >= 0). */
  readonly remaining: number;
  /** ms until one more request would pass (0 when allowed), to the microsecond. */
  readonly retryAfterMs: number;
  /** ms until the bucket is full again, to the microsecond. */
  readonly resetMs: number;
  /** The effective quota (burst after share): the whole requests a full bucket lets through. */
  readonly limit: number;
}

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
// Strict like parseDuration: no spaces, lower-case units, a digit before any point.
const RATE = /^(\d+(?:\.\d+)?)\/([smhd])$/;
// RFC 9110 token: what a header name may be.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const US_PER_MS = 1_000;
const US_PER_S = 1_000_000;
// Time is kept in whole microseconds, so no rate may be faster than one token per microsecond;
// and one slower than a token a year is a deny list written the long way.
const MAX_INTERVAL_US = 365 * 86_400_000 * US_PER_MS;
const SWEEP = 2;
const INITIAL_SLOTS = 16;
const NONE = -1;
const POLICY_NAME = '"default"';
const IP: RateKey = Object.freeze({ kind: 'ip' });
const ROUTE: RateKey = Object.freeze({ kind: 'route' });

/**
 * '100/s', '5/m', '1000/h', '0.5/s', '20/d': a positive decimal count per second, minute, hour
 * or day (a daily quota is a common way to state a limit). Undefined when malformed ('ten/s',
 * '0/s', '-1/s', '5/x', '5', ' 5/s', '5/S') or outside one per microsecond to one per year.
 */
export function parseRate(text: string): Rate | undefined {
  const m = RATE.exec(text);
  if (m === null) return undefined;
  const tokens = Number(m[1]);
  const perMs = UNIT_MS[m[2]!]!;
  if (!(tokens > 0)) return undefined;
  const intervalUs = (perMs * US_PER_MS) / tokens;
  if (intervalUs < 1 || intervalUs > MAX_INTERVAL_US) return undefined;
  return { tokens, perMs, text };
}

/** 'ip' | 'route' | 'header:NAME' (NAME an HTTP token, lower-cased here); undefined if malformed. */
export function parseRateKey(text: string): RateKey | undefined {
  if (text === 'ip') return IP;
  if (text === 'route') return ROUTE;
  if (!text.startsWith('header:')) return undefined;
  const name = text.slice('header:'.length);
  return TOKEN.test(name) ? { kind: 'header', name: name.toLowerCase() } : undefined;
}

export class RateLimiter {
  readonly settings: RateLimitSettings;
  readonly maxKeys: number;
  #share = 1;
  /** T: µs between tokens. */
  #interval = 1;
  /** τ: µs of debt a request may find and still pass. */
  #tolerance = 0;
  #limit = 1;
  #evictions = 0;
  // The keys' state by slot: a Map from key to slot (a small integer, stored unboxed), and per
  // slot the key, its TAT and a doubly linked recency list, oldest to newest; free slots are
  // chained through `newer`. Not a Map in insertion order with delete+set: V8 leaves a deleted
  // entry as a hole until the table is rebuilt, and finding the oldest key means iterating past
  // every hole from the front; under a flood of new keys that made each take O(maxKeys) (the
  // test's 1M new keys at 100k tracked: over 30 s, against about 1 s now).
  readonly #slots = new Map<string, number>();
  #keys: string[] = [];
  #tat = new Float64Array(INITIAL_SLOTS);
  #older = new Int32Array(INITIAL_SLOTS);
  #newer = new Int32Array(INITIAL_SLOTS);
  #oldest = NONE;
  #newest = NONE;
  #free = NONE;
  /** Slots handed out so far; the arrays grow by doubling up to maxKeys. */
  #used = 0;

  constructor(settings: RateLimitSettings, options: { maxKeys?: number } = {}) {
    const { rate, burst } = settings;
    if (!(rate.tokens > 0 && rate.perMs > 0)) throw new RangeError(`rate must be positive, not ${rate.text}`);
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be a whole number >= 1, not ${burst}`);
    const maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a whole number >= 1, not ${maxKeys}`);
    // Kept as given: route tables compare settings to decide whether a limiter may carry over.
    this.settings = settings;
    this.maxKeys = maxKeys;
    this.#configure();
  }

  /** Fraction of the configured rate and burst this process enforces, in (0, 1]; default 1. Changing it keeps the keys. */
  get share(): number {
    return this.#share;
  }

  set share(value: number) {
    if (!(value > 0 && value <= 1)) throw new RangeError(`share must be in (0, 1], not ${value}`);
    this.#share = value;
    this.#configure();
  }

  /** Keys tracked now (<= maxKeys). */
  get size(): number {
    return this.#slots.size;
  }

  /** Keys evicted while their buckets were still in debt (each such client got a full bucket back). */
  get evictions(): number {
    return this.#evictions;
  }

  /**
   * The RateLimit-Policy window: the time to earn a whole `limit` back, rounded up to whole
   * seconds, at least 1. See rateLimitHeaders.
   */
  get windowSeconds(): number {
    return Math.max(1, Math.ceil((this.#limit * this.#interval) / US_PER_S));
  }

  /** Takes one token for `key` at `now` (monotonic ms). */
  take(key: string, now: number): RateDecision {
    const t = Math.round(now * US_PER_MS);
    let slot = this.#slots.get(key);
    let debt = 0;
    if (slot === undefined) {
      slot = this.#admit(key, t);
    } else {
      const tat = this.#tat[slot]!;
      if (tat > t) debt = tat - t;
      if (slot !== this.#newest) {
        this.#unlink(slot);
        this.#link(slot);
      }
    }
    const allowed = debt <= this.#tolerance;
    const after = allowed ? debt + this.#interval : debt;
    this.#tat[slot] = t + after;
    return this.#decision(allowed, debt, after);
  }

  /** What take() would decide, without taking anything or touching recency (for an "explain" endpoint). */
  peek(key: string, now: number): RateDecision {
    const t = Math.round(now * US_PER_MS);
    const slot = this.#slots.get(key);
    const tat = slot === undefined ? t : this.#tat[slot]!;
    const debt = tat > t ? tat - t : 0;
    const allowed = debt <= this.#tolerance;
    return this.#decision(allowed, debt, allowed ? debt + this.#interval : debt);
  }

  /** The decision for a request that found `debt` µs and left `after` µs. */
  #decision(allowed: boolean, debt: number, after: number): RateDecision {
    const room = this.#tolerance - after;
    return {
      allowed,
      remaining: room < 0 ? 0 : floorDiv(room, this.#interval) + 1,
      retryAfterMs: allowed ? 0 : (debt - this.#tolerance) / US_PER_MS,
      resetMs: after / US_PER_MS,
      limit: this.#limit,
    };
  }

  /**
   * A slot for a new key at `t`, as the newest: first up to SWEEP of the oldest keys go if their
   * buckets are full again; if none went and the map is full, the oldest goes anyway.
   */
  #admit(key: string, t: number): number {
    let dropped = 0;
    while (dropped < SWEEP && this.#oldest !== NONE && this.#tat[this.#oldest]! <= t) {
      this.#drop(this.#oldest);
      dropped++;
    }
    if (dropped === 0 && this.#slots.size >= this.maxKeys) {
      this.#drop(this.#oldest);
      this.#evictions++;
    }
    let slot = this.#free;
    if (slot !== NONE) this.#free = this.#newer[slot]!;
    else {
      if (this.#used === this.#tat.length) this.#grow();
      slot = this.#used++;
    }
    this.#keys[slot] = key;
    this.#slots.set(key, slot);
    this.#link(slot);
    return slot;
  }

  #drop(slot: number): void {
    this.#unlink(slot);
    this.#slots.delete(this.#keys[slot]!);
    this.#keys[slot] = '';
    this.#newer[slot] = this.#free;
    this.#free = slot;
  }

  /** Links `slot` in as the newest. */
  #link(slot: number): void {
    this.#older[slot] = this.#newest;
    this.#newer[slot] = NONE;
    if (this.#newest === NONE) this.#oldest = slot;
    else this.#newer[this.#newest] = slot;
    this.#newest = slot;
  }

  #unlink(slot: number): void {
    const older = this.#older[slot]!;
    const newer = this.#newer[slot]!;
    if (older === NONE) this.#oldest = newer;
    else this.#newer[older] = newer;
    if (newer === NONE) this.#newest = older;
    else this.#older[newer] = older;
  }

  /** Doubles the slot arrays, up to maxKeys: a limiter costs what its keys need, not maxKeys up front. */
  #grow(): void {
    const size = Math.min(this.maxKeys, this.#tat.length * 2);
    const tat = new Float64Array(size);
    const older = new Int32Array(size);
    const newer = new Int32Array(size);
    tat.set(this.#tat);
    older.set(this.#older);
    newer.set(this.#newer);
    [this.#tat, this.#older, this.#newer] = [tat, older, newer];
  }

  #configure(): void {
    const { rate, burst } = this.settings;
    const share = this.#share;
    // Rounded down to a whole µs (the generous side); `whole` first, so a share of 5/6 on 5/s
    // is exactly 240 ms a token, not 239,999 µs from a quotient of 239999.99999999997.
    this.#interval = Math.max(1, Math.floor(whole((rate.perMs * US_PER_MS) / (rate.tokens * share))));
    const capacity = Math.max(1, whole(burst * share));
    this.#limit = Math.floor(capacity);
    // Floored, so a full bucket passes exactly floor(capacity) requests at once.
    this.#tolerance = Math.floor((capacity - 1) * this.#interval);
  }
}

/**
 * Header pairs for an answer, flat [name, value, ...], per draft-ietf-httpapi-ratelimit-headers-11
 * (Structured Fields, lower-case names):
 *   ratelimit-policy: "default";q=<limit>;w=<windowSeconds>
 *   ratelimit:        "default";r=<remaining>;t=<seconds>
 *   retry-after:      <seconds>            (only when not allowed)
 *
 * q/w must say "this many per this long" in whole seconds. A token bucket's honest pair is the
 * burst and the time to earn it back: a client that spends q at once and then waits w seconds is
 * never refused, and q/w is the enforced rate whenever that time is a whole number of
 * seconds (100/s burst 200: q=200;w=2; 5/m burst 1: q=1;w=12). Rounding w up to a whole second
 * understates a rate whose burst refills faster (100/s burst 1 says q=1;w=1), which errs on the
 * client's safe side.
 *
 * t is the seconds, rounded up, until the bucket is full again (the whole quota back) when
 * allowed. When refused it is Retry-After's value instead (r=0 holds exactly until then),
 * because the draft says Retry-After SHOULD NOT point earlier than the end of that window, and a
 * bucket's next token comes long before it is full. Retry-After is whole seconds rounded up, at
 * least 1. No partition key (pk) is sent: for `by: ip` it would echo the client's address.
 */
export function rateLimitHeaders(limiter: RateLimiter, d: RateDecision): string[] {
  const policy = `${POLICY_NAME};q=${d.limit};w=${limiter.windowSeconds}`;
  if (d.allowed) return ['ratelimit-policy', policy, 'ratelimit', `${POLICY_NAME};r=${d.remaining};t=${Math.ceil(d.resetMs / 1000)}`];
  const retry = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)));
  return ['ratelimit-policy', policy, 'ratelimit', `${POLICY_NAME};r=${d.remaining};t=${retry}`, 'retry-after', retry];
}

/** x, or the whole number within 1e-12 of it: undoes the last-bit error of a division or a share. */
function whole(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) <= Math.abs(x) * 1e-12 ? r : x;
}

/** floor(a / b) for integers 0 <= a, b > 0 below 2^53, exact even where a / b rounds up to a whole. */
function floorDiv(a: number, b: number): number {
  const q = Math.floor(a / b);
  return q * b > a ? q - 1 : q;
}
