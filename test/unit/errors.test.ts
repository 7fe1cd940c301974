// FairwayError codes and statuses, the internal error classes' stable codes,
// upstreamFailure's mapping of upstream failures to 502/504, and the short form logs carry.

import { describe, expect, it } from 'vitest';
import {
  ClientGoneError,
  codeOrMessage,
  ConsulError,
  FairwayError,
  InvalidHeaderError,
  messageOf,
  statusOf,
  SUPERSEDED,
  TimeoutError,
  upstreamFailure,
  UserError,
  type FairwayErrorCode,
} from '../../src/core/errors.js';

describe('statusOf', () => {
  it.each([
    { code: 'no_route', status: 404, why: 'no route is Not Found' },
    { code: 'no_healthy_upstream', status: 503, why: 'no instance is Service Unavailable' },
    { code: 'upstream_error', status: 502, why: 'a failed upstream is Bad Gateway' },
    { code: 'upstream_timeout', status: 504, why: 'a slow upstream is Gateway Timeout' },
    { code: 'bad_request', status: 400, why: 'a malformed request is Bad Request' },
    { code: 'headers_too_large', status: 431, why: 'oversized headers are 431' },
    { code: 'request_timeout', status: 408, why: 'a client too slow with its request is 408' },
    { code: 'forbidden', status: 403, why: 'a refused admin write is Forbidden' },
    { code: 'method_not_allowed', status: 405, why: 'CONNECT is Method Not Allowed' },
    { code: 'expectation_failed', status: 417, why: 'an Expect nobody can meet is 417' },
    { code: 'upstream_busy', status: 503, why: 'an instance with no room for another tunnel is 503' },
    { code: 'rate_limited', status: 429, why: 'a request over the route\'s rate limit is Too Many Requests' },
    { code: 'body_too_large', status: 413, why: 'a body over the route\'s maxBodySize is Content Too Large' },
  ] as Array<{ code: FairwayErrorCode; status: number; why: string }>)('$code → $status: $why', ({ code, status }) => {
    expect(statusOf(code)).toBe(status);
    const e = new FairwayError(code);
    expect([e.code, e.status, e.message, e.name]).toEqual([code, status, messageOf(code), 'FairwayError']);
    expect(e).toBeInstanceOf(Error);
  });
});

describe('FairwayError', () => {
  it('keeps a given message and cause', () => {
    const cause = new Error('boom');
    const e = new FairwayError('no_healthy_upstream', { cause, message: 'no healthy instance for route "web"' });
    expect(e.message).toBe('no healthy instance for route "web"');
    expect(e.cause).toBe(cause);
    expect(e.status).toBe(503);
  });

  it('has no cause property when none is given', () => {
    expect('cause' in new FairwayError('no_route')).toBe(false);
  });
});

describe('upstreamFailure', () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    { why: 'undici headers timeout', err: withCode('UND_ERR_HEADERS_TIMEOUT'), code: 'upstream_timeout', status: 504 },
    { why: 'undici body timeout', err: withCode('UND_ERR_BODY_TIMEOUT'), code: 'upstream_timeout', status: 504 },
    { why: 'undici connect timeout', err: withCode('UND_ERR_CONNECT_TIMEOUT'), code: 'upstream_timeout', status: 504 },
    { why: 'a socket ETIMEDOUT', err: withCode('ETIMEDOUT'), code: 'upstream_timeout', status: 504 },
    { why: "Fairway's own route timeout", err: withCode('FAIRWAY_TIMEOUT'), code: 'upstream_timeout', status: 504 },
    { why: 'connection refused', err: withCode('ECONNREFUSED'), code: 'upstream_error', status: 502 },
    { why: 'connection reset', err: withCode('ECONNRESET'), code: 'upstream_error', status: 502 },
    { why: 'undici socket error', err: withCode('UND_ERR_SOCKET'), code: 'upstream_error', status: 502 },
    { why: 'an error without a code', err: new Error('weird'), code: 'upstream_error', status: 502 },
    { why: 'a non-string code', err: { code: 504 }, code: 'upstream_error', status: 502 },
    { why: 'a thrown string', err: 'oops', code: 'upstream_error', status: 502 },
    { why: 'null', err: null, code: 'upstream_error', status: 502 },
    { why: 'undefined', err: undefined, code: 'upstream_error', status: 502 },
  ])('$why → $code ($status), cause kept', ({ err, code, status }) => {
    const e = upstreamFailure(err);
    expect(e).toBeInstanceOf(FairwayError);
    expect([e.code, e.status]).toEqual([code, status]);
    if (err !== undefined) expect(e.cause).toBe(err);
  });

  it('timeout codes are matched exactly, not by case or substring', () => {
    expect(upstreamFailure(withCode('etimedout')).code).toBe('upstream_error');
    expect(upstreamFailure(withCode('UND_ERR_HEADERS_TIMEOUT_X')).code).toBe('upstream_error');
  });
});

describe('error classes', () => {
  it.each([
    { why: 'a route timeout', err: new TimeoutError(250), code: 'FAIRWAY_TIMEOUT', answer: 'upstream_timeout' },
    { why: 'a client gone', err: new ClientGoneError(), code: 'FAIRWAY_CLIENT_GONE', answer: 'upstream_error' },
    { why: 'a superseded attempt', err: SUPERSEDED, code: 'FAIRWAY_SUPERSEDED', answer: 'upstream_error' },
    { why: 'an invalid upstream head', err: new InvalidHeaderError('bad'), code: 'FAIRWAY_INVALID_UPSTREAM_HEADER', answer: 'upstream_error' },
    { why: 'a Consul failure', err: new ConsulError('down', 500), code: 'FAIRWAY_CONSUL', answer: 'upstream_error' },
  ])('$why has the stable code $code and maps to $answer', ({ err, code, answer }) => {
    expect(err.code).toBe(code);
    expect(err).toBeInstanceOf(Error);
    expect(upstreamFailure(err).code).toBe(answer);
  });

  it('a route timeout says how long it waited', () => {
    expect(new TimeoutError(250).message).toBe('no complete answer within 250ms');
  });
});

describe('UserError', () => {
  it('is a plain named Error with the message given', () => {
    const e = new UserError('cannot read fairway.yaml');
    expect([e.name, e.message, e instanceof Error]).toEqual(['UserError', 'cannot read fairway.yaml', true]);
  });
});

describe('codeOrMessage', () => {
  it.each([
    { why: 'an undici error logs as its code', err: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), out: 'ECONNREFUSED' },
    { why: "Fairway's own timeout logs as its stable code", err: new TimeoutError(300), out: 'FAIRWAY_TIMEOUT' },
    { why: 'an error without a code logs as its message', err: new Error('invalid header'), out: 'invalid header' },
    { why: 'anything else thrown logs as its string', err: 42, out: '42' },
  ])('$why', ({ err, out }) => {
    expect(codeOrMessage(err)).toBe(out);
  });
});
