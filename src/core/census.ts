// The feed's census (/v1/internal/ui/services) read as it streams in, without JSON.parse. At
// 10,000 services × 10 instances the answer is 7.2 MB; read whole and parsed, every catalog
// change made a 7.2 MB buffer, a 7.2 MB string and ~40 MB of objects, most of them promoted
// before they died, and the memory they grew stayed with the process (RSS 400 MB after fifty
// changes, 130 MB of it outside V8's heap). All the feed needs is, per service name, something
// that changes when the service's entry does: here, a hash of the entry's bytes, taken chunk by
// chunk as the answer arrives. Only the names become strings.
//
// The scan follows JSON's structure (strings with their escapes, nesting) but does not validate
// it: an answer it cannot follow is an error at the end, and the feed then reads every service,
// as it does for any failed census. A hash that collides hides one change until the feed's slow
// pass reads the service anyway (at most 5 minutes; the chance is 2^-32 per changed service).
// test/unit/census.test.ts checks it against JSON.parse on generated answers cut anywhere.

import { FNV_OFFSET, FNV_PRIME } from './pickers/hash.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
/** `Name`, the key of an entry's service name. */
const NAME = [0x4e, 0x61, 0x6d, 0x65];

/** Where the scan is: before the array, between entries, inside one, past the array. */
const At = { Start: 0, Between: 1, Entry: 2, Done: 3 } as const;

function isBlank(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Per service name, a 32-bit hash of its census entry, from the answer's chunks in order. */
export class CensusScanner {
  readonly #digests = new Map<string, number>();
  #at: (typeof At)[keyof typeof At] = At.Start;
  #error: string | undefined;
  #depth = 0;
  #inString = false;
  #escaped = false;
  #hash = FNV_OFFSET | 0;
  /** At depth 1, the next string is a key (after `{` or `,`), not a value (after `:`). */
  #expectKey = false;
  /** The last key at depth 1 was "Name". */
  #nameKey = false;
  /** Bytes of the depth-1 string being read, when it may be the key "Name" or is its value. */
  #capture: number[] | undefined;
  #name: string | undefined;

  /** Takes the next chunk; never throws (an error is kept for end()). */
  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length && this.#error === undefined; i++) {
      const b = chunk[i]!;
      if (this.#at === At.Entry) this.#entryByte(b);
      else this.#outsideByte(b, i);
    }
  }

  /** The digests; throws a TypeError when the answer was not a whole census. */
  end(): Map<string, number> {
    if (this.#error === undefined && this.#at !== At.Done) this.#error = 'the census ends early';
    if (this.#error !== undefined) throw new TypeError(`/v1/internal/ui/services: ${this.#error}`);
    return this.#digests;
  }

  #outsideByte(b: number, i: number): void {
    if (isBlank(b)) return;
    if (this.#at === At.Start && b === OPEN_ARRAY) this.#at = At.Between;
    else if (this.#at === At.Between && b === COMMA) return;
    else if (this.#at === At.Between && b === CLOSE_ARRAY) this.#at = At.Done;
    else if (this.#at === At.Between && b === OPEN_OBJECT) {
      this.#at = At.Entry;
      this.#depth = 1;
      this.#hash = Math.imul(FNV_OFFSET ^ b, FNV_PRIME);
      this.#expectKey = true;
      this.#nameKey = false;
      this.#name = undefined;
    } else this.#error = this.#at === At.Start ? 'expected a JSON array' : `unexpected byte ${b} (at ${i} of its chunk)`;
  }

  #entryByte(b: number): void {
    this.#hash = Math.imul(this.#hash ^ b, FNV_PRIME);
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (b === BACKSLASH) this.#escaped = true;
      else if (b === QUOTE) {
        this.#inString = false;
        if (this.#capture !== undefined) this.#captured(this.#capture);
        return;
      }
      const c = this.#capture;
      // A key longer than "Name" is not it; stop keeping its bytes.
      if (c !== undefined && (c.push(b), this.#expectKey && c.length > NAME.length)) this.#capture = undefined;
      return;
    }
    if (b === QUOTE) {
      this.#inString = true;
      this.#capture = this.#depth === 1 && (this.#expectKey || (this.#nameKey && this.#name === undefined)) ? [] : undefined;
    } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) this.#depth++;
    else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
      if (--this.#depth > 0) return;
      if (this.#name !== undefined) this.#digests.set(this.#name, this.#hash | 0);
      this.#at = At.Between;
    } else if (this.#depth === 1 && b === COLON) this.#expectKey = false;
    else if (this.#depth === 1 && b === COMMA) {
      this.#expectKey = true;
      this.#nameKey = false;
    }
  }

  /** A depth-1 string ended: a key (is it "Name"?) or the name itself. */
  #captured(bytes: number[]): void {
    this.#capture = undefined;
    if (this.#expectKey) {
      this.#nameKey = bytes.length === NAME.length && bytes.every((x, k) => x === NAME[k]);
      return;
    }
    try {
      // The bytes as sent, escapes included: JSON decodes them.
      this.#name = JSON.parse(`"${Buffer.from(bytes).toString('utf8')}"`) as string;
    } catch {
      this.#error = 'a service name that is not a JSON string';
    }
  }
}

/** censusDigests of a whole answer. */
export function censusDigests(bytes: Uint8Array): Map<string, number> {
  const scanner = new CensusScanner();
  scanner.push(bytes);
  return scanner.end();
}
