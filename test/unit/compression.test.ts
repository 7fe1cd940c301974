// The decisions behind `compress: true`: the coding a client's Accept-Encoding allows, the media
// types worth compressing, each reason an answer is passed on as it is, and Vary.

import { describe, expect, it } from 'vitest';
import {
  chooseEncoding,
  compressibleType,
  compressionFor,
  MIN_COMPRESS_SIZE,
  varyWithAcceptEncoding,
  type UpstreamAnswer,
} from '../../src/core/policy/compression.js';

describe('chooseEncoding', () => {
  it.each([
    { why: 'a browser that accepts both gets br', ae: 'gzip, deflate, br, zstd', want: 'br' },
    { why: 'a client that accepts only gzip gets gzip', ae: 'gzip', want: 'gzip' },
    { why: 'a client that accepts only br gets br', ae: 'br', want: 'br' },
    { why: 'q=0 forbids gzip, so br at q=0.5 is chosen', ae: 'gzip;q=0, br;q=0.5', want: 'br' },
    { why: 'the heavier coding wins', ae: 'br;q=0.4, gzip;q=0.8', want: 'gzip' },
    { why: 'equal weights prefer br', ae: 'gzip;q=0.7, br;q=0.7', want: 'br' },
    { why: '* stands for both codings, and br is preferred', ae: '*;q=0.1', want: 'br' },
    { why: '* stands for codings not listed', ae: 'br;q=0, *', want: 'gzip' },
    { why: 'a listed coding beats * either way', ae: 'gzip;q=0.2, *;q=0.1', want: 'gzip' },
    { why: 'codings are case-insensitive', ae: 'GZIP', want: 'gzip' },
    { why: 'Br in any case is br', ae: 'Br, GZip', want: 'br' },
    { why: 'x-gzip counts as gzip', ae: 'x-gzip', want: 'gzip' },
    { why: 'the Q parameter name is case-insensitive', ae: 'br;Q=0, gzip', want: 'gzip' },
    { why: 'blanks around elements, semicolons and equals are allowed', ae: '  br ; q = 0 ,\tgzip ;q=1 ', want: 'gzip' },
    { why: 'empty list elements are skipped', ae: ',, gzip ,,', want: 'gzip' },
    { why: 'other parameters are ignored', ae: 'br;level=9;q=0.5', want: 'br' },
    { why: 'q may have three decimals', ae: 'gzip;q=0.001', want: 'gzip' },
    { why: 'q=1.000 is full weight', ae: 'gzip;q=0.5, br;q=1.000', want: 'br' },
    { why: 'identity does not stop a coding it weighs no more than', ae: 'gzip, identity', want: 'gzip' },
    { why: 'identity;q=0 changes nothing for a coding', ae: 'gzip, identity;q=0', want: 'gzip' },
    { why: 'several header lines as an array are one list', ae: ['gzip;q=0.5', 'br;q=0.9'], want: 'br' },
    { why: 'a q=0 on one line forbids what another allows', ae: ['br', 'br;q=0, gzip'], want: 'gzip' },
    { why: 'joined header lines are one list', ae: 'deflate, gzip;q=0.3', want: 'gzip' },
    { why: 'a malformed weight drops only its element', ae: 'br;q=high, gzip', want: 'gzip' },
    { why: 'a weight above 1 is malformed, not strong', ae: 'br;q=2, gzip;q=0.1', want: 'gzip' },
  ])('$why: $ae → $want', ({ ae, want }) => {
    expect(chooseEncoding(ae)).toBe(want);
  });

  it.each([
    { why: 'an absent header', ae: undefined },
    { why: 'an empty header (the RFC: no coding wanted)', ae: '' },
    { why: 'an empty array', ae: [] },
    { why: 'only identity', ae: 'identity' },
    { why: 'only codings Fairway does not make', ae: 'deflate, zstd, compress' },
    { why: 'both forbidden', ae: 'gzip;q=0, br;q=0' },
    { why: '*;q=0 with nothing listed', ae: '*;q=0' },
    { why: 'gzip forbidden by its q=0 even when * allows', ae: 'gzip;q=0, br;q=0, *' },
    { why: 'a coding listed twice takes its lower weight', ae: 'gzip, gzip;q=0' },
    { why: 'identity preferred over the best coding', ae: 'gzip;q=0.5, identity' },
    { why: '* (so identity) preferred over every coding listed', ae: 'gzip;q=0.3, br;q=0.1, *;q=0.5' },
    { why: 'a malformed weight is ignored, not taken as 1', ae: 'gzip;q=0.5.5' },
    { why: 'a negative weight is malformed', ae: 'br;q=-1' },
    { why: 'more than three decimals is malformed', ae: 'gzip;q=0.0001' },
    { why: 'q without a value is malformed', ae: 'br;q' },
    { why: 'a coding name that only starts like br', ae: 'brotli, gzipped' },
  ])('none for $why', ({ ae }) => {
    expect(chooseEncoding(ae)).toBeUndefined();
  });
});

