// In a cluster each worker keeps its own counters: the primary's /api/routes adds them up.
// Counts and rates are summed, the latency percentiles take the worst worker (a percentile of
// merged samples cannot be rebuilt from percentiles), the EWMA is averaged; an endpoint is
// ejected, draining or active if it is so in any worker. Pure.

import type { EndpointView, RouteView } from './views.js';

export function mergeRouteViews(perWorker: readonly RouteView[][]): RouteView[] {
  const out = new Map<string, { route: RouteView; endpoints: Map<string, { e: EndpointView; ewma: number[] }> }>();
  for (const routes of perWorker) {
    for (const r of routes) {
      let entry = out.get(r.name);
      if (!entry) out.set(r.name, (entry = { route: { ...r, endpoints: [] }, endpoints: new Map() }));
      entry.route.panic ||= r.panic;
      for (const e of r.endpoints) {
        const key = `${e.id}@${e.address}:${e.port}`;
        const seen = entry.endpoints.get(key);
        if (!seen) {
          entry.endpoints.set(key, { e: { ...e }, ewma: e.ewmaMs === null ? [] : [e.ewmaMs] });
          continue;
        }
        const m = seen.e;
        m.inflight += e.inflight;
        m.requests += e.requests;
        m.failures += e.failures;
        m.rps = Math.round((m.rps + e.rps) * 10) / 10;
        m.p50Ms = worst(m.p50Ms, e.p50Ms);
        m.p99Ms = worst(m.p99Ms, e.p99Ms);
        m.active ||= e.active;
        m.ejected ||= e.ejected;
        m.draining ||= e.draining;
        if (e.ewmaMs !== null) seen.ewma.push(e.ewmaMs);
      }
    }
  }
  return [...out.values()].map(({ route, endpoints }) => ({
    ...route,
    endpoints: [...endpoints.values()].map(({ e, ewma }) => ({
      ...e,
      ewmaMs: ewma.length === 0 ? null : Math.round((ewma.reduce((a, b) => a + b, 0) / ewma.length) * 100) / 100,
    })),
  }));
}

function worst(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
