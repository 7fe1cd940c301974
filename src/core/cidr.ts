// IP addresses and CIDR blocks from config (`server.trustedProxies`, later allow/deny lists).
//
// Matching is node:net's BlockList (C++, sub-microsecond per check; it also matches a peer on a
// dual-stack socket, `::ffff:10.0.0.7`, against `10.0.0.0/8`). This file adds the parsing,
// with a clear "no" for bad input, for the config's validation messages.

import { BlockList, isIP } from 'node:net';

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128); undefined if malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const bits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return undefined;
    prefix = Number(bits);
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const MEMO_SIZE = 4096;

/** A set of CIDR blocks: `has(ip)` for any address form a socket reports. */
export class CidrSet {
  readonly size: number;
  readonly #list = new BlockList();
  /**
   * Answers already worked out, by address. BlockList.check makes a native SocketAddress per
   * call (about a microsecond); a route's allow list asks on every request, mostly for the same
   * few clients. The set never changes, so a remembered answer stays right.
   */
  readonly #memo = new Map<string, boolean>();

  constructor(blocks: readonly Cidr[]) {
    this.size = blocks.length;
    for (const b of blocks) this.#list.addSubnet(b.address, b.prefix, b.family);
  }

  has(ip: string | undefined): boolean {
    if (this.size === 0 || ip === undefined) return false;
    let found = this.#memo.get(ip);
    if (found === undefined) {
      const version = isIP(ip);
      found = version !== 0 && this.#list.check(ip, version === 4 ? 'ipv4' : 'ipv6');
      // Bounded: a flood of distinct addresses empties it now and then, never grows it.
      if (this.#memo.size >= MEMO_SIZE) this.#memo.clear();
      this.#memo.set(ip, found);
    }
    return found;
  }
}
