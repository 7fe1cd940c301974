// Failover: tierOf (by tag or meta key) and the picker that sends all traffic to the best tier present, spread by `within`.

import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/core/config.js';
import { failover as failoverFactory, tierOf } from '../../src/core/pickers/failover.js';
import { PICKERS } from '../../src/core/pickers/index.js';
import { depsOf, noRng, rngOf, routeConfig, upstreamWith } from './helpers.js';

/** The failover route of `yaml` (a `failover:` block body, or nothing for the defaults). */
function route(block = '', within = ''): RouteConfig {
  return routeConfig(`service: web\nstrategy: failover${block || within ? `\nfailover: { ${[block, within].filter(Boolean).join(', ')} }` : ''}`);
}

const failoverOf = (r: RouteConfig) => r.failover!;

describe('tierOf', () => {
  const byTag = failoverOf(route()); // tiers [primary, backup], by tag
  const custom = failoverOf(route('tiers: [gold, silver, bronze]'));
  const byZone = failoverOf(route('tiers: [eu-west, eu-central], by: "meta:zone"'));

  it.each([
    { why: 'a primary-tagged instance is tier 0', tags: ['primary'], f: byTag, tier: 0 },
    { why: 'a backup-tagged instance is tier 1', tags: ['v2', 'backup'], f: byTag, tier: 1 },
    { why: 'an instance tagged with two tiers takes the higher one', tags: ['backup', 'primary'], f: byTag, tier: 0 },
    { why: 'an instance in no tier ranks after all of them', tags: ['v2'], f: byTag, tier: 2 },
    { why: 'an instance without tags ranks last', tags: [], f: byTag, tier: 2 },
    { why: 'tags are compared exactly, case included', tags: ['Primary'], f: byTag, tier: 2 },
    { why: 'custom tiers count in their own order', tags: ['bronze'], f: custom, tier: 2 },
    { why: 'an instance outside three custom tiers is tier 3', tags: ['primary'], f: custom, tier: 3 },
  ])('by tag: $why', ({ tags, f, tier }) => {
    expect(tierOf(upstreamWith('x', { tags }), f)).toBe(tier);
  });

  it.each([
    { why: 'the meta value names the tier', meta: { zone: 'eu-central' }, tags: [], tier: 1 },
    { why: 'the first tier by meta is 0', meta: { zone: 'eu-west' }, tags: [], tier: 0 },
    { why: 'a meta value naming no tier ranks last', meta: { zone: 'us-east' }, tags: [], tier: 2 },
    { why: 'a missing meta key ranks last', meta: { rack: 'eu-west' }, tags: [], tier: 2 },
    { why: 'tags are ignored when tiering by meta', meta: {}, tags: ['eu-west'], tier: 2 },
  ] as Array<{ why: string; meta: Record<string, string>; tags: string[]; tier: number }>)('by meta:zone: $why', ({ meta, tags, tier }) => {
    expect(tierOf(upstreamWith('x', { meta, tags }), byZone)).toBe(tier);
  });
});

