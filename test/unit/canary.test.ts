// A canary push's pure parts: the plan kept beside the fleet's key, which document an instance
// runs, which instances are picked, and the verdict on their traffic against the rest's.

import { describe, expect, it } from 'vitest';
import { canaryKey, documentFor, formatCanary, parseCanary, parseShare, pickCanaries, type FleetDocs } from '../../src/core/canary.js';
import { addTraffic, judge, parseScrape, quantileMs, trafficBetween, type Thresholds } from '../../src/core/canary-verdict.js';

const NOW = Date.parse('2026-12-02T04:00:00Z');
const MAIN = { text: 'routes: [{ name: api, endpoints: [10.0.0.1:80] }]\n', modifyIndex: 40 };
const NEW_ROUTES = 'routes: [{ name: api, endpoints: [10.0.0.2:80] }]\n';

function plan(over: Partial<{ members: string[]; until: number; base: number }> = {}): string {
  return formatCanary({ members: ['fw-a-80'], until: NOW + 60_000, base: 40, routes: NEW_ROUTES, ...over });
}

describe('the canary plan', () => {
  it('lives beside the key', () => {
    expect(canaryKey('fairway/config')).toBe('fairway/config.canary');
  });

  it('reads back as written', () => {
    expect(parseCanary(plan())).toEqual({ ok: true, plan: { members: ['fw-a-80'], until: NOW + 60_000, base: 40, routes: NEW_ROUTES } });
  });

  it.each([
    { why: 'text that is not JSON', text: 'routes: []', problem: /not JSON/ },
    { why: 'JSON without the mark', text: '{"members":[]}', problem: /not a canary plan/ },
    { why: 'members that are not strings', text: '{"fairway-canary":1,"members":[1],"until":"2026-12-02T04:00:00Z","base":1,"routes":""}', problem: /members/ },
    { why: 'an until that is no time', text: '{"fairway-canary":1,"members":[],"until":"soon","base":1,"routes":""}', problem: /until/ },
    { why: 'a negative base', text: '{"fairway-canary":1,"members":[],"until":"2026-12-02T04:00:00Z","base":-1,"routes":""}', problem: /base/ },
    { why: 'routes that are not text', text: '{"fairway-canary":1,"members":[],"until":"2026-12-02T04:00:00Z","base":1,"routes":{}}', problem: /routes/ },
  ])('refuses $why', ({ text, problem }) => {
    const r = parseCanary(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toMatch(problem);
  });
});

describe('documentFor: which document an instance runs', () => {
  const canary = (text: string) => ({ text, modifyIndex: 41 });
  it.each<{ why: string; docs: FleetDocs; self: string | undefined; canary: boolean; ignored?: RegExp }>([
    { why: 'without a plan, the key', docs: { main: MAIN, canary: null }, self: 'fw-a-80', canary: false },
    { why: 'a member of a live plan, the plan\'s', docs: { main: MAIN, canary: canary(plan()) }, self: 'fw-a-80', canary: true },
    { why: 'an instance the plan does not name, the key, silently', docs: { main: MAIN, canary: canary(plan()) }, self: 'fw-b-80', canary: false },
    { why: 'an instance whose port is not bound yet, the key', docs: { main: MAIN, canary: canary(plan()) }, self: undefined, canary: false },
    { why: 'a member after the plan ended, the key', docs: { main: MAIN, canary: canary(plan({ until: NOW })) }, self: 'fw-a-80', canary: false, ignored: /ended/ },
    { why: 'a member once the key moved on (a promotion or another push), the key', docs: { main: { ...MAIN, modifyIndex: 42 }, canary: canary(plan()) }, self: 'fw-a-80', canary: false, ignored: /changed since it began/ },
    { why: 'a member of a plan made before the key existed, while it still does not', docs: { main: null, canary: canary(plan({ base: 0 })) }, self: 'fw-a-80', canary: true },
    { why: 'anyone, when the plan is unreadable, the key', docs: { main: MAIN, canary: canary('{') }, self: 'fw-a-80', canary: false, ignored: /not JSON/ },
  ])('$why', ({ docs, self, canary: isCanary, ignored }) => {
    const choice = documentFor(docs, self, NOW);
    expect(choice.canary !== null).toBe(isCanary);
    expect(choice.entry).toEqual(isCanary ? { text: NEW_ROUTES, modifyIndex: 41 } : docs.main);
    if (isCanary) expect(choice.canary).toEqual({ index: 41, until: docs.canary && parseCanary(docs.canary.text).ok ? (parseCanary(docs.canary.text) as { plan: { until: number } }).plan.until : 0 });
    if (ignored) expect(choice.ignored).toMatch(ignored);
    else expect(choice.ignored).toBeUndefined();
  });
});

describe('the share of the fleet that goes first', () => {
  it.each([
    { text: '1', share: { count: 1 } },
    { text: '3', share: { count: 3 } },
    { text: '25%', share: { percent: 25 } },
    { text: '12.5%', share: { percent: 12.5 } },
    { text: '0', share: undefined },
    { text: '1.5', share: undefined },
    { text: '100%', share: undefined },
    { text: '0%', share: undefined },
    { text: 'one', share: undefined },
  ])('--canary $text', ({ text, share }) => {
    expect(parseShare(text)).toEqual(share);
  });

  it.each([
    { why: 'a count takes the first IDs in order, whatever order Consul gave', ids: ['c', 'a', 'b'], share: { count: 2 }, members: ['a', 'b'] },
    { why: 'a percentage rounds up', ids: ['a', 'b', 'c', 'd', 'e'], share: { percent: 25 }, members: ['a', 'b'] },
    { why: 'a small percentage still takes one', ids: ['a', 'b', 'c'], share: { percent: 1 }, members: ['a'] },
  ])('$why', ({ ids, share, members }) => {
    expect(pickCanaries(ids, share)).toEqual({ ok: true, members });
  });

  it.each([
    { why: 'a fleet of one has nobody to compare with', ids: ['a'], share: { count: 1 }, problem: /at least 2/ },
    { why: 'a count of the whole fleet leaves nobody', ids: ['a', 'b'], share: { count: 2 }, problem: /leaves none of the 2/ },
    { why: 'a percentage that rounds up to the whole fleet leaves nobody', ids: ['a', 'b'], share: { percent: 60 }, problem: /--canary 60%/ },
  ])('refuses: $why', ({ ids, share, problem }) => {
    const r = pickCanaries(ids, share);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toMatch(problem);
  });
});

/** A /metrics scrape as Fairway writes it: requests by class, and cumulative latency buckets. */
function scrape(counts: { ok: number; err: number }, buckets: Array<[string, number]>, route = 'api'): string {
  const lines = [
    '# HELP fairway_requests_total Requests answered',
    '# TYPE fairway_requests_total counter',
    `fairway_requests_total{route="${route}",endpoint="e,class=\\"5xx\\"",addr="10.0.0.1:80",class="2xx",protocol="http1"} ${counts.ok}`,
    `fairway_requests_total{route="${route}",endpoint="-",addr="-",class="5xx",protocol="http1"} ${counts.err}`,
    ...buckets.map(([le, n]) => `fairway_request_duration_seconds_bucket{route="${route}",endpoint="-",addr="-",le="${le}"} ${n}`),
    'fairway_request_duration_seconds_count{route="api"} 1',
    'process_cpu_seconds_total 3',
  ];
  return `${lines.join('\n')}\n`;
}

const FAST: Array<[string, number]> = [['0.001', 0], ['0.005', 100], ['0.1', 100], ['+Inf', 100]];

describe('traffic between two scrapes', () => {
  it('counts each series\' increase, 5xx apart, and reads no label out of another label\'s escaped value', () => {
    const t = trafficBetween(parseScrape(scrape({ ok: 10, err: 1 }, FAST)), parseScrape(scrape({ ok: 100, err: 4 }, FAST.map(([le, n]) => [le, n + 50] as [string, number]))));
    expect(t.requests).toBe(93);
    expect(t.errors).toBe(3);
    expect(t.buckets.get(0.005)).toBe(50);
    expect(t.buckets.get(Infinity)).toBe(50);
  });

  it('counts a series that went down (a restart) from zero, and one that vanished (a dropped route) as nothing', () => {
    const before = parseScrape(scrape({ ok: 500, err: 0 }, FAST, 'old'));
    const after = parseScrape(scrape({ ok: 7, err: 2 }, FAST, 'new'));
    expect(trafficBetween(before, after).requests).toBe(9);
  });

  it('adds instances together', () => {
    const a = trafficBetween(new Map(), parseScrape(scrape({ ok: 10, err: 0 }, FAST)));
    const b = trafficBetween(new Map(), parseScrape(scrape({ ok: 5, err: 5 }, FAST)));
    expect(addTraffic([a, b])).toMatchObject({ requests: 20, errors: 5 });
    expect(addTraffic([a, b]).buckets.get(0.005)).toBe(200);
  });
});

describe('quantileMs', () => {
  it.each([
    { why: 'interpolates inside the bucket the rank falls in', buckets: [[0.01, 0], [0.02, 100], [Infinity, 100]], q: 0.5, ms: 15 },
    { why: 'the first bucket starts at zero', buckets: [[0.01, 100], [Infinity, 100]], q: 0.99, ms: 9.9 },
    { why: 'past the last bound, the last bound', buckets: [[0.01, 0], [30, 0], [Infinity, 10]], q: 0.99, ms: 30_000 },
    { why: 'nothing recorded, nothing to say', buckets: [[0.01, 0], [Infinity, 0]], q: 0.99, ms: undefined },
  ])('$why', ({ buckets, q, ms }) => {
    const got = quantileMs(new Map(buckets as Array<[number, number]>), q);
    if (ms === undefined) expect(got).toBeUndefined();
    else expect(got).toBeCloseTo(ms, 6);
  });
});

describe('judge: the canaries against the rest', () => {
  const T: Thresholds = { max5xxIncrease: 0.01, maxP99Ratio: 2, minRequests: 20 };
  const traffic = (requests: number, errors: number, p99Bucket: number) => ({
    requests,
    errors,
    buckets: new Map([[0.001, 0], [p99Bucket, requests], [Infinity, requests]]),
  });

  it.each([
    { why: 'equal traffic passes at the end', canary: traffic(100, 0, 0.005), rest: traffic(100, 0, 0.005), final: true, pass: true },
    { why: 'equal traffic is not yet a pass before the end', canary: traffic(100, 0, 0.005), rest: traffic(100, 0, 0.005), final: false, pass: undefined },
    { why: '5xx one point above the rest is allowed', canary: traffic(100, 2, 0.005), rest: traffic(100, 1, 0.005), final: true, pass: true },
    { why: '5xx more than one point above the rest fails at once', canary: traffic(100, 3, 0.005), rest: traffic(100, 1, 0.005), final: false, pass: false, reason: /5xx 3.0 % on the canaries against 1.0 %/ },
    { why: 'a p99 over twice the rest\'s and 10 ms worse fails', canary: traffic(100, 0, 0.25), rest: traffic(100, 0, 0.01), final: true, pass: false, reason: /p99 .* more than 2×/ },
    { why: 'a p99 over twice the rest\'s but within 10 ms passes (the buckets are coarse)', canary: traffic(100, 0, 0.01), rest: traffic(100, 0, 0.0025), final: true, pass: true },
    { why: 'the p99 is not compared with a rest too quiet to say', canary: traffic(100, 0, 0.25), rest: traffic(5, 0, 0.01), final: true, pass: true },
    { why: 'too few canary requests is no verdict yet', canary: traffic(10, 10, 0.005), rest: traffic(100, 0, 0.005), final: false, pass: undefined },
    { why: 'too few canary requests at the end fails', canary: traffic(10, 0, 0.005), rest: traffic(100, 0, 0.005), final: true, pass: false, reason: /answered 10 requests, fewer than --min-requests 20/ },
  ])('$why', ({ canary, rest, final, pass, reason }) => {
    const v = judge(canary, rest, T, final);
    expect(v.pass).toBe(pass);
    if (reason) expect(v.reasons.join('; ')).toMatch(reason);
    else expect(v.reasons).toEqual([]);
  });
});
