// loadConfig on invalid input: every problem comes back with file, line, column, key path and message.

import { describe, expect, it } from 'vitest';
import { formatProblem, loadConfig, type ConfigProblem } from '../../src/core/config.js';

function problems(text: string): ConfigProblem[] {
  const r = loadConfig(text, 'fairway.yaml', {});
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.problems;
}

/** A route, appended to cases about other keys: a config without one has a problem of its own (at 1:1). */
const ROUTE = 'routes: [{ service: web }]\n';

/** The problems as `LINE:COL path: message` lines, the way an operator reads them. */
function lines(text: string): string[] {
  return problems(text).map((p) => formatProblem(p).replace(/^fairway\.yaml:/, ''));
}

describe('formatProblem', () => {
  it.each([
    { why: 'a problem at a key path names the path', p: { file: 'f.yaml', line: 3, col: 15, path: 'routes[0].strategy', message: 'bad' }, text: 'f.yaml:3:15 routes[0].strategy: bad' },
    { why: 'a problem with the file itself has no path', p: { file: 'f.yaml', line: 1, col: 1, path: '', message: 'bad' }, text: 'f.yaml:1:1 bad' },
  ])('$why', ({ p, text }) => {
    expect(formatProblem(p)).toBe(text);
  });
});

describe('loadConfig: JSON files are placed like YAML ones', () => {
  it.each([
    {
      why: 'a bad value in a JSON file is reported at its line and column',
      text: '{\n  "routes": [\n    { "service": "web", "strategy": "fastest" }\n  ]\n}\n',
      line: '3:37 routes[0].strategy: expected one of round-robin, random, weighted, least-request, ewma, consistent-hash, failover',
    },
    {
      why: 'a key repeated in a JSON file is an error, not a silent last-one-wins',
      text: '{\n  "listen": "127.0.0.1:8080",\n  "listen": "127.0.0.1:9090"\n}\n',
      line: '3:3 listen: this key appears twice in its map; a key may appear once',
    },
    {
      why: 'a cross-field problem in an otherwise valid JSON file is reported too',
      text: '{"routes": [{"name": "a", "service": "x"}, {"name": "a", "service": "y"}]}',
      line: '1:53 routes[1].name: duplicate route name "a" (first at routes[0])',
    },
  ])('$why', ({ text, line }) => {
    expect(lines(text)).toEqual([line]);
  });
});

describe('loadConfig: a document that cannot be expanded', () => {
  it('aliases that expand past the YAML bound ("billion laughs") are one problem at 1:1, not a thrown error', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghij'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(', ')}]`), ROUTE].join('\n');
    const found = problems(bomb);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ line: 1, col: 1, path: '' });
    expect(found[0]!.message).toMatch(/^the document cannot be expanded: .*alias/i);
  });
});

