// `listeners:` in the config: what it normalizes to, and the problems it is rejected with, each
// at its line, column and key path. (Certificate files are read elsewhere; placeProblems puts
// their problems at the keys that name them.)

import { describe, expect, it } from 'vitest';
import { formatProblem, loadConfig, placeProblems, type Config } from '../../src/core/config.js';

const ROUTE = 'routes: [{ service: web }]\n';

function load(text: string, file = '/etc/fairway/fairway.yaml'): Config {
  const r = loadConfig(text, file, {});
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config;
}

function lines(text: string): string[] {
  const r = loadConfig(text, 'fairway.yaml', {});
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.problems.map((p) => formatProblem(p).replace(/^fairway\.yaml:/, ''));
}

const TLS = 'listeners:\n  - address: 0.0.0.0:443\n    tls:\n      certificates:\n        - { cert: a.pem, key: a.key }\n        - { cert: /abs/b.pem, key: /abs/b.key }\n';

describe('listeners: what a valid config becomes', () => {
  it('listen alone is one plain listener, named by its address', () => {
    const c = load('listen: 127.0.0.1:9000\n' + ROUTE);
    expect(c.listeners).toEqual([{ name: '127.0.0.1:9000', address: { host: '127.0.0.1', port: 9000 }, redirectToHttps: false, http2: false }]);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9000 });
  });

  it('a TLS listener takes minVersion TLSv1.2 by default, and relative files are beside the config file', () => {
    const c = load(TLS + '  - { address: "0.0.0.0:80", redirectToHttps: true }\n' + ROUTE);
    expect(c.listeners).toEqual([
      {
        name: '0.0.0.0:443',
        address: { host: '0.0.0.0', port: 443 },
        tls: { certificates: [{ cert: '/etc/fairway/a.pem', key: '/etc/fairway/a.key' }, { cert: '/abs/b.pem', key: '/abs/b.key' }], minVersion: 'TLSv1.2' },
        redirectToHttps: false,
        http2: false,
      },
      { name: '0.0.0.0:80', address: { host: '0.0.0.0', port: 80 }, redirectToHttps: true, http2: false },
    ]);
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 443 });
  });

  it('http2: true is taken on a TLS listener (ALPN h2) and on a plain one (h2c by preface)', () => {
    const c = load(TLS + '    http2: true\n  - { address: "127.0.0.1:80", http2: true }\n' + ROUTE);
    expect(c.listeners.map((l) => l.http2)).toEqual([true, true]);
  });
});

describe('listeners: problems, placed at their keys', () => {
  it.each([
    {
      why: 'listen and listeners together is reported at listen, saying how to write it',
      text: 'listen: 127.0.0.1:80\nlisteners: [{ address: "127.0.0.1:81" }]\n' + ROUTE,
      line: '1:9 listen: expected `listen` or `listeners`, not both (`listen: X` is `listeners: [{ address: X }]`)',
    },
    {
      why: 'http2 that is not a boolean is reported at it',
      text: 'listeners:\n  - address: 127.0.0.1:443\n    http2: yes please\n' + ROUTE,
      line: '3:12 listeners[0].http2: expected true or false',
    },
    {
      why: 'redirectToHttps on a TLS listener is reported at redirectToHttps',
      text: TLS + '    redirectToHttps: true\n' + ROUTE,
      line: '7:22 listeners[0].redirectToHttps: redirectToHttps is for plain listeners; this one has tls',
    },
    {
      why: 'an unknown minVersion names the versions there are',
      text: 'listeners:\n  - address: 127.0.0.1:443\n    tls: { certificates: [{ cert: a, key: b }], minVersion: TLSv1.1 }\n' + ROUTE,
      line: '3:61 listeners[0].tls.minVersion: expected one of TLSv1.2, TLSv1.3',
    },
    {
      why: 'a TLS listener without certificates is reported at certificates',
      text: 'listeners:\n  - address: 127.0.0.1:443\n    tls: { certificates: [] }\n' + ROUTE,
      line: '3:26 listeners[0].tls.certificates: expected at least one certificate',
    },
    {
      why: 'a certificate without its key is reported as a missing key',
      text: 'listeners:\n  - address: 127.0.0.1:443\n    tls:\n      certificates:\n        - cert: a.pem\n' + ROUTE,
      line: '5:11 listeners[0].tls.certificates[0].key: required: expected a file path',
    },
    {
      why: 'two listeners on one address are reported at the second',
      text: 'listeners:\n  - address: 127.0.0.1:80\n  - address: 127.0.0.1:80\n' + ROUTE,
      line: '3:14 listeners[1].address: duplicate listener address 127.0.0.1:80 (first at listeners[0])',
    },
    { why: 'an empty listener list is reported', text: 'listeners: []\n' + ROUTE, line: '1:12 listeners: expected at least one listener' },
    { why: 'a bad listener address is reported at it', text: 'listeners: [{ address: nope }]\n' + ROUTE, line: '1:24 listeners[0].address: expected host:port, e.g. 127.0.0.1:8080' },
  ])('$why', ({ text, line }) => {
    expect(lines(text)).toEqual([line]);
  });
});

describe('a route\'s protocol (how Fairway talks to its upstream)', () => {
  it('is http1 unless the route says h2 or h2c', () => {
    const c = load('routes:\n  - { service: web }\n  - { service: grpc, protocol: h2c }\n  - { service: tls, protocol: h2 }\n');
    expect(c.routes.map((r) => r.protocol)).toEqual(['http1', 'h2c', 'h2']);
  });

  it.each([
    {
      why: 'an unknown protocol names the ones there are',
      text: 'routes:\n  - service: grpc\n    protocol: grpc\n',
      line: '3:15 routes[0].protocol: expected one of http1, h2, h2c',
    },
  ])('$why', ({ text, line }) => {
    expect(lines(text)).toEqual([line]);
  });
});

describe('placeProblems', () => {
  it('puts a problem found outside loadConfig at the value of its key path', () => {
    const problems = placeProblems(TLS, 'f.yaml', [{ path: ['listeners', 0, 'tls', 'certificates', 1, 'key'], message: 'cannot read /abs/b.key: no such file' }]);
    expect(problems.map(formatProblem)).toEqual(['f.yaml:6:36 listeners[0].tls.certificates[1].key: cannot read /abs/b.key: no such file']);
  });
});
