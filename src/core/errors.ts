// Every error Fairway produces or classifies, in one place.
//
// - FairwayErrorCode: the answers Fairway makes itself. Each has a stable code (sent as
//   `x-fairway-error`), the HTTP status it maps to, and a message.
// - Error classes with a stable `code` of the form FAIRWAY_*: what goes wrong inside an
//   exchange (a timeout, a client gone, an attempt superseded by a retry, an upstream head no
//   client may be sent), in Consul, or in what a user typed. `upstreamFailure` is the one place
//   that maps a failed upstream attempt (these, or undici's UND_ERR_* codes) to an answer, so
//   the forwarder never decides status codes ad hoc.

export type FairwayErrorCode =
  | 'no_route'
  | 'no_healthy_upstream'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'bad_request'
  | 'request_timeout'
  | 'headers_too_large'
  | 'forbidden'
  | 'method_not_allowed'
  | 'expectation_failed'
  | 'upstream_busy'
  | 'rate_limited'
  | 'body_too_large';

const STATUS: Record<FairwayErrorCode, number> = {
  no_route: 404,
  no_healthy_upstream: 503,
  upstream_error: 502,
  upstream_timeout: 504,
  bad_request: 400,
  request_timeout: 408,
  headers_too_large: 431,
  forbidden: 403,
  method_not_allowed: 405,
  expectation_failed: 417,
  upstream_busy: 503,
  rate_limited: 429,
  body_too_large: 413,
};

const MESSAGE: Record<FairwayErrorCode, string> = {
  no_route: 'no route matches this request',
  no_healthy_upstream: 'no healthy instance for this route',
  upstream_error: 'the upstream failed to answer',
  upstream_timeout: 'the upstream did not answer in time',
  bad_request: 'malformed request',
  request_timeout: 'request not received in time',
  headers_too_large: 'request headers too large',
  forbidden: 'forbidden',
  method_not_allowed: 'method not allowed',
  expectation_failed: 'only Expect: 100-continue is understood',
  upstream_busy: 'the instance has no free connection for another upgraded connection',
  rate_limited: 'too many requests; see Retry-After',
  body_too_large: 'request body larger than this route accepts',
};

export class FairwayError extends Error {
  readonly code: FairwayErrorCode;
  readonly status: number;

  constructor(code: FairwayErrorCode, options?: { cause?: unknown; message?: string }) {
    super(options?.message ?? MESSAGE[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FairwayError';
    this.code = code;
    this.status = STATUS[code];
  }
}

export function statusOf(code: FairwayErrorCode): number {
  return STATUS[code];
}

export function messageOf(code: FairwayErrorCode): string {
  return MESSAGE[code];
}

/** The route timeout ran out before the exchange was complete. */
export class TimeoutError extends Error {
  readonly code = 'FAIRWAY_TIMEOUT';
  constructor(ms: number) {
    super(`no complete answer within ${ms}ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * An upstream exchange that failed, with the code undici would give it (UND_ERR_SOCKET,
 * UND_ERR_HEADERS_TIMEOUT, ...) or Fairway's for a malformed answer (FAIRWAY_BAD_FRAMING, ...):
 * the HTTP/1.1 and HTTP/2 clients' failures, which upstreamFailure maps to 502 or 504.
 */
export class UpstreamError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The client went away before its answer was complete (logged as 499). */
export class ClientGoneError extends Error {
  readonly code = 'FAIRWAY_CLIENT_GONE';
  constructor() {
    super('client went away');
    this.name = 'ClientGoneError';
  }
}

/**
 * An attempt given up on purpose (a 502/503 being retried elsewhere, or an exchange Fairway
 * answered itself): no outcome is counted against the upstream. One instance: compared by identity.
 */
export const SUPERSEDED: Error & { readonly code: 'FAIRWAY_SUPERSEDED' } = Object.assign(new Error('superseded'), { code: 'FAIRWAY_SUPERSEDED' as const });

/** An upstream response head no client may be sent (Node's writeHead throws alike): a 502. */
export class InvalidHeaderError extends Error {
  readonly code = 'FAIRWAY_INVALID_UPSTREAM_HEADER';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidHeaderError';
  }
}

/** Consul refused or could not be reached. */
export class ConsulError extends Error {
  readonly code = 'FAIRWAY_CONSUL';
  /** HTTP status from Consul, or undefined when it could not be reached at all. */
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ConsulError';
    this.status = status;
  }
}

/** A user-facing problem (bad flag, bad file, Consul unreachable): one line, exit 1, no stack. */
export class UserError extends Error {
  readonly code = 'FAIRWAY_USER';
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** An error's code (undici's, Node's, Fairway's), else its message: the short form logs carry. */
export function codeOrMessage(err: unknown): string {
  const e = err as { code?: string; message?: string } | null;
  return e?.code ?? e?.message ?? String(err);
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'FAIRWAY_TIMEOUT']);

/** The attempt timed out connecting: no byte of the request reached the instance. */
export function neverConnected(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'UND_ERR_CONNECT_TIMEOUT';
}

/** The answer for a failed upstream attempt: a timeout is 504, anything else 502. */
export function upstreamFailure(err: unknown): FairwayError {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return new FairwayError('upstream_timeout', { cause: err });
  return new FairwayError('upstream_error', { cause: err });
}
