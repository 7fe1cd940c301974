// keepMemoryReducerWorking: a timer on V8 13 and later, nothing on older V8. Fake timers, no I/O.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keepMemoryReducerWorking } from '../../src/cli/memory-reducer.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('keepMemoryReducerWorking', () => {
  it.each([
    { why: 'V8 13 (Node 24) gets a periodic nudge', v8: '13.6.233.17-node.37', timers: 1 },
    { why: 'V8 14 (Node 26) too', v8: '14.6.202.33-node.10', timers: 1 },
    { why: 'V8 11 (Node 20) is left alone', v8: '11.3.244.8-node.38', timers: 0 },
    { why: 'V8 12 (Node 22) is left alone', v8: '12.4.254.21-node.33', timers: 0 },
  ])('$why', ({ v8, timers }) => {
    const stop = keepMemoryReducerWorking(v8);
    expect(vi.getTimerCount()).toBe(timers);
    vi.advanceTimersByTime(90_000); // three nudges, each a vm.Script: nothing may throw
    expect(vi.getTimerCount()).toBe(timers);
    stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
