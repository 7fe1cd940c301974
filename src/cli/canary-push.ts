// `fairway config push --canary N|P% --watch 60s`: the fleet's new routes go to a few Fairways
// first. The plan (core/canary.ts) names them and is written beside the key with check-and-set;
// once each canary reports the new document in force, their traffic is compared with the rest
// of the fleet's over the watch window, scraped from each one's /metrics (core/canary-verdict.ts).
// A threshold broken (or too little traffic to judge, or a canary that refuses the document or
// stops answering) deletes the plan: the canaries go back to the key, and the push exits 1 with
// the figures. Otherwise the key is written (check-and-set against the index the plan was made
// on, so a push racing this one fails it) and the plan deleted: the whole fleet runs it.
// Ctrl-C rolls back too. If this process dies, the plan ends by itself at its `until`.

import { setTimeout as delay } from 'node:timers/promises';
import { canaryKey, formatCanary, parseCanary, pickCanaries, type CanaryShare } from '../core/canary.js';
import { addTraffic, formatFigures, judge, parseScrape, trafficBetween, type Scrape, type Thresholds, type Verdict } from '../core/canary-verdict.js';
import { formatProblem } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { loadKvRoutes } from '../core/kv-routes.js';
import { readConfigText } from '../config-source/config-file.js';
import type { ConsulClient } from '../discovery/consul-client.js';

export interface CanaryPushOptions {
  file: string;
  key: string;
  /** The fleet's Consul service (fleet.name). */
  fleet: string;
  share: CanaryShare;
  watchMs: number;
  thresholds: Thresholds;
  /** Progress, one line at a time (stderr). */
  progress: (line: string) => void;
  /** Aborted: roll back now (Ctrl-C). */
  signal?: AbortSignal;
}

export type CanaryResult = { ok: boolean; text: string } | { ok: false; problems: string[] };

/** How long a canary may take to put the plan's document in force, and the rest to follow a promotion. */
const SETTLE_MS = 15_000;
/** A plan outlives its watch by this much before ending by itself (only if this push dies). */
const PLAN_GRACE_MS = 30_000;

interface Member {
  id: string;
  admin: string;
}

export async function canaryPush(client: ConsulClient, o: CanaryPushOptions): Promise<CanaryResult> {
  const text = await readConfigText(o.file);
  const loaded = loadKvRoutes(text, o.file);
  if (!loaded.ok) return { ok: false, problems: loaded.problems.map(formatProblem) };
  const base = (await client.kvGet(o.key, { index: 0, waitMs: 0 })).value?.modifyIndex ?? 0;
  const fleet = await members(client, o.fleet);
  const picked = pickCanaries(fleet.map((m) => m.id), o.share);
  if (!picked.ok) throw new UserError(`config push --canary: ${picked.problem} (fleet service "${o.fleet}")`);
  const canaries = fleet.filter((m) => picked.members.includes(m.id));
  const rest = fleet.filter((m) => !picked.members.includes(m.id));

  const planKey = canaryKey(o.key);
  const running = (await client.kvGet(planKey, { index: 0, waitMs: 0 })).value;
  // Another push's plan blocks this one until it has ended (one that died ends by its `until`);
  // an ended or unreadable plan, which every instance ignores, is replaced.
  const other = running ? parseCanary(running.text) : undefined;
  if (other?.ok && other.plan.until > Date.now())
    throw new UserError(`another canary push is under way: ${planKey} names ${other.plan.members.join(', ')} until ${new Date(other.plan.until).toISOString()}`);
  const until = Date.now() + SETTLE_MS + o.watchMs + PLAN_GRACE_MS;
  const plan = formatCanary({ members: picked.members, until, base, routes: text });
  if (!(await client.kvPut(planKey, plan, running?.modifyIndex ?? 0))) throw new UserError(`${planKey} changed while this push was writing it: another canary push started; try again once it has finished`);
  const planIndex = (await client.kvGet(planKey, { index: 0, waitMs: 0 })).value?.modifyIndex ?? 0;
  o.progress(`canary: ${canaries.map((m) => m.id).join(', ')} (${canaries.length} of ${fleet.length}) on ${o.file}; watching ${o.watchMs / 1000}s`);

  const rollBack = async (why: string, verdict?: Verdict): Promise<CanaryResult> => {
    await client.kvDelete(planKey, planIndex);
    const back = await settle(canaries, (s) => s !== undefined && s.canary?.index !== planIndex);
    const lines = [...(verdict ? figureLines(verdict) : []), `rolled back: ${why}`, back.length === 0 ? `the canaries run ${o.key} again` : `not yet back on ${o.key}: ${back.join(', ')}`];
    return { ok: false, text: `${lines.join('\n')}\n` };
  };

  let passed: Verdict;
  try {
    const refused = await settle(canaries, (s) => s?.canary?.index === planIndex, (s) => (s?.canary?.index === planIndex && !s.ok ? s.problems : undefined));
    if (refused.length > 0) return await rollBack(`the plan's document is not in force on ${refused.join('; ')}`);
    const before = await scrapeAll(fleet);
    const tick = Math.min(5_000, Math.max(500, o.watchMs / 10));
    const started = Date.now();
    for (;;) {
      const left = o.watchMs - (Date.now() - started);
      await delay(Math.max(0, Math.min(tick, left)), undefined, o.signal ? { signal: o.signal } : {});
      const final = Date.now() - started >= o.watchMs;
      const after = await scrapeAll(fleet);
      const lost = canaries.filter((m) => !after.has(m.id)).map((m) => m.id);
      if (lost.length > 0) return await rollBack(`canary ${lost.join(', ')} stopped answering on its admin API`);
      const verdict = judge(window(canaries, before, after), window(rest, before, after), o.thresholds, final);
      o.progress(`${Math.round((Date.now() - started) / 1000)}s  canary ${formatFigures(verdict.canary)}  |  rest ${formatFigures(verdict.rest)}`);
      if (verdict.pass === false) return await rollBack(verdict.reasons.join('; '), verdict);
      if (verdict.pass === true) {
        passed = verdict;
        break;
      }
    }
  } catch (err) {
    return await rollBack(o.signal?.aborted ? 'interrupted' : (err as Error).message);
  }
  // Outside the watch's rollback: once the key is written, a failure here is not a rollback.
  return promote(passed);

  async function promote(verdict: Verdict): Promise<CanaryResult> {
    if (!(await client.kvPut(o.key, text, base))) return rollBack(`${o.key} changed during the canary (it was at index ${base}): someone else pushed; nothing promoted`, verdict);
    await client.kvDelete(planKey, planIndex);
    const index = (await client.kvGet(o.key, { index: 0, waitMs: 0 })).value?.modifyIndex ?? 0;
    const behind = await settle(fleet, (s) => s?.index === index && s.canary === null);
    const lines = [...figureLines(verdict), `promoted ${o.file} to ${o.key} at index ${index}`, behind.length === 0 ? `all ${fleet.length} Fairways run it` : `not yet running it: ${behind.join(', ')}`];
    return { ok: true, text: `${lines.join('\n')}\n` };
  }
}

