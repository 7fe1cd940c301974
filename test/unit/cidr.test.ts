// CIDR sets from config: parsing, and matching every address form a socket reports, including
// when answers come from the set's memo of addresses already seen.

import { describe, expect, it } from 'vitest';
import { CidrSet, parseCidr } from '../../src/core/cidr.js';

const set = (...blocks: string[]) => new CidrSet(blocks.map((b) => parseCidr(b)!));

describe('parseCidr', () => {
  it.each([
    { text: '10.0.0.0/8', out: { address: '10.0.0.0', prefix: 8, family: 'ipv4' } },
    { text: '192.168.1.7', out: { address: '192.168.1.7', prefix: 32, family: 'ipv4' } },
    { text: '2001:db8::/32', out: { address: '2001:db8::', prefix: 32, family: 'ipv6' } },
    { text: '10.0.0.0/33', out: undefined },
    { text: '10.0.0.0/', out: undefined },
    { text: 'example.com', out: undefined },
  ])('$text', ({ text, out }) => {
    expect(parseCidr(text)).toEqual(out);
  });
});

describe('CidrSet.has', () => {
  it.each([
    { why: 'an address inside an IPv4 block', ip: '10.1.2.3', has: true },
    { why: 'an address outside it', ip: '11.1.2.3', has: false },
    { why: 'an IPv4 client on a dual-stack socket', ip: '::ffff:10.1.2.3', has: true },
    { why: 'an IPv6 address inside an IPv6 block', ip: '2001:db8::7', has: true },
    { why: 'an IPv6 address outside it', ip: '2001:db9::7', has: false },
    { why: 'something that is no address', ip: 'not-an-ip', has: false },
    { why: 'no address at all', ip: undefined, has: false },
  ])('$why', ({ ip, has }) => {
    const s = set('10.0.0.0/8', '2001:db8::/32');
    // Twice: the second answer comes from the memo and must be the same.
    expect([s.has(ip), s.has(ip)]).toEqual([has, has]);
  });

  it('stays right when more distinct addresses come than its memo holds', () => {
    const s = set('10.0.0.0/16');
    for (let i = 0; i < 10_000; i++) {
      const ip = `10.${i % 2}.${(i >> 8) & 255}.${i & 255}`;
      expect(s.has(ip)).toBe(i % 2 === 0);
    }
    expect(s.has('10.0.1.1')).toBe(true);
    expect(s.has('10.1.1.1')).toBe(false);
  });

  it('an empty set has nothing', () => {
    expect(set().has('10.0.0.1')).toBe(false);
  });
});
