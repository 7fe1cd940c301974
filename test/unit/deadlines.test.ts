import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, type Timed } from '../../src/proxy/deadlines.js';
import { newRequestId } from '../../src/proxy/request-id.js';

class Entry implements Timed<Entry> {
  dueAt = 0;
  prevDue: Entry | undefined;
  nextDue: Entry | undefined;
  queuedIn: { remove(entry: Entry): void } | undefined;
  constructor(readonly name: string) {}
}

describe('DeadlineQueue', () => {
  let now = 0;
  let expired: string[] = [];
  const queue = (ms: number) => new DeadlineQueue<Entry>(ms, () => now, (e) => expired.push(e.name));
  // Advances the fake timers and the queue's clock together.
  const advance = (ms: number) => {
    for (let i = 0; i < ms; i++) {
      now++;
      vi.advanceTimersByTime(1);
    }
  };

  beforeEach(() => {
    vi.useFakeTimers();
    now = 1000;
    expired = [];
  });
  afterEach(() => vi.useRealTimers());

  it('expires entries in the order they were added, each after its own ms', () => {
    const q = queue(100);
    q.add(new Entry('a'), now);
    advance(30);
    q.add(new Entry('b'), now);
    advance(68);
    expect(expired).toEqual([]);
    advance(3);
    expect(expired).toEqual(['a']);
    advance(28);
    expect(expired).toEqual(['a']);
    advance(3);
    expect(expired).toEqual(['a', 'b']);
  });

  it('never expires a removed entry, wherever it sat in the queue', () => {
    const q = queue(50);
    const [a, b, c] = [new Entry('a'), new Entry('b'), new Entry('c')];
    q.add(a, now);
    q.add(b, now);
    q.add(c, now);
    q.remove(b);
    q.remove(a);
    advance(60);
    expect(expired).toEqual(['c']);
    expect(c.queuedIn).toBeUndefined();
  });

  it('takes entries again after it ran empty, and removing twice is harmless', () => {
    const q = queue(20);
    const a = new Entry('a');
    q.add(a, now);
    q.remove(a);
    q.remove(a);
    advance(25);
    q.add(new Entry('b'), now);
    advance(19);
    expect(expired).toEqual([]);
    advance(3);
    expect(expired).toEqual(['b']);
  });

  it('counts from the start time given, not from when the entry was added', () => {
    const q = queue(100);
    q.add(new Entry('late'), now - 90);
    advance(12);
    expect(expired).toEqual(['late']);
  });

  it('lets an expiry callback add an entry without arming a second timer', () => {
    const q = new DeadlineQueue<Entry>(10, () => now, (e) => {
      expired.push(e.name);
      if (e.name === 'a') q.add(new Entry('b'), now);
    });
    q.add(new Entry('a'), now);
    advance(12);
    expect(expired).toEqual(['a']);
    expect(vi.getTimerCount()).toBe(1);
    advance(11);
    expect(expired).toEqual(['a', 'b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('close() stops its timer', () => {
    const q = queue(10);
    q.add(new Entry('a'), now);
    q.close();
    advance(20);
    expect(expired).toEqual([]);
  });
});

describe('newRequestId', () => {
  it('is in the UUID 8-4-4-4-12 layout, version 4, RFC variant', () => {
    for (let i = 0; i < 10; i++) expect(newRequestId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('never repeats, across a change of its random part', () => {
    const seen = new Set<string>();
    const prefixes = new Set<string>();
    for (let i = 0; i < 140_000; i++) {
      const id = newRequestId();
      seen.add(id);
      prefixes.add(id.slice(0, 24));
    }
    expect(seen.size).toBe(140_000);
    expect(prefixes.size).toBeGreaterThanOrEqual(2);
  });
});
