// A canary push of the fleet's routes (`fairway config push --canary`): the new document goes
// first to a few Fairways of the fleet, named in a plan kept at `<configKey>.canary` beside the
// key itself. Every instance reads both in one watch (a recursive read of the key's prefix) and
// decides here which document it runs: the canary's when it is a member, the plan has not
// expired, and the key is still at the index the plan was made against; the key's otherwise.
// So a promotion (the key rewritten) and a rollback (the plan deleted) both reach every
// instance through Consul alone, and a plan left behind by a push that died ends by itself at
// its `until`. Pure: time is passed in.

/** One KV value and the index a check-and-set write must name. */
export interface KvValue {
  readonly text: string;
  readonly modifyIndex: number;
}

/** The key's value and its canary plan's, as one watch of the key's prefix reads them. */
export interface FleetDocs {
  readonly main: KvValue | null;
  readonly canary: KvValue | null;
}

export interface CanaryPlan {
  /** Fleet member IDs (their Consul service IDs) that run the new document. */
  readonly members: readonly string[];
  /** When the plan ends by itself (ms since the epoch), if the push never finishes it. */
  readonly until: number;
  /** The key's ModifyIndex the plan was made against (0: no key). */
  readonly base: number;
  /** The routes document under trial. */
  readonly routes: string;
}

/** What an instance runs, and why it is not the canary when a plan exists. */
export interface DocChoice {
  /** The document to run (null: no key and no canary for this instance). */
  readonly entry: KvValue | null;
  /** Set when the document is the canary's: the plan's index and end. */
  readonly canary: { readonly index: number; readonly until: number } | null;
  /** Why a plan present in KV does not apply here (for the log), when it does not. */
  readonly ignored?: string;
}

const MARK = 'fairway-canary';

/** Where the canary plan of `key` lives. */
export function canaryKey(key: string): string {
  return `${key}.canary`;
}

export function formatCanary(plan: CanaryPlan): string {
  return `${JSON.stringify({ [MARK]: 1, members: plan.members, until: new Date(plan.until).toISOString(), base: plan.base, routes: plan.routes }, null, 2)}\n`;
}

/** The plan in a canary key's text, or why it is not one. */
export function parseCanary(text: string): { ok: true; plan: CanaryPlan } | { ok: false; problem: string } {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    return { ok: false, problem: `not JSON (${(err as Error).message})` };
  }
  if (v === null || typeof v !== 'object' || v[MARK] !== 1) return { ok: false, problem: `not a canary plan (no "${MARK}": 1)` };
  const { members, until, base, routes } = v;
  const at = typeof until === 'string' ? Date.parse(until) : NaN;
  if (!Array.isArray(members) || !members.every((m) => typeof m === 'string')) return { ok: false, problem: '"members" must be a list of fleet member IDs' };
  if (Number.isNaN(at)) return { ok: false, problem: '"until" must be an ISO time' };
  if (typeof base !== 'number' || !Number.isInteger(base) || base < 0) return { ok: false, problem: '"base" must be the key\'s ModifyIndex' };
  if (typeof routes !== 'string') return { ok: false, problem: '"routes" must be the routes document as text' };
  return { ok: true, plan: { members: members as string[], until: at, base, routes } };
}

/**
 * Which document the instance `self` (its fleet member ID; undefined before its ports are bound
 * or without `fleet:`) runs at `now`.
 */
export function documentFor(docs: FleetDocs, self: string | undefined, now: number): DocChoice {
  const main: DocChoice = { entry: docs.main, canary: null };
  if (docs.canary === null) return main;
  const parsed = parseCanary(docs.canary.text);
  if (!parsed.ok) return { ...main, ignored: `canary plan ignored: ${parsed.problem}` };
  const { plan } = parsed;
  if (self === undefined || !plan.members.includes(self)) return main;
  if (now >= plan.until) return { ...main, ignored: `canary plan ignored: it ended at ${new Date(plan.until).toISOString()}` };
  if (plan.base !== (docs.main?.modifyIndex ?? 0)) return { ...main, ignored: `canary plan ignored: the key changed since it began (index ${plan.base}, now ${docs.main?.modifyIndex ?? 'none'})` };
  return { entry: { text: plan.routes, modifyIndex: docs.canary.modifyIndex }, canary: { index: docs.canary.modifyIndex, until: plan.until } };
}

/** `--canary 1` (instances) or `--canary 25%` (of the passing fleet). */
export type CanaryShare = { count: number } | { percent: number };

export function parseShare(text: string): CanaryShare | undefined {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2] === '%') return n > 0 && n < 100 ? { percent: n } : undefined;
  return Number.isInteger(n) && n >= 1 ? { count: n } : undefined;
}

/**
 * The canaries among `ids` (sorted, so a rerun picks the same ones), or why there cannot be
 * any: at least one instance must stay on the old document to compare with.
 */
export function pickCanaries(ids: readonly string[], share: CanaryShare): { ok: true; members: string[] } | { ok: false; problem: string } {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length < 2) return { ok: false, problem: `a canary needs at least 2 passing Fairways to compare; the fleet has ${sorted.length}` };
  const n = 'count' in share ? share.count : Math.ceil((share.percent / 100) * sorted.length);
  if (n >= sorted.length)
    return { ok: false, problem: `--canary ${'count' in share ? n : `${share.percent}%`} leaves none of the ${sorted.length} passing Fairways on the current config to compare with` };
  return { ok: true, members: sorted.slice(0, n) };
}
