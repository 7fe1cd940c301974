// The judgement of a canary push: the canaries' traffic against the rest of the fleet's over
// the same window, from what each Fairway's /metrics says (requests by status class, and the
// latency histogram). Two scrapes of one instance make its window: each series' increase,
// counted from zero when it went down or away (a route the new document dropped loses its
// counters), as Prometheus' increase() does. p99 is read from the summed histogram by linear
// interpolation inside its bucket, so it is as coarse as the buckets (1 ms up to 30 s):
// differences under P99_FLOOR_MS never fail a canary. Pure: scrape text in, verdict out.

/** The series a verdict reads from one /metrics scrape: series text (name and labels) → value. */
export type Scrape = ReadonlyMap<string, number>;

/** One side's traffic over the window. */
export interface Traffic {
  readonly requests: number;
  readonly errors: number;
  /** Histogram: upper bound in seconds (Infinity last) → requests at or under it. */
  readonly buckets: ReadonlyMap<number, number>;
}

export interface Thresholds {
  /** How far the canaries' 5xx share may exceed the rest's (0.01: one percentage point). */
  readonly max5xxIncrease: number;
  /** How many times the rest's p99 the canaries' may be. */
  readonly maxP99Ratio: number;
  /** Requests the canaries must answer in the window before they can be judged. */
  readonly minRequests: number;
}

export interface Figures {
  readonly requests: number;
  /** Share of 5xx answers, 0..1 (0 without requests). */
  readonly errorRate: number;
  /** ms; undefined without requests. */
  readonly p99: number | undefined;
}

/** pass: promote; fail: roll back; undefined: not enough traffic yet (only before the end). */
export interface Verdict {
  readonly pass: boolean | undefined;
  readonly reasons: readonly string[];
  readonly canary: Figures;
  readonly rest: Figures;
}

export const P99_FLOOR_MS = 10;

const REQUESTS = 'fairway_requests_total{';
const BUCKET = 'fairway_request_duration_seconds_bucket{';

/** The request counters and latency buckets in a Prometheus text scrape. */
export function parseScrape(text: string): Scrape {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(REQUESTS) && !line.startsWith(BUCKET)) continue;
    const end = line.lastIndexOf('}');
    const value = Number(line.slice(end + 1).trim().split(' ')[0]);
    if (end > 0 && Number.isFinite(value)) out.set(line.slice(0, end + 1), value);
  }
  return out;
}

/** The traffic between two scrapes of one instance. */
export function trafficBetween(before: Scrape, after: Scrape): Traffic {
  let requests = 0;
  let errors = 0;
  const buckets = new Map<number, number>();
  for (const [series, value] of after) {
    const was = before.get(series) ?? 0;
    const increase = value >= was ? value - was : value;
    if (series.startsWith(REQUESTS)) {
      requests += increase;
      if (label(series, 'class') === '5xx') errors += increase;
    } else {
      const le = label(series, 'le');
      const bound = le === '+Inf' ? Infinity : Number(le);
      if (le !== undefined && !Number.isNaN(bound)) buckets.set(bound, (buckets.get(bound) ?? 0) + increase);
    }
  }
  return { requests, errors, buckets };
}

export function addTraffic(all: readonly Traffic[]): Traffic {
  const buckets = new Map<number, number>();
  for (const t of all) for (const [b, n] of t.buckets) buckets.set(b, (buckets.get(b) ?? 0) + n);
  return { requests: all.reduce((s, t) => s + t.requests, 0), errors: all.reduce((s, t) => s + t.errors, 0), buckets };
}

export function figuresOf(t: Traffic): Figures {
  return { requests: t.requests, errorRate: t.requests === 0 ? 0 : t.errors / t.requests, p99: quantileMs(t.buckets, 0.99) };
}

/** The q-quantile of a cumulative histogram, in ms (the last finite bound when it is past it). */
export function quantileMs(buckets: ReadonlyMap<number, number>, q: number): number | undefined {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? (bounds.length > 0 ? buckets.get(bounds[bounds.length - 1]!)! : 0);
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const upper of bounds) {
    const n = buckets.get(upper)!;
    if (n >= rank) {
      if (upper === Infinity) return lower * 1000;
      return (lower + ((upper - lower) * (rank - below)) / Math.max(n - below, 1e-9)) * 1000;
    }
    lower = upper;
    below = n;
  }
  return lower * 1000;
}

/**
 * The verdict on the canaries' traffic against the rest's. Before the end (`final` false) it
 * fails as soon as the canaries have answered enough to judge and break a threshold; at the end
 * too little traffic fails as well: a config nobody used has not been shown to work.
 */
export function judge(canaryTraffic: Traffic, restTraffic: Traffic, t: Thresholds, final: boolean): Verdict {
  const canary = figuresOf(canaryTraffic);
  const rest = figuresOf(restTraffic);
  const reasons: string[] = [];
  if (canary.requests < t.minRequests) {
    if (final) reasons.push(`the canaries answered ${canary.requests} requests, fewer than --min-requests ${t.minRequests}: too few to judge`);
    return { pass: final ? false : undefined, reasons, canary, rest };
  }
  if (canary.errorRate - rest.errorRate > t.max5xxIncrease)
    reasons.push(`5xx ${pct(canary.errorRate)} on the canaries against ${pct(rest.errorRate)} on the rest: more than ${points(t.max5xxIncrease)} higher`);
  if (canary.p99 !== undefined && rest.p99 !== undefined && rest.requests >= t.minRequests && canary.p99 > rest.p99 * t.maxP99Ratio && canary.p99 - rest.p99 > P99_FLOOR_MS)
    reasons.push(`p99 ${ms(canary.p99)} on the canaries against ${ms(rest.p99)} on the rest: more than ${t.maxP99Ratio}×`);
  if (reasons.length > 0) return { pass: false, reasons, canary, rest };
  return { pass: final ? true : undefined, reasons, canary, rest };
}

/** One line of figures: `requests 412  5xx 51.2 %  p99 4.1 ms`. */
export function formatFigures(f: Figures): string {
  return `requests ${f.requests}  5xx ${pct(f.errorRate)}  p99 ${f.p99 === undefined ? '-' : ms(f.p99)}`;
}

function label(series: string, name: string): string | undefined {
  // Escaped quotes inside another label's value cannot end in `name="` after `{` or `,`.
  const at = Math.max(series.indexOf(`{${name}="`), series.indexOf(`,${name}="`));
  if (at < 0) return undefined;
  const start = at + name.length + 3;
  return series.slice(start, series.indexOf('"', start));
}

function pct(r: number): string {
  return `${(r * 100).toFixed(1)} %`;
}

function points(r: number): string {
  return `${(r * 100).toFixed(1)} points`;
}

function ms(v: number): string {
  return `${v.toFixed(1)} ms`;
}
