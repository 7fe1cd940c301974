// loadConfig for the resilience keys: server, upstream, outlier, retryBudget and the route timeouts, retryMethods, panicThreshold.

import { describe, expect, it } from 'vitest';
import { crossFieldProblems } from '../../src/core/config-rules.js';
import { formatProblem, loadConfig } from '../../src/core/config.js';
import { config, routeConfig } from './helpers.js';

/**
 * The text with a route after it unless it has its own: a config needs one (config-rules.ts)
 * and these cases are about other keys. Appended, so their line numbers stay as written.
 */
function routed(text: string): string {
  return /^routes:/m.test(text) ? text : `${text}\nroutes: [{ service: web }]\n`;
}

/** The problems of a rejected file as `LINE:COL path: message` lines. */
function lines(text: string): string[] {
  const r = loadConfig(routed(text), 'fairway.yaml', {});
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.problems.map((p) => formatProblem(p).replace(/^fairway\.yaml:/, ''));
}

const HEADERS_RULE = 'expected at most server.requestTimeout (the headers are part of the request)';

describe('loadConfig: top-level resilience sections', () => {
  it.each([
    {
      why: 'server durations are parsed to ms, sizes and counts kept, trusted proxies parsed',
      text: 'server: { headersTimeout: 2s, requestTimeout: 1m, keepAliveTimeout: 500ms, maxHeaderSize: 8192, maxHeaders: 50, trustedProxies: [10.0.0.0/8, "::1"], upgradeIdleTimeout: 1m, fastPath: false }',
      pick: (c: ReturnType<typeof config>) => c.server,
      want: {
        headersTimeoutMs: 2_000,
        requestTimeoutMs: 60_000,
        keepAliveTimeoutMs: 500,
        maxHeaderSize: 8_192,
        maxHeaders: 50,
        trustedProxies: [
          { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
          { address: '::1', prefix: 128, family: 'ipv6' },
        ],
        upgradeIdleTimeoutMs: 60_000,
        fastPath: false,
      },
    },
    {
      why: 'a partial server section takes the defaults for the rest',
      text: 'server: { keepAliveTimeout: 65s }',
      pick: (c: ReturnType<typeof config>) => c.server,
      want: {
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 0,
        keepAliveTimeoutMs: 65_000,
        maxHeaderSize: 16_384,
        maxHeaders: 200,
        trustedProxies: [],
        upgradeIdleTimeoutMs: 600_000,
        fastPath: true,
      },
    },
    {
      why: 'upstream durations are parsed to ms and maxConnections kept',
      text: 'upstream: { connectTimeout: 1.5s, keepAliveTimeout: 2m, maxConnections: 4 }',
      pick: (c: ReturnType<typeof config>) => c.upstream,
      want: { connectTimeoutMs: 1_500, keepAliveTimeoutMs: 120_000, maxConnections: 4 },
    },
    {
      why: 'a partial upstream section takes the defaults for the rest',
      text: 'upstream: { maxConnections: 1 }',
      pick: (c: ReturnType<typeof config>) => c.upstream,
      want: { connectTimeoutMs: 5_000, keepAliveTimeoutMs: 30_000, maxConnections: 1 },
    },
    {
      why: 'outlier times become baseEjectionMs and maxEjectionMs',
      text: 'outlier: { consecutiveFailures: 3, baseEjectionTime: 30s, maxEjectionTime: 1h, maxEjectedPercent: 100 }',
      pick: (c: ReturnType<typeof config>) => c.outlier,
      want: { consecutiveFailures: 3, baseEjectionMs: 30_000, maxEjectionMs: 3_600_000, maxEjectedPercent: 100 },
    },
    {
      why: 'consecutiveFailures 0 (detection off) is accepted, the rest defaulted',
      text: 'outlier: { consecutiveFailures: 0 }',
      pick: (c: ReturnType<typeof config>) => c.outlier,
      want: { consecutiveFailures: 0, baseEjectionMs: 10_000, maxEjectionMs: 300_000, maxEjectedPercent: 50 },
    },
    { why: 'retryBudget keeps ratio and minPerSecond', text: 'retryBudget: { ratio: 0.5, minPerSecond: 0 }', pick: (c: ReturnType<typeof config>) => c.retryBudget, want: { ratio: 0.5, minPerSecond: 0 } },
    { why: 'a partial retryBudget takes the default floor', text: 'retryBudget: { ratio: 1 }', pick: (c: ReturnType<typeof config>) => c.retryBudget, want: { ratio: 1, minPerSecond: 5 } },
    { why: 'an empty retryBudget map is all defaults', text: 'retryBudget: {}', pick: (c: ReturnType<typeof config>) => c.retryBudget, want: { ratio: 0.2, minPerSecond: 5 } },
  ])('$why', ({ text, pick, want }) => {
    expect(pick(config(routed(text)))).toEqual(want);
  });

  it.each([
    { why: 'maxHeaderSize at its lower bound, 1024', text: 'server: { maxHeaderSize: 1024 }' },
    { why: 'maxHeaderSize at its upper bound, 1048576', text: 'server: { maxHeaderSize: 1048576 }' },
    { why: 'maxConnections at its upper bound, 65535', text: 'upstream: { maxConnections: 65535 }' },
    { why: 'maxEjectedPercent 0', text: 'outlier: { maxEjectedPercent: 0 }' },
    { why: 'consecutiveFailures 1000', text: 'outlier: { consecutiveFailures: 1000 }' },
    { why: 'a ratio of 10 with minPerSecond 100000, both upper bounds', text: 'retryBudget: { ratio: 10, minPerSecond: 100000 }' },
    { why: 'a ratio of 0 (the floor alone)', text: 'retryBudget: { ratio: 0 }' },
    { why: 'a fractional ratio', text: 'retryBudget: { ratio: 0.05 }' },
    { why: 'headersTimeout equal to requestTimeout', text: 'server: { headersTimeout: 10s, requestTimeout: 10s }' },
    { why: 'requestTimeout 0s allows any headersTimeout', text: 'server: { headersTimeout: 1h, requestTimeout: 0s }' },
  ])('accepts $why', ({ text }) => {
    expect(loadConfig(routed(text), 'fairway.yaml', {}).ok).toBe(true);
  });
});

describe('loadConfig: route resilience keys', () => {
  it.each([
    { why: 'headersTimeout is parsed to ms', yaml: 'service: web\nheadersTimeout: 2500ms', key: 'headersTimeoutMs', want: 2_500 },
    { why: 'an unset headersTimeout is 0 (bounded by timeout only)', yaml: 'service: web', key: 'headersTimeoutMs', want: 0 },
    { why: 'idleTimeout is parsed to ms', yaml: 'service: web\nidleTimeout: 90s', key: 'idleTimeoutMs', want: 90_000 },
    { why: 'idleTimeout defaults to 60 s', yaml: 'service: web', key: 'idleTimeoutMs', want: 60_000 },
    { why: 'retryMethods are upper-cased and deduplicated, first occurrence order', yaml: 'service: web\nretryMethods: [get, Post, GET, post, PUT]', key: 'retryMethods', want: ['GET', 'POST', 'PUT'] },
    { why: 'retryMethods default to the idempotent safe methods', yaml: 'service: web', key: 'retryMethods', want: ['GET', 'HEAD', 'OPTIONS', 'TRACE'] },
    { why: 'an empty retryMethods list retries nothing', yaml: 'service: web\nretryMethods: []', key: 'retryMethods', want: [] },
    { why: 'panicThreshold is kept as a percent', yaml: 'service: web\npanicThreshold: 50', key: 'panicThreshold', want: 50 },
    { why: 'panicThreshold defaults to 0 (never)', yaml: 'service: web', key: 'panicThreshold', want: 0 },
    { why: 'panicThreshold 100 is allowed', yaml: 'service: web\npanicThreshold: 100', key: 'panicThreshold', want: 100 },
  ] as const)('$why', ({ yaml, key, want }) => {
    expect(routeConfig(yaml)[key]).toEqual(want);
  });
});

describe('loadConfig: resilience values out of range, at their key path', () => {
  it.each([
    { why: 'maxHeaderSize below 1024', text: 'server:\n  maxHeaderSize: 1023\n', line: '2:18 server.maxHeaderSize: expected a whole number from 1024 to 1048576' },
    { why: 'maxHeaderSize above 1 MiB', text: 'server:\n  maxHeaderSize: 1048577\n', line: '2:18 server.maxHeaderSize: expected a whole number from 1024 to 1048576' },
    { why: 'fastPath not a boolean', text: 'server:\n  fastPath: yes please\n', line: '2:13 server.fastPath: expected true or false' },
    {
      why: 'a trusted proxy that is no address',
      text: 'server:\n  trustedProxies: [10.0.0.0/33]\n',
      line: '2:20 server.trustedProxies[0]: expected an IP address or CIDR block, e.g. 10.0.0.0/8 or 2001:db8::/32',
    },
    { why: 'maxHeaders zero', text: 'server:\n  maxHeaders: 0\n', line: '2:15 server.maxHeaders: expected a whole number from 1 to 10000' },
    { why: 'a server timeout that is not a duration', text: 'server:\n  headersTimeout: 10\n', line: '2:19 server.headersTimeout: expected a duration such as 250ms, 5s or 1m' },
    { why: 'an unknown key in server', text: 'server:\n  bodyTimeout: 5s\n', line: '2:3 server.bodyTimeout: unknown key' },
    { why: 'maxConnections 0', text: 'upstream:\n  maxConnections: 0\n', line: '2:19 upstream.maxConnections: expected a whole number from 1 to 65535' },
    { why: 'a fractional maxConnections', text: 'upstream:\n  maxConnections: 1.5\n', line: '2:19 upstream.maxConnections: expected a whole number from 1 to 65535' },
    { why: 'a connectTimeout that is not a duration', text: 'upstream:\n  connectTimeout: fast\n', line: '2:19 upstream.connectTimeout: expected a duration such as 250ms, 5s or 1m' },
    { why: 'maxEjectedPercent 101', text: 'outlier:\n  maxEjectedPercent: 101\n', line: '2:22 outlier.maxEjectedPercent: expected a whole number from 0 to 100' },
    { why: 'a negative maxEjectedPercent', text: 'outlier:\n  maxEjectedPercent: -1\n', line: '2:22 outlier.maxEjectedPercent: expected a whole number from 0 to 100' },
    { why: 'consecutiveFailures 1001', text: 'outlier:\n  consecutiveFailures: 1001\n', line: '2:24 outlier.consecutiveFailures: expected a whole number from 0 to 1000' },
    { why: 'consecutiveFailures as a string', text: 'outlier:\n  consecutiveFailures: "5"\n', line: '2:24 outlier.consecutiveFailures: expected a whole number from 0 to 1000' },
    { why: 'a baseEjectionTime that is not a duration', text: 'outlier:\n  baseEjectionTime: 10\n', line: '2:21 outlier.baseEjectionTime: expected a duration such as 250ms, 5s or 1m' },
    { why: 'a ratio above 10', text: 'retryBudget:\n  ratio: 10.5\n', line: '2:10 retryBudget.ratio: expected a number from 0 to 10' },
    { why: 'a negative ratio', text: 'retryBudget:\n  ratio: -0.1\n', line: '2:10 retryBudget.ratio: expected a number from 0 to 10' },
    { why: 'a ratio written as a percent string', text: 'retryBudget:\n  ratio: 20%\n', line: '2:10 retryBudget.ratio: expected a number from 0 to 10' },
    { why: 'a minPerSecond above 100000', text: 'retryBudget:\n  minPerSecond: 100001\n', line: '2:17 retryBudget.minPerSecond: expected a whole number from 0 to 100000' },
    { why: 'a panicThreshold of 101', text: 'routes:\n  - service: web\n    panicThreshold: 101\n', line: '3:21 routes[0].panicThreshold: expected a whole number from 0 to 100' },
    { why: 'a fractional panicThreshold', text: 'routes:\n  - service: web\n    panicThreshold: 33.3\n', line: '3:21 routes[0].panicThreshold: expected a whole number from 0 to 100' },
    { why: 'a route idleTimeout that is not a duration', text: 'routes:\n  - service: web\n    idleTimeout: 5\n', line: '3:18 routes[0].idleTimeout: expected a duration such as 250ms, 5s or 1m' },
    { why: 'a route headersTimeout that is not a duration', text: 'routes:\n  - service: web\n    headersTimeout: 1 s\n', line: '3:21 routes[0].headersTimeout: expected a duration such as 250ms, 5s or 1m' },
    { why: 'a retry method with a space, at its list index', text: 'routes:\n  - service: web\n    retryMethods: [GET, "PO ST"]\n', line: '3:25 routes[0].retryMethods[1]: expected an HTTP method' },
    { why: 'retryMethods that are not a list', text: 'routes:\n  - service: web\n    retryMethods: GET\n', line: '3:19 routes[0].retryMethods: expected a list of HTTP methods' },
  ])('$why', ({ text, line }) => {
    expect(lines(text)).toEqual([line]);
  });
});

describe('server.headersTimeout must not exceed a non-zero server.requestTimeout', () => {
  it.each([
    { why: 'a headersTimeout longer than requestTimeout is reported at server.headersTimeout', server: { headersTimeout: '30s', requestTimeout: '10s' }, problems: [{ path: ['server', 'headersTimeout'], message: HEADERS_RULE }] },
    { why: 'by 1 ms is enough', server: { headersTimeout: '10001ms', requestTimeout: '10s' }, problems: [{ path: ['server', 'headersTimeout'], message: HEADERS_RULE }] },
    { why: 'equal timeouts are fine', server: { headersTimeout: '10s', requestTimeout: '10s' }, problems: [] },
    { why: 'a shorter headersTimeout is fine', server: { headersTimeout: '5s', requestTimeout: '1m' }, problems: [] },
    { why: 'requestTimeout 0s (no limit) allows any headersTimeout', server: { headersTimeout: '1h', requestTimeout: '0s' }, problems: [] },
    { why: 'a requestTimeout that is not a duration is left to the schema', server: { headersTimeout: '1h', requestTimeout: 5 }, problems: [] },
    { why: 'a headersTimeout that is not a duration is left to the schema', server: { headersTimeout: 'soon', requestTimeout: '5s' }, problems: [] },
    { why: 'a server value that is not a map is left to the schema', server: 'fast', problems: [] },
  ])('$why', ({ server, problems }) => {
    expect(crossFieldProblems({ server, routes: [{ service: 'web' }] })).toEqual(problems);
  });

  it('loadConfig places the problem at the headersTimeout value, with its message', () => {
    expect(lines('server:\n  headersTimeout: 30s\n  requestTimeout: 10s\n')).toEqual([`2:19 server.headersTimeout: ${HEADERS_RULE}`]);
  });

  it('is reported alongside a schema problem elsewhere in the file, in line order', () => {
    expect(lines('server:\n  headersTimeout: 30s\n  requestTimeout: 10s\noutlier:\n  maxEjectedPercent: 101\n')).toEqual([
      `2:19 server.headersTimeout: ${HEADERS_RULE}`,
      '5:22 outlier.maxEjectedPercent: expected a whole number from 0 to 100',
    ]);
  });
});

describe('server.headersTimeout left at its default still has to fit server.requestTimeout', () => {
  it.each([
    { why: 'requestTimeout 5s is below the 10s default headersTimeout', text: 'server: { requestTimeout: 5s }\n', ok: false },
    { why: 'requestTimeout 15s leaves room for the default', text: 'server: { requestTimeout: 15s }\n', ok: true },
  ])('$why', ({ text, ok }) => {
    const r = loadConfig(routed(text), 'f.yaml', {});
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.problems.map(formatProblem)).toEqual(['f.yaml:1:9 server.headersTimeout: expected at most server.requestTimeout (the headers are part of the request)']);
  });
});