describe('loadConfig: one problem, placed at its value', () => {
  it('an unknown strategy in the first route names routes[0].strategy, its line, and the allowed values', () => {
    const text = 'listen: 127.0.0.1:8080\nroutes:\n  - service: web\n    strategy: fastest\n';
    expect(problems(text)).toEqual([
      {
        file: 'fairway.yaml',
        line: 4,
        col: 15,
        path: 'routes[0].strategy',
        message: 'expected one of round-robin, random, weighted, least-request, ewma, consistent-hash, failover',
      },
    ]);
  });

  it.each([
    { why: 'a bad listen address', text: 'listen: nope\n' + ROUTE, line: '1:9 listen: expected host:port, e.g. 127.0.0.1:8080' },
    { why: 'a listen value of the wrong type', text: 'listen: 8080\n' + ROUTE, line: '1:9 listen: expected host:port' },
    { why: 'a bad duration', text: 'drainTimeout: 10\n' + ROUTE, line: '1:15 drainTimeout: expected a duration such as 250ms, 5s or 1m' },
    { why: 'a duration with a space', text: 'consul:\n  wait: 5 s\n' + ROUTE, line: '2:9 consul.wait: expected a duration such as 250ms, 5s or 1m' },
    { why: 'a consul address that is not http(s)', text: 'consul:\n  address: ftp://x\n' + ROUTE, line: '2:12 consul.address: expected an http:// or https:// URL' },
    { why: 'retries out of range', text: 'routes:\n  - service: web\n    retries: 11\n', line: '3:14 routes[0].retries: expected a whole number from 0 to 10' },
    { why: 'fractional retries', text: 'routes:\n  - service: web\n    retries: 1.5\n', line: '3:14 routes[0].retries: expected a whole number from 0 to 10' },
    { why: 'a path prefix without a leading slash', text: 'routes:\n  - service: web\n    match: { pathPrefix: api }\n', line: '3:26 routes[0].match.pathPrefix: expected a path starting with /' },
    {
      why: 'a host pattern with a wildcard in the middle',
      text: 'routes:\n  - service: web\n    match: { host: "a.*.com" }\n',
      line: '3:20 routes[0].match.host: expected a host name, exact (example.com) or a wildcard suffix (*.example.com)',
    },
    { why: 'an endpoint weight out of range', text: 'routes:\n  - endpoints:\n      - { address: a:1, weight: 0 }\n', line: '3:33 routes[0].endpoints[0].weight: expected a whole number from 1 to 1000' },
    { why: 'an endpoint that is not host:port', text: 'routes:\n  - endpoints: [nope]\n', line: '2:17 routes[0].endpoints[0]: expected host:port or https://host:port, e.g. 127.0.0.1:8080' },
    { why: 'an endpoint that is neither string nor map', text: 'routes:\n  - endpoints: [5]\n', line: '2:17 routes[0].endpoints[0]: expected host:port, https://host:port or { address: host:port, weight: N }' },
    { why: 'an empty endpoint list', text: 'routes:\n  - endpoints: []\n', line: '2:16 routes[0].endpoints: expected at least one endpoint' },
    { why: 'routes that are not a list', text: 'routes: 5\n', line: '1:9 routes: expected a list of routes' },
    { why: 'a document that is not a map', text: '- 1\n- 2\n', line: '1:1 Invalid input: expected object, received array' },
    { why: 'a service port out of range', text: 'services:\n  - { name: web, address: 10.0.0.1, port: 70000 }\n' + ROUTE, line: '2:43 services[0].port: expected a port from 1 to 65535' },
  ])('$why', ({ text, line }) => {
    expect(lines(text)).toEqual([line]);
  });
});