describe('compressibleType', () => {
  it.each([
    { type: 'text/html', want: true, why: 'HTML is text' },
    { type: 'text/html; charset=utf-8', want: true, why: 'parameters are ignored' },
    { type: 'Text/CSS;Charset=UTF-8', want: true, why: 'case does not matter' },
    { type: ' text/plain ', want: true, why: 'blanks around the type do not matter' },
    { type: 'text/csv', want: true, why: 'every text/* is text' },
    { type: 'application/json', want: true, why: 'JSON is text' },
    { type: 'application/javascript', want: true, why: 'JavaScript is text' },
    { type: 'application/xml', want: true, why: 'XML is text' },
    { type: 'application/problem+json', want: true, why: 'a +json type is JSON' },
    { type: 'application/vnd.api+json; charset=utf-8', want: true, why: 'a vendor +json type is JSON' },
    { type: 'application/atom+xml', want: true, why: 'a +xml type is XML' },
    { type: 'image/svg+xml', want: true, why: 'SVG is XML, though an image' },
    { type: 'application/yaml', want: true, why: 'YAML is text' },
    { type: 'application/wasm', want: true, why: 'WebAssembly shrinks by half or more' },
    { type: 'font/ttf', want: true, why: 'TrueType fonts are not compressed' },
    { type: 'font/otf', want: true, why: 'OpenType fonts are not compressed' },
    { type: 'image/x-icon', want: true, why: 'icons are mostly uncompressed bitmaps' },
    { type: 'image/bmp', want: true, why: 'BMP is uncompressed' },
    { type: 'text/event-stream', want: false, why: 'server-sent events must not wait in a compressor' },
    { type: 'text/event-stream; charset=utf-8', want: false, why: 'server-sent events with parameters neither' },
    { type: 'application/x-ndjson', want: false, why: 'newline-delimited JSON is often a stream too' },
    { type: 'image/png', want: false, why: 'PNG is compressed already' },
    { type: 'image/jpeg', want: false, why: 'JPEG is compressed already' },
    { type: 'image/webp', want: false, why: 'WebP is compressed already' },
    { type: 'video/mp4', want: false, why: 'video is compressed already' },
    { type: 'audio/mpeg', want: false, why: 'audio is compressed already' },
    { type: 'font/woff2', want: false, why: 'WOFF2 is compressed already' },
    { type: 'font/woff', want: false, why: 'WOFF is compressed already' },
    { type: 'application/zip', want: false, why: 'archives are compressed already' },
    { type: 'application/gzip', want: false, why: 'gzip files are compressed already' },
    { type: 'application/octet-stream', want: false, why: 'octet-stream could be anything' },
    { type: 'application/pdf', want: false, why: 'PDF compresses its own streams' },
    { type: 'multipart/form-data; boundary=x', want: false, why: 'multipart is not on the list' },
    { type: undefined, want: false, why: 'no Content-Type says nothing' },
    { type: '', want: false, why: 'an empty Content-Type says nothing' },
    { type: 'text', want: false, why: 'a type without a subtype is malformed' },
    { type: 'text/', want: false, why: 'an empty subtype is malformed' },
    { type: 'text/ html', want: false, why: 'a blank inside the type is malformed' },
    { type: 'text/html/x', want: false, why: 'two slashes are malformed' },
  ])('$type is $want: $why', ({ type, want }) => {
    expect(compressibleType(type)).toBe(want);
  });
});

