// Turns the measurements of `npm run bench` into verdicts and text: medians and paired ratios,
// the headroom check, the goals, bench/results.md and the README's summary table. Pure
// functions of the results object run.mjs builds (also saved as bench/results.json).

/** A row's req/s must stay under this share of the direct row's, or the load side decided it. */
export const HEADROOM = 1.5;
/** An open-loop point counts as sustained when at least this share of the rate was sent. */
const SUSTAINED = 0.97;

export const REF = 'HAProxy (1 thread)';
export const NHP = 'node-http-proxy';
export const DIRECT = 'direct (no proxy)';
export const FAIRWAY = 'Fairway (static)';
export const FAIRWAY_CONSUL = 'Fairway (Consul discovery)';
export const FABIO = 'fabio (1 thread)';
export const TRAEFIK = 'Traefik (1 thread)';
export const FAIRWAY_POLICIES = 'Fairway (static, policies on)';
export const FAIRWAY_COMPRESS = 'Fairway (static, compress)';
export const NET_RELAY = 'ceiling: bare Node socket relay';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Per-row medians of the interleaved rounds, and ratios paired by round: each round's figure
 * over the reference's from the same round (seconds apart), then the median. The machine drifts
 * between rounds (a whole round can run 20% slow) and pairing cancels what the rows share.
 */
export function summariseRounds(rounds) {
  const perRound = (name, other, key) => (rounds[other] ? rounds[name].map((r, i) => r[key] / rounds[other][i][key]) : undefined);
  const paired = (name, other, key) => (rounds[other] ? median(perRound(name, other, key)) : undefined);
  const hasCpu = (name) => rounds[name]?.every((r) => r.cpuUs !== undefined);
  return Object.entries(rounds).map(([name, rs]) => ({
    name,
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    rssMB: Math.max(...rs.map((r) => r.rssMB ?? 0)),
    cpuUs: rs.every((r) => r.cpuUs !== undefined) ? median(rs.map((r) => r.cpuUs)) : undefined,
    errors: rs.reduce((a, r) => a + r.errors, 0),
    perRound: rs.map((r) => r.rps),
    vsRef: paired(name, REF, 'rps'),
    // Requests per CPU-second against the reference's: its CPU per request over this row's.
    cpuVsRef: hasCpu(REF) && hasCpu(name) ? 1 / paired(name, REF, 'cpuUs') : undefined,
    // The same ratios round by round, for the goals' spread (the machine moves between rounds).
    rounds: {
      vsRef: perRound(name, REF, 'rps'),
      cpuVsRef: hasCpu(REF) && hasCpu(name) ? perRound(name, REF, 'cpuUs').map((x) => 1 / x) : undefined,
      vsNhp: perRound(name, NHP, 'rps'),
      vsFabio: perRound(name, FABIO, 'rps'),
      vsTraefik: perRound(name, TRAEFIK, 'rps'),
    },
    p99VsRef: paired(name, REF, 'p99'),
    vsNhp: paired(name, NHP, 'rps'),
    vsFabio: paired(name, FABIO, 'rps'),
    vsTraefik: paired(name, TRAEFIK, 'rps'),
    vsFairway: paired(name, FAIRWAY, 'rps'),
  }));
}

/** The headroom check of one table: `rows` are `{ name, rps }`, the direct one among them. */
export function headroom(rows) {
  const direct = rows.find((r) => r.name === DIRECT);
  const proxies = rows.filter((r) => r.name !== DIRECT);
  if (!direct || proxies.length === 0) return { ok: false, why: 'no direct row' };
  const fastest = proxies.reduce((a, b) => (b.rps > a.rps ? b : a));
  const ratio = direct.rps / fastest.rps;
  return { ok: ratio >= HEADROOM, ratio, direct: direct.rps, fastest: fastest.name, fastestRps: fastest.rps };
}

export const sustained = (point, rate) => point.achieved >= SUSTAINED * rate && point.errors === 0;

/**
 * Whether a fixed-rate point measured the proxies: the direct row kept the rate, and its p99
 * (what the load side adds by itself) stays below every proxy's by the same 1.5× margin as the
 * throughput check. Load-side latency added to every row pulls their ratios towards 1.
 */