describe('loadConfig: cross-field rules', () => {
  it.each([
    { why: 'a route with neither service nor endpoints is reported at the route', text: 'routes:\n  - name: a\n', line: '2:5 routes[0]: expected `service` or `endpoints` (or `redirect`)' },
    {
      why: 'a route with both service and endpoints is reported at endpoints',
      text: 'routes:\n  - service: web\n    endpoints: [a:1]\n',
      line: '3:16 routes[0].endpoints: expected `service` or `endpoints`, not both',
    },
    {
      why: 'tags without a service are reported at tags',
      text: 'routes:\n  - endpoints: [a:1]\n    tags: [v2]\n',
      line: '3:11 routes[0].tags: `tags` filters Consul instances; it needs `service`',
    },
    {
      why: 'a duplicate route name is reported at the second one, naming the first',
      text: 'routes:\n  - name: a\n    service: x\n  - name: a\n    service: y\n',
      line: '4:11 routes[1].name: duplicate route name "a" (first at routes[0])',
    },
    {
      why: 'a duplicate service id from two names is reported at the second name',
      text: 'services:\n  - { name: web, address: h, port: 1 }\n  - { name: web, address: h, port: 2 }\n' + ROUTE,
      line: '3:13 services[1].name: duplicate service id "web" (first at services[0])',
    },
    {
      why: 'an explicit id that repeats another service name is reported at the id',
      text: 'services:\n  - { name: web, address: h, port: 1 }\n  - { name: api, id: web, address: h, port: 2 }\n' + ROUTE,
      line: '3:22 services[1].id: duplicate service id "web" (first at services[0])',
    },
    {
      why: 'a check with no kind is reported at the check',
      text: 'services:\n  - name: web\n    address: h\n    port: 1\n    check: { interval: 5s }\n' + ROUTE,
      line: '5:12 services[0].check: expected exactly one of http, tcp, ttl',
    },
    {
      why: 'a check with two kinds is reported at the check',
      text: 'services:\n  - name: web\n    address: h\n    port: 1\n    check: { http: "http://h:1/", ttl: 10s }\n' + ROUTE,
      line: '5:12 services[0].check: expected exactly one of http, tcp, ttl',
    },
  ])('$why', ({ text, line }) => {
    expect(lines(text)).toEqual([line]);
  });

  it.each([
    {
      why: 'hashKey on a route of another strategy is reported at hashKey',
      text: 'routes:\n  - service: web\n    strategy: random\n    hashKey: ip\n',
      line: '4:14 routes[0].hashKey: `hashKey` applies only to strategy: consistent-hash',
    },
    {
      why: 'hashKey on a route with the default strategy is reported too',
      text: 'routes:\n  - service: web\n    hashKey: "header:X-User"\n',
      line: '3:14 routes[0].hashKey: `hashKey` applies only to strategy: consistent-hash',
    },
    {
      why: 'a failover block on a route of another strategy is reported at failover',
      text: 'routes:\n  - service: web\n    strategy: weighted\n    failover: { tiers: [a, b] }\n',
      line: '4:15 routes[0].failover: `failover` applies only to strategy: failover',
    },
  ])('$why', ({ text, line }) => {
    expect(lines(text)).toEqual([line]);
  });

  it('hashKey on consistent-hash and failover on failover are accepted', () => {
    const text = 'routes:\n  - service: a\n    strategy: consistent-hash\n    hashKey: path\n  - service: b\n    strategy: failover\n    failover: { tiers: [x] }\n';
    expect(loadConfig(text, 'f', {}).ok).toBe(true);
  });

  it('two services without ids but different names are fine', () => {
    const r = loadConfig('services:\n  - { name: web, address: h, port: 1 }\n  - { name: api, address: h, port: 1 }\n' + ROUTE, 'f', {});
    expect(r.ok).toBe(true);
  });
});

describe('loadConfig: a config that routes nowhere, an admin listener open without a token', () => {
  const NO_ROUTE = 'routes: expected at least one route (or consulTags, for routes from Consul tags)';
  const NO_TOKEN = 'admin.token: expected a token (here or in $FAIRWAY_ADMIN_TOKEN) when admin.listen is not a loopback address (anyone who can reach it could drain instances)';
  it.each([
    { why: 'an empty file (what a reload reads between truncate and write) is no config, at 1:1', text: '', lines: [`1:1 ${NO_ROUTE}`] },
    { why: 'a file of comments only is no config either', text: '# routes come later\n', lines: [`1:1 ${NO_ROUTE}`] },
    { why: 'an explicit null document is no config', text: '~\n', lines: [`1:1 ${NO_ROUTE}`] },
    { why: 'an empty JSON object is no config', text: '{}', lines: [`1:1 ${NO_ROUTE}`] },
    { why: 'a file cut short before its routes names the missing key at the document', text: 'listen: 127.0.0.1:8080\nadmin:\n  listen: 127.0.0.1:8081\n', lines: [`1:1 ${NO_ROUTE}`] },
    { why: 'an empty route list is reported at the list', text: 'listen: 127.0.0.1:8080\nroutes: []\n', lines: [`2:9 ${NO_ROUTE}`] },
    { why: 'a fleet without a configKey brings no routes either', text: 'fleet: { name: fairway }\nroutes: []\n', lines: [`2:9 ${NO_ROUTE}`] },
    { why: 'an admin on 0.0.0.0 without a token is reported at admin, where the token belongs', text: 'admin:\n  listen: 0.0.0.0:8081\n' + ROUTE, lines: [`2:3 ${NO_TOKEN}`] },
    { why: 'an admin on 0.0.0.0 with an empty token is reported at the token', text: 'admin:\n  listen: 0.0.0.0:8081\n  token: ""\n' + ROUTE, lines: [`3:10 ${NO_TOKEN}`] },
    { why: 'both at once, in line order', text: 'admin: { listen: "[::]:8081" }\n', lines: [`1:1 ${NO_ROUTE}`, `1:8 ${NO_TOKEN}`] },
  ])('$why', ({ text, lines: expected }) => {
    expect(lines(text)).toEqual(expected);
  });

  it.each([
    { why: 'consulTags alone is a config: its routes come from Consul tags', text: 'consulTags: { prefix: fairway }\n' },
    { why: 'fleet.configKey alone is a config: its routes come from Consul KV', text: 'fleet: { configKey: fairway/config }\nroutes: []\n' },
    { why: 'an admin on 0.0.0.0 with a token is fine', text: 'admin: { listen: 0.0.0.0:8081, token: s3cret }\n' + ROUTE },
    { why: 'an admin on another loopback address needs no token', text: 'admin: { listen: 127.0.0.2:8081 }\n' + ROUTE },
  ])('accepts $why', ({ text }) => {
    const r = loadConfig(text, 'f', {});
    expect(r.ok ? [] : r.problems.map(formatProblem)).toEqual([]);
  });
});

