import { describe, expect, it } from 'vitest';
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
