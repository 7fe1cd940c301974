// The errors Fairway itself answers with. Each has a stable `code` (sent as `x-fairway-error`)
// and the HTTP status it maps to; `upstreamFailure` is the one place that classifies an
// upstream failure, so the forwarder never decides status codes ad hoc.

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
  | 'upstream_busy';

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

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
  'FAIRWAY_TIMEOUT',
]);

/** Maps any failure of an upstream exchange to the answer the client gets. */
export function upstreamFailure(err: unknown): FairwayError {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return new FairwayError('upstream_timeout', { cause: err });
  return new FairwayError('upstream_error', { cause: err });
}

/** A user-facing problem (bad flag, bad file, Consul unreachable): one line, exit 1, no stack. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