describe('loadConfig: unknown and missing keys', () => {
  it.each([
    { why: 'an unknown top-level key is reported at the key', text: 'listen: 127.0.0.1:1\nlisen: x\n' + ROUTE, line: '2:1 lisen: unknown key' },
    { why: 'an unknown key in a route is reported at the key', text: 'routes:\n  - service: web\n    stratgy: random\n', line: '3:5 routes[0].stratgy: unknown key' },
    { why: 'an unknown key in a flow map is reported at the key', text: 'routes:\n  - service: web\n    match: { path: /x }\n', line: '3:14 routes[0].match.path: unknown key' },
    { why: 'several unknown keys in one map are one problem at the first key', text: 'foo: 1\nbar: 2\n' + ROUTE, line: '1:1 foo: unknown keys foo, bar' },
    { why: 'a missing required key is reported at its parent, marked required', text: 'services:\n  - name: web\n    port: 80\n' + ROUTE, line: '2:5 services[0].address: required: expected an address' },
  ])('$why', ({ text, line }) => {
    expect(lines(text)).toEqual([line]);
  });
});

describe('loadConfig: several problems', () => {
  it('reports every problem in the file, sorted by line then column', () => {
    const text = [
      'listen: nope', // 1
      'foo: 2', // 2
      'routes:', // 3
      '  - name: a', // 4
      '    retries: 11', // 5
      '    match: { pathPrefix: api, hots: x }', // 6
      '  - service: web', // 7
      '    endpoints: [a:1]', // 8
      '  - name: c', // 9
      '    tags: [x]', // 10
    ].join('\n');
    expect(lines(text)).toEqual([
      '1:9 listen: expected host:port, e.g. 127.0.0.1:8080',
      '2:1 foo: unknown key',
      '4:5 routes[0]: expected `service` or `endpoints` (or `redirect`)',
      '5:14 routes[0].retries: expected a whole number from 0 to 10',
      '6:26 routes[0].match.pathPrefix: expected a path starting with /',
      '6:31 routes[0].match.hots: unknown key',
      '8:16 routes[1].endpoints: expected `service` or `endpoints`, not both',
      '9:5 routes[2]: expected `service` or `endpoints` (or `redirect`)',
      '10:11 routes[2].tags: `tags` filters Consul instances; it needs `service`',
    ]);
  });

  it('reports value problems together with a duplicate route name', () => {
    const text = 'routes:\n  - name: a\n    retries: -1\n    service: x\n  - name: a\n    service: y\n';
    expect(lines(text)).toEqual([
      '3:14 routes[0].retries: expected a whole number from 0 to 10',
      '5:11 routes[1].name: duplicate route name "a" (first at routes[0])',
    ]);
  });

  it.each([
    {
      why: 'a bad strategy does not hide a duplicate name in a later route',
      text: 'routes:\n  - name: a\n    strategy: fastest\n    endpoints: [10.0.0.1:80]\n  - name: a\n    endpoints: [10.0.0.2:80]\n',
      lines: [
        '3:15 routes[0].strategy: expected one of round-robin, random, weighted, least-request, ewma, consistent-hash, failover',
        '5:11 routes[1].name: duplicate route name "a" (first at routes[0])',
      ],
    },
    {
      why: 'a bad strategy does not hide a route without service or endpoints',
      text: 'routes:\n  - name: a\n    strategy: fastest\n',
      lines: [
        '2:5 routes[0]: expected `service` or `endpoints` (or `redirect`)',
        '3:15 routes[0].strategy: expected one of round-robin, random, weighted, least-request, ewma, consistent-hash, failover',
      ],
    },
    {
      why: 'a bad port does not hide a check with two kinds or a duplicate id',
      text: 'services:\n  - { name: web, address: h, port: x, check: { tcp: "h:1", ttl: 5s } }\n  - { name: web, address: h, port: 2 }\n' + ROUTE,
      lines: [
        '2:36 services[0].port: expected a port from 1 to 65535',
        '2:46 services[0].check: expected exactly one of http, tcp, ttl',
        '3:13 services[1].name: duplicate service id "web" (first at services[0])',
      ],
    },
  ])('cross-field rules are reported beside type errors (regression): $why', ({ text, lines: expected }) => {
    expect(lines(text)).toEqual(expected);
  });

  it('every problem carries the file name given', () => {
    const r = loadConfig('listen: x\nfoo: 1\n' + ROUTE, '/etc/fairway/routes.yaml', {});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.file)).toEqual(['/etc/fairway/routes.yaml', '/etc/fairway/routes.yaml']);
  });
});

