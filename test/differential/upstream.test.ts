// Differential test of the lean HTTP/1.1 upstream client (src/proxy/h1-upstream.ts) against
// undici's Pool, the client it stands in for on keep-alive exchanges without a request body.
// Each case (responses.ts: an upstream's answer to a GET or a HEAD, the writes it is cut into,
// whether the upstream then closes) goes through both clients, each against its own scripted
// upstream, and a second request follows on each; what each client handed its handler is
// compared (upstream-harness.ts says what, and how). A case ends one of three ways, counted
// apart: the clients agree; they differ only where allowances cover it; or they differ, and the
// suite fails.
//
// Allowed, each for its reason (the harness's ALLOWANCES say exactly when each covers a case):
// - 1xx before the final answer: undici 7.30 fails on a 100 ("bad response"); a client must skip any 1xx (RFC 9110 §15.2), then do as undici does without it.
// - trailing whitespace in a value: OWS is not part of a field value (RFC 9110 §5.5); H1Origin trims it, undici keeps it.
// - reason phrase not ASCII: undici decodes it as UTF-8, H1Origin as latin1; the proxy sends the standard phrase instead (headers.ts reasonPhrase).
// - bodiless answer with Content-Length: undici fails it after the head, attempt.ts ends it as complete (there is no body to miss).
// - chunked applied twice: RFC 9112 §7.1 forbids it; H1Origin refuses the answer (502), undici decodes once.
// - status line undici tolerates: a blank line before it, a version other than HTTP/1.0 or 1.1, a control byte in the reason; H1Origin refuses (502).
// - head over 16 KiB as a whole: H1Origin counts the whole head, as Node's server does, undici names and values; near the limit only H1Origin refuses.
// - blank lines after the answer: undici skips them and reuses the connection; H1Origin drops a connection with any byte after an answer (only reuse differs).
// HTTP/1.0 keep-alive and connection reuse in general are compared in full: no allowance.
//
// A case that differs is run again before it counts (a busy machine can stretch a pause into a
// timeout); the seed and index of each one are printed, with its bytes as JSON.
//
//   FAIRWAY_SEED=<n>                replay a run; `random` for a new one (default UPSTREAM_SEED)
//   FAIRWAY_CASE=<i>                ... only its case i
//   FAIRWAY_DIFF_UPSTREAM_CASES=<n> generated cases (default 3000)
//   FAIRWAY_DIFF_LANES=<n>          cases running side by side (default 16), each on its own ports
//   FAIRWAY_DIFF_UPSTREAM_SELF=1    undici against a second undici Pool: checks the harness
//                                   itself (it must report no difference, and use no allowance)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envCount, runSettings } from './random.js';
import { generateResponse, type UpstreamCase } from './responses.js';
import { ALLOWANCES, closeLanes, openLanes, runCase, sides, view, type Lane, type Outcome, type Recorder, type Result } from './upstream-harness.js';

/** The default seed: a CI run is the same run every time; explore with FAIRWAY_SEED=random. */
const UPSTREAM_SEED = 1;
const { seed, only } = runSettings(process.env, UPSTREAM_SEED);
const CASES = only !== undefined ? 1 : envCount(process.env, 'FAIRWAY_DIFF_UPSTREAM_CASES', 3000);
const LANES = Math.max(1, Math.min(64, envCount(process.env, 'FAIRWAY_DIFF_LANES', 16)));
const SELF = process.env.FAIRWAY_DIFF_UPSTREAM_SELF === '1';
const SIDES = sides(SELF);
const [REF, LEAN] = [SIDES.ref.name, SIDES.lean.name];
/** Classes of difference shown in full (all are counted). */
const SHOWN = 20;

// ---- the hand-written cases ------------------------------------------------------------

/** `stray`: bytes after the answer; `hurry`: held back until the first answer is in (see hurryAt). */
type FixedMore = Partial<Pick<UpstreamCase, 'method' | 'close'>> & { stray?: string; hurry?: true };

/** 1,000 short fields: 17 KiB as a whole head, 13 KiB of names and values. */
const NEAR_LIMIT = Array.from({ length: 1000 }, (_, i) => `X-${i}: vvvvvvvv\r\n`).join('');

