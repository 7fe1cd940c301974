// mergeRouteViews: a cluster primary adds up its workers' /api/routes answers.

import { describe, expect, it } from 'vitest';
import { mergeRouteViews } from '../../src/admin/merge.js';
import type { EndpointView, RouteView } from '../../src/admin/views.js';

function endpoint(o: Partial<EndpointView>): EndpointView {
  return { id: 'e1', address: '10.0.0.1', port: 80, weight: 1, status: 'passing', active: true, inflight: 0, requests: 0, failures: 0, ewmaMs: null, ejected: false, draining: false, rps: 0, p50Ms: null, p99Ms: null, ...o };
}

function route(endpoints: EndpointView[], o: Partial<RouteView> = {}): RouteView {
  return { name: 'web', service: 'web', tags: [], strategy: 'round-robin', panic: false, match: { host: null, pathPrefix: '/', headers: {} }, endpoints, ...o };
}

describe('mergeRouteViews', () => {
  it('sums counts and rates, keeps the worst percentile, averages the EWMA', () => {
    const merged = mergeRouteViews([
      [route([endpoint({ inflight: 1, requests: 10, failures: 1, rps: 2.5, p50Ms: 3, p99Ms: 9, ewmaMs: 4 })])],
      [route([endpoint({ inflight: 2, requests: 5, failures: 0, rps: 1.2, p50Ms: 5, p99Ms: 7, ewmaMs: 6 })])],
    ]);
    expect(merged).toHaveLength(1);
    expect(merged[0]!.endpoints).toEqual([endpoint({ inflight: 3, requests: 15, failures: 1, rps: 3.7, p50Ms: 5, p99Ms: 9, ewmaMs: 5 })]);
  });

  it.each([
    { why: 'ejected in one worker is ejected', a: { ejected: true }, b: {}, want: { ejected: true } },
    { why: 'draining in one worker is draining', a: {}, b: { draining: true }, want: { draining: true } },
    { why: 'active in one worker is active', a: { active: false }, b: { active: true }, want: { active: true } },
    { why: 'a percentile known to one worker only is kept', a: { p99Ms: null }, b: { p99Ms: 12 }, want: { p99Ms: 12 } },
  ])('$why', ({ a, b, want }) => {
    const merged = mergeRouteViews([[route([endpoint(a)])], [route([endpoint(b)])]]);
    expect(merged[0]!.endpoints[0]).toMatchObject(want);
  });

  it('keeps endpoints with the same id on different addresses apart, and routes in panic anywhere in panic', () => {
    const merged = mergeRouteViews([
      [route([endpoint({ address: '10.0.0.1', requests: 1 })])],
      [route([endpoint({ address: '10.0.0.2', requests: 2 })], { panic: true })],
    ]);
    expect(merged[0]!.panic).toBe(true);
    expect(merged[0]!.endpoints.map((e) => [e.address, e.requests])).toEqual([['10.0.0.1', 1], ['10.0.0.2', 2]]);
  });

  it('no workers, no routes', () => {
    expect(mergeRouteViews([])).toEqual([]);
  });
});