describe('loadConfig: YAML syntax errors', () => {
  it.each([
    { why: 'an unterminated quote', text: 'routes:\n  - name: "a\n', line: 3, col: 1, message: 'Missing closing "quote' },
    { why: 'a tab used for indentation', text: 'routes:\n\t- a\n', line: 2, col: 1, message: 'Tabs are not allowed as indentation' },
  ])('$why gives its line and column with an empty path', ({ text, line, col, message }) => {
    expect(problems(text)).toEqual([{ file: 'fairway.yaml', line, col, path: '', message }]);
  });

  it.each([
    { why: 'at the top', text: 'listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n', line: 2, col: 1, path: 'listen' },
    { why: 'inside a route', text: 'routes:\n  - service: web\n    strategy: random\n    strategy: bogus\n', line: 4, col: 5, path: 'routes[0].strategy' },
    { why: 'in a nested map of a later route', text: 'routes:\n  - service: a\n  - service: b\n    match: { pathPrefix: /x, pathPrefix: /y }\n', line: 4, col: 30, path: 'routes[1].match.pathPrefix' },
  ])('a key given twice ($why) is placed at the repeat and named by its key path', ({ text, line, col, path }) => {
    expect(problems(text)).toEqual([{ file: 'fairway.yaml', line, col, path, message: 'this key appears twice in its map; a key may appear once' }]);
  });

  it('a tab used as indentation under a key is that one problem, with no follow-on "key given twice"', () => {
    expect(lines('listen: 127.0.0.1:1\nadmin:\n\tlisten: 127.0.0.1:2\nroutes:\n  - service: web\n')).toEqual(['3:1 Tabs are not allowed as indentation']);
  });

  it('a syntax error message is a single line', () => {
    for (const p of problems('listen: [\n')) {
      expect(p.path).toBe('');
      expect(p.message).not.toContain('\n');
      expect(p.line).toBeGreaterThanOrEqual(1);
    }
  });
});
