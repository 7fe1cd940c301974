// `fairway register` flags → ServiceRegistration, with every problem named by its flag.

import { describe, expect, it } from 'vitest';
import { registrationFromFlags, type RegisterFlags } from '../../src/cli/register-flags.js';

const BASE: RegisterFlags = { service: 'web', address: '10.0.0.1', port: '8080' };

describe('registrationFromFlags: accepted', () => {
  it('the three required flags give a registration with defaults', () => {
    expect(registrationFromFlags(BASE)).toEqual({
      ok: true,
      registration: { name: 'web', id: 'web', address: '10.0.0.1', port: 8080, tags: [], meta: {}, weight: 1 },
    });
  });

  it('every flag at once', () => {
    const r = registrationFromFlags({
      ...BASE,
      id: 'web-1',
      tag: ['v2', 'canary'],
      meta: ['zone=a', 'url=http://x/?a=b', 'empty='],
      weight: '5',
      'check-http': 'http://10.0.0.1:8080/health',
      interval: '5s',
      timeout: '1s',
      'deregister-after': '1m',
    });
    expect(r).toEqual({
      ok: true,
      registration: {
        name: 'web',
        id: 'web-1',
        address: '10.0.0.1',
        port: 8080,
        tags: ['v2', 'canary'],
        meta: { zone: 'a', url: 'http://x/?a=b', empty: '' },
        weight: 5,
        check: { http: 'http://10.0.0.1:8080/health', interval: '5s', timeout: '1s', deregisterCriticalAfter: '1m' },
      },
    });
  });

  it.each([
    { why: 'an http check gets the default interval and timeout', flags: { 'check-http': 'https://h/health' }, check: { http: 'https://h/health', interval: '10s', timeout: '5s' } },
    { why: 'a tcp check', flags: { 'check-tcp': '10.0.0.1:8080' }, check: { tcp: '10.0.0.1:8080', interval: '10s', timeout: '5s' } },
    { why: 'a ttl check', flags: { 'check-ttl': '30s' }, check: { ttl: '30s', interval: '10s', timeout: '5s' } },
  ])('$why', ({ flags, check }) => {
    const r = registrationFromFlags({ ...BASE, ...flags });
    expect(r.ok && r.registration.check).toEqual(check);
  });

  it.each([
    { why: '--weight is parsed as a number', flags: { weight: '1000' }, pick: 'weight', value: 1000 },
    { why: '--port is parsed as a number', flags: { port: '1' }, pick: 'port', value: 1 },
    { why: 'an empty --tag list means no tags', flags: { tag: [] }, pick: 'tags', value: [] },
    { why: 'the last of two --meta with one key wins', flags: { meta: ['k=1', 'k=2'] }, pick: 'meta', value: { k: '2' } },
    { why: 'only the first = splits --meta', flags: { meta: ['k=a=b'] }, pick: 'meta', value: { k: 'a=b' } },
  ] as const)('$why', ({ flags, pick, value }) => {
    const r = registrationFromFlags({ ...BASE, ...flags } as RegisterFlags);
    expect(r.ok && r.registration[pick]).toEqual(value);
  });
});

