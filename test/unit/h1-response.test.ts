// parseResponseHead and ChunkedBody: the lean upstream client's reading of an answer. Every case
// reads as a sentence; test/differential/upstream.test.ts holds the same code to undici's
// reading of generated answers over real sockets.

import { describe, expect, it } from 'vitest';
import { checkPartialHead, ChunkedBody, CHUNKED, hasBareLineEnd, LENGTH, NO_BODY, parseResponseHead, UNTIL_CLOSE, type ResponseHead } from '../../src/proxy/h1-response.js';

/** Reads `lines` as a head (CRLF-joined, then the blank line). */
function read(lines: string[], headRequest = false): ResponseHead {
  const buf = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return parseResponseHead(buf, buf.indexOf('\r\n\r\n'), headRequest);
}

const pairs = (h: ResponseHead): string[] => h.raw.map((b) => b.toString('latin1'));

describe('parseResponseHead: heads it reads', () => {
  const cases: { says: string; lines: string[]; head?: boolean; want: Partial<ResponseHead> & { pairs?: string[] } }[] = [
    { says: 'a sized answer keeps its headers as sent and is framed by its length', lines: ['HTTP/1.1 200 OK', 'Content-Length: 5', 'X-A:  b c  '], want: { status: 200, reason: 'OK', framing: LENGTH, length: 5, keepAlive: true, pairs: ['Content-Length', '5', 'X-A', 'b c'] } },
    { says: 'chunked last is a chunked body', lines: ['HTTP/1.1 200 OK', 'Transfer-Encoding: gzip, chunked'], want: { framing: CHUNKED, keepAlive: true } },
    { says: 'chunked before another coding runs until close (RFC 9112 §6.3)', lines: ['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked, gzip'], want: { framing: UNTIL_CLOSE, keepAlive: false } },
    { says: 'an answer to HEAD is never kept alive (nor by undici)', lines: ['HTTP/1.1 200 OK', 'Content-Length: 0'], head: true, want: { keepAlive: false } },
    { says: 'another coding last runs until close and ends keep-alive', lines: ['HTTP/1.1 200 OK', 'Transfer-Encoding: gzip'], want: { framing: UNTIL_CLOSE, keepAlive: false } },
    { says: 'no framing at all runs until close', lines: ['HTTP/1.1 200 OK'], want: { framing: UNTIL_CLOSE, keepAlive: false } },
    { says: 'an answer to HEAD has no body whatever it declares', lines: ['HTTP/1.1 200 OK', 'Content-Length: 99'], head: true, want: { framing: NO_BODY } },
    { says: 'a 204 has no body', lines: ['HTTP/1.1 204 No Content', 'Content-Length: 3'], want: { framing: NO_BODY } },
    { says: 'a 304 has no body', lines: ['HTTP/1.1 304 Not Modified', 'Transfer-Encoding: chunked'], want: { framing: NO_BODY } },
    { says: 'a 1xx is interim and bodiless', lines: ['HTTP/1.1 103 Early Hints', 'Link: </a>'], want: { status: 103, framing: NO_BODY } },
    { says: 'Connection: close ends keep-alive', lines: ['HTTP/1.1 200 OK', 'Content-Length: 0', 'Connection: x, Close'], want: { keepAlive: false } },
    { says: 'HTTP/1.0 is not kept alive unless it asks', lines: ['HTTP/1.0 200 OK', 'Content-Length: 0'], want: { keepAlive: false } },
    { says: 'HTTP/1.0 with Connection: keep-alive is kept', lines: ['HTTP/1.0 200 OK', 'Content-Length: 0', 'Connection: keep-alive'], want: { keepAlive: true } },
    { says: 'a Keep-Alive timeout hint is read in ms', lines: ['HTTP/1.1 200 OK', 'Content-Length: 0', 'Keep-Alive: max=5, timeout=3'], want: { idleHintMs: 3000 } },
    { says: 'an empty reason and a missing one are both read', lines: ['HTTP/1.1 200 ', 'Content-Length: 0'], want: { reason: '' } },
    { says: 'a lone Connection: close in any case ends keep-alive', lines: ['HTTP/1.1 200 OK', 'Content-Length: 0', 'connection: CLOSE'], want: { keepAlive: false } },
    { says: 'HTTP/1.0 with Keep-Alive in any case is kept', lines: ['HTTP/1.0 200 OK', 'Content-Length: 0', 'CONNECTION: Keep-Alive'], want: { keepAlive: true } },
    { says: 'a reason other than OK and any three-digit status are read', lines: ['HTTP/1.1 599 Fine Then', 'Content-Length: 0'], want: { status: 599, reason: 'Fine Then' } },
    { says: 'tabs around a value are not part of it', lines: ['HTTP/1.1 200 OK', 'X-A:\t b\tc \t', 'Content-Length: 0'], want: { pairs: ['X-A', 'b\tc', 'Content-Length', '0'] } },
    { says: 'a Content-Length of 15 digits is read', lines: ['HTTP/1.1 200 OK', 'Content-Length: 000123456789012'], want: { framing: LENGTH, length: 123456789012 } },
    { says: 'a value may be empty and carry obs-text', lines: ['HTTP/1.1 200 OK', 'X-E:', 'X-T: caf\xe9', 'Content-Length: 0'], want: { pairs: ['X-E', '', 'X-T', 'caf\xe9', 'Content-Length', '0'] } },
  ];
  for (const c of cases) {
    it(c.says, () => {
      const h = read(c.lines, c.head);
      const { pairs: want, ...rest } = c.want;
      expect(h).toMatchObject(rest);
      if (want !== undefined) expect(pairs(h)).toEqual(want);
    });
  }
});