export function pointValidity(point) {
  const direct = point.rows.find((r) => r.name === DIRECT);
  if (!direct) return { ok: false, why: 'no direct row' };
  if (!sustained(direct, point.rate)) return { ok: false, why: 'the direct row did not sustain the rate' };
  const proxies = point.rows.filter((r) => r.name !== DIRECT && sustained(r, point.rate));
  const best = proxies.reduce((a, b) => (b.p99 < a.p99 ? b : a), proxies[0]);
  if (best && direct.p99 * HEADROOM > best.p99)
    return { ok: false, why: `direct p99 ${direct.p99.toFixed(2)} ms is more than 1/${HEADROOM} of the lowest proxy p99 (${best.name}, ${best.p99.toFixed(2)} ms)` };
  return { ok: true };
}

/** Each goal of issue #19 with its figure and verdict; `valid` false when the table's load side was the bottleneck. */
export function goals(results) {
  const row = (name) => results.small.rows.find((r) => r.name === name);
  const smallValid = results.small.headroom.ok;
  const out = [];
  const ratioGoal = (text, name, key, other, target) => {
    const r = row(name);
    const value = r?.[key];
    if (value === undefined) return out.push({ text, status: `not measured (${results.skipped[other] ?? `${other} not run`})` });
    const cpu = key === 'vsRef' && r.cpuVsRef !== undefined ? `; by CPU time per request: ${r.cpuVsRef.toFixed(2)}× (${spread(r.rounds?.cpuVsRef, target)})` : '';
    out.push({ text, value: `${name} ${value.toFixed(2)}× (${spread(r.rounds?.[key], target)})${cpu}`, met: value >= target, valid: smallValid });
  };
  ratioGoal(`per core ≥ 0.5× ${REF}, small responses`, FAIRWAY, 'vsRef', REF, 0.5);
  ratioGoal(`≥ 3× ${FABIO}`, FAIRWAY_CONSUL, 'vsFabio', FABIO, 3);
  ratioGoal(`≥ 1.5× ${TRAEFIK}`, FAIRWAY_CONSUL, 'vsTraefik', TRAEFIK, 1.5);
  ratioGoal(`≥ 2× ${NHP}`, FAIRWAY, 'vsNhp', NHP, 2);
  const policies = row(FAIRWAY_POLICIES)?.vsFairway;
  const policyText = `policies on (rate limit, allow list, header rules both ways) cost ≤ 10 % of ${FAIRWAY}'s req/s`;
  if (policies === undefined) out.push({ text: policyText, status: 'not measured' });
  else out.push({ text: policyText, value: `${((1 - policies) * 100).toFixed(1)} % (${FAIRWAY_POLICIES} ${policies.toFixed(3)}× ${FAIRWAY}, paired by round)`, met: policies >= 0.9, valid: smallValid });
  const text = `p99 at 50 % load ≤ 1.5× ${REF}'s`;
  const half = results.latency?.points.find((p) => p.pct === 50);
  const [f, h] = [FAIRWAY, REF].map((n) => half?.rows.find((r) => r.name === n));
  if (!half || !f || !h || results.latency.base.name !== REF) out.push({ text, status: `not measured (${half ? `${REF} not run` : 'no fixed-rate run'})` });
  else {
    const value = f.p99 / h.p99;
    const missed = sustained(f, half.rate) ? '' : `; ${FAIRWAY} did not carry the rate`;
    const relay = half.rows.find((r) => r.name === NET_RELAY);
    // Each row's load as a share of its own maximum: a proxy with half HAProxy's capacity is
    // near saturation at this rate, and queueing, not the proxy's own latency, sets its p99.
    const share = (r) => {
      const max = row(r.name)?.rps;
      return max ? ` at ${Math.round((100 * half.rate) / max)} % of its maximum` : '';
    };
    const ceiling = relay ? `; ${NET_RELAY} ${ms(relay.p99)} ms${share(relay)}${sustained(relay, half.rate) ? '' : ', did not carry the rate'}` : '';
    out.push({ text, value: `${value.toFixed(2)}× (${FAIRWAY} ${ms(f.p99)} ms${share(f)}, ${REF} ${ms(h.p99)} ms${share(h)}${ceiling}, at ${int(half.rate)} req/s${missed})`, met: value <= 1.5 && !missed, valid: pointValidity(half).ok });
  }
  return out;
}

/** A goal's ratios round by round: their range, and in how many rounds the target was reached. */
function spread(ratios, target) {
  if (!ratios?.length) return 'no rounds';
  const reached = ratios.filter((x) => x >= target).length;
  return `rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×, ${reached} of ${ratios.length} at ${target}× or more`;
}

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const ms = (n) => (Number.isFinite(n) ? n.toFixed(2) : '–');
const times = (n) => (n === undefined ? '–' : `${n.toFixed(2)}×`);
const INVALID = '**load-side bound, ratios invalid**';

