// The decisions behind a route's `compress: true`: whether an upstream answer is compressed, and
// with which coding the client accepts. The compressing itself (node:zlib) is the proxy's; these
// are pure functions of headers, so every rule below is a table test.
//
// Accept-Encoding (RFC 9110 §12.5.3): codings and `*` are compared case-insensitively, `x-gzip`
// counts as gzip (§8.4.1.3), a weight is q=0..1 with at most three decimals, and q=0 forbids.
// A coding not listed takes the weight of `*`, or is not acceptable. br is preferred over gzip
// when the client weighs them equally (it is smaller at the same cost to decode). The client
// may say it prefers no coding: when `identity` (or `*` standing for it) weighs more than the
// best coding, nothing is compressed. Where the RFC leaves a choice, the cautious one is taken:
// - an absent header gives no compression (the RFC would allow any coding, but old clients and
//   tools that send none may not decode one), and so does an empty one (the RFC: "no coding");
// - an element with a malformed weight (`gzip;q=high`, `q=2`) is ignored, as if not sent;
// - a coding listed twice takes its lowest weight, so a q=0 anywhere forbids it.
//
// Compressible media types: text and the text-like formats (JSON, JavaScript, XML, YAML, any
// +json or +xml type such as image/svg+xml), uncompressed binaries that shrink well
// (application/wasm by half or more, which is why CDNs compress it; TrueType/OpenType fonts, BMP
// and ICO images), and nothing else: JPEG, PNG, WebP, video, audio, WOFF/WOFF2 and archives are
// compressed already, and application/octet-stream could be anything. text/event-stream is left
// out on purpose: a server-sent event must reach the client when it is written, and a
// compressor holds bytes back until its block fills; a stream that trickles would stall.
// application/x-ndjson, often streamed the same way, is not on the list for the same reason.
//
// Cost per answer: a few string comparisons; per accepting request, one split of the header.

export type Encoding = 'br' | 'gzip';

export interface UpstreamAnswer {
  status: number;
  method: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** undefined: not given (chunked). */
  contentLength: number | undefined;
  cacheControl: string | undefined;
  contentRange?: string | undefined;
}

/**
 * Below this many bytes (a known Content-Length), an answer is sent as it is: it fits in one TCP
 * segment (MSS ~1460) either way, so compressing saves no round trip, and gzip's 18 bytes of
 * framing and a fresh compressor per answer cost more than the few bytes saved. The same
 * threshold as Express's compression middleware.
 */
export const MIN_COMPRESS_SIZE = 1024;

const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** The coding to answer with for this Accept-Encoding, or undefined for none. */
export function chooseEncoding(acceptEncoding: string | readonly string[] | undefined): Encoding | undefined {
  if (acceptEncoding === undefined) return undefined;
  const value = typeof acceptEncoding === 'string' ? acceptEncoding : acceptEncoding.join(',');
  // -1: not listed.
  let br = -1;
  let gzip = -1;
  let star = -1;
  let identity = -1;
  for (const element of value.split(',')) {
    const semi = element.indexOf(';');
    const coding = (semi === -1 ? element : element.slice(0, semi)).trim().toLowerCase();
    if (coding === '') continue;
    const q = semi === -1 ? 1 : weight(element.slice(semi + 1));
    if (q === undefined) continue;
    if (coding === 'br') br = lowest(br, q);
    else if (coding === 'gzip' || coding === 'x-gzip') gzip = lowest(gzip, q);
    else if (coding === '*') star = lowest(star, q);
    else if (coding === 'identity') identity = lowest(identity, q);
  }
  const brQ = br !== -1 ? br : Math.max(star, 0);
  const gzipQ = gzip !== -1 ? gzip : Math.max(star, 0);
  const best = Math.max(brQ, gzipQ);
  const identityQ = identity !== -1 ? identity : star;
  if (best === 0 || identityQ > best) return undefined;
  return brQ >= gzipQ ? 'br' : 'gzip';
}

function lowest(prev: number, q: number): number {
  return prev === -1 ? q : Math.min(prev, q);
}

/** The q of an element's parameters (after its first ';'); 1 without one; undefined if malformed. */
function weight(params: string): number | undefined {
  let q = 1;
  for (const param of params.split(';')) {
    const eq = param.indexOf('=');
    const name = (eq === -1 ? param : param.slice(0, eq)).trim();
    if (name !== 'q' && name !== 'Q') continue;
    if (eq === -1) return undefined;
    const text = param.slice(eq + 1).trim();
    if (!QVALUE.test(text)) return undefined;
    q = Number(text);
  }
  return q;
}

const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;
const COMPRESSIBLE = new Set([
  'application/json',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/xml',
  'application/yaml',
  'application/x-yaml',
  'application/graphql',
  'application/wasm',
  'application/vnd.ms-fontobject',
  'font/ttf',
  'font/otf',
  'application/x-font-ttf',
  'image/bmp',
  'image/x-icon',
  'image/vnd.microsoft.icon',
]);

/** Whether answers of this Content-Type are worth compressing (parameters ignored). */
export function compressibleType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (!MEDIA_TYPE.test(type)) return false;
  if (type.startsWith('text/')) return type !== 'text/event-stream';
  return type.endsWith('+json') || type.endsWith('+xml') || COMPRESSIBLE.has(type);
}

const NO_TRANSFORM = /(?:^|,)[ \t]*no-transform[ \t]*(?:,|$)/i;

/**
 * The coding to compress this answer with, or undefined to pass it on as it is. Never for a
 * HEAD, a status outside 2xx or one without a whole body (204, 205, 206), a Content-Range, an
 * answer the upstream has encoded already (any Content-Encoding but identity), Cache-Control
 * no-transform (RFC 9111 §5.2.2.6), a known length below `minSize`, a type not worth it, or a
 * client that accepts neither br nor gzip.
 */
export function compressionFor(
  answer: UpstreamAnswer,
  acceptEncoding: string | readonly string[] | undefined,
  minSize: number,
): Encoding | undefined {
  const { status } = answer;
  if (answer.method === 'HEAD') return undefined;
  // 205 Reset Content has no content by definition (RFC 9110 §15.3.6), like 204.
  if (status < 200 || status > 299 || status === 204 || status === 205 || status === 206) return undefined;
  if (answer.contentRange !== undefined && answer.contentRange !== '') return undefined;
  if (encoded(answer.contentEncoding)) return undefined;
  if (answer.cacheControl !== undefined && NO_TRANSFORM.test(answer.cacheControl)) return undefined;
  if (answer.contentLength !== undefined && answer.contentLength < minSize) return undefined;
  if (!compressibleType(answer.contentType)) return undefined;
  return chooseEncoding(acceptEncoding);
}

function encoded(contentEncoding: string | undefined): boolean {
  if (contentEncoding === undefined) return false;
  const coding = contentEncoding.trim().toLowerCase();
  return coding !== '' && coding !== 'identity';
}

/**
 * The Vary value once `accept-encoding` is in it: added to `vary` (undefined: absent), unless it
 * is there already (in any case) or `*` is, which varies on everything.
 */
export function varyWithAcceptEncoding(vary: string | undefined): string {
  if (vary === undefined) return 'accept-encoding';
  let names = 0;
  for (const element of vary.split(',')) {
    const name = element.trim().toLowerCase();
    if (name === '') continue;
    if (name === '*' || name === 'accept-encoding') return vary;
    names++;
  }
  return names === 0 ? 'accept-encoding' : `${vary.replace(TRAILING, '')}, accept-encoding`;
}

const TRAILING = /[ \t,]+$/;
