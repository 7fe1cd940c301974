// crossFieldProblems and serviceProblems on raw parsed data: rules across keys, robust to values of the wrong type.

import { describe, expect, it } from 'vitest';
import { crossFieldProblems, serviceProblems } from '../../src/core/config-rules.js';

const BOTH = 'expected `service` or `endpoints`, not both';
const NEITHER = 'expected `service` or `endpoints` (or `redirect`)';
const NO_ROUTE = 'expected at least one route (or consulTags, for routes from Consul tags)';
const NO_TOKEN = 'expected a token (here or in $FAIRWAY_ADMIN_TOKEN) when admin.listen is not a loopback address (anyone who can reach it could drain instances)';
/** A route, for cases about other keys: a config without one has a problem of its own. */
const ROUTES = { routes: [{ service: 'web' }] };

describe('crossFieldProblems', () => {
  it.each([
    { why: 'a document that is not a map has none (the schema reports it)', data: [1, 2], problems: [] },
    { why: 'null has none', data: null, problems: [] },
    { why: 'routes that are not a list are skipped', data: { routes: 5 }, problems: [] },
    { why: 'a route that is not a map is skipped', data: { routes: ['web', 3, null] }, problems: [] },
    { why: 'a route with a service is fine', data: { routes: [{ service: 'web' }] }, problems: [] },
    { why: 'a route with neither service nor endpoints', data: { routes: [{ name: 'a' }] }, problems: [{ path: ['routes', 0], message: NEITHER }] },
    { why: 'null values count as absent', data: { routes: [{ service: null, endpoints: null }] }, problems: [{ path: ['routes', 0], message: NEITHER }] },
    {
      why: 'a service of the wrong type still counts as present, so both are reported',
      data: { routes: [{ service: 5, endpoints: 'a:1' }] },
      problems: [{ path: ['routes', 0, 'endpoints'], message: BOTH }],
    },
    { why: 'tags without a service', data: { routes: [{ endpoints: ['a:1'], tags: ['x'] }] }, problems: [{ path: ['routes', 0, 'tags'], message: '`tags` filters Consul instances; it needs `service`' }] },
    {
      why: 'hashKey is checked against the strategy as written, even an invalid one',
      data: { routes: [{ service: 'web', strategy: 'fastest', hashKey: 'ip' }] },
      problems: [{ path: ['routes', 0, 'hashKey'], message: '`hashKey` applies only to strategy: consistent-hash' }],
    },
    {
      why: 'a failover block with another strategy',
      data: { routes: [{ service: 'web', strategy: 'random', failover: {} }] },
      problems: [{ path: ['routes', 0, 'failover'], message: '`failover` applies only to strategy: failover' }],
    },
    {
      why: 'a duplicate name is reported at the second route, naming the first',
      data: { routes: [{ name: 'a', service: 'x' }, { name: 'b', service: 'y' }, { name: 'a', service: 'z' }] },
      problems: [{ path: ['routes', 2, 'name'], message: 'duplicate route name "a" (first at routes[0])' }],
    },
    {
      why: 'a third use of a name names the first, not the second',
      data: { routes: [{ name: 'a', service: 'x' }, { name: 'a', service: 'y' }, { name: 'a', service: 'z' }] },
      problems: [
        { path: ['routes', 1, 'name'], message: 'duplicate route name "a" (first at routes[0])' },
        { path: ['routes', 2, 'name'], message: 'duplicate route name "a" (first at routes[0])' },
      ],
    },
    { why: 'names of the wrong type are not compared', data: { routes: [{ name: 1, service: 'x' }, { name: 1, service: 'y' }] }, problems: [] },
    {
      why: 'route problems come in route order, the duplicate after the route\'s own',
      data: { routes: [{ name: 'a', service: 'x' }, { name: 'a' }] },
      problems: [
        { path: ['routes', 1], message: NEITHER },
        { path: ['routes', 1, 'name'], message: 'duplicate route name "a" (first at routes[0])' },
      ],
    },
    {
      why: 'a duplicate service id from two names',
      data: { ...ROUTES, services: [{ name: 'web' }, { name: 'web' }] },
      problems: [{ path: ['services', 1, 'name'], message: 'duplicate service id "web" (first at services[0])' }],
    },
    {
      why: 'an explicit id repeating another service\'s name is reported at the id',
      data: { ...ROUTES, services: [{ name: 'web' }, { name: 'api', id: 'web' }] },
      problems: [{ path: ['services', 1, 'id'], message: 'duplicate service id "web" (first at services[0])' }],
    },
    { why: 'same name, different ids is fine', data: { ...ROUTES, services: [{ name: 'web', id: 'web-1' }, { name: 'web', id: 'web-2' }] }, problems: [] },
    {
      why: 'a service check problem is prefixed with its path',
      data: { ...ROUTES, services: [{ name: 'web', check: { interval: '5s' } }] },
      problems: [{ path: ['services', 0, 'check'], message: 'expected exactly one of http, tcp, ttl' }],
    },
  ])('$why', ({ data, problems }) => {
    expect(crossFieldProblems(data)).toEqual(problems);
  });
});

