// The fleet's pure parts: the registration an instance makes of itself, how many Fairways the
// fleet service says are passing, and the rate-limit share that follows.

import { describe, expect, it } from 'vitest';
import { fleetRegistration, fleetSize, rateShare } from '../../src/core/fleet.js';
import { watchKeys } from '../../src/core/route-table.js';
import { config, instance } from './helpers.js';

const FLEET = 'fleet: { name: edge }\nroutes: [{ endpoints: [10.0.0.1:80] }]\n';

describe('fleetRegistration', () => {
  it('is undefined without fleet:', () => {
    expect(fleetRegistration(config('routes: [{ endpoints: [10.0.0.1:80] }]\n'), { host: '127.0.0.1', port: 8080 }, { host: '127.0.0.1', port: 8081 }, 'h')).toBeUndefined();
  });

  it('names the proxy address and port actually bound, and checks the admin /-/ready', () => {
    const r = fleetRegistration(config(FLEET), { host: '10.1.2.3', port: 8080 }, { host: '127.0.0.1', port: 9001 }, 'box');
    expect(r).toEqual({
      name: 'edge',
      id: 'edge-box-8080',
      address: '10.1.2.3',
      port: 8080,
      tags: [],
      meta: { admin: '127.0.0.1:9001' },
      weight: 1,
      check: { http: 'http://127.0.0.1:9001/-/ready', interval: '2s', timeout: '2s', deregisterCriticalAfter: '1m' },
    });
  });

  it.each([
    { why: 'a wildcard IPv4 listener leaves the address to Consul (its node\'s)', host: '0.0.0.0', address: '' },
    { why: 'a wildcard IPv6 listener too', host: '::', address: '' },
  ])('$why', ({ host, address }) => {
    expect(fleetRegistration(config(FLEET), { host, port: 80 }, { host: '::', port: 81 }, 'h')).toMatchObject({
      address,
      check: { http: 'http://127.0.0.1:81/-/ready' },
    });
  });

  it('fleet.address overrides what is registered', () => {
    const c = config('fleet: { name: edge, address: edge-1.internal, checkInterval: 5s }\nroutes: [{ endpoints: [10.0.0.1:80] }]\n');
    expect(fleetRegistration(c, { host: '0.0.0.0', port: 80 }, { host: '127.0.0.1', port: 81 }, 'h')).toMatchObject({
      address: 'edge-1.internal',
      check: { interval: '5s' },
    });
  });

  it.each([
    { why: 'a wildcard admin listener is checked (and read) at fleet.address when it is set', admin: '0.0.0.0', at: 'edge-1.internal:81' },
    { why: 'a wildcard admin listener without fleet.address is checked on loopback', admin: '0.0.0.0', at: '127.0.0.1:81', plain: true },
    { why: 'an admin listener on one address is checked there, whatever fleet.address says', admin: '10.0.0.9', at: '10.0.0.9:81' },
  ])('$why', ({ admin, at, plain }) => {
    const c = config(plain ? FLEET : 'fleet: { name: edge, address: edge-1.internal }\nroutes: [{ endpoints: [10.0.0.1:80] }]\n');
    expect(fleetRegistration(c, { host: '0.0.0.0', port: 80 }, { host: admin, port: 81 }, 'h')).toMatchObject({
      meta: { admin: at },
      check: { http: `http://${at}/-/ready` },
    });
  });

  it('an IPv6 admin address is bracketed in the check URL', () => {
    expect(fleetRegistration(config(FLEET), { host: '::1', port: 80 }, { host: '::1', port: 81 }, 'h')?.check?.http).toBe('http://[::1]:81/-/ready');
  });
});

describe('fleetSize and rateShare', () => {
  it.each([
    { why: 'no answer from Consul yet counts this instance alone', snapshot: undefined, size: 1 },
    { why: 'an empty service (this one not registered yet) still counts 1', snapshot: { key: 'edge', instances: [] }, size: 1 },
    {
      why: 'only passing instances count: a Fairway not ready yet (critical) or degraded (warning) takes no share',
      snapshot: { key: 'edge', instances: [instance('a'), instance('b'), instance('c', { status: 'critical' }), instance('d', { status: 'warning' })] },
      size: 2,
    },
  ])('$why', ({ snapshot, size }) => {
    expect(fleetSize(snapshot)).toBe(size);
  });

  it.each([
    { why: 'one Fairway with one process enforces the whole rate', fleet: 1, workers: 1, share: 1 },
    { why: 'four Fairways each enforce a quarter', fleet: 4, workers: 1, share: 0.25 },
    { why: 'two Fairways of two workers each: a quarter per process', fleet: 2, workers: 2, share: 0.25 },
  ])('$why', ({ fleet, workers, share }) => {
    expect(rateShare(fleet, workers)).toBe(share);
  });

  it('a fleet config watches the fleet service beside its routes', () => {
    expect([...watchKeys(config('fleet: { name: edge }\nroutes: [{ service: web }]\n')).keys()]).toEqual(['web', 'edge']);
  });
});
