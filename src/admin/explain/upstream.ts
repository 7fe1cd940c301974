// The upstream side of an explanation: every instance the route knows with its state (active,
// ejected, drained, idle; tier and slow-start share where they apply), how the route's strategy
// chooses, said in a sentence, and the one pick a request arriving now would get. The pick is
// real, so a round-robin or weighted rotation moves on by one, as for one request.

import type { IncomingHttpHeaders } from 'node:http';
import { formatHostPort } from '../../core/address.js';
import type { HealthStatus } from '../../core/instance.js';
import { tierOf } from '../../core/pickers/failover.js';
import { rampFactor } from '../../core/pickers/slow-start.js';
import type { Route } from '../../core/route-table.js';
import { existingStats, UNUSED_STATS, type Upstream } from '../../core/upstream.js';
import { affinityHash, cookieValue } from '../../proxy/affinity.js';
import type { ProxyRequest } from '../../proxy/messages.js';
import { pathOnly, seconds, who } from './phrases.js';
import type { ExplainRequest } from './question.js';

export interface CandidateView {
  id: string;
  address: string;
  weight: number;
  status: HealthStatus;
  /** active: may be picked; the rest say why not (in panic, ejected and idle ones may be). */
  state: 'active' | 'ejected' | 'drained' | 'idle';
  inRotation: boolean;
  chosen: boolean;
  inflight: number;
  ewmaMs: number | null;
  /** failover: the instance's tier name ('' when in none). */
  tier?: string;
  /** Slow start: the fraction of its share it gets now, while ramping. */
  slowStartShare?: number;
  note: string;
}

export interface UpstreamReport {
  strategy: string;
  how: string;
  panic: boolean;
  /** Whether the picker was asked (not when a policy answers first). */
  picked: boolean;
  choice: { id: string; address: string } | null;
  candidates: CandidateView[];
}

/** The route's instances, their state, and one pick when `pick` (the request reached the picker). */
export function explainUpstream(route: Route, req: ExplainRequest, headers: IncomingHttpHeaders, path: string, now: number, pick: boolean): UpstreamReport {
  const rc = route.config;
  const inRotation = new Set<Upstream>(route.upstreams);
  const fake: ProxyRequest = { method: req.method, url: path, headers, rawHeaders: [], socket: { remoteAddress: req.client } };
  const hash = affinityHash(rc, fake);
  const choice = pick ? route.picker.pick(hash) : undefined;
  const f = rc.failover;
  let activeTier = -1;
  if (f !== undefined) {
    // As failover.ts: the best tier with a healthy instance (critical ones only in panic).
    const healthy = route.upstreams.filter((u) => u.status !== 'critical');
    activeTier = Math.min(...(healthy.length > 0 ? healthy : route.upstreams).map((u) => tierOf(u, f)));
  }
  const ramps = rc.slowStartMs > 0 && rc.strategy !== 'consistent-hash' && route.upstreams.length >= 2;
  const seen = new Set<Upstream>();
  const candidates: CandidateView[] = [];
  const add = (u: Upstream, idle: boolean): void => {
    if (seen.has(u)) return;
    seen.add(u);
    // An instance never used has no stats (and so no ejection or drain on record).
    const s = existingStats(u) ?? UNUSED_STATS;
    const on = inRotation.has(u);
    const state = route.drained.has(s) ? 'drained' : route.ejected.has(s) ? 'ejected' : idle ? 'idle' : 'active';
    const notes: string[] = [];
    if (state === 'drained') notes.push('drained by hand');
    if (state === 'ejected') notes.push(`ejected after consecutive failures${s.ejectedUntil > now ? `, back in ${seconds(s.ejectedUntil - now)}` : ''}`);
    if (state === 'idle') notes.push(u.status === 'critical' ? 'critical in Consul' : 'warning in Consul: only weighted strategies send to warning instances');
    notes.push(on ? (state === 'active' ? 'in rotation' : 'in rotation anyway: panic') : 'out of rotation');
    const view: CandidateView = {
      id: u.id,
      address: formatHostPort(u.host, u.port),
      weight: u.weight,
      status: u.status,
      state,
      inRotation: on,
      chosen: choice === u,
      inflight: s.inflight,
      ewmaMs: s.ewmaAt === 0 ? null : Math.round(s.ewmaMs * 100) / 100,
      note: '',
    };
    if (f !== undefined) {
      const tier = tierOf(u, f);
      view.tier = f.tiers[tier] ?? '';
      notes.push(`tier ${view.tier || '(none)'}${on ? (tier === activeTier ? ' (active)' : ' (standby)') : ''}`);
    }
    if (ramps && on && s.activeSince + rc.slowStartMs > now) {
      view.slowStartShare = Math.round(rampFactor(now - s.activeSince, rc.slowStartMs) * 100) / 100;
      notes.push(`slow start: ${Math.round(view.slowStartShare * 100)}% of its share, full in ${seconds(s.activeSince + rc.slowStartMs - now)}`);
    }
    view.note = notes.join('; ');
    candidates.push(view);
  };
  // Every instance in rotation is a candidate, or idle and in rotation because of panic.
  for (const u of route.candidates) add(u, false);
  for (const u of route.idle) add(u, true);
  return {
    strategy: rc.strategy,
    how: strategyText(route, req, headers, path, hash, activeTier),
    panic: route.panic,
    picked: pick,
    choice: choice === undefined ? null : { id: choice.id, address: formatHostPort(choice.host, choice.port) },
    candidates,
  };
}

