// FleetMember's canary timer: a member running a plan decides again when the plan ends, with
// no KV change needed, and a plan whose end lies past setTimeout's limit does not spin.

import { createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FleetMember } from '../../src/app/fleet-member.js';
import { formatCanary } from '../../src/core/canary.js';
import { config } from './helpers.js';

const FLEET = config('fleet: { name: edge, configKey: fw/config }\nroutes: [{ endpoints: [10.0.0.1:80] }]\n');
const NOW = Date.parse('2026-12-02T04:00:00Z');

/** A server that says it listens on `port`, as the proxy's first listener would. */
function bound(port: number): Server {
  const s = createServer();
  Object.defineProperty(s, 'listening', { value: true });
  s.address = () => ({ address: '127.0.0.1', family: 'IPv4', port });
  return s;
}

describe('FleetMember and a canary plan', () => {
  afterEach(() => vi.useRealTimers());

  function member(onCanaryEnd: () => void): FleetMember {
    return new FleetMember({ config: () => FLEET, snapshots: () => new Map(), workers: 1, proxy: () => bound(8080), onCanaryEnd, now: () => Date.now() });
  }
  const docs = (until: number) => ({
    main: { text: 'routes: []\n', modifyIndex: 5 },
    canary: { text: formatCanary({ members: [`edge-${hostname()}-8080`], until, base: 5, routes: 'routes: []\n' }), modifyIndex: 6 },
  });

  it.each([
    { why: 'a plan ending in a minute wakes the member just after its end', until: NOW + 60_000, quiet: 60_000, woken: 60_001 },
    { why: 'a plan ending in ten years wakes it only after setTimeout\'s longest wait, not at once', until: NOW + 10 * 365 * 86_400_000, quiet: 2 ** 31 - 2, woken: 2 ** 31 - 1 },
  ])('$why', ({ until, quiet, woken }) => {
    vi.useFakeTimers({ now: NOW });
    const onEnd = vi.fn();
    const m = member(onEnd);
    expect(m.choose('fw/config', docs(until)).canary).not.toBeNull();
    vi.advanceTimersByTime(quiet);
    expect(onEnd).not.toHaveBeenCalled();
    vi.advanceTimersByTime(woken - quiet);
    expect(onEnd).toHaveBeenCalledTimes(1);
    m.close();
  });

  it('close stops the wake-up', () => {
    vi.useFakeTimers({ now: NOW });
    const onEnd = vi.fn();
    const m = member(onEnd);
    m.choose('fw/config', docs(NOW + 1_000));
    m.close();
    vi.advanceTimersByTime(5_000);
    expect(onEnd).not.toHaveBeenCalled();
  });
});
