// parseHealthEntries (Consul /v1/health/service → Instance), withTags, watchKey and fingerprint.

import { describe, expect, it } from 'vitest';
import { fingerprint, parseHealthEntries, watchKey, withTags, type Instance } from '../../src/core/instance.js';
import { instance } from './helpers.js';

/** One /v1/health/service entry as Consul sends it, with the given overrides. */
function entry(o: {
  id?: string;
  node?: string;
  nodeAddress?: string;
  address?: string;
  port?: number;
  tags?: string[] | null;
  meta?: Record<string, string> | null;
  weights?: { Passing?: number; Warning?: number } | null;
  checks?: string[] | null;
}): unknown {
  return {
    Node: { Node: o.node ?? 'node-1', Address: o.nodeAddress ?? '10.0.0.100' },
    Service: {
      ID: o.id ?? 'web-1',
      Service: 'web',
      Address: o.address ?? '10.0.0.1',
      Port: o.port ?? 8080,
      Tags: o.tags === undefined ? ['v1'] : o.tags,
      Meta: o.meta === undefined ? { zone: 'a' } : o.meta,
      Weights: o.weights === undefined ? { Passing: 3, Warning: 2 } : o.weights,
    },
    Checks: o.checks === null ? null : (o.checks ?? ['passing', 'passing']).map((Status) => ({ Status })),
  };
}

describe('parseHealthEntries', () => {
  it('translates a full entry field by field', () => {
    expect(parseHealthEntries([entry({})])).toEqual([
      {
        id: 'web-1',
        node: 'node-1',
        host: '10.0.0.1',
        port: 8080,
        tags: ['v1'],
        meta: { zone: 'a' },
        weights: { passing: 3, warning: 2 },
        status: 'passing',
      },
    ]);
  });

  it.each([
    { why: 'all checks passing is passing', checks: ['passing', 'passing'], status: 'passing' },
    { why: 'no checks at all is passing', checks: [], status: 'passing' },
    { why: 'a null check list is passing', checks: null, status: 'passing' },
    { why: 'one warning among passing checks is warning', checks: ['passing', 'warning'], status: 'warning' },
    { why: 'one critical check makes the instance critical', checks: ['passing', 'critical'], status: 'critical' },
    { why: 'critical beats warning whatever the order', checks: ['critical', 'warning', 'passing'], status: 'critical' },
    { why: 'an unknown status is treated as critical', checks: ['passing', 'mystery'], status: 'critical' },
  ])('status: $why', ({ checks, status }) => {
    expect(parseHealthEntries([entry({ checks })])[0]!.status).toBe(status);
  });

  it.each([
    { why: 'Service.Address is used when set', e: { address: '10.0.0.1', nodeAddress: '10.0.0.100' }, host: '10.0.0.1' },
    { why: 'an empty Service.Address falls back to Node.Address', e: { address: '', nodeAddress: '10.0.0.100' }, host: '10.0.0.100' },
  ])('host: $why', ({ e, host }) => {
    expect(parseHealthEntries([entry(e)])[0]!.host).toBe(host);
  });

  it.each([
    { why: 'missing Weights default to 1 and 1', weights: null, expected: { passing: 1, warning: 1 } },
    { why: 'an empty Weights object defaults both to 1', weights: {}, expected: { passing: 1, warning: 1 } },
    { why: 'a missing Warning weight defaults to 1', weights: { Passing: 5 }, expected: { passing: 5, warning: 1 } },
    { why: 'a negative Passing weight falls back to 1', weights: { Passing: -2, Warning: 4 }, expected: { passing: 1, warning: 4 } },
    { why: 'a fractional weight is rounded down', weights: { Passing: 2.7, Warning: 1 }, expected: { passing: 2, warning: 1 } },
    { why: 'Warning 0 is kept as 0: no traffic while warning (regression)', weights: { Passing: 3, Warning: 0 }, expected: { passing: 3, warning: 0 } },
    { why: 'Passing 0 still falls back to 1 (Consul requires Passing >= 1)', weights: { Passing: 0, Warning: 0 }, expected: { passing: 1, warning: 0 } },
    { why: 'a missing Passing weight defaults to 1 beside Warning 0', weights: { Warning: 0 }, expected: { passing: 1, warning: 0 } },
    { why: 'a negative Warning weight falls back to 1', weights: { Passing: 2, Warning: -1 }, expected: { passing: 2, warning: 1 } },
    { why: 'a Warning weight below 1 rounds down to 0', weights: { Passing: 2, Warning: 0.5 }, expected: { passing: 2, warning: 0 } },
  ])('weights: $why', ({ weights, expected }) => {
    expect(parseHealthEntries([entry({ weights })])[0]!.weights).toEqual(expected);
  });

  it.each([
    { why: 'null Tags become an empty list', e: { tags: null }, tags: [], meta: { zone: 'a' } },
    { why: 'null Meta becomes an empty map', e: { meta: null }, tags: ['v1'], meta: {} },
  ])('$why', ({ e, tags, meta }) => {
    const [i] = parseHealthEntries([entry(e)]);
    expect(i!.tags).toEqual(tags);
    expect(i!.meta).toEqual(meta);
  });

  it('an entry without a Service ID is identified by host:port', () => {
    const raw = entry({}) as { Service: { ID?: string } };
    delete raw.Service.ID;
    expect(parseHealthEntries([raw])[0]!.id).toBe('10.0.0.1:8080');
  });

  it.each([
    { why: 'an entry without a Service', body: [{ Node: { Node: 'n', Address: '10.0.0.1' }, Checks: [] }] },
    { why: 'an entry whose port is 0', body: [entry({ port: 0 })] },
    { why: 'an entry whose port is missing', body: [{ ...(entry({}) as object), Service: { ID: 'x', Address: '10.0.0.1' } }] },
    { why: 'an entry with no address anywhere', body: [entry({ address: '', nodeAddress: '' })] },
    { why: 'a null entry', body: [null] },
  ])('drops $why', ({ body }) => {
    expect(parseHealthEntries(body)).toEqual([]);
  });

  it('keeps good entries next to dropped ones', () => {
    expect(parseHealthEntries([entry({ id: 'a', port: 0 }), entry({ id: 'b' })]).map((i) => i.id)).toEqual(['b']);
  });

  it('sorts instances by id, then node, whatever order Consul sent', () => {
    const body = [entry({ id: 'web-3' }), entry({ id: 'web-1', node: 'n2' }), entry({ id: 'web-2' }), entry({ id: 'web-1', node: 'n1' })];
    expect(parseHealthEntries(body).map((i) => `${i.id}/${i.node}`)).toEqual(['web-1/n1', 'web-1/n2', 'web-2/node-1', 'web-3/node-1']);
  });

  it('an empty array is no instances', () => {
    expect(parseHealthEntries([])).toEqual([]);
  });

  it.each([
    { why: 'an object', body: { Service: {} } },
    { why: 'null', body: null },
    { why: 'a string', body: '[]' },
  ])('throws a TypeError for $why instead of an array', ({ body }) => {
    expect(() => parseHealthEntries(body)).toThrow(TypeError);
  });
});

