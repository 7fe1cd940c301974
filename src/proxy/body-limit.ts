// A route's maxBodySize for a body whose length is not declared (chunked): the body passes
// through a counter on its way upstream, and the first byte past the limit fails the stream
// with BodyTooLargeError. undici then aborts the upstream request (the instance did nothing
// wrong, so the forwarder counts no failure against it) and the client gets 413. A body with a
// Content-Length over the limit never gets this far (policy-gate.ts answers it at once).

import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';

export class BodyTooLargeError extends Error {
  readonly code = 'FAIRWAY_BODY_TOO_LARGE';
  constructor(limit: number) {
    super(`request body over this route's ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

class BodyLimit extends Transform {
  #left: number;
  readonly #limit: number;

  constructor(limit: number) {
    super();
    this.#left = limit;
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#left -= chunk.length;
    if (this.#left < 0) done(new BodyTooLargeError(this.#limit));
    else done(null, chunk);
  }
}

/** `body` as a stream that fails once more than `limit` bytes came through. */
export function limitBody(body: Readable, limit: number): Readable {
  const limited = new BodyLimit(limit);
  body.on('error', (err) => limited.destroy(err));
  return body.pipe(limited);
}
