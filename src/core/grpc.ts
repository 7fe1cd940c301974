// gRPC's view of the answers Fairway makes itself. A gRPC client reads the call's outcome from
// `grpc-status` (and `grpc-message`), not from the HTTP status, and treats anything but HTTP 200
// as a transport failure it maps on its own. So a gRPC request Fairway fails gets 200 with a
// gRPC status (SPEC "TLS and HTTP/2"): 14 UNAVAILABLE when no upstream could answer, 4
// DEADLINE_EXCEEDED on a timeout, and for route policies the code a gRPC server would give
// for the same refusal (gRPC's doc/statuscodes.md).

import type { FairwayErrorCode } from './errors.js';

/** A request is gRPC when its content-type says so (gRPC over HTTP/2, PROTOCOL-HTTP2.md). */
export function isGrpc(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_UNAVAILABLE = 14;

const STATUS: Record<FairwayErrorCode, number> = {
  no_route: 12, // UNIMPLEMENTED: no such method here
  no_healthy_upstream: GRPC_UNAVAILABLE,
  upstream_error: GRPC_UNAVAILABLE,
  upstream_busy: GRPC_UNAVAILABLE,
  upstream_timeout: GRPC_DEADLINE_EXCEEDED,
  request_timeout: GRPC_DEADLINE_EXCEEDED,
  forbidden: 7, // PERMISSION_DENIED
  rate_limited: 8, // RESOURCE_EXHAUSTED
  body_too_large: 8,
  bad_request: 13, // INTERNAL: the call's framing is broken
  headers_too_large: 13,
  method_not_allowed: 13,
  expectation_failed: 13,
};

/** The gRPC status of an answer Fairway makes itself. */
export function grpcStatusOf(code: FairwayErrorCode): number {
  return STATUS[code];
}

/**
 * `grpc-message` as the wire wants it: percent-encoded UTF-8 outside printable ASCII, and `%`
 * itself (PROTOCOL-HTTP2.md, "Responses").
 */
export function grpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
