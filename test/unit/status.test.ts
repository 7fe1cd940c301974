// renderStatus: the `fairway status` text, one header line and one row per endpoint.

import { describe, expect, it } from 'vitest';
import type { EndpointView, RouteView } from '../../src/admin/views.js';
import { renderStatus } from '../../src/cli/status.js';

type StatusView = Parameters<typeof renderStatus>[0];

const STATUS: StatusView = {
  version: '0.1.0',
  uptimeSeconds: 12,
  ready: true,
  consul: 'http://127.0.0.1:8500',
  configFile: 'fairway.yaml',
  lastReload: null,
};

function endpoint(o: Partial<EndpointView>): EndpointView {
  return {
    id: 'web-1',
    address: '10.0.0.1',
    port: 8080,
    weight: 1,
    status: 'passing',
    active: true,
    inflight: 0,
    requests: 0,
    failures: 0,
    ewmaMs: null,
    ejected: false,
    draining: false,
    rps: 0,
    p50Ms: null,
    p99Ms: null,
    ...o,
  };
}

function routeView(o: Partial<RouteView>): RouteView {
  return { name: 'web', service: 'web', tags: [], strategy: 'round-robin', panic: false, match: { host: null, pathPrefix: '/', headers: {} }, endpoints: [], ...o };
}

