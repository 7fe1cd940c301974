import { describe, expect, it } from 'vitest';
import { ConsulError } from '../../src/core/errors.js';
import { ConsulWatch, type WatchState } from '../../src/discovery/consul-watch.js';

// A scripted query: each call takes the next answer (a value, or undefined for "index came back").
function scripted(answers: Array<{ value: string[] | undefined; index: number }>) {
  const sent: number[] = [];
  const waits: number[] = [];
  let i = 0;
  const query = async (index: number, waitMs: number): Promise<{ value: string[] | undefined; index: number }> => {
    sent.push(index);
    waits.push(waitMs);
    const a = answers[Math.min(i++, answers.length - 1)]!;
    if (i > answers.length) await new Promise(() => undefined); // then block, as Consul does
    return a;
  };
  return { query, sent, waits };
}

async function run(answers: Array<{ value: string[] | undefined; index: number }>) {
  const { query, sent, waits } = scripted(answers);
  const values: string[][] = [];
  const states: WatchState[] = [];
  const watch = new ConsulWatch<string[]>({
    key: 'web',
    query,
    fingerprint: (v) => v.join(','),
    waitMs: 1000,
    minIntervalMs: 0,
    rng: () => 0.25,
    onValue: (v) => values.push(v),
    onState: (s) => states.push({ ...s }),
  });
  watch.start();
  for (let t = 0; t < 100 && sent.length <= answers.length; t++) await new Promise((r) => setImmediate(r));
  void watch.stop();
  return { values, states, sent, waits };
}

describe('ConsulWatch', () => {
  it('applies the first answer, then only answers whose fingerprint changed', async () => {
    const { values, states, sent } = await run([
      { value: ['a'], index: 5 },
      { value: ['a'], index: 6 },
      { value: ['a', 'b'], index: 7 },
    ]);
    expect(values).toEqual([['a'], ['a', 'b']]);
    expect(sent).toEqual([0, 5, 6, 7]);
    expect(states.at(-1)).toMatchObject({ synced: true, failing: false, updates: 2, index: 7 });
  });

  it('takes an answer without a value (the index sent came back) as "nothing changed"', async () => {
    const { values, states, sent } = await run([
      { value: ['a'], index: 5 },
      { value: undefined, index: 5 },
      { value: ['b'], index: 9 },
    ]);
    expect(values).toEqual([['a'], ['b']]);
    expect(sent).toEqual([0, 5, 5, 9]);
    expect(states.map((s) => s.updates)).toEqual([1, 1, 2]);
    expect(states.every((s) => !s.failing)).toBe(true);
  });

  it('asks for a random share of the wait on the first blocking query, so watches started together drift apart', async () => {
    const { sent, waits } = await run([
      { value: ['a'], index: 5 },
      { value: undefined, index: 5 },
      { value: ['b'], index: 9 },
    ]);
    expect(sent).toEqual([0, 5, 5, 9]);
    // rng 0.25: half the wait plus a quarter of the other half; then the whole wait.
    expect(waits).toEqual([1000, 625, 1000, 1000]);
  });
});

describe('ConsulWatch after a failed read', () => {
  /** Runs a watch whose second read fails with `err`; returns the indexes sent and the states seen. */
  async function afterFailure(err: Error) {
    const sent: number[] = [];
    const waits: number[] = [];
    const states: WatchState[] = [];
    let call = 0;
    const watch = new ConsulWatch<string[]>({
      key: 'web',
      query: async (index, waitMs) => {
        sent.push(index);
        waits.push(waitMs);
        call++;
        if (call === 2) throw err;
        if (call > 3) await new Promise(() => undefined);
        return { value: ['a'], index: 5 };
      },
      fingerprint: (v) => v.join(','),
      waitMs: 30_000,
      minIntervalMs: 0,
      rng: () => 0,
      backoff: { baseMs: 0, maxMs: 0 },
      onValue: () => undefined,
      onState: (s) => states.push({ ...s }),
    });
    watch.start();
    // The retry comes after a backoff timer (0 ms here, but a timer): wait for it, within reason.
    for (let t = 0; t < 2_000 && sent.length < 4; t++) await new Promise((r) => setTimeout(r, 1));
    void watch.stop();
    return { sent, waits, states };
  }

  it('an error answer from Consul (a 500 while it has no leader) keeps the index: no fresh read that needs the leader', async () => {
    const { sent, states } = await afterFailure(new ConsulError('Consul GET /v1/health/service/web answered 500: No cluster leader', 500));
    expect(sent.slice(0, 3)).toEqual([0, 5, 5]);
    expect(states[1]).toMatchObject({ failing: true, lastErrorStatus: 500 });
  });

  it('a connection failure starts over from index 0 (the agent may be a new one)', async () => {
    const { sent } = await afterFailure(new ConsulError('Consul at http://127.0.0.1:8500 unreachable: ECONNREFUSED', undefined));
    expect(sent.slice(0, 3)).toEqual([0, 5, 0]);
  });

  it('the read right after a failure waits 1 s, not the whole wait, so recovery shows at once', async () => {
    const { waits } = await afterFailure(new ConsulError('answered 500', 500));
    expect(waits.slice(0, 4)).toEqual([30_000, 15_000, 1_000, 30_000]);
  });

  it('a success after a failure clears the error status too', async () => {
    const { states } = await afterFailure(new ConsulError('answered 500', 500));
    expect(states.at(-1)).toMatchObject({ failing: false, lastError: undefined, lastErrorStatus: undefined });
  });
});
