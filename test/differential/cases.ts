// What both differential layers feed to Fairway: the bytes a client sends, how they are cut into
// writes, and whether the client half-closes after them. Saved cases (test/fixtures/requests/)
// are read from disk; random ones come from generator.ts.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Case {
  /** `fixture <file>` or `seed <seed> case <index>`. */
  readonly name: string;
  readonly bytes: Buffer;
  /** Offsets where the bytes are cut into separate writes: ascending, each inside (0, length). */
  readonly splits: readonly number[];
  /** The client half-closes (FIN) after the last write. */
  readonly fin: boolean;
  /** The listener's maxHeaderSize this case is meant for (layer 1 uses it; layer 2 has one). */
  readonly maxHeaderSize: number;
}

export const ROOT = new URL('../..', import.meta.url).pathname;
export const FIXTURES = join(ROOT, 'test/fixtures/requests');
/** Where failing inputs are written, byte for byte, to be copied into FIXTURES. */
export const FAILURES = join(ROOT, 'test-artifacts/differential');

/** Default maxHeaderSize of the listener (config server.maxHeaderSize). */
export const DEFAULT_MAX_HEADER_SIZE = 16384;

/**
 * The saved cases: every `*.http` file in test/fixtures/requests, sent as one write; a name
 * ending in `.fin.http` means the client half-closes after sending it.
 */
export function fixtureCases(dir = FIXTURES): Case[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.http'))
    .sort()
    .map((file) => ({
      name: `fixture ${file}`,
      bytes: readFileSync(join(dir, file)),
      splits: [],
      fin: file.endsWith('.fin.http'),
      maxHeaderSize: DEFAULT_MAX_HEADER_SIZE,
    }));
}

/** The writes a case is cut into. */
export function segments(c: Case): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const s of c.splits) {
    out.push(c.bytes.subarray(at, s));
    at = s;
  }
  out.push(c.bytes.subarray(at));
  return out;
}

/** Bytes as a double-quoted string: printable ASCII as is, \r \n \t \\ \" escaped, the rest \xNN. */
export function escapeBytes(bytes: Buffer, limit = 1200): string {
  const text = (b: Buffer): string => {
    let s = '';
    for (const byte of b) {
      if (byte === 0x0d) s += '\\r';
      else if (byte === 0x0a) s += '\\n';
      else if (byte === 0x09) s += '\\t';
      else if (byte === 0x5c) s += '\\\\';
      else if (byte === 0x22) s += '\\"';
      else if (byte >= 0x20 && byte < 0x7f) s += String.fromCharCode(byte);
      else s += `\\x${byte.toString(16).padStart(2, '0')}`;
    }
    return s;
  };
  if (bytes.length <= limit) return `"${text(bytes)}"`;
  const head = Math.floor(limit * 0.75);
  const tail = limit - head;
  return `"${text(bytes.subarray(0, head))}" ...(${bytes.length - limit} bytes)... "${text(bytes.subarray(bytes.length - tail))}"`;
}

/** How to see or replay a case, for a failure message. */
export function describeCase(c: Case): string {
  const cuts = c.splits.length > 0 ? `, written in ${c.splits.length + 1} parts cut at ${c.splits.join(',')}` : ', one write';
  return `${c.name} (${c.bytes.length} bytes${cuts}${c.fin ? ', then FIN' : ''}, maxHeaderSize ${c.maxHeaderSize})\n    ${escapeBytes(c.bytes)}`;
}

/** Writes a failing input to test-artifacts/differential/ and returns the path. */
export function saveFailure(layer: string, c: Case): string {
  mkdirSync(FAILURES, { recursive: true });
  const path = join(FAILURES, `${layer}-${c.name.replace(/[^A-Za-z0-9.-]+/g, '-')}${c.fin ? '.fin' : ''}.http`);
  writeFileSync(path, c.bytes);
  return path;
}