describe('renderStatus', () => {
  it('renders the summary, a header row and one aligned row per endpoint', () => {
    const text = renderStatus(STATUS, [
      routeView({
        tags: ['v2'],
        strategy: 'weighted',
        endpoints: [
          endpoint({ weight: 2, inflight: 1, requests: 10, ewmaMs: 12 }),
          endpoint({ id: 'web-2', address: '10.0.0.2', status: 'critical', active: false, failures: 3 }),
        ],
      }),
      routeView({ name: 'static', service: null, endpoints: [] }),
    ]);
    expect(text).toBe(
      [
        'fairway 0.1.0  up 12s  ready  consul: http://127.0.0.1:8500',
        'config fairway.yaml  last reload: none',
        '',
        'ROUTE         STRATEGY     ENDPOINT       ID     STATUS           WEIGHT  INFLIGHT  REQUESTS  FAILURES  RPS  P50  P99  EWMA',
        'web (web v2)  weighted     10.0.0.1:8080  web-1  passing          2       1         10        0         0    -    -    12ms',
        'web (web v2)  weighted     10.0.0.2:8080  web-2  critical (idle)  1       0         0         3         0    -    -    -',
        'static        round-robin  -              -      no instances',
        '',
      ].join('\n'),
    );
  });

  it.each([
    { why: 'not ready is shouted', status: { ...STATUS, ready: false }, line: 0, text: 'fairway 0.1.0  up 12s  NOT READY  consul: http://127.0.0.1:8500' },
    { why: 'an accepted reload shows its time', status: { ...STATUS, lastReload: { ok: true, at: '2026-01-01T00:00:00Z', problems: [] } }, line: 1, text: 'config fairway.yaml  last reload: ok at 2026-01-01T00:00:00Z' },
    { why: 'a rejected reload is shouted', status: { ...STATUS, lastReload: { ok: false, at: 'T', problems: ['f.yaml:1:1 bad'] } }, line: 1, text: 'config fairway.yaml  last reload: REJECTED at T' },
    { why: 'the problems of a rejected reload follow, indented', status: { ...STATUS, lastReload: { ok: false, at: 'T', problems: ['f.yaml:1:1 bad', 'f.yaml:2:1 worse'] } }, line: 3, text: '  f.yaml:2:1 worse' },
  ])('$why', ({ status, line, text }) => {
    expect(renderStatus(status, []).split('\n')[line]).toBe(text);
  });

  it.each([
    { why: 'a route without endpoints gets one "no instances" row', routes: [routeView({ name: 'api', service: 'api' })], rows: ['api (api)  round-robin  -         -   no instances'] },
    { why: 'a static route shows its name alone', routes: [routeView({ name: 's', service: null, endpoints: [endpoint({})] })], rows: ['s      round-robin  10.0.0.1:8080  web-1  passing  1       0         0         0         0    -    -    -'] },
    { why: 'several tags are joined with commas', routes: [routeView({ tags: ['a', 'b'] })], rows: ['web (web a,b)  round-robin  -         -   no instances'] },
    { why: 'an IPv6 endpoint is bracketed (regression)', routes: [routeView({ endpoints: [endpoint({ address: '::1' })] })], rows: ['web (web)  round-robin  [::1]:8080  web-1  passing  1       0         0         0         0    -    -    -'] },
    {
      why: 'a full IPv6 endpoint is bracketed too',
      routes: [routeView({ endpoints: [endpoint({ address: '2001:db8::7', port: 80 })] })],
      rows: ['web (web)  round-robin  [2001:db8::7]:80  web-1  passing  1       0         0         0         0    -    -    -'],
    },
    { why: 'a warning endpoint in use shows plain warning', routes: [routeView({ endpoints: [endpoint({ status: 'warning' })] })], rows: ['web (web)  round-robin  10.0.0.1:8080  web-1  warning  1       0         0         0         0    -    -    -'] },
    {
      why: 'an ejected endpoint shows status ejected, not its Consul status or idle',
      routes: [routeView({ endpoints: [endpoint({ ejected: true, active: false, weight: 0 })] })],
      rows: ['web (web)  round-robin  10.0.0.1:8080  web-1  ejected  0       0         0         0         0    -    -    -'],
    },
    {
      why: 'an ejected endpoint still in use (panic) shows ejected too',
      routes: [routeView({ panic: true, endpoints: [endpoint({ ejected: true, status: 'critical' })] })],
      rows: ['web (web) PANIC  round-robin  10.0.0.1:8080  web-1  ejected  1       0         0         0         0    -    -    -'],
    },
    {
      why: 'a route in panic shows PANIC after its name on every row',
      routes: [routeView({ panic: true, endpoints: [endpoint({}), endpoint({ id: 'web-2', status: 'critical' })] })],
      rows: [
        'web (web) PANIC  round-robin  10.0.0.1:8080  web-1  passing   1       0         0         0         0    -    -    -',
        'web (web) PANIC  round-robin  10.0.0.1:8080  web-2  critical  1       0         0         0         0    -    -    -',
      ],
    },
    { why: 'a static route in panic shows PANIC after its bare name', routes: [routeView({ name: 's', service: null, panic: true })], rows: ['s PANIC  round-robin  -         -   no instances'] },
  ])('$why', ({ routes, rows }) => {
    const lines = renderStatus(STATUS, routes).split('\n');
    expect(lines.slice(4, 4 + rows.length)).toEqual(rows);
    expect(lines.length).toBe(4 + rows.length + 1);
  });

  it('listeners follow the reload line: one per listener (+h2 / +h2c with http2), one per certificate with its days left', () => {
    const cert = { cert: '/etc/fairway/a.pem', names: ['a.test', 'www.a.test'], notAfter: '2027-01-01T00:00:00.000Z', daysLeft: 30, lastReloadError: null };
    const status: StatusView = {
      ...STATUS,
      listeners: [
        { address: '0.0.0.0:443', tls: true, redirectToHttps: false, http2: true, handshakeErrors: 3, certificates: [cert, { ...cert, names: [], daysLeft: -2, lastReloadError: '/etc/fairway/b.key is not the key of the certificate in /etc/fairway/b.pem' }] },
        { address: '0.0.0.0:80', tls: false, redirectToHttps: true, handshakeErrors: 0, certificates: [] },
        { address: '0.0.0.0:8080', tls: false, redirectToHttps: false, http2: true, handshakeErrors: 0, certificates: [] },
      ],
    };
    expect(renderStatus(status, []).split('\n').slice(2, 9)).toEqual([
      'listener 0.0.0.0:443  https +h2  handshake errors: 3',
      '  a.test, www.a.test  expires 2027-01-01T00:00:00.000Z  30 days left  /etc/fairway/a.pem',
      '  (no DNS names)  expires 2027-01-01T00:00:00.000Z  EXPIRED 2 days ago  /etc/fairway/a.pem',
      '    new files NOT in use: /etc/fairway/b.key is not the key of the certificate in /etc/fairway/b.pem',
      'listener 0.0.0.0:80  http  redirects to https',
      'listener 0.0.0.0:8080  http +h2c',
      '',
    ]);
  });

  it('one plain listener (listen: alone) adds no line', () => {
    const status: StatusView = { ...STATUS, listeners: [{ address: '127.0.0.1:8080', tls: false, redirectToHttps: false, handshakeErrors: 0, certificates: [] }] };
    expect(renderStatus(status, [])).toBe(renderStatus(STATUS, []));
  });

  it('no routes: the header row alone, trailing spaces trimmed', () => {
    const lines = renderStatus(STATUS, []).split('\n');
    expect(lines[3]).toBe('ROUTE  STRATEGY  ENDPOINT  ID  STATUS  WEIGHT  INFLIGHT  REQUESTS  FAILURES  RPS  P50  P99  EWMA');
    expect(lines.slice(4)).toEqual(['']);
  });

  it('ends with exactly one newline and no line ends in spaces', () => {
    const text = renderStatus(STATUS, [routeView({ endpoints: [endpoint({})] }), routeView({ name: 'x', service: null })]);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.endsWith('\n\n')).toBe(false);
    for (const l of text.split('\n')) expect(l).toBe(l.trimEnd());
  });
});