describe('crossFieldProblems: a config routes somewhere', () => {
  it.each([
    { why: 'an empty document (an empty file) has no route', data: {}, problems: [{ path: ['routes'], message: NO_ROUTE }] },
    { why: 'an empty route list has no route', data: { routes: [] }, problems: [{ path: ['routes'], message: NO_ROUTE }] },
    {
      why: 'services to register are no route (Fairway is a proxy first)',
      data: { services: [{ name: 'web', address: 'h', port: 1 }] },
      problems: [{ path: ['routes'], message: NO_ROUTE }],
    },
    { why: 'consulTags alone is fine: routes come from Consul tags', data: { consulTags: { prefix: 'fairway' } }, problems: [] },
    { why: 'consulTags with an empty route list is fine', data: { consulTags: { prefix: 'fairway' }, routes: [] }, problems: [] },
    { why: 'a null consulTags does not count (the schema reports it)', data: { consulTags: null }, problems: [{ path: ['routes'], message: NO_ROUTE }] },
    { why: 'routes of the wrong type are left to the schema', data: { routes: null }, problems: [] },
    { why: 'a route that is itself invalid still counts as a route (its own problem is reported)', data: { routes: [{ name: 'a' }] }, problems: [{ path: ['routes', 0], message: NEITHER }] },
  ])('$why', ({ data, problems }) => {
    expect(crossFieldProblems(data)).toEqual(problems);
  });
});

describe('crossFieldProblems: an admin listener others can reach needs a token', () => {
  it.each([
    { why: 'no admin section is the loopback default', admin: undefined, problems: [] },
    { why: 'no admin.listen is the loopback default', admin: { token: '' }, problems: [] },
    { why: '127.0.0.1 without a token is fine', admin: { listen: '127.0.0.1:8081' }, problems: [] },
    { why: 'anywhere in 127.0.0.0/8 is loopback', admin: { listen: '127.8.9.10:8081', token: '' }, problems: [] },
    { why: '[::1] is loopback', admin: { listen: '[::1]:8081' }, problems: [] },
    { why: 'localhost is loopback, in any case', admin: { listen: 'LocalHost:8081' }, problems: [] },
    { why: 'an IPv4-mapped loopback address is loopback', admin: { listen: '[::ffff:127.0.0.1]:8081' }, problems: [] },
    { why: '0.0.0.0 without a token', admin: { listen: '0.0.0.0:8081' }, problems: [{ path: ['admin', 'token'], message: NO_TOKEN }] },
    { why: '0.0.0.0 with an empty token', admin: { listen: '0.0.0.0:8081', token: '' }, problems: [{ path: ['admin', 'token'], message: NO_TOKEN }] },
    { why: '0.0.0.0 with the token in $FAIRWAY_ADMIN_TOKEN', admin: { listen: '0.0.0.0:8081' }, env: { FAIRWAY_ADMIN_TOKEN: 'e' }, problems: [] },
    { why: '0.0.0.0 with an empty token in the file and one in $FAIRWAY_ADMIN_TOKEN', admin: { listen: '0.0.0.0:8081', token: '' }, env: { FAIRWAY_ADMIN_TOKEN: 'e' }, problems: [] },
    { why: '0.0.0.0 with a blank $FAIRWAY_ADMIN_TOKEN', admin: { listen: '0.0.0.0:8081' }, env: { FAIRWAY_ADMIN_TOKEN: ' ' }, problems: [{ path: ['admin', 'token'], message: NO_TOKEN }] },
    { why: 'a token of blanks is no token', admin: { listen: '0.0.0.0:8081', token: '  ' }, problems: [{ path: ['admin', 'token'], message: NO_TOKEN }] },
    { why: 'a null token is no token', admin: { listen: '0.0.0.0:8081', token: null }, problems: [{ path: ['admin', 'token'], message: NO_TOKEN }] },
    { why: 'all IPv6 interfaces without a token', admin: { listen: '[::]:8081' }, problems: [{ path: ['admin', 'token'], message: NO_TOKEN }] },
    { why: 'a LAN address without a token', admin: { listen: '10.1.2.3:8081' }, problems: [{ path: ['admin', 'token'], message: NO_TOKEN }] },
    { why: 'a host name other than localhost may resolve anywhere', admin: { listen: 'admin.internal:8081' }, problems: [{ path: ['admin', 'token'], message: NO_TOKEN }] },
    { why: '0.0.0.0 with a token is fine', admin: { listen: '0.0.0.0:8081', token: 's3cret' }, problems: [] },
    { why: 'a token of the wrong type is left to the schema', admin: { listen: '0.0.0.0:8081', token: 5 }, problems: [] },
    { why: 'a malformed listen address is left to the schema', admin: { listen: '0.0.0.0' }, problems: [] },
    { why: 'an admin value that is not a map is left to the schema', admin: '0.0.0.0:8081', problems: [] },
  ])('$why', (c: { admin: unknown; env?: Record<string, string>; problems: unknown[] }) => {
    expect(crossFieldProblems({ ...ROUTES, admin: c.admin }, c.env)).toEqual(c.problems);
  });
});

describe('serviceProblems', () => {
  it.each([
    { why: 'no check is fine', s: {}, problems: [] },
    { why: 'an http check alone is fine', s: { check: { http: 'http://h/' } }, problems: [] },
    { why: 'a ttl check alone is fine', s: { check: { ttl: '10s', interval: '5s' } }, problems: [] },
    { why: 'a check with no kind', s: { check: { interval: '5s' } }, problems: [{ path: ['check'], message: 'expected exactly one of http, tcp, ttl' }] },
    { why: 'a check with all three kinds', s: { check: { http: 'x', tcp: 'y', ttl: 'z' } }, problems: [{ path: ['check'], message: 'expected exactly one of http, tcp, ttl' }] },
    { why: 'a null kind does not count', s: { check: { http: 'http://h/', tcp: null } }, problems: [] },
    { why: 'a check that is not a map is left to the schema', s: { check: 'http://h/' }, problems: [] },
  ])('$why', ({ s, problems }) => {
    expect(serviceProblems(s)).toEqual(problems);
  });
});
