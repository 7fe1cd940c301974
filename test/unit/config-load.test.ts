// loadConfig on valid input: defaults, normalization, environment fallbacks, freezing; and formatPath.

import { describe, expect, it } from 'vitest';
import { tlsConnectOptions } from '../../src/config-source/client-tls.js';
import { formatPath, formatProblem, loadConfig, type Config } from '../../src/core/config.js';

const FULL = `
listen: 0.0.0.0:80
admin:
  listen: "[::1]:9000"
  token: s3cret
consul:
  address: https://consul.internal:8501/
  token: file-token
  datacenter: dc2
  stale: true
  wait: 1m
  maxWatches: 500
drainTimeout: 2500ms
services:
  - name: web
    id: web-1
    address: 10.0.0.5
    port: 8080
    tags: [v2]
    meta: { zone: a }
    weight: 3
    check: { http: "http://10.0.0.5:8080/health", interval: 5s }
routes:
  - name: api
    match:
      host: "*.Example.COM"
      pathPrefix: /api
      headers: { X-Env: prod }
    service: api
    tags: [v2, canary, v2]
    strategy: weighted
    stripPrefix: true
    timeout: 1.5s
    retries: 0
  - match: { host: Static.Example.com }
    endpoints:
      - 10.0.0.1:8080
      - { address: "[::1]:8081", weight: 5 }
      - { address: "https://10.0.0.3:8082" }
`;

/** The top-level sections neither test config sets, at their defaults. */
const SECTION_DEFAULTS = {
  workers: 1,
  server: { headersTimeoutMs: 10_000, requestTimeoutMs: 0, keepAliveTimeoutMs: 5_000, maxHeaderSize: 16_384, maxHeaders: 200, trustedProxies: [], upgradeIdleTimeoutMs: 600_000, fastPath: true },
  upstream: { connectTimeoutMs: 5_000, keepAliveTimeoutMs: 30_000, maxConnections: 128 },
  outlier: { consecutiveFailures: 5, baseEjectionMs: 10_000, maxEjectionMs: 300_000, maxEjectedPercent: 50 },
  retryBudget: { ratio: 0.2, minPerSecond: 5 },
  accessLog: { enabled: true, sample: 1 },
  metrics: { enabled: true },
} as const;

const FULL_EXPECTED: Config = {
  listen: { host: '0.0.0.0', port: 80 },
  listeners: [{ name: '0.0.0.0:80', address: { host: '0.0.0.0', port: 80 }, redirectToHttps: false, http2: false }],
  admin: { listen: { host: '::1', port: 9000 }, token: 's3cret' },
  consul: { address: 'https://consul.internal:8501', token: 'file-token', datacenter: 'dc2', stale: true, waitMs: 60_000, maxWatches: 500 },
  drainTimeoutMs: 2_500,
  ...SECTION_DEFAULTS,
  services: [
    {
      name: 'web',
      id: 'web-1',
      address: '10.0.0.5',
      port: 8080,
      tags: ['v2'],
      meta: { zone: 'a' },
      weight: 3,
      check: { http: 'http://10.0.0.5:8080/health', interval: '5s', timeout: '5s' },
    },
  ],
  routes: [
    {
      name: 'api',
      match: { hostSuffix: '.example.com', pathPrefix: '/api', headers: [['x-env', 'prod']] },
      source: { kind: 'consul', service: 'api', tags: ['canary', 'v2'] },
      strategy: 'weighted',
      hashKey: { kind: 'ip' },
      slowStartMs: 0,
      stripPrefix: true,
      timeoutMs: 1_500,
      headersTimeoutMs: 0,
      idleTimeoutMs: 60_000,
      retries: 0,
      retryMethods: ['GET', 'HEAD', 'OPTIONS', 'TRACE'],
      panicThreshold: 0,
      protocol: 'http1',
      policy: undefined,
    },
    {
      name: 'route-1',
      match: { host: 'static.example.com', pathPrefix: '/', headers: [] },
      source: {
        kind: 'static',
        endpoints: [
          { host: '10.0.0.1', port: 8080, weight: 1, tls: false },
          { host: '::1', port: 8081, weight: 5, tls: false },
          { host: '10.0.0.3', port: 8082, weight: 1, tls: true },
        ],
      },
      strategy: 'round-robin',
      hashKey: { kind: 'ip' },
      slowStartMs: 0,
      stripPrefix: false,
      timeoutMs: 30_000,
      headersTimeoutMs: 0,
      idleTimeoutMs: 60_000,
      retries: 2,
      retryMethods: ['GET', 'HEAD', 'OPTIONS', 'TRACE'],
      panicThreshold: 0,
      protocol: 'http1',
      policy: undefined,
    },
  ],
};

