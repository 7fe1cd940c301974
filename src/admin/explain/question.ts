// The question "explain this request" answers, and how it is read: the query of GET /api/explain
// (what `fairway explain` and the dashboard send) checked parameter by parameter, the target
// split into authority, host and normalised path as admit.ts splits it, and the headers object
// built as Node's http module builds it. Every refusal names the parameter that is wrong.

import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { absoluteTarget, bareHost, normalizePath } from '../../core/request-target.js';

/** The question: a request as a client would send it. Plain data, so it crosses IPC as it is. */
export interface ExplainRequest {
  readonly method: string;
  /** `http://host/path?q` (absolute-form), or `/path?q` with a host header. */
  readonly url: string;
  /** Header lines in order, names lower-cased. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The client address to assume, as the proxy sees it after server.trustedProxies. */
  readonly client: string;
  /** False when `client` is the default, DEFAULT_CLIENT. */
  readonly clientGiven: boolean;
}

export const DEFAULT_CLIENT = '127.0.0.1';
const PARAMS = new Set(['url', 'method', 'header', 'client']);
// RFC 9110 token (method and header names); a field value: no controls, Latin-1 at most.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const VISIBLE = /^[\x21-\x7e]*$/;
const OWS = /^[ \t]+|[ \t]+$/g;

/** The question in /api/explain's query, or a message naming the parameter that is wrong. */
export function parseExplainQuery(params: URLSearchParams): { ok: true; request: ExplainRequest } | { ok: false; error: string } {
  const bad = (error: string) => ({ ok: false as const, error });
  for (const key of params.keys()) if (!PARAMS.has(key)) return bad(`unknown parameter "${key}"; expected url, method, header (repeatable) and client`);
  for (const key of ['url', 'method', 'client']) if (params.getAll(key).length > 1) return bad(`${key}: give it once`);
  const url = params.get('url');
  if (url === null || url === '') return bad('url: required, e.g. url=http%3A%2F%2Fexample.com%2Fapi (percent-encoded)');
  const method = params.get('method') ?? 'GET';
  if (!TOKEN.test(method)) return bad(`method: expected an HTTP method such as GET or POST, not "${method}"`);
  const headers: Array<readonly [string, string]> = [];
  for (const line of params.getAll('header')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, Math.max(colon, 0));
    if (!TOKEN.test(name)) return bad(`header: expected name:value such as x-canary:1, not "${line}"`);
    const value = line.slice(colon + 1).replace(OWS, '');
    if (!FIELD_VALUE.test(value)) return bad(`header ${name}: the value holds a control character or one outside Latin-1`);
    headers.push([name.toLowerCase(), value]);
  }
  const client = params.get('client');
  if (client !== null && isIP(client) === 0) return bad(`client: expected an IP address such as 10.0.0.7, not "${client}"`);
  const request: ExplainRequest = { method, url, headers, client: client ?? DEFAULT_CLIENT, clientGiven: client !== null };
  const target = targetOf(request);
  return typeof target === 'string' ? bad(target) : { ok: true, request };
}


export interface Target {
  /** An absolute-form target's authority: it wins over Host, for routing and upstream. */
  authority: string | undefined;
  /** The host as the client sends it, port and all. */
  sentHost: string;
  /** The host to route by (bareHost). */
  host: string;
  /** Path and query as sent, origin-form. */
  sentPath: string;
  /** Normalised (admit.ts); undefined when it climbs above /. */
  path: string | undefined;
}

export function targetOf(req: ExplainRequest): Target | string {
  // A client never sends a fragment.
  const url = req.url.split('#')[0]!;
  if (!VISIBLE.test(url)) return 'url: it holds a blank, a control or a non-ASCII character; percent-encode it';
  let authority: string | undefined;
  let sentPath = url;
  if (!url.startsWith('/')) {
    const abs = absoluteTarget(url);
    if (abs === 'bad_host') return `url: the host of "${url}" is not a valid host`;
    if (typeof abs !== 'object') return `url: expected http://host/path, or a path starting with / and a host header; not "${url}"`;
    authority = abs.authority;
    sentPath = abs.path;
  }
  const sentHost = authority ?? req.headers.find(([n]) => n === 'host')?.[1];
  if (sentHost === undefined) return 'url: a path alone needs a host header (header=host:NAME); or give the whole URL';
  const host = bareHost(sentHost);
  if (host === undefined) return `header host: "${sentHost}" is not a valid host`;
  return { authority, sentHost, host, sentPath, path: normalizePath(sentPath) };
}

// Node's http module keeps the first of these when a request repeats them; set-cookie becomes a
// list, cookie joins with '; ', any other joins with ', ' (IncomingMessage#_addHeaderLine).
const FIRST_WINS = new Set(['content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization', 'proxy-authorization',
  'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires']);

/** The headers object the proxy would route by, built as Node builds it. */
export function headersOf(lines: ExplainRequest['headers']): IncomingHttpHeaders {
  // No prototype, as Node's own headers object: a header named __proto__ is just a header.
  const h = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of lines) {
    const had = h[name];
    if (name === 'set-cookie') h[name] = [...((had as string[] | undefined) ?? []), value];
    else if (had === undefined) h[name] = value;
    else if (!FIRST_WINS.has(name)) h[name] = `${had as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return h;
}
