// censusDigests reads Consul's census by hand; checked here against JSON.parse on generated
// answers: the same names, and a digest that moves exactly for the entries that changed.

import { describe, expect, it } from 'vitest';
import { CensusScanner, censusDigests } from '../../src/core/census.js';
import { seeded } from './helpers.js';

// Pieces that trip a careless scanner: quotes, escapes, brackets inside strings, non-ASCII.
const PIECES = ['web', 'a"b', 'c\\d', '\\', '{', '}', '[', ']', ',', ':', '"Name"', 'é', '😀', '\n', '\t', '\\"', 'Name'];

function generator(seed: number) {
  const rng = seeded(seed);
  const int = (n: number) => Math.floor(rng() * n);
  const text = () => Array.from({ length: 1 + int(4) }, () => PIECES[int(PIECES.length)]).join('');
  const entry = (name: unknown): Record<string, unknown> => {
    const fields: Array<[string, unknown]> = [
      ['Name', name],
      ['Datacenter', 'dc1'],
      ['Tags', Array.from({ length: int(4) }, text)],
      ['Nodes', Array.from({ length: int(3) }, () => `node-${int(5)}`)],
      ['InstanceCount', int(20)],
      ['ChecksPassing', int(20)],
      ['ChecksWarning', int(3)],
      ['ChecksCritical', int(3)],
      // A nested "Name", which is not the entry's.
      ['GatewayConfig', rng() < 0.5 ? {} : { Name: text(), Addresses: [text()] }],
      ['ExternalSources', rng() < 0.3 ? [text()] : null],
    ];
    // Key order varies: the name is not always first.
    for (let k = fields.length - 1; k > 0; k--) {
      const j = int(k + 1);
      [fields[k], fields[j]] = [fields[j]!, fields[k]!];
    }
    return Object.fromEntries(fields);
  };
  return { rng, int, text, entry };
}

function render(entries: unknown[], indent: number): Buffer {
  return Buffer.from(JSON.stringify(entries, null, indent), 'utf8');
}

describe('censusDigests', () => {
  it.each([1, 2, 3, 4, 5, 6])('agrees with JSON.parse on generated answers (seed %i)', (seed) => {
    const g = generator(seed);
    const indent = [0, 2, 4][seed % 3]!;
    const names = new Set<string>();
    while (names.size < 200) names.add(`${g.text()}-${names.size}`);
    const before = [...names].map((n) => g.entry(n));
    // Entries Consul would not send but a scanner must step over: no name, a name not a string.
    before.splice(7, 0, { ...g.entry('x'), Name: 42 });
    const { Name: _dropped, ...unnamed } = g.entry('y');
    before.splice(11, 0, unnamed);

    const a = censusDigests(render(before, indent));
    const parsedNames = (JSON.parse(render(before, indent).toString('utf8')) as Array<{ Name?: unknown }>)
      .map((e) => e.Name)
      .filter((n): n is string => typeof n === 'string');
    expect([...a.keys()].sort()).toEqual(parsedNames.sort());

    // A third of the entries change (one field each, or a whole new entry); the order shuffles.
    const after = before.map((e) => (g.rng() < 0.33 && typeof e.Name === 'string' ? g.entry(e.Name) : e));
    for (let k = after.length - 1; k > 0; k--) {
      const j = g.int(k + 1);
      [after[k], after[j]] = [after[j]!, after[k]!];
    }
    const b = censusDigests(render(after, indent));
    // The same, read as it streams in: cut anywhere, one byte at a time included.
    const bytes = render(after, indent);
    const scanner = new CensusScanner();
    for (let at = 0; at < bytes.length; ) {
      const n = g.rng() < 0.1 ? 1 : 1 + g.int(4096);
      scanner.push(bytes.subarray(at, at + n));
      at += n;
    }
    expect(scanner.end()).toEqual(b);
    const changedByParse = new Set(
      after.filter((e) => typeof e.Name === 'string' && JSON.stringify(e) !== JSON.stringify(before.find((x) => x.Name === e.Name))).map((e) => e.Name as string),
    );
    const changedByDigest = new Set([...b.keys()].filter((n) => a.get(n) !== b.get(n)));
    expect(changedByParse.size).toBeGreaterThan(20);
    expect([...changedByDigest].sort()).toEqual([...changedByParse].sort());
  });

  it('an empty census is an empty map', () => {
    expect(censusDigests(Buffer.from('[]'))).toEqual(new Map());
    expect(censusDigests(Buffer.from(' [\n ]\n'))).toEqual(new Map());
  });

  it.each([
    { why: 'not an array', body: '{"Name":"web"}' },
    { why: 'cut inside an entry', body: '[{"Name":"web","Tags":["a"' },
    { why: 'cut inside a string', body: '[{"Name":"we' },
    { why: 'cut after an entry', body: '[{"Name":"web"}' },
    { why: 'not JSON at all', body: 'No cluster leader' },
    { why: 'an entry that is not an object', body: '["web"]' },
    { why: 'bytes after the array', body: '[{"Name":"web"}] x' },
    { why: 'a name that is not a JSON string', body: '[{"Name":"a\\x"}]' },
  ])('throws a TypeError on what it cannot read: $why', ({ body }) => {
    expect(() => censusDigests(Buffer.from(body))).toThrow(TypeError);
  });
});