const FIXED: ReadonlyArray<readonly [name: string, text: string, more?: FixedMore]> = [
  ['content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  ['content-length repeated', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello'],
  ['chunked, extension and trailers', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a="b c"\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Checksum: abc\r\n\r\n'],
  ['chunked with a bad size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nz\r\nhello\r\n0\r\n\r\n'],
  ['chunked, unterminated quoted extension', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a="x\r\nhello\r\n0\r\n\r\n'],
  ['chunked applied twice', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
  ['close-delimited', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the upstream closes', { close: true }],
  ['103 then 200', 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
  ['100 then 200', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
  ['HEAD with content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n', { method: 'HEAD' }],
  ['HEAD with two content-lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', { method: 'HEAD' }],
  ['204 with content-length', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n'],
  ['transfer-encoding with content-length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  ['transfer-encoding gzip (framed by close)', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot chunked', { close: true }],
  ['transfer-encoding chunked, gzip (framed by close)', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nnot chunked', { close: true }],
  ['HTTP/1.0 keep-alive', 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello'],
  ['connection: close, upstream stays open', 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello'],
  ['odd valid head', 'HTTP/1.1 200 \r\nX-1: a\r\nA-B-C-9: b\r\nX-Empty:\r\nContent-Length: 2\r\n\r\nok'],
  ['trailing whitespace in a value', 'HTTP/1.1 200 OK\r\nX-OWS: v \t \r\nContent-Length: 2\r\n\r\nok'],
  ['reason phrase not ASCII', 'HTTP/1.1 200 caf\xe9\r\nContent-Length: 2\r\n\r\nok'],
  ['blank line before the status line', '\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
  ['version HTTP/1.2', 'HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok'],
  ['NUL in the reason phrase', 'HTTP/1.1 200 OK\x00\r\nContent-Length: 2\r\n\r\nok'],
  ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 0\r\n\r\n'],
  ['space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello'],
  ['stray bytes after the answer, next request at once', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', { stray: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray', hurry: true }],
  ['blank lines after the answer', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', { stray: '\r\n\r\n' }],
  ['close after the answer, next request at once', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello', { close: true, hurry: true }],
  ['early close in the body', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhell', { close: true }],
  ['head over 16 KiB', `HTTP/1.1 200 OK\r\nX-Huge: ${'h'.repeat(17_000)}\r\nContent-Length: 0\r\n\r\n`],
  ['head over 16 KiB only as a whole', `HTTP/1.1 200 OK\r\n${NEAR_LIMIT}Content-Length: 0\r\n\r\n`],
];

/** One hand-written case per class, first in a run, so a reader sees the classes. */
function fixedResponses(): UpstreamCase[] {
  return FIXED.map(([name, text, more]) => {
    const bytes = Buffer.from(text + (more?.stray ?? ''), 'latin1');
    const strayAt = more?.stray === undefined ? undefined : text.length;
    return {
      name: `fixed ${name}`,
      kind: name,
      method: more?.method ?? 'GET',
      bytes,
      cuts: [],
      close: more?.close ?? false,
      pauseReads: false,
      hurryAt: more?.hurry === true ? (strayAt ?? bytes.length) : undefined,
      strayAt,
    };
  });
}

// ---- the runs ---------------------------------------------------------------------------

let lanes: Lane[] = [];

interface Run {
  /** Every case, as last judged. */
  all: Result[];
  /** Differed, and differed again when run again. */
  confirmed: Result[];
  /** Differed once, agreed (or was allowed) when run again: timing, not the client. */
  unconfirmed: Result[];
}

/** The cases `get(0..count-1)` over the lanes; one that differs runs again before it counts. */
async function runAll(get: (i: number) => UpstreamCase, count: number): Promise<Run> {
  const run: Run = { all: [], confirmed: [], unconfirmed: [] };
  let next = 0;
  const work = async (lane: Lane): Promise<void> => {
    while (next < count) {
      const c = get(next++);
      const first = await runCase(SIDES, lane, c);
      if (first.verdict.how.length === 0) {
        run.all.push(first);
        continue;
      }
      const again = await runCase(SIDES, lane, c);
      run.all.push(again);
      if (again.verdict.how.length === 0) run.unconfirmed.push(first);
      else run.confirmed.push(again);
    }
  };
  await Promise.all(lanes.slice(0, Math.min(lanes.length, count)).map(work));
  return run;
}

// ---- the report -------------------------------------------------------------------------

/** A first exchange in a few words: outcome, status, error code. */
function brief(r: Recorder, withStatus = true): string {
  if (r.hung) return 'no end';
  const status = r.head === undefined || !withStatus ? '' : ` ${r.head.status}`;
  if (r.error === undefined) return `complete${status}`;
  return `${r.head === undefined ? 'error before the head' : `error after the head${status}`} (${r.error.code ?? r.error.message})`;
}

function json(bytes: Buffer | string, limit = 1500): string {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  if (text.length <= limit) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, limit - 300))} ...(${text.length - limit} bytes)... ${JSON.stringify(text.slice(-300))}`;
}

function describeCase(c: UpstreamCase): string {
  const writes = c.cuts.length === 0 ? 'one write' : `${c.cuts.length + 1} writes cut at ${c.cuts.map((k) => `${k.at}${k.pause ? '+pause' : ''}`).join(',')}`;
  const hurried = c.hurryAt === undefined ? '' : `, hurried: bytes from ${c.hurryAt} (and the close) held back until the first answer is in, then sent as the second request goes`;
  const stray = c.strayAt === undefined ? '' : `, stray bytes from ${c.strayAt}`;
  return `${c.name} [${c.kind}]: ${c.method}, ${c.bytes.length} bytes in ${writes}, ${c.close ? 'then close' : 'connection left open'}${c.pauseReads ? ', handler pauses reads' : ''}${stray}${hurried}\n    ${json(c.bytes)}`;
}

/** One side of a difference; a long value is shown around where it departs from the other's. */
function showSide(name: string, o: Outcome, other: Outcome, c: UpstreamCase): string {
  const [v, w] = [view(o, c), view(other, c)];
  const err = o.first.error;
  const lines = [`${name}: ${brief(o.first)}${err !== undefined ? ` "${err.message}"` : ''}${o.first.interim.length > 0 ? `, after 1xx ${o.first.interim.join(',')}` : ''}`];
  for (const [k, value] of v) if (k !== 'outcome') lines.push(`  ${k}: ${excerpt(value, w.get(k) ?? '')}`);
  if (o.second.error !== undefined) lines.push(`  second request error: ${o.second.error.code ?? ''} ${o.second.error.message}`);
  lines.push(`  upstream saw: ${o.requests.join(' ')}`);
  return lines.join('\n      ');
}

function excerpt(value: string, other: string, width = 400): string {
  if (value.length <= width) return value;
  let at = 0;
  while (at < value.length && value[at] === other[at]) at++;
  const from = Math.max(0, Math.min(at - width / 4, value.length - width));
  return `${from > 0 ? `...(${from} chars)...` : ''}${value.slice(from, from + width)}${from + width < value.length ? '...' : ''}`;
}

/** Agreements, each allowance, differences: what a reader of the run looks at first. */
function counts(run: Run): string {
  const agree = run.all.filter((r) => r.verdict.raw.length === 0).length;
  const allowed = run.all.filter((r) => r.verdict.raw.length > 0 && r.verdict.how.length === 0);
  const per = ALLOWANCES.map((a) => {
    const rs = allowed.filter((r) => r.verdict.allowed.includes(a.name));
    return `allowed: ${a.name} ${rs.length}${rs.length > 0 ? ` (${rs.slice(0, 3).map((r) => r.c.name).join('; ')}${rs.length > 3 ? '; ...' : ''})` : ''}`;
  });
  return [`agree ${agree}`, `allowed ${allowed.length} in all (a case may count under more than one allowance)`, ...per, `differ ${run.confirmed.length}`, `differed only once ${run.unconfirmed.length}`].join('\n  ');
}

/** One case in full: its bytes, each side, and the verdict. */
function showCase(r: Result): string {
  const { raw, how, allowed } = r.verdict;
  const verdict = raw.length === 0 ? 'agree' : how.length === 0 ? `allowed (${allowed.join(', ')}), differing as they came in ${raw.join(', ')}` : `differ in ${how.join(', ')}`;
  const bare = r.refBare === undefined ? '' : `\n    ${showSide(`${REF} without the 1xx`, r.refBare, r.lean, r.c)}`;
  return `${describeCase(r.c)}\n  ${verdict}\n    ${showSide(REF, r.ref, r.lean, r.c)}\n    ${showSide(LEAN, r.lean, r.ref, r.c)}${bare}`;
}

function report(run: Run, replay: string): string {
  const classes = new Map<string, Result[]>();
  for (const r of run.confirmed) {
    // What differs, in which class of answer, and how each side ended (without status codes).
    const key = `${r.verdict.how.join(' + ')} [${r.c.kind}]: ${REF} ${brief(r.ref.first, false)}; ${LEAN} ${brief(r.lean.first, false)}`;
    classes.set(key, [...(classes.get(key) ?? []), r]);
  }
  const lines = [`${run.confirmed.length} cases where ${LEAN} and ${REF} differ, in ${classes.size} classes:`];
  for (const [k, rs] of classes) lines.push(`  ${rs.length} × ${k} (${rs.slice(0, 4).map((r) => r.c.name).join('; ')}${rs.length > 4 ? '; ...' : ''})`);
  let shown = 0;
  for (const [k, rs] of classes) {
    if (shown++ >= SHOWN) break;
    const r = rs.sort((x, y) => x.c.bytes.length - y.c.bytes.length)[0]!;
    lines.push('', `- ${k}`, `  smallest: ${showCase(r)}`);
  }
  if (run.unconfirmed.length > 0) lines.push('', `(${run.unconfirmed.length} more differed once but not when run again: not counted)`);
  lines.push('', `replay: ${replay}`);
  return lines.join('\n');
}

/** Outcome counts of one side: complete / error before the head / after / no end. */
function tally(results: readonly Result[], side: 'ref' | 'lean'): Record<string, number> {
  const t: Record<string, number> = {};
  const add = (k: string): void => void (t[k] = (t[k] ?? 0) + 1);
  for (const r of results) {
    add(view(r[side], r.c).get('outcome')!.replace(/ \(.*/, ''));
    if (r[side].reused) add('second reused the connection');
    if (r[side].first.reasonRepaired) add('statusText repaired');
  }
  return t;
}

// ---- the suite --------------------------------------------------------------------------

beforeAll(async () => {
  lanes = await openLanes(LANES);
});

afterAll(async () => {
  await closeLanes(lanes);
});

describe(`differential: ${LEAN} against undici's Pool, on scripted upstream answers`, () => {
  it('agrees on the hand-written cases, one per framing class', async () => {
    const cases = fixedResponses();
    const run = await runAll((i) => cases[i]!, cases.length);
    const lines = run.all
      .sort((a, b) => cases.indexOf(a.c) - cases.indexOf(b.c))
      .map((r) => {
        const { raw, how, allowed } = r.verdict;
        const verdict = raw.length === 0 ? 'same' : how.length === 0 ? `allowed: ${allowed.join(', ')}` : `${LEAN} ${brief(r.lean.first)}, differs in ${how.join(', ')}`;
        return `  ${r.c.name}: ${REF} ${brief(r.ref.first)}; ${verdict}`;
      });
    console.log(`differential upstream, fixed cases: ${cases.length}\n  ${counts(run)}\n${lines.join('\n')}`);
    expect(run.confirmed.length, report(run, 'npx vitest run test/differential/upstream.test.ts')).toBe(0);
    if (SELF) expect(run.all.filter((r) => r.verdict.raw.length > 0).map((r) => r.c.name)).toEqual([]);
  }, 60_000);

  it(`agrees on ${CASES} generated answers (seed ${seed})`, async () => {
    const started = performance.now();
    const run = await runAll((i) => generateResponse(seed, only ?? i), CASES);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    const kinds = new Map<string, number>();
    for (const r of run.all) kinds.set(r.c.kind.replace(/\+.*/, ''), (kinds.get(r.c.kind.replace(/\+.*/, '')) ?? 0) + 1);
    const once = run.unconfirmed.slice(0, 5).map((r) => `${r.c.name}: ${r.verdict.how.join(', ')}`);
    console.log(
      `differential upstream, seed ${seed}: ${CASES} cases in ${secs} s over ${LANES} lanes\n  ${counts(run)}${once.length > 0 ? ` (${once.join('; ')})` : ''}\n` +
        `  ${REF}: ${JSON.stringify(tally(run.all, 'ref'))}\n  ${LEAN}: ${JSON.stringify(tally(run.all, 'lean'))}\n` +
        `  classes: ${[...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    );
    if (only !== undefined) console.log(showCase(run.all[0]!));
    const replay = `FAIRWAY_SEED=${seed} npx vitest run test/differential/upstream.test.ts (add FAIRWAY_CASE=<i> for case i)`;
    expect(run.confirmed.length, report(run, replay)).toBe(0);
    // The harness against itself takes no allowance: each one is a difference between two clients.
    if (SELF) expect(run.all.filter((r) => r.verdict.raw.length > 0).map((r) => r.c.name)).toEqual([]);
    if (only === undefined && CASES >= 500) {
      // Not vacuous: plenty of answers complete, and plenty fail on each side of the head.
      const t = tally(run.all, 'ref');
      expect((t.complete ?? 0) / CASES).toBeGreaterThan(0.4);
      expect((t['error before the head'] ?? 0) / CASES).toBeGreaterThan(0.05);
      expect((t['error after the head'] ?? 0) / CASES).toBeGreaterThan(0.02);
    }
  }, 180_000);
});
