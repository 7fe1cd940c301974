// AccessLog: which exchanges make a line, and what the line says. The logger is a recorder,
// so no I/O is involved.

import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import type { FairwayErrorCode } from '../../src/core/errors.js';
import { AccessLog } from '../../src/proxy/access-log.js';
import type { FinishedExchange } from '../../src/proxy/observer.js';
import { rngOf, upstream } from './helpers.js';

function recorder(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = { info: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
  return { log, lines };
}

function exchange(o: Partial<FinishedExchange> = {}): FinishedExchange {
  return {
    route: undefined,
    upstream: upstream('web-1', 1, 8080),
    method: 'GET',
    host: 'example.com',
    url: '/a?b=1',
    status: 200,
    errorCode: undefined,
    attempts: 1,
    bytes: 12,
    durationMs: 1.23456,
    requestId: 'req-1',
    remoteAddress: '127.0.0.1',
    protocol: 'http1',
    ...o,
  };
}

describe('AccessLog', () => {
  it.each([
    { why: 'an IPv4 upstream address is host:port', host: '10.0.0.1', addr: '10.0.0.1:8080' },
    { why: 'an IPv6 upstream address is bracketed, as in a URL', host: '::1', addr: '[::1]:8080' },
  ])('$why', ({ host, addr }) => {
    const { log, lines } = recorder();
    new AccessLog(log, () => ({ enabled: true, sample: 1 })).onExchange(exchange({ upstream: { ...upstream('web-1', 1, 8080), host } }));
    expect(lines).toEqual([
      { requestId: 'req-1', method: 'GET', host: 'example.com', path: '/a?b=1', status: 200, route: undefined, upstream: 'web-1', addr, attempts: 1, ms: 1.23, bytes: 12, remote: '127.0.0.1' },
    ]);
  });

  it.each([
    { why: 'disabled: nothing, not even errors', enabled: false, sample: 1, status: 502, errorCode: 'upstream_error', rng: 0, logged: false },
    { why: 'sampled out: a success is dropped', enabled: true, sample: 0.5, status: 200, errorCode: undefined, rng: 0.7, logged: false },
    { why: 'sampled in: a success is kept', enabled: true, sample: 0.5, status: 200, errorCode: undefined, rng: 0.3, logged: true },
    { why: 'a 5xx is kept whatever the sample', enabled: true, sample: 0, status: 503, errorCode: undefined, rng: 0.9, logged: true },
    { why: 'an answer Fairway made is kept whatever the sample', enabled: true, sample: 0, status: 404, errorCode: 'no_route', rng: 0.9, logged: true },
  ] satisfies Array<{ why: string; enabled: boolean; sample: number; status: number; errorCode: FairwayErrorCode | undefined; rng: number; logged: boolean }>)('$why', ({ enabled, sample, status, errorCode, rng, logged }) => {
    const { log, lines } = recorder();
    new AccessLog(log, () => ({ enabled, sample }), rngOf(rng)).onExchange(exchange({ status, errorCode }));
    expect(lines.length).toBe(logged ? 1 : 0);
    if (errorCode && logged) expect(lines[0]!.error).toBe(errorCode);
  });

  it('no upstream tried: no addr', () => {
    const { log, lines } = recorder();
    new AccessLog(log, () => ({ enabled: true, sample: 1 })).onExchange(exchange({ upstream: undefined, status: 404, errorCode: 'no_route' }));
    expect(lines[0]).toMatchObject({ upstream: undefined, addr: undefined, error: 'no_route' });
  });
});