const DEFAULTS: Config = {
  listen: { host: '127.0.0.1', port: 8080 },
  listeners: [{ name: '127.0.0.1:8080', address: { host: '127.0.0.1', port: 8080 }, redirectToHttps: false, http2: false }],
  admin: { listen: { host: '127.0.0.1', port: 8081 }, token: '' },
  consul: { address: 'http://127.0.0.1:8500', token: '', datacenter: '', stale: false, waitMs: 30_000, maxWatches: 64 },
  drainTimeoutMs: 10_000,
  ...SECTION_DEFAULTS,
  services: [],
  routes: [],
};

function load(text: string, env: Readonly<Record<string, string | undefined>> = {}): Config {
  const r = loadConfig(text, 'fairway.yaml', env);
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config;
}

describe('loadConfig: whole files', () => {
  it.each([
    { why: 'a full YAML file normalizes every section', text: FULL, expected: FULL_EXPECTED },
    // An empty file is no config (it has no route: config-problems.test.ts); the smallest one
    // routes from Consul tags and takes every default.
    { why: 'consulTags alone is the default config, routing from tags', text: 'consulTags: { prefix: fairway }\n', expected: { ...DEFAULTS, consulTags: { prefix: 'fairway' } } },
    { why: 'JSON text is accepted, being YAML too', text: JSON.stringify({ listen: '127.0.0.1:8080', consulTags: { prefix: 'fairway' } }), expected: { ...DEFAULTS, consulTags: { prefix: 'fairway' } } },
  ])('$why', ({ text, expected }) => {
    expect(load(text)).toEqual(expected);
  });

  it('JSON text with routes normalizes like the equivalent YAML', () => {
    const json = JSON.stringify({
      routes: [{ name: 'a', match: { host: '*.Example.com', headers: { 'X-Env': 'prod' } }, endpoints: ['10.0.0.1:1', { address: '10.0.0.2:2', weight: 3 }] }],
    });
    const yaml = `
routes:
  - name: a
    match: { host: "*.Example.com", headers: { X-Env: prod } }
    endpoints: [10.0.0.1:1, { address: 10.0.0.2:2, weight: 3 }]
`;
    expect(load(json)).toEqual(load(yaml));
    expect(load(json).routes[0]!.match).toEqual({ hostSuffix: '.example.com', pathPrefix: '/', headers: [['x-env', 'prod']] });
  });

  it('a generated 1,000-route JSON config normalizes like its YAML rendering (the JSON.parse path)', () => {
    const routes = Array.from({ length: 1000 }, (_, i) => ({ name: `r${i}`, match: { pathPrefix: `/svc-${i}/` }, service: `svc-${i}`, stripPrefix: true }));
    const json = JSON.stringify({ listen: '127.0.0.1:8080', routes }, null, 2);
    const yaml = `listen: 127.0.0.1:8080\nroutes:\n${routes.map((r) => `  - name: ${r.name}\n    match: { pathPrefix: ${r.match.pathPrefix} }\n    service: ${r.service}\n    stripPrefix: true\n`).join('')}`;
    expect(load(json)).toEqual(load(yaml));
  });
});

