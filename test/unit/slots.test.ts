import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/discovery/slots.js';

describe('Slots', () => {
  it('lets `size` holders in at once and the next waiter in, in arrival order, as each leaves', async () => {
    const slots = new Slots(2);
    const order: string[] = [];
    const enter = (name: string): Promise<void> => slots.acquire().then(() => void order.push(name));
    const all = [enter('a'), enter('b'), enter('c'), enter('d')];
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual(['a', 'b']);
    expect(slots.waiting).toBe(2);
    slots.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual(['a', 'b', 'c']);
    slots.release();
    await Promise.all(all);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(slots.waiting).toBe(0);
  });

  it('a slot given back with nobody waiting is free for the next caller at once', async () => {
    const slots = new Slots(1);
    await slots.acquire();
    slots.release();
    let got = false;
    void slots.acquire().then(() => (got = true));
    await Promise.resolve();
    expect(got).toBe(true);
    let second = false;
    void slots.acquire().then(() => (second = true));
    await Promise.resolve();
    expect(second).toBe(false);
  });
});
