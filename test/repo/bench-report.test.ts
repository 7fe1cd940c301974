// The benchmark's report is pure code over a results object: render one made up here, so a
// broken bench/ module (a syntax error, a renamed field) fails the suite instead of the next
// 20-minute `npm run bench`.

import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript (bench/ is not type-checked)
import { DIRECT, FAIRWAY, FAIRWAY_POLICIES, goals, headroom, NET_RELAY, readmeTable, REF, renderMarkdown, summariseRounds } from '../../bench/report.mjs';

const round = (rps: number) => ({ rps, p50: 1, p99: 2, errors: 0, rssMB: 50 });

function results() {
  const rounds = {
    [DIRECT]: [round(40_000), round(42_000)],
    [REF]: [round(20_000), round(22_000)],
    [FAIRWAY]: [round(10_000), round(11_000)],
    [FAIRWAY_POLICIES]: [round(9_500), round(10_450)],
  };
  const rows = summariseRounds(rounds);
  const table = { label: '8 KiB text, Accept-Encoding: gzip', rows: [{ name: DIRECT, rps: 30_000, p50: 1, p99: 2, errors: 0 }, { name: FAIRWAY, rps: 6_000, p50: 1, p99: 2, errors: 0 }] };
  return {
    skipped: {},
    small: { rows, headroom: headroom(rows) },
    compression: { ...table, headroom: headroom(table.rows) },
    meta: {
      date: '2026-12-02 00:00', machine: 'test', mode: 'full run', node: 'v20', nodeFlags: '', backends: 'nginx', saturator: 'wrk',
      rounds: 2, seconds: 5, warmup: 3, cpuSplit: 'pinned', versions: { node: 'v20' },
    },
  };
}

describe('bench/report.mjs', () => {
  it('pairs each round with the reference of the same round', () => {
    const fairway = summariseRounds({ [REF]: [round(20_000), round(10_000)], [FAIRWAY]: [round(10_000), round(6_000)] }).find((r: { name: string }) => r.name === FAIRWAY);
    // Ratios 0.5 and 0.6: the median of two is the upper one here (index length/2).
    expect(fairway.vsRef).toBe(0.6);
  });

  it('gives requests per CPU-second against the reference, paired by round, where CPU was read', () => {
    const cpu = (rps: number, cpuUs: number) => ({ ...round(rps), cpuUs });
    const rows = summariseRounds({ [REF]: [cpu(20_000, 40), cpu(10_000, 50)], [FAIRWAY]: [cpu(10_000, 100), cpu(6_000, 125)], [DIRECT]: [round(40_000), round(40_000)] });
    const fairway = rows.find((r: { name: string }) => r.name === FAIRWAY);
    // CPU per request 100 vs 40 and 125 vs 50: 0.4× HAProxy's requests per CPU-second each round.
    expect(fairway.cpuVsRef).toBeCloseTo(0.4, 10);
    expect(fairway.cpuUs).toBe(125);
    expect(rows.find((r: { name: string }) => r.name === DIRECT).cpuVsRef).toBeUndefined();
  });

  it('states a ratio goal with its spread over the rounds, and decides it by the median', () => {
    const cpu = (rps: number, cpuUs: number) => ({ ...round(rps), cpuUs });
    // Fairway over HAProxy by req/s: 0.45, 0.55, 0.52 (median 0.52); by CPU: 0.4, 0.5, 0.6.
    const rounds = {
      [DIRECT]: [round(90_000), round(90_000), round(90_000)],
      [REF]: [cpu(20_000, 20), cpu(20_000, 20), cpu(25_000, 30)],
      [FAIRWAY]: [cpu(9_000, 50), cpu(11_000, 40), cpu(13_000, 50)],
    };
    const rows = summariseRounds(rounds);
    const g = goals({ ...results(), small: { rows, headroom: headroom(rows) } }).find((x: { text: string }) => x.text.startsWith('per core'));
    expect(g).toMatchObject({ met: true, valid: true });
    expect(g.value).toBe(`${FAIRWAY} 0.52× (rounds 0.45–0.55×, 2 of 3 at 0.5× or more); by CPU time per request: 0.50× (rounds 0.40–0.60×, 2 of 3 at 0.5× or more)`);
  });

  it('states the policy cost goal from the paired ratio', () => {
    const g = goals(results()).find((x: { text: string }) => x.text.startsWith('policies on'));
    expect(g).toMatchObject({ met: true, valid: true });
    expect(g.value).toMatch(/^5\.0 % /);
  });

  it('states the p99 goal at 50 % load with the bare relay beside it', () => {
    const point = (name: string, p99: number, achieved = 10_000) => ({ name, p50: 1, p99, p999: p99, achieved, errors: 0 });
    const half = { pct: 50, rate: 10_000, rows: [point(DIRECT, 1), point(REF, 4), point(NET_RELAY, 5), point(FAIRWAY, 8)] };
    const g = goals({ ...results(), latency: { base: { name: REF, rps: 20_000 }, points: [half] } }).find((x: { text: string }) => x.text.startsWith('p99 at 50 %'));
    expect(g).toMatchObject({ met: false, valid: true });
    // Each row's load beside its p99: the rate over that row's own maximum, 11,000 and 22,000
    // (the upper of two rounds); the relay has no small-table row here, so none is given for it.
    expect(g.value).toBe(`2.00× (${FAIRWAY} 8.00 ms at 91 % of its maximum, ${REF} 4.00 ms at 45 % of its maximum; ${NET_RELAY} 5.00 ms, at 10,000 req/s)`);
  });

  it('renders every table it has data for, with the headroom verdicts', () => {
    const md = renderMarkdown(results());
    expect(md).toContain('## Small response (13 bytes)');
    expect(md).toContain('Headroom ok: direct 42,000 req/s');
    expect(md).toContain('## Compression: 8 KiB text, Accept-Encoding: gzip');
    expect(readmeTable(results())).not.toContain(FAIRWAY_POLICIES);
  });
});