function headroomLine(h) {
  if (!h.direct) return `${INVALID}: ${h.why}.`;
  const verdict = `direct ${int(h.direct)} req/s is ${h.ratio.toFixed(2)}× the fastest proxy (${h.fastest}, ${int(h.fastestRps)})`;
  return h.ok ? `Headroom ok: ${verdict}, at least ${HEADROOM}×.` : `${INVALID}: ${verdict}, below ${HEADROOM}×; the load generator and backends, not the proxies, set these figures.`;
}

function goalLines(results) {
  return goals(results).map((g) => {
    if (g.status) return `- ${g.text} — ${g.status}`;
    return `- ${g.text} — ${g.value}: **${g.met ? 'met' : 'not met'}**${g.valid ? '' : ` (${INVALID})`}`;
  });
}

function smallTable({ small, meta }) {
  const lines = [`## Small response (13 bytes): maximum req/s, closed loop`, '', headroomLine(small.headroom), ''];
  lines.push(`| row | req/s | p50 ms | p99 ms | peak RSS MB | CPU µs/req | req/s vs ${REF} | req per CPU-s vs ${REF} | p99 vs ${REF} | req/s vs ${NHP} |`, '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of small.rows) {
    // The direct row is no proxy: its ratio to HAProxy is the headroom, the rest would mislead.
    const d = s.name === DIRECT;
    lines.push(`| ${s.name} | ${int(s.rps)} | ${ms(s.p50)} | ${ms(s.p99)} | ${d ? '–' : int(s.rssMB)} | ${s.cpuUs === undefined ? '–' : s.cpuUs.toFixed(1)} | ${times(s.vsRef)} | ${d ? '–' : times(s.cpuVsRef)} | ${d ? '–' : times(s.p99VsRef)} | ${d ? '–' : times(s.vsNhp)} |`);
  }
  lines.push('', `CPU µs/req: the user and system CPU time of the row's processes during the run over the requests it served. Req per CPU-s vs ${REF}: ${REF}'s CPU per request over the row's, paired by round: a per-core figure that holds whether or not the load side kept the proxy's core busy.`);
  if (meta.rounds > 1) {
    lines.push('', `Ratios: the median of the ${meta.rounds} per-round ratios, each against the row measured in the same round. Every round's req/s:`, '');
    lines.push(`| row | ${small.rows[0].perRound.map((_, i) => `round ${i + 1}`).join(' | ')} |`, `|---|${'---:|'.repeat(meta.rounds)}`);
    for (const s of small.rows) lines.push(`| ${s.name} | ${s.perRound.map(int).join(' | ')} |`);
  }
  const errors = small.rows.filter((s) => s.errors);
  if (errors.length) lines.push('', `Errors (non-2xx or socket): ${errors.map((s) => `${s.name} ${s.errors}`).join(', ')}`);
  return lines;
}

