// What a change in the non-passing checks or in the catalog's service list touches (feed mode).

import { describe, expect, it } from 'vitest';
import { touchedByCatalog, touchedByChecks, type CheckStatus } from '../../src/core/feed-diff.js';

const check = (node: string, checkId: string, status: string, service = ''): CheckStatus => ({ node, checkId, status, service });

describe('touchedByChecks', () => {
  const before = [check('n1', 'service:a-1', 'critical', 'a'), check('n2', 'service:b-1', 'warning', 'b')];

  it('touches nothing when the set is the same, in any order', () => {
    const t = touchedByChecks(before, [...before].reverse());
    expect([...t.services, ...t.nodes]).toEqual([]);
  });

  it('names the service of a check that entered, left or changed status', () => {
    const after = [check('n2', 'service:b-1', 'critical', 'b'), check('n3', 'service:c-1', 'critical', 'c')];
    expect([...touchedByChecks(before, after).services].sort()).toEqual(['a', 'b', 'c']);
  });

  it('names the node, not a service, for a node check (serfHealth)', () => {
    const t = touchedByChecks([], [check('n9', 'serfHealth', 'critical')]);
    expect([...t.nodes]).toEqual(['n9']);
    expect(t.services.size).toBe(0);
    expect([...touchedByChecks([check('n9', 'serfHealth', 'critical')], []).nodes]).toEqual(['n9']);
  });

  it('names both services when a check id moves from one service to another', () => {
    expect([...touchedByChecks([check('n1', 'c', 'critical', 'a')], [check('n1', 'c', 'critical', 'b')]).services].sort()).toEqual(['a', 'b']);
  });
});

describe('touchedByCatalog', () => {
  it('names services that appeared, went, or changed tags; tag order does not count', () => {
    const before = { a: ['x', 'y'], b: [], gone: [] };
    const after = { a: ['y', 'x'], b: ['new'], fresh: [] };
    expect([...touchedByCatalog(before, after)].sort()).toEqual(['b', 'fresh', 'gone']);
  });

  it('names nothing for the same list (an instance change it cannot show)', () => {
    expect(touchedByCatalog({ a: ['x'] }, { a: ['x'] }).size).toBe(0);
  });

  it('names a service called toString or constructor like any other (not the prototype\'s)', () => {
    const after = JSON.parse('{"toString": [], "constructor": ["x"], "__proto__": []}') as Record<string, string[]>;
    expect([...touchedByCatalog({}, after)].sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect([...touchedByCatalog(after, {})].sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(touchedByCatalog(after, after).size).toBe(0);
  });

  it('compares tags as sets past a common start: reordered is the same, one swapped is not', () => {
    const before = { same: ['a', 'b', 'c'], moved: ['a', 'b', 'c'], swapped: ['a', 'b', 'c'], twice: ['a', 'a', 'b'] };
    const after = { same: ['a', 'b', 'c'], moved: ['a', 'c', 'b'], swapped: ['a', 'b', 'd'], twice: ['a', 'b', 'b'] };
    expect([...touchedByCatalog(before, after)].sort()).toEqual(['swapped', 'twice']);
  });
});