describe('loadConfig: route defaults and normalization', () => {
  const route = (yaml: string) => load(`routes:\n  - ${yaml.trim().replace(/\n/g, '\n    ')}\n`).routes[0]!;

  it.each([
    { why: 'strategy defaults to round-robin', yaml: 'service: web', pick: 'strategy', value: 'round-robin' },
    { why: 'retries defaults to 2', yaml: 'service: web', pick: 'retries', value: 2 },
    { why: 'timeout defaults to 30s, kept in milliseconds', yaml: 'service: web', pick: 'timeoutMs', value: 30_000 },
    { why: 'a written timeout is converted to milliseconds', yaml: 'service: web\ntimeout: 250ms', pick: 'timeoutMs', value: 250 },
    { why: 'stripPrefix defaults to false', yaml: 'service: web', pick: 'stripPrefix', value: false },
    { why: 'the name defaults to the service', yaml: 'service: web', pick: 'name', value: 'web' },
    { why: 'a static route without a name is called route-N by position', yaml: 'endpoints: [a:1]', pick: 'name', value: 'route-0' },
  ] as const)('$why', ({ yaml, pick, value }) => {
    expect(route(yaml)[pick]).toEqual(value);
  });

  it.each([
    { why: 'no match block: pathPrefix "/" and no host or headers', yaml: 'service: web', match: { pathPrefix: '/', headers: [] } },
    { why: 'an exact host is lower-cased', yaml: 'service: web\nmatch: { host: API.Example.com }', match: { host: 'api.example.com', pathPrefix: '/', headers: [] } },
    { why: '*.example.com becomes the suffix .example.com', yaml: 'service: web\nmatch: { host: "*.example.com" }', match: { hostSuffix: '.example.com', pathPrefix: '/', headers: [] } },
    {
      why: 'header names are lower-cased, values kept as written',
      yaml: 'service: web\nmatch: { headers: { X-Env: Prod, x-Team: Core } }',
      match: { pathPrefix: '/', headers: [['x-env', 'Prod'], ['x-team', 'Core']] },
    },
    { why: 'a path prefix is kept as written', yaml: 'service: web\nmatch: { pathPrefix: /API/v1 }', match: { pathPrefix: '/API/v1', headers: [] } },
  ])('$why', ({ yaml, match }) => {
    expect(route(yaml).match).toEqual(match);
  });

  it.each([
    { why: 'a consul route without tags has an empty tag list', yaml: 'service: web', source: { kind: 'consul', service: 'web', tags: [] } },
    { why: 'consul tags are deduplicated and sorted', yaml: 'service: web\ntags: [b, a, b]', source: { kind: 'consul', service: 'web', tags: ['a', 'b'] } },
    {
      why: 'static endpoints may be strings or {address, weight} objects, weight defaulting to 1',
      yaml: 'endpoints: [10.0.0.1:80, { address: "[::1]:81", weight: 7 }, { address: h:82 }]',
      source: {
        kind: 'static',
        endpoints: [
          { host: '10.0.0.1', port: 80, weight: 1, tls: false },
          { host: '::1', port: 81, weight: 7, tls: false },
          { host: 'h', port: 82, weight: 1, tls: false },
        ],
      },
    },
  ])('$why', ({ yaml, source }) => {
    expect(route(yaml).source).toEqual(source);
  });

  it.each([
    {
      why: 'default names that collide get -2, -3 suffixes in file order',
      text: 'routes:\n  - service: web\n  - service: web\n    match: { pathPrefix: /x }\n  - service: web\n    tags: [a]\n',
      names: ['web', 'web-2', 'web-3'],
    },
    {
      why: 'an explicit name is kept and an earlier default name takes the suffix (regression)',
      text: 'routes:\n  - service: web\n  - name: web\n    endpoints: [10.0.0.1:80]\n',
      names: ['web-2', 'web'],
    },
    {
      why: 'an explicit name before a default one is kept too',
      text: 'routes:\n  - name: web\n    endpoints: [10.0.0.1:80]\n  - service: web\n',
      names: ['web', 'web-2'],
    },
    {
      why: 'a suffix already taken by an explicit name is skipped',
      text: 'routes:\n  - service: web\n  - service: web\n  - name: web-2\n    endpoints: [10.0.0.1:80]\n',
      names: ['web', 'web-3', 'web-2'],
    },
    {
      why: 'a default route-N name colliding with an explicit one takes a suffix',
      text: 'routes:\n  - endpoints: [10.0.0.1:80]\n  - name: route-0\n    service: web\n',
      names: ['route-0-2', 'route-0'],
    },
  ])('$why', ({ text, names }) => {
    expect(load(text).routes.map((r) => r.name)).toEqual(names);
  });
});