/** The passing Fairways of the fleet, with their admin addresses (registered as meta `admin`). */
async function members(client: ConsulClient, fleet: string): Promise<Member[]> {
  const instances = (await client.healthService(fleet, [], { index: 0, waitMs: 0 })).value ?? [];
  return instances
    .filter((i) => i.status === 'passing' && i.meta.admin !== undefined)
    .map((i) => ({ id: i.id, admin: `http://${i.meta.admin}` }));
}

/** fleetConfig from one instance's /api/status (undefined when it cannot be read). */
interface FleetConfigStatus {
  ok: boolean;
  index: number | null;
  canary: { index: number } | null;
  problems: string[];
}

async function fleetConfigOf(m: Member): Promise<FleetConfigStatus | undefined> {
  try {
    const res = await fetch(`${m.admin}/api/status`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? (((await res.json()) as { fleetConfig?: FleetConfigStatus }).fleetConfig ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits (up to SETTLE_MS) until every one of `group` reports `done`, or one reports a refusal
 * (`refusal` gives its problems). Returns what is left: refusals and the members still not done.
 */
async function settle(group: readonly Member[], done: (s: FleetConfigStatus | undefined) => boolean, refusal?: (s: FleetConfigStatus | undefined) => string[] | undefined): Promise<string[]> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const states = await Promise.all(group.map(fleetConfigOf));
    const refused = group.flatMap((m, i) => {
      const problems = refusal?.(states[i]);
      return problems === undefined ? [] : [`${m.id}: ${problems.join('; ')}`];
    });
    if (refused.length > 0) return refused;
    const waiting = group.filter((_, i) => !done(states[i])).map((m) => m.id);
    if (waiting.length === 0 || Date.now() >= deadline) return waiting.map((id) => `${id} (not there within ${SETTLE_MS / 1000}s)`);
    await delay(200);
  }
}

/** Each member's /metrics, by ID (a member that did not answer is missing). */
async function scrapeAll(group: readonly Member[]): Promise<Map<string, Scrape>> {
  const out = new Map<string, Scrape>();
  await Promise.all(
    group.map(async (m) => {
      try {
        const res = await fetch(`${m.admin}/metrics`, { signal: AbortSignal.timeout(5_000) });
        if (res.ok) out.set(m.id, parseScrape(await res.text()));
      } catch {
        // Missing from the map: the caller decides what a silent member means.
      }
    }),
  );
  return out;
}

/** The traffic of `group` between two rounds of scrapes (members missing from either count nothing). */
function window(group: readonly Member[], before: Map<string, Scrape>, after: Map<string, Scrape>) {
  return addTraffic(group.flatMap((m) => (before.has(m.id) && after.has(m.id) ? [trafficBetween(before.get(m.id)!, after.get(m.id)!)] : [])));
}

function figureLines(v: Verdict): string[] {
  return [`canary  ${formatFigures(v.canary)}`, `rest    ${formatFigures(v.rest)}`];
}
