// WatchTally: Discovery's state and "all tried" as counts that follow each watch's reports,
// including watches that stop before or after answering. Pure: no Consul.

import { describe, expect, it } from 'vitest';
import type { WatchState } from '../../src/discovery/consul-watch.js';
import { WatchTally } from '../../src/discovery/watch-tally.js';

function state(o: Partial<WatchState> = {}): WatchState {
  return { key: 'k', synced: false, failing: false, lastError: undefined, lastErrorStatus: undefined, lastSuccessAt: undefined, index: 0, updates: 0, errors: 0, lastApplyMs: undefined, ...o };
}
const SYNCED = state({ synced: true });
const NO_ANSWER = state({ failing: true, errors: 1 });
const HTTP_500 = state({ synced: true, failing: true, errors: 1, lastErrorStatus: 500 });

describe('WatchTally', () => {
  it('follows each watch from started to answered, failing and back, as one state', () => {
    const t = new WatchTally<object>();
    const [a, b] = [{}, {}];
    expect([t.state, t.allTried]).toEqual(['unused', true]);
    t.add(a);
    t.add(b);
    expect([t.state, t.allTried]).toEqual(['connecting', false]);
    t.tried(a, SYNCED);
    expect([t.state, t.allTried]).toEqual(['connected', false]);
    t.tried(b, HTTP_500);
    expect([t.state, t.allTried]).toEqual(['error', true]);
    t.tried(a, NO_ANSWER);
    expect(t.state).toBe('unreachable');
    t.tried(a, SYNCED);
    t.tried(b, SYNCED);
    expect(t.state).toBe('connected');
  });

  it('forgets a watch that stops, before or after its first answer, and what it reports after', () => {
    const t = new WatchTally<object>();
    const [a, b, c] = [{}, {}, {}];
    for (const w of [a, b, c]) t.add(w);
    t.tried(a, NO_ANSWER);
    t.tried(b, SYNCED);
    expect([t.state, t.allTried]).toEqual(['unreachable', false]);
    t.drop(a);
    expect(t.state).toBe('connected');
    t.drop(c); // never answered
    expect(t.allTried).toBe(true);
    t.tried(a, NO_ANSWER); // a late answer of a stopped watch
    t.tried(c, HTTP_500);
    expect([t.state, t.allTried]).toEqual(['connected', true]);
    t.drop(a); // twice
    t.drop(b);
    expect(t.state).toBe('unused');
    t.add(b); // a watch is counted once however often it is added
    t.add(b);
    t.drop(b);
    expect([t.state, t.allTried]).toEqual(['unused', true]);
  });
});