describe('loadConfig: consul address and token', () => {
  it.each([
    { why: 'no file value and no environment: the local agent', yaml: '', env: {}, address: 'http://127.0.0.1:8500', token: '' },
    { why: 'CONSUL_HTTP_ADDR without a scheme gets http://', yaml: '', env: { CONSUL_HTTP_ADDR: 'consul.local:8500' }, address: 'http://consul.local:8500', token: '' },
    {
      why: 'CONSUL_HTTP_ADDR without a scheme gets https:// when CONSUL_HTTP_SSL=true',
      yaml: '',
      env: { CONSUL_HTTP_ADDR: 'consul.local:8501', CONSUL_HTTP_SSL: 'true' },
      address: 'https://consul.local:8501',
      token: '',
    },
    { why: 'CONSUL_HTTP_ADDR with a scheme is kept, trailing slash dropped', yaml: '', env: { CONSUL_HTTP_ADDR: 'https://consul.local:8501/' }, address: 'https://consul.local:8501', token: '' },
    { why: 'CONSUL_HTTP_ADDR is trimmed', yaml: '', env: { CONSUL_HTTP_ADDR: '  10.0.0.9:8500 ' }, address: 'http://10.0.0.9:8500', token: '' },
    { why: 'a blank CONSUL_HTTP_ADDR counts as unset', yaml: '', env: { CONSUL_HTTP_ADDR: '  ' }, address: 'http://127.0.0.1:8500', token: '' },
    { why: 'CONSUL_HTTP_TOKEN is the default token', yaml: '', env: { CONSUL_HTTP_TOKEN: 'env-token' }, address: 'http://127.0.0.1:8500', token: 'env-token' },
    {
      why: 'the file wins over the environment for both address and token',
      yaml: 'consul: { address: "http://c:1/", token: file-token }',
      env: { CONSUL_HTTP_ADDR: 'consul.local:8500', CONSUL_HTTP_TOKEN: 'env-token' },
      address: 'http://c:1',
      token: 'file-token',
    },
    {
      why: 'an empty token in the file deliberately overrides CONSUL_HTTP_TOKEN',
      yaml: 'consul: { token: "" }',
      env: { CONSUL_HTTP_TOKEN: 'env-token' },
      address: 'http://127.0.0.1:8500',
      token: '',
    },
  ])('$why', ({ yaml, env, address, token }) => {
    const c = load(`${yaml}\nroutes: [{ service: web }]\n`, env);
    expect(c.consul.address).toBe(address);
    expect(c.consul.token).toBe(token);
  });
});

