import { describe, expect, it } from 'vitest';
import { ConsulWatch, type WatchState } from '../../src/discovery/consul-watch.js';

// A scripted query: each call takes the next answer (a value, or undefined for "index came back").
function scripted(answers: Array<{ value: string[] | undefined; index: number }>) {
  const sent: number[] = [];
  let i = 0;
  const query = async (index: number): Promise<{ value: string[] | undefined; index: number }> => {
    sent.push(index);
    const a = answers[Math.min(i++, answers.length - 1)]!;
    if (i > answers.length) await new Promise(() => undefined); // then block, as Consul does
    return a;
  };
  return { query, sent };
}

async function run(answers: Array<{ value: string[] | undefined; index: number }>) {
  const { query, sent } = scripted(answers);
  const values: string[][] = [];
  const states: WatchState[] = [];
  const watch = new ConsulWatch<string[]>({
    key: 'web',
    query,
    fingerprint: (v) => v.join(','),
    waitMs: 1000,
    minIntervalMs: 0,
    onValue: (v) => values.push(v),
    onState: (s) => states.push({ ...s }),
  });
  watch.start();
  for (let t = 0; t < 100 && sent.length <= answers.length; t++) await new Promise((r) => setImmediate(r));
  void watch.stop();
  return { values, states, sent };
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
});