function latencyTable({ latency }) {
  const { base, points, generator, seconds } = latency;
  const lines = [`## Latency at fixed rates: open loop, ${generator}, ${seconds} s per point`, ''];
  lines.push(`Rates are ${points.map((p) => `${p.pct} %`).join(', ')} of ${base.name}'s maximum above (${int(base.rps)} req/s), the same for every row. Cells: p50 / p99 / p99.9 ms; "missed" when less than the rate was carried or any request failed or went unanswered.`, '');
  for (const p of points) {
    const v = pointValidity(p);
    const carried = p.rows.some((r) => r.name !== DIRECT && sustained(r, p.rate));
    const verdict = !v.ok ? `${INVALID}: ${v.why}` : carried ? 'headroom ok' : 'no proxy carried this rate';
    lines.push(`${p.pct} % (${int(p.rate)} req/s): ${verdict}.`);
  }
  lines.push('');
  lines.push(`| row | ${points.map((p) => `${p.pct} % (${int(p.rate)} req/s)`).join(' | ')} |`, `|---|${points.map(() => '---:').join('|')}|`);
  for (const name of points[0].rows.map((r) => r.name)) {
    const cells = points.map((p) => {
      const r = p.rows.find((x) => x.name === name);
      const text = `${ms(r.p50)} / ${ms(r.p99)} / ${ms(r.p999)}`;
      return sustained(r, p.rate) ? text : `${text} (missed: ${int(r.achieved)}/s, ${r.errors} errors)`;
    });
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  return lines;
}

function sizesTable({ sizes }) {
  const names = sizes[0].rows.map((r) => r.name);
  const lines = ['## Response and upload sizes: maximum req/s (ratio to ' + REF + ')', ''];
  lines.push(`Each payload row is checked on its own: headroom is direct ÷ the fastest proxy for that payload, and must be at least ${HEADROOM}×.`, '');
  lines.push(`| payload | ${names.join(' | ')} | headroom |`, `|---|${names.map(() => '---:').join('|')}|---|`);
  for (const size of sizes) {
    const ref = size.rows.find((r) => r.name === REF)?.rps;
    const cells = size.rows.map((r) => `${int(r.rps)}${ref && r.name !== DIRECT ? ` (${(r.rps / ref).toFixed(2)}×)` : ''}${r.errors ? ` ${r.errors} err` : ''}`);
    const h = size.headroom;
    lines.push(`| ${size.label} | ${cells.join(' | ')} | ${h.ok ? `ok (${h.ratio.toFixed(2)}×)` : `${INVALID} (${h.ratio?.toFixed(2) ?? '–'}×)`} |`);
  }
  return lines;
}

function compressionTable({ compression: c }) {
  const lines = [`## Compression: ${c.label}, maximum req/s`, '', headroomLine(c.headroom), ''];
  lines.push('Direct and Fairway (static) pass the 8 KiB through uncompressed; the other rows gzip it at level 1 (the default of nginx and of Fairway).', '');
  lines.push('| row | req/s | p50 ms | p99 ms |', '|---|---:|---:|---:|');
  for (const r of c.rows) lines.push(`| ${r.name} | ${int(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} |${r.errors ? ` ${r.errors} errors` : ''}`);
  return lines;
}

/** bench/results.md (also what the console shows at the end). */
export function renderMarkdown(results) {
  const { meta } = results;
  const lines = ['# Benchmark results', ''];
  lines.push(`${meta.date} UTC, ${meta.machine}. Mode: ${meta.mode}. Written by \`npm run bench\`; how to read it: [docs/benchmarks.md](../docs/benchmarks.md).`, '');
  lines.push(`Node ${meta.node} (Fairway as shipped: node ${meta.nodeFlags}); backends: ${meta.backends}; closed-loop load: ${meta.saturator}; ${meta.rounds} interleaved round(s) of ${meta.seconds} s after ${meta.warmup} s warm-up.`, '');
  lines.push(meta.cpuSplit, '');
  const skipped = Object.entries(results.skipped);
  if (skipped.length) lines.push(`Skipped rows: ${skipped.map(([n, why]) => `${n}: ${why}`).join('; ')}.`, '');
  lines.push('## Goals', '', ...goalLines(results), '');
  lines.push(...smallTable(results), '');
  if (results.latency) lines.push(...latencyTable(results), '');
  if (results.sizes?.length) lines.push(...sizesTable(results), '');
  if (results.compression) lines.push(...compressionTable(results), '');
  lines.push(`Versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join('; ')}`);
  return `${lines.join('\n')}\n`;
}

/** The one table the README shows: the latest full run, one line per proxy. */
export function readmeTable(results) {
  const half = results.latency?.points.find((p) => p.pct === 50);
  const size64 = results.sizes?.find((s) => s.label === '64 KiB');
  const lines = [
    `| proxy | req/s, 13 B | vs ${REF} | p99 ms at 50 % load (${half ? int(half.rate) : '–'} req/s) | req/s, 64 KiB |`,
    '|---|---:|---:|---:|---:|',
  ];
  // The direct row stays: it is the load side's headroom, which every ratio depends on.
  const shown = results.small.rows.filter((r) => !r.name.startsWith('ceiling') && !/metrics off|access log|policies/.test(r.name));
  for (const s of shown) {
    const p = half?.rows.find((r) => r.name === s.name);
    const big = size64?.rows.find((r) => r.name === s.name);
    lines.push(`| ${s.name} | ${int(s.rps)} | ${times(s.vsRef)} | ${p ? (sustained(p, half.rate) ? ms(p.p99) : 'missed') : '–'} | ${big ? int(big.rps) : '–'} |`);
  }
  const invalid = [];
  if (!results.small.headroom.ok) invalid.push('13 B');
  if (half && !pointValidity(half).ok) invalid.push('p99');
  if (size64 && !size64.headroom.ok) invalid.push('64 KiB');
  const caveat = invalid.length ? ` Columns ${invalid.join(', ')}: ${INVALID}.` : '';
  lines.push('', `${results.meta.date} UTC, ${results.meta.machine}; each proxy alone on one CPU except \`workers: auto\` (all CPUs, not per core).${caveat} Details: [bench/results.md](bench/results.md).`);
  return `${lines.join('\n')}\n`;
}
