// Failover: priority tiers, primary first. Instances are sorted into tiers by a tag or a meta
// key (route `failover.by`, tier names in `failover.tiers`, highest priority first; an instance
// in no named tier ranks after all of them). All traffic goes to the highest tier that has a
// healthy instance, spread within it by the route's `failover.within` strategy. Only healthy
// instances reach a picker, so "the highest tier with one" is fixed per rebuild: when the last
// primary turns critical, discovery rebuilds the table and the backups take over.
//
// Cost: the inner strategy's per pick; O(n) per rebuild plus the inner strategy's rebuild.

import type { RouteConfig } from '../config.js';
import type { Upstream } from '../upstream.js';
import { EMPTY_PICKER, type Picker, type PickerDeps, type PickerFactory } from './picker.js';

/** The tier index of `u` under `route.failover` (tiers.length for an instance in none). */
export function tierOf(u: Upstream, failover: NonNullable<RouteConfig['failover']>): number {
  const { tiers, by } = failover;
  if (by.kind === 'tag') {
    for (let t = 0; t < tiers.length; t++) if (u.tags.includes(tiers[t]!)) return t;
    return tiers.length;
  }
  const value = u.meta[by.key];
  const t = value === undefined ? -1 : tiers.indexOf(value);
  return t === -1 ? tiers.length : t;
}

export function failover(inner: Readonly<Record<string, PickerFactory>>): PickerFactory {
  return (upstreams: readonly Upstream[], deps: PickerDeps, route: RouteConfig): Picker => {
    const f = route.failover;
    if (upstreams.length === 0 || !f) return EMPTY_PICKER;
    // The active tier is the best one with a healthy instance. Critical instances reach a
    // picker only when the route is in panic; they then share their tier's traffic, but never
    // make a tier active by themselves.
    const healthy = upstreams.filter((u) => u.status !== 'critical');
    let best = Infinity;
    for (const u of healthy.length > 0 ? healthy : upstreams) best = Math.min(best, tierOf(u, f));
    const tier = upstreams.filter((u) => tierOf(u, f) === best);
    return inner[f.within]!(tier, deps, route);
  };
}
