// Deliberately broken variants of the fast path's head parser, for checking the checker: each
// makes a mistake a real change could make, and layer 1 must catch every one of them on a few
// thousand generated inputs. A differential test that cannot tell these from the real parser
// would pass whatever the parser did.

import { parseRequestHead, type RequestHead } from '../../src/proxy/http1.js';
import type { HeadParser } from './parser-check.js';

const CONTENT_LENGTH = /\r\ncontent-length:/i;

export const MUTANTS: ReadonlyArray<{ readonly name: string; readonly parse: HeadParser }> = [
  {
    name: 'ends the head one byte early',
    parse: (buf, max) => {
      const head = parseRequestHead(buf, max);
      return head && { ...head, end: head.end - 1 };
    },
  },
  {
    name: 'ignores Connection: close',
    parse: (buf, max) => {
      const head = parseRequestHead(buf, max);
      return head && { ...head, close: false };
    },
  },
  {
    // The request-smuggling mistake: a body-bearing head served as if it had none.
    name: 'serves a head with Content-Length',
    parse: (buf, max) => {
      const head = parseRequestHead(buf, max);
      if (head !== undefined) return head;
      const text = buf.toString('latin1', 0, Math.min(buf.length, max));
      const m = CONTENT_LENGTH.exec(text);
      if (m === null) return undefined;
      // Rename the field by one byte so the real parser lets it through, then name it back.
      const original = text.substr(m.index + 2, 14);
      const renamed = `${original.slice(0, 13)}X`;
      const copy = Buffer.from(buf);
      copy[m.index + 2 + 13] = 0x58;
      const h = parseRequestHead(copy, max);
      if (h === undefined) return undefined;
      const rawHeaders = h.rawHeaders.map((v, i) => (i % 2 === 0 && v === renamed ? original : v));
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(h.headers)) headers[k === renamed.toLowerCase() ? 'content-length' : k] = v;
      return { ...h, rawHeaders, headers } satisfies RequestHead;
    },
  },
];