describe('loadConfig: Consul TLS verification', () => {
  // The cases name no CA or client files, so tlsConnectOptions reads nothing: what it returns is
  // what the Consul client connects with, and rejectUnauthorized: false is verification off.
  it.each([
    { why: 'neither the file nor the environment: no consul.tls, and Consul is verified', yaml: '', env: {}, tls: undefined, verify: true },
    { why: 'CONSUL_HTTP_SSL_VERIFY=false turns verification off', yaml: '', env: { CONSUL_HTTP_SSL_VERIFY: 'false' }, tls: { insecureSkipVerify: true }, verify: false },
    { why: 'CONSUL_HTTP_SSL_VERIFY is trimmed, as CONSUL_HTTP_ADDR is', yaml: '', env: { CONSUL_HTTP_SSL_VERIFY: ' false\n' }, tls: { insecureSkipVerify: true }, verify: false },
    { why: 'CONSUL_HTTP_SSL_VERIFY=true keeps verification on', yaml: '', env: { CONSUL_HTTP_SSL_VERIFY: 'true' }, tls: undefined, verify: true },
    { why: 'an empty CONSUL_HTTP_SSL_VERIFY counts as unset', yaml: '', env: { CONSUL_HTTP_SSL_VERIFY: '' }, tls: undefined, verify: true },
    {
      why: 'CONSUL_HTTP_SSL_VERIFY=true beside another TLS variable keeps verification on',
      yaml: '',
      env: { CONSUL_HTTP_SSL_VERIFY: 'true', CONSUL_TLS_SERVER_NAME: 'consul.test' },
      tls: { serverName: 'consul.test', insecureSkipVerify: false },
      verify: true,
    },
    { why: 'consul.tls.insecureSkipVerify: true in the file turns verification off', yaml: 'consul: { tls: { insecureSkipVerify: true } }', env: {}, tls: { insecureSkipVerify: true }, verify: false },
    { why: 'consul.tls without insecureSkipVerify verifies', yaml: 'consul: { tls: { serverName: consul.test } }', env: {}, tls: { serverName: 'consul.test', insecureSkipVerify: false }, verify: true },
    {
      why: 'insecureSkipVerify: false in the file wins over CONSUL_HTTP_SSL_VERIFY=false',
      yaml: 'consul: { tls: { insecureSkipVerify: false } }',
      env: { CONSUL_HTTP_SSL_VERIFY: 'false' },
      tls: { insecureSkipVerify: false },
      verify: true,
    },
    {
      why: 'CONSUL_HTTP_SSL_VERIFY=false still applies beside a consul.tls block that does not say',
      yaml: 'consul: { tls: { serverName: consul.test } }',
      env: { CONSUL_HTTP_SSL_VERIFY: 'false' },
      tls: { serverName: 'consul.test', insecureSkipVerify: true },
      verify: false,
    },
  ])('$why', ({ yaml, env, tls, verify }) => {
    const c = load(`${yaml}\nroutes: [{ service: web }]\n`, env);
    expect(c.consul.tls).toEqual(tls);
    expect(tlsConnectOptions(c.consul.tls).rejectUnauthorized).toBe(verify);
  });
});

describe('loadConfig: consul.tls falls back to the environment key by key (SPEC: "defaulting from CONSUL_*")', () => {
  const env = { CONSUL_CACERT: '/env/ca.pem', CONSUL_CLIENT_CERT: '/env/client.pem', CONSUL_CLIENT_KEY: '/env/client-key.pem', CONSUL_TLS_SERVER_NAME: 'env.consul' };
  it.each([
    {
      why: 'a CA in the file, the client certificate and server name from the environment',
      yaml: 'consul: { tls: { ca: /file/ca.pem } }',
      tls: { ca: '/file/ca.pem', cert: '/env/client.pem', key: '/env/client-key.pem', serverName: 'env.consul', insecureSkipVerify: false },
    },
    {
      why: 'a client certificate in the file replaces the environment\'s pair whole',
      yaml: 'consul: { tls: { cert: /file/c.pem, key: /file/k.pem } }',
      tls: { ca: '/env/ca.pem', cert: '/file/c.pem', key: '/file/k.pem', serverName: 'env.consul', insecureSkipVerify: false },
    },
    {
      why: 'every key in the file: nothing from the environment',
      yaml: 'consul: { tls: { ca: /f/ca, cert: /f/c, key: /f/k, serverName: f.consul, insecureSkipVerify: false } }',
      tls: { ca: '/f/ca', cert: '/f/c', key: '/f/k', serverName: 'f.consul', insecureSkipVerify: false },
    },
    { why: 'an empty block: all from the environment', yaml: 'consul: { tls: {} }', tls: { ca: '/env/ca.pem', cert: '/env/client.pem', key: '/env/client-key.pem', serverName: 'env.consul', insecureSkipVerify: false } },
  ])('$why', ({ yaml, tls }) => {
    expect(load(`${yaml}\nroutes: [{ service: web }]\n`, env).consul.tls).toEqual(tls);
  });

  it('upstream.tls takes nothing from Consul\'s variables', () => {
    expect(load('upstream: { tls: { serverName: up } }\nroutes: [{ service: web }]\n', env).upstream.tls).toEqual({ serverName: 'up', insecureSkipVerify: false });
  });
});