describe('registrationFromFlags: rejected', () => {
  it.each([
    { why: 'no flags names all three required flags', flags: {}, problems: ['--service: expected a string', '--address: expected an address', '--port: expected a port from 1 to 65535'] },
    { why: 'a missing --service', flags: { address: 'h', port: '1' }, problems: ['--service: expected a string'] },
    { why: 'a missing --address', flags: { service: 'web', port: '1' }, problems: ['--address: expected an address'] },
    { why: 'an empty --address', flags: { ...BASE, address: '' }, problems: ['--address: expected an address'] },
    { why: 'a missing --port', flags: { service: 'web', address: 'h' }, problems: ['--port: expected a port from 1 to 65535'] },
    { why: 'a --port that is not a number', flags: { ...BASE, port: 'http' }, problems: ['--port: expected a port from 1 to 65535'] },
    { why: 'a --port with trailing junk', flags: { ...BASE, port: '80x' }, problems: ['--port: expected a port from 1 to 65535'] },
    { why: '--port 0', flags: { ...BASE, port: '0' }, problems: ['--port: expected a port from 1 to 65535'] },
    { why: 'a --port above 65535', flags: { ...BASE, port: '65536' }, problems: ['--port: expected a port from 1 to 65535'] },
    { why: 'a --service with a space', flags: { ...BASE, service: 'web app' }, problems: ['--service: expected letters, digits, ".", "_" or "-", starting with a letter or digit'] },
    { why: 'a bad --id', flags: { ...BASE, id: '-web' }, problems: ['--id: expected letters, digits, ".", "_" or "-", starting with a letter or digit'] },
    { why: 'a --weight that is not a number', flags: { ...BASE, weight: 'heavy' }, problems: ['--weight: expected a whole number from 1 to 1000'] },
    { why: '--weight 0', flags: { ...BASE, weight: '0' }, problems: ['--weight: expected a whole number from 1 to 1000'] },
    { why: 'a --weight above 1000', flags: { ...BASE, weight: '1001' }, problems: ['--weight: expected a whole number from 1 to 1000'] },
    { why: 'a fractional --weight', flags: { ...BASE, weight: '1.5' }, problems: ['--weight: expected a whole number from 1 to 1000'] },
    { why: '--meta without =', flags: { ...BASE, meta: ['novalue'] }, problems: ['--meta: expected key=value, got "novalue"'] },
    { why: '--meta with an empty key', flags: { ...BASE, meta: ['=v'] }, problems: ['--meta: expected key=value, got "=v"'] },
    {
      why: 'two check kinds',
      flags: { ...BASE, 'check-http': 'http://h/', 'check-ttl': '10s' },
      problems: ['--check-http | --check-tcp | --check-ttl: expected exactly one of http, tcp, ttl'],
    },
    {
      why: 'all three check kinds',
      flags: { ...BASE, 'check-http': 'http://h/', 'check-tcp': 'h:1', 'check-ttl': '10s' },
      problems: ['--check-http | --check-tcp | --check-ttl: expected exactly one of http, tcp, ttl'],
    },
    { why: '--interval without a check', flags: { ...BASE, interval: '5s' }, problems: ['--interval, --timeout and --deregister-after need one of --check-http, --check-tcp, --check-ttl'] },
    { why: '--timeout without a check', flags: { ...BASE, timeout: '1s' }, problems: ['--interval, --timeout and --deregister-after need one of --check-http, --check-tcp, --check-ttl'] },
    { why: '--deregister-after without a check', flags: { ...BASE, 'deregister-after': '1m' }, problems: ['--interval, --timeout and --deregister-after need one of --check-http, --check-tcp, --check-ttl'] },
    { why: 'a non-http check URL', flags: { ...BASE, 'check-http': 'ftp://h/' }, problems: ['--check-http: expected an http:// or https:// URL'] },
    { why: 'a check URL that does not parse', flags: { ...BASE, 'check-http': 'not a url' }, problems: ['--check-http: expected an http:// or https:// URL'] },
    { why: 'a tcp check that is not host:port', flags: { ...BASE, 'check-tcp': 'h' }, problems: ['--check-tcp: expected host:port, e.g. 127.0.0.1:8080'] },
    { why: 'a bad ttl', flags: { ...BASE, 'check-ttl': 'soon' }, problems: ['--check-ttl: expected a duration such as 250ms, 5s or 1m'] },
    { why: 'a bad --interval', flags: { ...BASE, 'check-ttl': '10s', interval: '5' }, problems: ['--interval: expected a duration such as 250ms, 5s or 1m'] },
    { why: 'a bad --timeout', flags: { ...BASE, 'check-ttl': '10s', timeout: '1 s' }, problems: ['--timeout: expected a duration such as 250ms, 5s or 1m'] },
    { why: 'a bad --deregister-after', flags: { ...BASE, 'check-ttl': '10s', 'deregister-after': '1d' }, problems: ['--deregister-after: expected a duration such as 250ms, 5s or 1m'] },
    {
      why: 'several problems are all reported, flag problems first',
      flags: { service: 'web', port: '0', meta: ['x'], interval: '5s' },
      problems: [
        '--meta: expected key=value, got "x"',
        '--interval, --timeout and --deregister-after need one of --check-http, --check-tcp, --check-ttl',
        '--address: expected an address',
        '--port: expected a port from 1 to 65535',
      ],
    },
  ])('$why', ({ flags, problems }) => {
    expect(registrationFromFlags(flags as RegisterFlags)).toEqual({ ok: false, problems });
  });
});
