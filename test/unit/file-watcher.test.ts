// Settle: a changed config file is handed on only once two looks a window apart agree, so a
// file rewritten in place is not read between its truncate and its last write. Fake timers and
// scripted looks: exact times, no waiting.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Settle } from '../../src/config-source/file-watcher.js';

const WINDOW = 100;

/** A Settle whose looks answer `looks` in turn (then the last again); `calls` has the times it fired. */
function settleOver(looks: string[]): { settle: Settle; calls: number[]; looksTaken: () => number } {
  let taken = 0;
  const calls: number[] = [];
  const settle = new Settle(async () => looks[Math.min(taken++, looks.length - 1)]!, () => calls.push(Date.now()), WINDOW);
  return { settle, calls, looksTaken: () => taken };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});
afterEach(() => vi.useRealTimers());

describe('Settle: after one event', () => {
  it.each([
    { why: 'an unchanged file is handed on two windows after the event, when the second look agrees', looks: ['a'], at: [200] },
    { why: 'a file still being written (empty, half, whole) waits until two looks in a row agree', looks: ['ino1:0:t1', 'ino1:40:t2', 'ino1:90:t3'], at: [400] },
    { why: 'a look that returns to an earlier answer still needs the next one to agree', looks: ['a', 'b', 'a'], at: [400] },
    { why: 'a file missing at both looks is handed on (the reload reports it missing)', looks: ['missing:ENOENT'], at: [200] },
  ])('$why', async ({ looks, at }) => {
    const { settle, calls } = settleOver(looks);
    settle.poke();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual(at);
  });
});

describe('Settle: events and rounds', () => {
  it('a burst of events is one call, a window after the last event plus one more for the second look', async () => {
    const { settle, calls, looksTaken } = settleOver(['a']);
    for (let t = 0; t <= 200; t += 50) {
      settle.poke();
      await vi.advanceTimersByTimeAsync(t === 200 ? 0 : 50);
    }
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual([200 + 2 * WINDOW]);
    expect(looksTaken()).toBe(2);
  });

  it('an event between the two looks starts the window again, and the looks still have to agree', async () => {
    const { settle, calls } = settleOver(['a', 'b']);
    settle.poke();
    await vi.advanceTimersByTimeAsync(150); // first look ('a') at 100
    settle.poke(); // looks at 250 ('b': differs) and 350 ('b')
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual([350]);
  });

  it('an event while a look is in flight leaves the decision to the next window', async () => {
    let release: (v: string) => void = () => undefined;
    const calls: number[] = [];
    const answers = ['a', 'a', 'a'];
    let taken = 0;
    const settle = new Settle(
      () => (taken++ === 1 ? new Promise<string>((r) => (release = r)) : Promise.resolve(answers[taken - 1]!)),
      () => calls.push(Date.now()),
      WINDOW,
    );
    settle.poke();
    await vi.advanceTimersByTimeAsync(200); // first look at 100; the second starts at 200 and hangs
    settle.poke();
    release('a');
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual([300]);
  });

  it('each round starts afresh: the next event needs two looks again, even if they match the last round', async () => {
    const { settle, calls, looksTaken } = settleOver(['a']);
    settle.poke();
    await vi.advanceTimersByTimeAsync(1_000);
    settle.poke();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual([200, 1_200]);
    expect(looksTaken()).toBe(4);
  });

  it('stop cancels a pending call, and later events do nothing', async () => {
    const { settle, calls, looksTaken } = settleOver(['a']);
    settle.poke();
    await vi.advanceTimersByTimeAsync(150);
    settle.stop();
    settle.poke();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toEqual([]);
    expect(looksTaken()).toBe(1);
  });
});