describe("Consul's boolean variables, read as Consul's CLI reads them (Go's ParseBool)", () => {
  it.each(['0', 'f', 'F', 'FALSE', 'False', 'false'])('CONSUL_HTTP_SSL_VERIFY=%s turns verification off', (value) => {
    expect(load('routes: [{ service: web }]\n', { CONSUL_HTTP_SSL_VERIFY: value }).consul.tls).toEqual({ insecureSkipVerify: true });
  });

  it.each(['1', 't', 'T', 'TRUE', 'True', 'true'])('CONSUL_HTTP_SSL=%s makes a bare CONSUL_HTTP_ADDR https', (value) => {
    expect(load('routes: [{ service: web }]\n', { CONSUL_HTTP_ADDR: 'consul.local:8501', CONSUL_HTTP_SSL: value }).consul.address).toBe('https://consul.local:8501');
  });

  it.each([
    ['CONSUL_HTTP_SSL_VERIFY', 'no'],
    ['CONSUL_HTTP_SSL', 'yes'],
  ])('%s=%s is a problem, not a silent default', (name, value) => {
    const r = loadConfig('routes: [{ service: web }]\n', 'fairway.yaml', { [name]: value });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map(formatProblem)).toEqual([`fairway.yaml:1:1 consul: $${name}: expected true or false (or 1, 0, t, f, as Consul reads it), got "${value}"`]);
  });
});

describe('loadConfig: admin.token from the environment', () => {
  it.each([
    { why: 'FAIRWAY_ADMIN_TOKEN is the default admin token', yaml: '', env: { FAIRWAY_ADMIN_TOKEN: 'env-t' }, token: 'env-t' },
    { why: 'a token in the file wins over FAIRWAY_ADMIN_TOKEN', yaml: 'admin: { token: file-t }', env: { FAIRWAY_ADMIN_TOKEN: 'env-t' }, token: 'file-t' },
    { why: 'neither: no token', yaml: '', env: {}, token: '' },
  ])('$why', ({ yaml, env, token }) => {
    expect(load(`${yaml}\nroutes: [{ service: web }]\n`, env).admin.token).toBe(token);
  });
});

describe('loadConfig: the result is deeply frozen', () => {
  const c = load(FULL);
  it.each([
    { why: 'the config itself', value: c },
    { why: 'a nested section', value: c.consul },
    { why: 'a parsed host:port', value: c.listen },
    { why: 'the route list', value: c.routes },
    { why: 'a route match', value: c.routes[0]!.match },
    { why: 'a header pair inside the match', value: c.routes[0]!.match.headers[0] },
    { why: 'a route source and its tag list', value: (c.routes[0]!.source as { tags: readonly string[] }).tags },
    { why: 'a static endpoint', value: (c.routes[1]!.source as { endpoints: readonly object[] }).endpoints[1] },
    { why: 'a service registration check', value: c.services[0]!.check },
  ])('$why', ({ value }) => {
    expect(Object.isFrozen(value)).toBe(true);
  });

  it('writing to it throws in strict mode', () => {
    expect(() => {
      (c.listen as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});

describe('formatPath', () => {
  it.each([
    { path: [], text: '', why: 'the root is the empty string' },
    { path: ['listen'], text: 'listen', why: 'a top-level key is its name' },
    { path: ['consul', 'wait'], text: 'consul.wait', why: 'nested keys are joined with dots' },
    { path: ['routes', 0], text: 'routes[0]', why: 'indices are bracketed' },
    { path: ['routes', 2, 'match', 'headers', 'X-Env'], text: 'routes[2].match.headers.X-Env', why: 'keys after an index get a dot again' },
    { path: ['services', 1, 'tags', 0], text: 'services[1].tags[0]', why: 'an index may end the path' },
    { path: [0, 'a'], text: '[0].a', why: 'a path may start with an index' },
  ])('$text: $why', ({ path, text }) => {
    expect(formatPath(path)).toBe(text);
  });
});
