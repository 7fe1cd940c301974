// loadConfig for the strategy keys: hashKey, failover, slowStart; their defaults, normal forms and value messages.

import { describe, expect, it } from 'vitest';
import { formatProblem, loadConfig } from '../../src/core/config.js';
import { routeConfig } from './helpers.js';

/** Problems of a one-route file whose route item holds `yaml`, as `LINE:COL path: message` lines. */
function problems(yaml: string): string[] {
  const r = loadConfig(`routes:\n  - ${yaml.trim().replace(/\n/g, '\n    ')}\n`, 'f.yaml', {});
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.problems.map((p) => formatProblem(p).replace(/^f\.yaml:/, ''));
}

const CH = 'service: web\nstrategy: consistent-hash';
const FO = 'service: web\nstrategy: failover';

describe('hashKey', () => {
  it.each([
    { why: 'defaults to ip', yaml: CH, key: { kind: 'ip' } },
    { why: 'header:NAME stores the header name lower-cased, as Node presents headers', yaml: `${CH}\nhashKey: "header:X-User"`, key: { kind: 'header', name: 'x-user' } },
    { why: 'cookie:NAME keeps the cookie name\'s case (cookie names are case-sensitive)', yaml: `${CH}\nhashKey: "cookie:SessionId"`, key: { kind: 'cookie', name: 'SessionId' } },
    { why: 'cookie:sid is a cookie named sid', yaml: `${CH}\nhashKey: cookie:sid`, key: { kind: 'cookie', name: 'sid' } },
    { why: 'ip keys by client address', yaml: `${CH}\nhashKey: ip`, key: { kind: 'ip' } },
    { why: 'path keys by request path', yaml: `${CH}\nhashKey: path`, key: { kind: 'path' } },
    { why: 'a header name may use any token character', yaml: `${CH}\nhashKey: "header:X_Tenant.Id-2"`, key: { kind: 'header', name: 'x_tenant.id-2' } },
    { why: 'a route of another strategy still carries the default, unused', yaml: 'service: web', key: { kind: 'ip' } },
  ])('$why', ({ yaml, key }) => {
    expect(routeConfig(yaml).hashKey).toEqual(key);
  });

  it.each([
    { why: 'header: without a name', value: '"header:"' },
    { why: 'an unknown kind', value: 'foo' },
    { why: 'cookie: without a name', value: '"cookie:"' },
    { why: 'a header name with a space', value: '"header:X User"' },
    { why: 'an upper-cased kind', value: 'IP' },
    { why: 'a kind with a name it does not take', value: '"ip:x"' },
    { why: 'a number', value: '5' },
  ])('rejects $why with the expected forms, at the value', ({ value }) => {
    expect(problems(`${CH}\nhashKey: ${value}`)).toEqual(['4:14 routes[0].hashKey: expected header:NAME, cookie:NAME, ip or path']);
  });

  it('a bad hashKey on a route of another strategy gets both problems', () => {
    expect(problems('service: web\nhashKey: foo')).toEqual([
      '3:14 routes[0].hashKey: expected header:NAME, cookie:NAME, ip or path',
      '3:14 routes[0].hashKey: `hashKey` applies only to strategy: consistent-hash',
    ]);
  });
});

describe('failover', () => {
  it.each([
    { why: 'no block: tiers primary then backup, by tag, round-robin within', yaml: FO, f: { tiers: ['primary', 'backup'], by: { kind: 'tag' }, within: 'round-robin' } },
    { why: 'an empty block gets the same defaults', yaml: `${FO}\nfailover: {}`, f: { tiers: ['primary', 'backup'], by: { kind: 'tag' }, within: 'round-robin' } },
    { why: 'by meta:zone tiers by the zone meta key', yaml: `${FO}\nfailover: { by: "meta:zone" }`, f: { tiers: ['primary', 'backup'], by: { kind: 'meta', key: 'zone' }, within: 'round-robin' } },
    { why: 'by tag written out is by tag', yaml: `${FO}\nfailover: { by: tag }`, f: { tiers: ['primary', 'backup'], by: { kind: 'tag' }, within: 'round-robin' } },
    { why: 'custom tiers keep their order', yaml: `${FO}\nfailover: { tiers: [eu-west, eu-central, us] }`, f: { tiers: ['eu-west', 'eu-central', 'us'], by: { kind: 'tag' }, within: 'round-robin' } },
    { why: 'a single tier is allowed', yaml: `${FO}\nfailover: { tiers: [main] }`, f: { tiers: ['main'], by: { kind: 'tag' }, within: 'round-robin' } },
    { why: 'within may name a load-aware strategy', yaml: `${FO}\nfailover: { within: ewma }`, f: { tiers: ['primary', 'backup'], by: { kind: 'tag' }, within: 'ewma' } },
    { why: 'a route of another strategy has no failover settings', yaml: 'service: web', f: undefined },
  ])('$why', ({ yaml, f }) => {
    expect(routeConfig(yaml).failover).toEqual(f);
  });

  it.each([
    { why: 'by meta: without a key', block: 'failover: { by: "meta:" }', line: '4:21 routes[0].failover.by: expected tag or meta:KEY' },
    { why: 'by an unknown source', block: 'failover: { by: label }', line: '4:21 routes[0].failover.by: expected tag or meta:KEY' },
    { why: 'an empty tier list', block: 'failover: { tiers: [] }', line: '4:24 routes[0].failover.tiers: expected at least one tier' },
    {
      why: 'within naming a strategy that cannot spread a tier',
      block: 'failover: { within: consistent-hash }',
      line: '4:25 routes[0].failover.within: expected one of round-robin, random, weighted, least-request, ewma',
    },
    { why: 'within naming failover itself', block: 'failover: { within: failover }', line: '4:25 routes[0].failover.within: expected one of round-robin, random, weighted, least-request, ewma' },
    { why: 'an unknown key in the block', block: 'failover: { tier: [a] }', line: '4:17 routes[0].failover.tier: unknown key' },
  ])('rejects $why', ({ block, line }) => {
    expect(problems(`${FO}\n${block}`)).toEqual([line]);
  });
});

describe('slowStart', () => {
  it.each([
    { why: 'defaults to 0 (off)', yaml: 'service: web', ms: 0 },
    { why: '30s is 30000 ms', yaml: 'service: web\nslowStart: 30s', ms: 30_000 },
    { why: '1m is 60000 ms', yaml: 'service: web\nslowStart: 1m', ms: 60_000 },
    { why: '250ms stays 250 ms', yaml: 'service: web\nslowStart: 250ms', ms: 250 },
    { why: 'an explicit 0s is off', yaml: 'service: web\nslowStart: 0s', ms: 0 },
  ])('$why', ({ yaml, ms }) => {
    expect(routeConfig(yaml).slowStartMs).toBe(ms);
  });

  it('a value that is not a duration is rejected at the value', () => {
    expect(problems('service: web\nslowStart: 30')).toEqual(['3:16 routes[0].slowStart: expected a duration such as 250ms, 5s or 1m']);
  });
});