describe('failover picker', () => {
  const P1 = upstreamWith('P1', { port: 1, tags: ['primary'] });
  const P2 = upstreamWith('P2', { port: 2, tags: ['primary'], weight: 3 });
  const B1 = upstreamWith('B1', { port: 3, tags: ['backup'] });
  const B2 = upstreamWith('B2', { port: 4, tags: ['backup'] });
  const N1 = upstreamWith('N1', { port: 5, tags: ['v2'] });
  const N2 = upstreamWith('N2', { port: 6 });
  const ids = (p: { pick: () => { id: string } | undefined }, k: number) => Array.from({ length: k }, () => p.pick()?.id);

  it.each([
    { why: 'with primaries present only primaries are picked, in round-robin', list: [B1, P1, N1, P2, B2], seq: ['P1', 'P2', 'P1', 'P2'] },
    { why: 'one primary left takes all traffic over two backups', list: [B1, B2, P2], seq: ['P2', 'P2', 'P2'] },
    { why: 'without primaries the backups take over', list: [N1, B1, B2], seq: ['B1', 'B2', 'B1'] },
    { why: 'with no named tier present, the untiered instances serve', list: [N1, N2], seq: ['N1', 'N2', 'N1'] },
    { why: 'an empty list picks nothing', list: [], seq: [undefined, undefined] },
  ])('$why', ({ list, seq }) => {
    expect(ids(PICKERS.failover(list, depsOf(noRng), route()), seq.length)).toEqual(seq);
  });

  it('tiers by meta key when asked', () => {
    const west = upstreamWith('W', { port: 7, meta: { zone: 'eu-west' } });
    const central = upstreamWith('C', { port: 8, meta: { zone: 'eu-central' } });
    const r = route('tiers: [eu-west, eu-central], by: "meta:zone"');
    expect(ids(PICKERS.failover([central, west], depsOf(), r), 3)).toEqual(['W', 'W', 'W']);
    expect(ids(PICKERS.failover([central, N1], depsOf(), r), 3)).toEqual(['C', 'C', 'C']);
  });

  it.each([
    // Tier [P1 (w1), P2 (w3)]: due P1 1/2; P2 1/6, 1/2, 5/6 → P2 P1 P2 P2.
    { why: 'weighted spreads by weight inside the tier', within: 'within: weighted', rng: [], seq: ['P2', 'P1', 'P2', 'P2'] },
    { why: 'random draws inside the tier only', within: 'within: random', rng: [0.99, 0, 0.6], seq: ['P2', 'P1', 'P2'] },
    { why: 'round-robin rotates inside the tier', within: 'within: round-robin', rng: [], seq: ['P1', 'P2', 'P1'] },
  ])('the within strategy is applied inside the tier: $why', ({ within, rng, seq }) => {
    const p = PICKERS.failover([B1, P1, N1, P2], depsOf(rng.length ? rngOf(...rng) : noRng), route('', within));
    expect(ids(p, seq.length)).toEqual(seq);
  });

  it('least-request inside the tier compares only tier members', () => {
    const busy = upstreamWith('P1', { port: 1, tags: ['primary'], stats: { inflight: 4 } });
    const idle = upstreamWith('P2', { port: 2, tags: ['primary'], stats: { inflight: 1 } });
    const idleBackup = upstreamWith('B1', { port: 3, tags: ['backup'], stats: { inflight: 0 } });
    const p = PICKERS.failover([idleBackup, busy, idle], depsOf(rngOf(0, 0)), route('', 'within: least-request'));
    expect(p.pick()!.id).toBe('P2');
  });

  it('a route without a failover block picks nothing rather than guess', () => {
    const plain = routeConfig('service: web');
    expect(failoverFactory(PICKERS)([P1, B1], depsOf(), plain).pick()).toBeUndefined();
  });
});

describe('failover picker in panic (critical instances among the candidates)', () => {
  const critical = (id: string, port: number, tags: string[]) => ({ ...upstreamWith(id, { port, tags }), status: 'critical' as const });
  const ids = (p: { pick: () => { id: string } | undefined }, k: number) => Array.from({ length: k }, () => p.pick()?.id);

  it.each([
    {
      why: 'critical primaries do not make the primary tier active while a backup passes',
      list: [critical('P1', 1, ['primary']), critical('P2', 2, ['primary']), upstreamWith('B1', { port: 3, tags: ['backup'] }), critical('B2', 4, ['backup'])],
      seq: ['B1', 'B2', 'B1'],
    },
    {
      why: 'with every instance critical the best tier still serves (panic spreads over it)',
      list: [critical('P1', 1, ['primary']), critical('B1', 2, ['backup'])],
      seq: ['P1', 'P1'],
    },
  ])('$why', ({ list, seq }) => {
    const r = routeConfig('service: s\nstrategy: failover');
    expect(ids(PICKERS.failover(list, depsOf(noRng), r), seq.length)).toEqual(seq);
  });
});