describe('withTags', () => {
  const all = [instance('a', { tags: ['v1'] }), instance('b', { tags: ['v1', 'canary'] }), instance('c', { tags: [] })];

  it.each([
    { why: 'no tags keeps every instance', tags: [], ids: ['a', 'b', 'c'] },
    { why: 'one tag keeps the instances carrying it', tags: ['v1'], ids: ['a', 'b'] },
    { why: 'several tags must all be present', tags: ['v1', 'canary'], ids: ['b'] },
    { why: 'a tag nobody carries keeps nothing', tags: ['v2'], ids: [] },
  ])('$why', ({ tags, ids }) => {
    expect(withTags(all, tags).map((i) => i.id)).toEqual(ids);
  });

  it('returns a new array even without tags', () => {
    expect(withTags(all, [])).not.toBe(all);
  });
});

describe('watchKey', () => {
  it.each([
    { why: 'no tags is the service name alone', service: 'web', tags: [], key: 'web' },
    { why: 'one tag is a query string', service: 'web', tags: ['v1'], key: 'web?tag=v1' },
    { why: 'several tags repeat the parameter in the order given', service: 'web', tags: ['a', 'b'], key: 'web?tag=a&tag=b' },
  ])('$why', ({ service, tags, key }) => {
    expect(watchKey(service, tags)).toBe(key);
  });
});

describe('fingerprint', () => {
  const base: Instance = instance('web-1', { tags: ['v1'], passing: 2, warning: 1, meta: { zone: 'a' } });
  const fp = (i: Instance) => fingerprint([i]);

  it.each([
    { why: 'the status changes', changed: { ...base, status: 'warning' as const } },
    { why: 'the passing weight changes', changed: { ...base, weights: { passing: 3, warning: 1 } } },
    { why: 'the warning weight changes', changed: { ...base, weights: { passing: 2, warning: 5 } } },
    { why: 'a tag is added', changed: { ...base, tags: ['v1', 'canary'] } },
    { why: 'the port changes', changed: { ...base, port: 9001 } },
    { why: 'the host changes', changed: { ...base, host: '10.9.9.9' } },
    { why: 'the meta changes', changed: { ...base, meta: { zone: 'b' } } },
    { why: 'the node changes', changed: { ...base, node: 'node-2' } },
  ])('changes when $why', ({ changed }) => {
    expect(fp(changed)).not.toBe(fp(base));
  });

  it.each([
    { why: 'an equal copy', same: { ...base, tags: [...base.tags], weights: { ...base.weights }, meta: { ...base.meta } } },
    { why: 'a fresh instance built from the same values', same: instance('web-1', { tags: ['v1'], passing: 2, warning: 1, meta: { zone: 'a' } }) },
  ])('stays the same for $why', ({ same }) => {
    expect(fp(same)).toBe(fp(base));
  });

  it('changes when an instance joins or leaves the set', () => {
    const other = instance('web-2');
    expect(fingerprint([base, other])).not.toBe(fingerprint([base]));
    expect(fingerprint([])).toBe('');
  });

  it('is the same for the same Consul answer parsed twice', () => {
    const body = [entry({ id: 'b' }), entry({ id: 'a', checks: ['warning'] })];
    expect(fingerprint(parseHealthEntries(body))).toBe(fingerprint(parseHealthEntries(structuredClone(body))));
  });
});