const ROTATING = new Set(['round-robin', 'weighted']);

function strategyText(route: Route, req: ExplainRequest, headers: IncomingHttpHeaders, path: string, hash: number | undefined, activeTier: number): string {
  const rc = route.config;
  const n = route.upstreams.length;
  if (rc.strategy === 'consistent-hash') {
    const k = rc.hashKey;
    const keyText = k.kind === 'header' ? `header ${k.name}` : k.kind === 'cookie' ? `cookie ${k.name}` : k.kind === 'ip' ? `the client address (${req.client})` : `the path (${pathOnly(path)})`;
    const value = k.kind === 'header' ? headers[k.name] : k.kind === 'cookie' ? cookieValue(headers.cookie, k.name) : undefined;
    const shown = value === undefined ? '' : ` "${String(Array.isArray(value) ? value[0] : value)}"`;
    return hash === undefined
      ? `consistent-hash on ${keyText}: the request has none, so a random one of ${n}`
      : `consistent-hash on ${keyText}${shown}: the owner of the next point on the ring among ${n}; the same key gets the same instance while the instances stay the same`;
  }
  if (rc.strategy !== 'failover') return spread(rc.strategy, route.upstreams);
  const f = rc.failover!;
  const tier = activeTier === -1 || n === 0 ? 'none' : (f.tiers[activeTier] ?? '(no tier)');
  const better = activeTier > 0 ? ` (no healthy instance in ${f.tiers.slice(0, activeTier).join(', ')})` : '';
  const inTier = route.upstreams.filter((u) => tierOf(u, f) === activeTier);
  return `failover by ${f.by.kind === 'tag' ? 'tag' : `meta ${f.by.key}`} over tiers [${f.tiers.join(', ')}]: active tier ${tier}${better}; within it ${spread(f.within, inTier)}`;
}

/** How the strategies that spread over a list choose. */
function spread(strategy: string, ups: readonly Upstream[]): string {
  const n = ups.length;
  switch (strategy) {
    case 'round-robin':
      return `round-robin over ${n}: each in turn, weights ignored`;
    case 'random':
      return `random over ${n}: a uniform choice, weights ignored`;
    case 'weighted':
      return `weighted round-robin over ${n} (earliest deadline first), by weight: ${ups.map((u) => `${u.id} ${u.weight}`).join(', ')}`;
    case 'least-request':
      return `least-request over ${n}: of two drawn at random, the one with fewer requests in flight wins`;
    case 'ewma':
      return `peak-EWMA over ${n}: of two drawn at random, the lower latency × (in flight + 1) wins`;
    default:
      return `${strategy} over ${n}`;
  }
}

export function upstreamText(u: UpstreamReport, route: Route): string[] {
  const rc = route.config;
  const lines = [`Strategy: ${u.how}.`];
  if (u.panic) {
    const known = route.candidates.length + route.idle.length;
    const healthy = known - route.idle.length - route.ejected.size - route.drained.size;
    lines.push(`Panic: ${healthy} of ${known} known instances healthy, below panicThreshold ${rc.panicThreshold}%: routing to every known instance but drained ones.`);
  }
  if (u.candidates.length === 0)
    lines.push(rc.source.kind === 'consul' ? `Discovery knows no instance of ${rc.source.service}${rc.source.tags.length ? ` with tags ${rc.source.tags.join(', ')}` : ''}.` : 'The route lists no endpoints.');
  for (const c of u.candidates) lines.push(`Instance ${who(c)}, weight ${c.weight}, ${c.status}: ${c.note}${c.chosen ? ' ← chosen' : ''}.`);
  const kind = rc.strategy === 'failover' ? rc.failover!.within : rc.strategy;
  if (u.choice !== null) {
    const effect = ROTATING.has(kind) ? 'this moved its rotation on by one, as a request does' : 'another request may get another instance';
    lines.push(`The picker was asked once, as one request would ask it, and chose ${who(u.choice)}; ${effect}.`);
  }
  return lines;
}