describe('parseResponseHead: heads it refuses', () => {
  const cases: { says: string; lines: string[]; code: string }[] = [
    { says: 'a status line that is not HTTP/1.x', lines: ['HTTP/2.0 200 OK'], code: 'FAIRWAY_BAD_STATUS_LINE' },
    { says: 'a status below 100', lines: ['HTTP/1.1 000 Zero'], code: 'FAIRWAY_BAD_STATUS_LINE' },
    { says: 'a control byte in the reason', lines: ['HTTP/1.1 200 O\x01K'], code: 'FAIRWAY_BAD_STATUS_LINE' },
    { says: 'a 101 nobody asked for', lines: ['HTTP/1.1 101 Switching Protocols', 'Upgrade: x'], code: 'FAIRWAY_UNEXPECTED_UPGRADE' },
    { says: 'obsolete line folding', lines: ['HTTP/1.1 200 OK', 'X-A: b', ' c'], code: 'FAIRWAY_BAD_HEADER' },
    { says: 'a space before the colon', lines: ['HTTP/1.1 200 OK', 'X-A : b'], code: 'FAIRWAY_BAD_HEADER' },
    { says: 'a control byte in a value', lines: ['HTTP/1.1 200 OK', 'X-A: b\x00c'], code: 'FAIRWAY_BAD_HEADER' },
    { says: 'a bare CR inside a value', lines: ['HTTP/1.1 200 OK', 'X-A: b\rX-B: c'], code: 'FAIRWAY_BAD_HEADER' },
    { says: 'both Transfer-Encoding and Content-Length', lines: ['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Content-Length: 3'], code: 'FAIRWAY_BAD_FRAMING' },
    { says: 'chunked applied twice', lines: ['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], code: 'FAIRWAY_BAD_FRAMING' },
    { says: 'a bad Content-Length even on a 204', lines: ['HTTP/1.1 204 No Content', 'Content-Length: 1, 2'], code: 'FAIRWAY_BAD_FRAMING' },
    { says: 'two Content-Length headers, even equal', lines: ['HTTP/1.1 200 OK', 'Content-Length: 3', 'Content-Length: 3'], code: 'FAIRWAY_BAD_FRAMING' },
    { says: 'a Content-Length that is not digits', lines: ['HTTP/1.1 200 OK', 'Content-Length: +3'], code: 'FAIRWAY_BAD_FRAMING' },
    { says: 'a Content-Length with a letter after its digits', lines: ['HTTP/1.1 200 OK', 'Content-Length: 3a'], code: 'FAIRWAY_BAD_FRAMING' },
    { says: 'an empty Content-Length', lines: ['HTTP/1.1 200 OK', 'Content-Length: '], code: 'FAIRWAY_BAD_FRAMING' },
    { says: 'a Content-Length of 16 digits', lines: ['HTTP/1.1 200 OK', 'Content-Length: 1000000000000000'], code: 'FAIRWAY_BAD_FRAMING' },
    { says: 'HTTP/1.2', lines: ['HTTP/1.2 200 OK'], code: 'FAIRWAY_BAD_STATUS_LINE' },
    { says: 'a status of two digits', lines: ['HTTP/1.1 20 OK'], code: 'FAIRWAY_BAD_STATUS_LINE' },
    { says: 'a status of four digits', lines: ['HTTP/1.1 2000 OK'], code: 'FAIRWAY_BAD_STATUS_LINE' },
    { says: 'a status with a letter', lines: ['HTTP/1.1 2x0 OK'], code: 'FAIRWAY_BAD_STATUS_LINE' },
    { says: 'no space after the version', lines: ['HTTP/1.1_200 OK'], code: 'FAIRWAY_BAD_STATUS_LINE' },
    { says: 'a header line without a colon', lines: ['HTTP/1.1 200 OK', 'X-A b'], code: 'FAIRWAY_BAD_HEADER' },
    { says: 'a header line with an empty name', lines: ['HTTP/1.1 200 OK', ': b'], code: 'FAIRWAY_BAD_HEADER' },
    { says: 'DEL in a value', lines: ['HTTP/1.1 200 OK', 'X-A: b\x7fc'], code: 'FAIRWAY_BAD_HEADER' },
  ];
  for (const c of cases) {
    it(c.says, () => {
      expect(() => read(c.lines)).toThrow(expect.objectContaining({ code: c.code }));
    });
  }

  it('a line ending that is not CRLF is seen before the head is whole', () => {
    expect(hasBareLineEnd(Buffer.from('HTTP/1.1 200 OK\nX: y', 'latin1'), 0)).toBe(true);
    expect(hasBareLineEnd(Buffer.from('HTTP/1.1 200 OK\rX: y', 'latin1'), 0)).toBe(true);
    expect(hasBareLineEnd(Buffer.from('HTTP/1.1 200 OK\r\nX: y\r', 'latin1'), 0)).toBe(false);
  });
});

/** Feeds `parts` to a ChunkedBody; the data, the trailers and where the body ended in the last part. */
function feed(parts: string[]): { data: string; trailers: string[] | undefined; end: number } {
  const body = new ChunkedBody(16384);
  let data = '';
  let end = -1;
  for (const p of parts) {
    expect(body.done).toBe(false);
    end = body.feed(Buffer.from(p, 'latin1'), 0, (d) => (data += d.toString('latin1')));
  }
  return { data, trailers: body.trailers?.map((b) => b.toString('latin1')), end };
}

describe('ChunkedBody', () => {
  it('reads sizes in either case, extensions and the end, and says where the body ended', () => {
    expect(feed(['a;x=1\r\n0123456789\r\nB ; q="a;b"\r\nhello world\r\n0\r\n\r\nNEXT'])).toEqual({ data: '0123456789hello world', trailers: undefined, end: 50 }); // past '0\r\n\r\n', before NEXT
  });

  it('reads a body split anywhere, one byte at a time', () => {
    const whole = '5\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n';
    const r = feed([...whole]);
    expect(r.data).toBe('hello!');
    expect(r.trailers).toEqual(['X-T', '1']);
    expect(r.end).toBe(1);
  });

  it('hands on trailers as name, value pairs', () => {
    expect(feed(['0\r\nA: 1\r\nB:2 \r\n\r\n']).trailers).toEqual(['A', '1', 'B', '2']);
  });

  const refusals: { says: string; body: string }[] = [
    { says: 'a size that is not hex', body: 'g\r\n' },
    { says: 'a size line ended by a bare LF', body: '5\nhello' },
    { says: 'an unterminated quoted extension', body: '5;a="open\r\nhello\r\n0\r\n\r\n' },
    { says: 'an extension without a name', body: '5;=x\r\nhello\r\n0\r\n\r\n' },
    { says: 'data longer than its size', body: '2\r\nabc\r\n' },
    { says: 'a malformed trailer', body: '0\r\nA : 1\r\n\r\n' },
  ];
  for (const c of refusals) {
    it(`refuses ${c.says}`, () => {
      expect(() => feed([c.body])).toThrow(expect.objectContaining({ code: expect.stringMatching(/^FAIRWAY_BAD_/) }));
    });
  }

  it('refuses trailers past its limit', () => {
    const body = new ChunkedBody(64);
    expect(() => body.feed(Buffer.from(`0\r\nX: ${'a'.repeat(100)}`, 'latin1'), 0, () => undefined)).toThrow(expect.objectContaining({ code: 'UND_ERR_HEADERS_OVERFLOW' }));
  });
});

describe('checkPartialHead: a head not yet whole', () => {
  const check = (s: string) => () => checkPartialHead(Buffer.from(s, 'latin1'));
  it('lets a well-formed beginning wait for the rest', () => {
    expect(check('HTT')).not.toThrow();
    expect(check('HTTP/1.1 200 OK\r\nX-A: 1\r\nX-B')).not.toThrow();
  });
  it('refuses what cannot begin a status line', () => {
    expect(check('http/1.1 200')).toThrow(expect.objectContaining({ code: 'FAIRWAY_BAD_STATUS_LINE' }));
  });
  it('refuses a complete status line or header line that is malformed', () => {
    expect(check('HTTP/1.1 -20 OK\r\nX')).toThrow(expect.objectContaining({ code: 'FAIRWAY_BAD_STATUS_LINE' }));
    expect(check('HTTP/1.1 200 OK\r\nX A: 1\r\nY')).toThrow(expect.objectContaining({ code: 'FAIRWAY_BAD_HEADER' }));
  });
  it('refuses framing headers that are wrong already: a bad or second Content-Length, one beside Transfer-Encoding', () => {
    expect(check('HTTP/1.1 200 OK\r\nContent-Length: 4, 4\r\nX')).toThrow(expect.objectContaining({ code: 'FAIRWAY_BAD_FRAMING' }));
    expect(check('HTTP/1.1 200 OK\r\nContent-Length: 4\r\ncontent-length: 4\r\nX')).toThrow(expect.objectContaining({ code: 'FAIRWAY_BAD_FRAMING' }));
    expect(check('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n')).toThrow(expect.objectContaining({ code: 'FAIRWAY_BAD_FRAMING' }));
    expect(check('HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX')).not.toThrow();
  });
});
