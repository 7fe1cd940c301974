// The response side of a route's policy when it compresses: `responseHeaders` rules on the head,
// then `compress` (SPEC's order). Routes without `compress` never come here: their heads go out
// on the raw encoder, header rules included (encodeResponseHead in headers.ts).
//
// Compression: an answer that arrives whole is compressed in one call; a larger or streaming
// one goes through a node:zlib stream, each chunk flushed (sync flush) so it reaches the client
// as it comes, not when the compressor's window fills (ResponseEncoder). Levels are chosen for
// a proxy's CPU, not for the smallest output: gzip 1 (nginx's default; on 8 KiB of text about
// 5 % larger than level 5 at under half its CPU) and brotli 4 (its default, 11, is meant for
// static files compressed once).

import { brotliCompressSync, constants, createBrotliCompress, createGzip, gzipSync, type BrotliCompress, type Gzip } from 'node:zlib';
import { applyHeaderRules, removeHeaders } from '../core/policy/header-rules.js';
import { compressionFor, MIN_COMPRESS_SIZE, varyWithAcceptEncoding, type Encoding } from '../core/policy/compression.js';
import type { RoutePolicy } from '../core/policy/route-policy.js';
import type { ProxyResponse } from './messages.js';

const VARY = ['vary'];
const LENGTH_AND_ENCODING = ['content-length', 'content-encoding'];

const GZIP_LEVEL = 1;
const BROTLI_QUALITY = 4;

/** The smallest window that holds `bytes` (2^bits, within zlib's and brotli's limits): less to allocate and clear per answer. */
function windowBits(bytes: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.ceil(Math.log2(Math.max(1, bytes)))));
}

/** The head the client gets (`headers` changed in place) and the encoding to stream the body with. */
export function shapeHead(
  policy: RoutePolicy,
  status: number,
  headers: string[],
  method: string,
  acceptEncoding: string | string[] | undefined,
): Encoding | undefined {
  if (policy.responseHeaders !== undefined) applyHeaderRules(headers, policy.responseHeaders);
  if (!policy.compress) return undefined;
  const length = valueOf(headers, 'content-length');
  const encoding = compressionFor(
    {
      status,
      method,
      contentType: valueOf(headers, 'content-type'),
      contentEncoding: valueOf(headers, 'content-encoding'),
      contentLength: length === undefined || !/^\d+$/.test(length) ? undefined : Number(length),
      cacheControl: valueOf(headers, 'cache-control'),
      contentRange: valueOf(headers, 'content-range'),
    },
    acceptEncoding,
    MIN_COMPRESS_SIZE,
  );
  // Caches must keep the variants apart whether or not this answer was compressed.
  // Every Vary line counts: a cache that lost one would mix answers it must keep apart.
  const vary = valuesOf(headers, 'vary');
  removeHeaders(headers, VARY);
  headers.push('vary', varyWithAcceptEncoding(vary));
  if (encoding === undefined) return undefined;
  // An `identity` (or empty) Content-Encoding is no encoding: it gives way to the real one.
  removeHeaders(headers, LENGTH_AND_ENCODING);
  headers.push('content-encoding', encoding);
  return encoding;
}

/** The first value of a header in a flat list (names compared lower-cased). */
function valueOf(list: readonly string[], name: string): string | undefined {
  for (let i = 0; i < list.length; i += 2) if (list[i]!.length === name.length && list[i]!.toLowerCase() === name) return list[i + 1];
  return undefined;
}

/** Every value of a header, joined as one list (undefined: absent). */
function valuesOf(list: readonly string[], name: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < list.length; i += 2)
    if (list[i]!.length === name.length && list[i]!.toLowerCase() === name) out = out === undefined ? list[i + 1]! : `${out}, ${list[i + 1]!}`;
  return out;
}

/** Bytes an answer may bring in one go and still be compressed in one synchronous call. */
const WHOLE_LIMIT = 64 * 1024;

/**
 * A response body compressed on its way to the client.
 *
 * Most compressible answers are small and arrive whole: undici hands over the body and its end
 * in the same tick. Those are compressed in one synchronous call (gzipSync of 8 KiB: about
 * 150 µs at level 5, 40 µs at level 1 with a window sized to the body), which is what nginx
 * does in its worker too. A zlib stream does the same work on the thread pool with two or three round trips per answer, and measured about 1 ms of
 * wall time per 8 KiB answer. So the body is held until the end of the tick it started in; if
 * the end came, one call; if not (a large or streaming answer), the bytes held and everything
 * after go through a stream, with backpressure both ways: the client's socket full pauses the
 * compressor, the compressor full pauses the upstream (`write` returns false; `onWritable`
 * says when to resume).
 */
export class ResponseEncoder {
  readonly #encoding: Encoding;
  readonly #res: ProxyResponse;
  readonly #onWritable: () => void;
  readonly #onBytes: (n: number) => void;
  #held: Buffer[] | undefined = [];
  #heldBytes = 0;
  #spill: NodeJS.Immediate | undefined;
  #z: Gzip | BrotliCompress | undefined;
  #flush = 0;

  constructor(encoding: Encoding, res: ProxyResponse, onWritable: () => void, onBytes: (n: number) => void) {
    this.#encoding = encoding;
    this.#res = res;
    this.#onWritable = onWritable;
    this.#onBytes = onBytes;
  }

  write(chunk: Buffer): boolean {
    if (this.#held !== undefined && this.#heldBytes + chunk.length <= WHOLE_LIMIT) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
      this.#spill ??= setImmediate(() => this.#toStream());
      return true;
    }
    const z = this.#z ?? this.#toStream();
    const more = z.write(chunk);
    z.flush(this.#flush);
    return more;
  }

  end(): void {
    if (this.#held !== undefined) {
      clearImmediate(this.#spill);
      const body = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held);
      this.#held = undefined;
      const out =
        this.#encoding === 'gzip'
          ? gzipSync(body, { level: GZIP_LEVEL, windowBits: windowBits(body.length, 9, 15) })
          : brotliCompressSync(body, {
              params: {
                [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
                [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
                [constants.BROTLI_PARAM_LGWIN]: windowBits(body.length, 10, 22),
              },
            });
      this.#onBytes(out.length);
      this.#res.write(out);
      this.#res.end();
      return;
    }
    this.#z!.end();
  }

  destroy(): void {
    clearImmediate(this.#spill);
    this.#held = undefined;
    this.#z?.destroy();
  }

  /** From holding to streaming: the compressor made, and what was held written to it. */
  #toStream(): Gzip | BrotliCompress {
    if (this.#z !== undefined) return this.#z;
    let z: Gzip | BrotliCompress;
    if (this.#encoding === 'gzip') {
      z = createGzip({ level: GZIP_LEVEL });
      this.#flush = constants.Z_SYNC_FLUSH;
    } else {
      z = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } });
      this.#flush = constants.BROTLI_OPERATION_FLUSH;
    }
    this.#z = z;
    const res = this.#res;
    const resume = (): void => {
      z.resume();
    };
    z.on('data', (out: Buffer) => {
      this.#onBytes(out.length);
      if (!res.write(out)) {
        z.pause();
        res.once('drain', resume);
      }
    });
    z.on('drain', this.#onWritable);
    z.once('end', () => res.end());
    z.once('error', (err) => res.destroy(err));
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const chunk of held) z.write(chunk);
    if (held.length > 0) z.flush(this.#flush);
    return z;
  }
}