describe('compressionFor', () => {
  const ok: UpstreamAnswer = {
    status: 200,
    method: 'GET',
    contentType: 'text/html; charset=utf-8',
    contentEncoding: undefined,
    contentLength: 50_000,
    cacheControl: 'public, max-age=60',
  };
  const AE = 'gzip, br';

  it.each([
    { why: 'a large HTML answer to GET is compressed', answer: {}, want: 'br' },
    { why: 'an answer of unknown length (chunked) is compressed', answer: { contentLength: undefined }, want: 'br' },
    { why: 'an answer of exactly minSize is compressed', answer: { contentLength: MIN_COMPRESS_SIZE }, want: 'br' },
    { why: 'a 201 with a body is compressed', answer: { status: 201 }, want: 'br' },
    { why: 'POST answers are compressed too', answer: { method: 'POST' }, want: 'br' },
    { why: 'Content-Encoding: identity means not encoded', answer: { contentEncoding: 'Identity' }, want: 'br' },
    { why: 'an empty Content-Encoding means not encoded', answer: { contentEncoding: '' }, want: 'br' },
    { why: 'an empty Content-Range means none', answer: { contentRange: '' }, want: 'br' },
    { why: 'a Cache-Control without no-transform allows it', answer: { cacheControl: 'no-cache, no-store' }, want: 'br' },
    { why: 'a directive that only contains no-transform does not count', answer: { cacheControl: 'x-no-transform-ish' }, want: 'br' },
  ])('$why', ({ answer, want }) => {
    expect(compressionFor({ ...ok, ...answer }, AE, MIN_COMPRESS_SIZE)).toBe(want);
  });

  it.each([
    { why: 'a HEAD answer has no body to compress', answer: { method: 'HEAD' } },
    { why: 'a 1xx is no 2xx', answer: { status: 101 } },
    { why: 'a 204 has no content', answer: { status: 204 } },
    { why: 'a 205 has no content', answer: { status: 205 } },
    { why: 'a 206 is a byte range of the unencoded body', answer: { status: 206 } },
    { why: 'a 304 has no content', answer: { status: 304 } },
    { why: 'a 404 page is left as the upstream sent it', answer: { status: 404 } },
    { why: 'a 500 is left as the upstream sent it', answer: { status: 500 } },
    { why: 'an answer with a Content-Range is a range', answer: { contentRange: 'bytes 0-99/50000' } },
    { why: 'the upstream already gzipped it', answer: { contentEncoding: 'gzip' } },
    { why: 'the upstream already encoded it with br, in any case', answer: { contentEncoding: 'BR' } },
    { why: 'the upstream encoded it with a coding Fairway does not know', answer: { contentEncoding: 'zstd' } },
    { why: 'Cache-Control no-transform forbids it', answer: { cacheControl: 'public, no-transform' } },
    { why: 'no-transform in any case, first in the list', answer: { cacheControl: 'No-Transform,max-age=0' } },
    { why: 'a known length below minSize is not worth it', answer: { contentLength: MIN_COMPRESS_SIZE - 1 } },
    { why: 'an empty body is not worth it', answer: { contentLength: 0 } },
    { why: 'a PNG is compressed already', answer: { contentType: 'image/png' } },
    { why: 'an answer without Content-Type may be anything', answer: { contentType: undefined } },
    { why: 'server-sent events must not be held back', answer: { contentType: 'text/event-stream' } },
  ])('none when $why', ({ answer }) => {
    expect(compressionFor({ ...ok, ...answer }, AE, MIN_COMPRESS_SIZE)).toBeUndefined();
  });

  it.each([
    { why: 'the client sent no Accept-Encoding', ae: undefined, want: undefined },
    { why: 'the client forbids both codings', ae: 'gzip;q=0, br;q=0', want: undefined },
    { why: 'the client accepts only gzip', ae: 'gzip', want: 'gzip' },
    { why: 'Accept-Encoding as header lines', ae: ['deflate', 'gzip'], want: 'gzip' },
  ])('follows the client when $why', ({ ae, want }) => {
    expect(compressionFor(ok, ae, MIN_COMPRESS_SIZE)).toBe(want);
  });

  it('minSize is a parameter: 0 compresses any known length', () => {
    expect(compressionFor({ ...ok, contentLength: 1 }, AE, 0)).toBe('br');
    expect(compressionFor({ ...ok, contentLength: 1_000_000 }, AE, 2_000_000)).toBeUndefined();
  });
});

describe('varyWithAcceptEncoding', () => {
  it.each([
    { why: 'an absent Vary becomes accept-encoding', vary: undefined, want: 'accept-encoding' },
    { why: 'an empty Vary becomes accept-encoding', vary: '', want: 'accept-encoding' },
    { why: 'a Vary of blanks and commas becomes accept-encoding', vary: ' , ', want: 'accept-encoding' },
    { why: 'accept-encoding is added after other names', vary: 'Origin', want: 'Origin, accept-encoding' },
    { why: 'several names are kept as they are', vary: 'Origin, Accept-Language', want: 'Origin, Accept-Language, accept-encoding' },
    { why: 'a trailing comma is not doubled', vary: 'Origin, ', want: 'Origin, accept-encoding' },
    { why: 'Accept-Encoding already there is not repeated', vary: 'Accept-Encoding', want: 'Accept-Encoding' },
    { why: 'already there in any case, among others', vary: 'origin,ACCEPT-ENCODING ,cookie', want: 'origin,ACCEPT-ENCODING ,cookie' },
    { why: 'a name that only starts like it does not count', vary: 'Accept-Encoding-X', want: 'Accept-Encoding-X, accept-encoding' },
    { why: '* stays *', vary: '*', want: '*' },
    { why: '* among names already varies on everything', vary: 'Origin, *', want: 'Origin, *' },
  ])('$why', ({ vary, want }) => {
    expect(varyWithAcceptEncoding(vary)).toBe(want);
  });
});
