// "Explain this request" (GET /api/explain, `fairway explain`, the dashboard's box): which route
// a request would take and why each route before it did not, what that route's policies would
// do to it, and which instance the picker would choose now. A pure function of the route table,
// a request description and the time.
//
// Nothing is sent upstream and no rate-limit token is spent: the limiter is peeked. One thing
// is not free of effects, on purpose: the route's picker is asked once, exactly as one request
// would ask it, so the answer names the instance a request arriving now would get; like one
// request, that moves a round-robin or weighted rotation on by one. A request a policy answers
// (403, 429, 413, a redirect) never reaches the picker, and neither does its explanation.
//
// The proxy's own functions decide wherever they can (the table's matcher, upstreamPath,
// expandTemplate, chooseEncoding, rateKeyOf, affinityHash, the guard's CIDR sets), so an
// explanation cannot drift far from what the proxy does. What is restated here, the reasons a
// route did not match and the order of the gate, has its original in route-index.ts
// (hostAndHeadersMatch) and proxy/policy-gate.ts; a disagreement with the matcher is reported
// in the answer rather than hidden.
//
// Longer than our usual file: parsing the question, the route, the policies and the pick are
// one story told in order, and each step's sentence sits beside the decision it describes.

import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { formatHostPort } from '../core/address.js';
import { CidrSet, type Cidr } from '../core/cidr.js';
import type { RouteConfig } from '../core/config.js';
import type { FairwayErrorCode } from '../core/errors.js';
import type { HealthStatus } from '../core/instance.js';
import { tierOf } from '../core/pickers/failover.js';
import { rampFactor } from '../core/pickers/slow-start.js';
import { chooseEncoding } from '../core/policy/compression.js';
import { rateKeyOf } from '../core/policy/guard.js';
import type { HeaderRules } from '../core/policy/header-rules.js';
import type { RateLimiter } from '../core/policy/rate-limit.js';
import { expandTemplate } from '../core/policy/redirect.js';
import { formatSize } from '../core/policy/size.js';
import { absoluteTarget, bareHost, normalizePath } from '../core/request-target.js';
import { upstreamPath, type Route, type RouteTable } from '../core/route-table.js';
import type { Upstream, UpstreamStats } from '../core/upstream.js';
import { affinityHash, cookieValue } from '../proxy/affinity.js';
import type { ProxyRequest } from '../proxy/messages.js';

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

export type Effect = 'passes' | 'refuses' | 'redirects' | 'changes' | 'may-change' | 'no-effect' | 'not-reached';

export interface PolicyStep {
  policy: 'allow' | 'deny' | 'rateLimit' | 'maxBodySize' | 'redirect' | 'rewrite' | 'requestHeaders' | 'responseHeaders' | 'compress';
  effect: Effect;
  detail: string;
  /** Refusals and redirects: the answer Fairway gives. */
  status?: number;
  code?: FairwayErrorCode;
  location?: string;
  /** rateLimit: the bucket as peeked, before this request. */
  tokens?: { key: string; left: number; of: number; retryAfterMs: number; fullInMs: number };
}

export interface CandidateView {
  id: string;
  address: string;
  weight: number;
  status: HealthStatus;
  /** active: may be picked; the rest say why not (in panic, ejected and idle ones may be). */
  state: 'active' | 'ejected' | 'drained' | 'idle';
  inRotation: boolean;
  chosen: boolean;
  inflight: number;
  ewmaMs: number | null;
  /** failover: the instance's tier name ('' when in none). */
  tier?: string;
  /** Slow start: the fraction of its share it gets now, while ramping. */
  slowStartShare?: number;
  note: string;
}

export interface UpstreamReport {
  strategy: string;
  how: string;
  panic: boolean;
  /** Whether the picker was asked (not when a policy answers first). */
  picked: boolean;
  choice: { id: string; address: string } | null;
  candidates: CandidateView[];
}

export interface Outcome {
  /** null: proxied, the upstream answers. */
  status: number | null;
  code: FairwayErrorCode | null;
  by: 'edge' | 'routing' | 'policy' | 'upstream';
  detail: string;
}

export interface ExplainReport {
  request: { method: string; url: string; host: string | null; path: string; client: string; clientGiven: boolean; headers: IncomingHttpHeaders };
  route: { name: string; index: number; match: string } | null;
  /** The routes before the match (all of them when none matched), each with why it did not. */
  rejected: Array<{ route: string; index: number; reasons: string[] }>;
  policies: PolicyStep[];
  upstream: UpstreamReport | null;
  /** What the upstream would be sent, had the request gone on (null: no route). */
  pathUpstream: string | null;
  /** null: no route, or the instance's host:port when no instance was chosen. */
  hostUpstream: string | null;
  outcome: Outcome;
  text: string[];
  /** In a cluster (`workers` > 1): the worker that answered (cluster/primary.ts adds it). */
  worker?: { id: number; pid: number; workers: number };
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

interface Target {
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

function targetOf(req: ExplainRequest): Target | string {
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
function headersOf(lines: ExplainRequest['headers']): IncomingHttpHeaders {
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

/** The answer: see the file's header. `now` is the clock ejections, slow start and rate limits run on. */
export function explainRequest(table: RouteTable, req: ExplainRequest, now: number): ExplainReport {
  const text: string[] = [];
  const headers = headersOf(req.headers);
  const target = targetOf(req);
  const report: ExplainReport = {
    request: { method: req.method, url: req.url, host: null, path: '', client: req.client, clientGiven: req.clientGiven, headers },
    route: null,
    rejected: [],
    policies: [],
    upstream: null,
    pathUpstream: null,
    hostUpstream: null,
    outcome: { status: null, code: null, by: 'edge', detail: '' },
    text,
  };
  const end = (outcome: Outcome): ExplainReport => {
    report.outcome = outcome;
    const status = outcome.status === null ? '' : `${outcome.status}${outcome.code === null ? '' : ` ${outcome.code}`}`;
    text.push(`Result: ${status === '' ? outcome.detail : `${status} (${outcome.detail})`}.`);
    return report;
  };
  if (typeof target === 'string') return end({ status: 400, code: 'bad_request', by: 'edge', detail: target });
  report.request.host = target.host;
  report.request.path = target.path ?? target.sentPath;
  text.push(
    `${req.method} ${req.url} as if from client ${req.client}, ${req.clientGiven ? 'the address the proxy believes after server.trustedProxies' : 'the default: give client=IP (fairway explain --client IP) to assume another'}.`,
  );
  if (req.method === 'CONNECT') return end({ status: 405, code: 'method_not_allowed', by: 'edge', detail: 'CONNECT is refused before routing' });
  if (target.path === undefined) return end({ status: 400, code: 'bad_request', by: 'edge', detail: `the path ${target.sentPath} climbs above /` });
  if (req.headers.filter(([n]) => n === 'host').length > 1) return end({ status: 400, code: 'bad_request', by: 'edge', detail: 'more than one Host header' });
  const path = target.path;
  const bare = pathOnly(path);
  if (path !== target.sentPath) text.push(`The path ${pathOnly(target.sentPath)} is normalised to ${bare} before routing.`);
  if (target.authority !== undefined && req.headers.some(([n]) => n === 'host')) text.push(`The URL's authority ${target.authority} wins over the host header, as for any absolute-form request.`);

  // Routing: first match in file order.
  let scanned: Route | undefined;
  for (const [i, route] of table.routes.entries()) {
    const reasons = mismatches(route.config, target.host, path, headers);
    if (reasons.length === 0) {
      scanned = route;
      break;
    }
    report.rejected.push({ route: route.config.name, index: i + 1, reasons });
    text.push(`Route ${label(route, i)} did not match: ${reasons.join('; ')}.`);
  }
  const route = table.match(target.host, path, headers);
  if (route !== scanned)
    text.push(`Warning: the proxy's matcher chose ${route ? `"${route.config.name}"` : 'no route'} where this explanation found ${scanned ? `"${scanned.config.name}"` : 'none'}: the answer below follows the matcher; please report this.`);
  if (route === undefined) {
    if (table.routes.length === 0) text.push('No route is configured.');
    return end({ status: 404, code: 'no_route', by: 'routing', detail: 'no route matches' });
  }
  const index = table.routes.indexOf(route);
  const rc = route.config;
  report.route = { name: rc.name, index: index + 1, match: matchText(rc) };
  text.push(`Route ${label(route, index)} matched (${matchText(rc)}): the first match in file order wins.`);

  // The request side of the policy, in the gate's order; the first answer ends the request.
  const gate = gateSteps(route, req, target, headers, now);
  const answer = gate.find((s) => s.effect === 'refuses' || s.effect === 'redirects');
  const upstream = explainUpstream(route, req, headers, path, now, answer === undefined);
  report.upstream = upstream;
  const chosen = upstream.choice;
  report.pathUpstream = upstreamPath(rc, path);
  const rewriteHost = rc.policy?.rewrite?.host;
  report.hostUpstream = rewriteHost === undefined ? target.sentHost : rewriteHost ?? (chosen ? chosen.address : null);
  const steps = [...gate, ...shapeSteps(rc, req, target, headers, report.pathUpstream, report.hostUpstream)];
  let reached = true;
  for (const s of steps) {
    if (!reached) {
      s.effect = 'not-reached';
      s.detail += `; not reached: ${answer!.policy} answers first`;
      delete s.status;
      delete s.code;
      delete s.location;
    }
    if (s === answer) reached = false;
    report.policies.push(s);
    text.push(`${s.detail}.`);
  }
  if (rc.policy === undefined) text.push(`Route "${rc.name}" has no traffic policy.`);
  if (!reached) {
    if (answer!.effect === 'redirects') return end({ status: answer!.status!, code: null, by: 'policy', detail: `redirect to ${answer!.location}` });
    return end({ status: answer!.status!, code: answer!.code!, by: 'policy', detail: answer!.policy });
  }
  if (rc.stripPrefix && rc.match.pathPrefix !== '/') text.push(`stripPrefix: the path sent upstream is ${pathOnly(report.pathUpstream)}.`);
  text.push(...upstreamText(upstream, route));
  if (chosen === null) return end({ status: 503, code: 'no_healthy_upstream', by: 'upstream', detail: 'no instance to send it to' });
  const host = report.hostUpstream ?? chosen.address;
  return end({ status: null, code: null, by: 'upstream', detail: `proxied to ${who(chosen)} as ${req.method} ${report.pathUpstream} with Host ${host}` });
}

function label(route: Route, index: number): string {
  return `"${route.config.name}" (#${index + 1})`;
}

/** An instance by id and address, once when they are the same (static endpoints). */
function who(u: { id: string; address: string }): string {
  return u.id === u.address ? u.id : `${u.id} at ${u.address}`;
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

function hostPattern(rc: RouteConfig): string | undefined {
  return rc.match.host ?? (rc.match.hostSuffix === undefined ? undefined : `*${rc.match.hostSuffix}`);
}

function matchText(rc: RouteConfig): string {
  const m = rc.match;
  const parts = [`path prefix ${m.pathPrefix}`, hostPattern(rc) === undefined ? 'any host' : `host ${hostPattern(rc)}`];
  for (const [name, value] of m.headers) parts.push(`header ${name}: ${value}`);
  return parts.join(', ');
}

/** Why `rc` does not take the request, every reason at once (none: it does). See hostAndHeadersMatch. */
function mismatches(rc: RouteConfig, host: string, path: string, headers: IncomingHttpHeaders): string[] {
  const m = rc.match;
  const why: string[] = [];
  if (!path.startsWith(m.pathPrefix)) why.push(`path ${pathOnly(path)} does not start with ${m.pathPrefix}`);
  if (m.host !== undefined && m.host !== host) why.push(`host ${host} is not ${m.host}`);
  if (m.hostSuffix !== undefined && !host.endsWith(m.hostSuffix)) why.push(`host ${host} is not under *${m.hostSuffix}`);
  for (const [name, want] of m.headers) {
    const got = headers[name];
    if (got === undefined) why.push(`header ${name} is missing (it must be "${want}")`);
    else if (Array.isArray(got) ? !got.includes(want) : got !== want) why.push(`header ${name} is "${String(got)}", not "${want}"`);
  }
  return why;
}

function cidrs(list: readonly Cidr[]): string {
  return `[${list.map((c) => (c.prefix === (c.family === 'ipv4' ? 32 : 128) ? c.address : `${c.address}/${c.prefix}`)).join(', ')}]`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** allow, deny, rateLimit, maxBodySize, redirect: what policy-gate.ts decides, without taking a token. */
function gateSteps(route: Route, req: ExplainRequest, t: Target, headers: IncomingHttpHeaders, now: number): PolicyStep[] {
  const p = route.config.policy;
  if (p === undefined) return [];
  const steps: PolicyStep[] = [];
  const client = req.client;
  const refuse = (policy: PolicyStep['policy'], code: FairwayErrorCode, status: number, detail: string): PolicyStep => ({ policy, effect: 'refuses', status, code, detail });
  if (p.allow !== undefined) {
    const ok = (route.guard?.allow ?? new CidrSet(p.allow)).has(client);
    const list = cidrs(p.allow);
    steps.push(ok ? { policy: 'allow', effect: 'passes', detail: `allow: ${client} is in ${list}` } : refuse('allow', 'forbidden', 403, `allow: ${client} is not in ${list} → 403 forbidden`));
  }
  if (p.deny !== undefined) {
    const hit = (route.guard?.deny ?? new CidrSet(p.deny)).has(client);
    const list = cidrs(p.deny);
    steps.push(hit ? refuse('deny', 'forbidden', 403, `deny: ${client} is in ${list} → 403 forbidden`) : { policy: 'deny', effect: 'passes', detail: `deny: ${client} is not in ${list}` });
  }
  const limiter = route.guard?.limiter;
  if (p.rateLimit !== undefined && limiter !== undefined) steps.push(rateStep(limiter, client, headers, now));
  if (p.maxBodySize !== undefined) {
    const max = formatSize(p.maxBodySize);
    const length = headers['content-length'];
    if (length !== undefined && Number(length) > p.maxBodySize) steps.push(refuse('maxBodySize', 'body_too_large', 413, `maxBodySize: Content-Length ${length} is over ${max} → 413 body_too_large`));
    else if (length !== undefined) steps.push({ policy: 'maxBodySize', effect: 'passes', detail: `maxBodySize: Content-Length ${length} is within ${max}` });
    else if (headers['transfer-encoding'] !== undefined) steps.push({ policy: 'maxBodySize', effect: 'passes', detail: `maxBodySize: ${max}; the body has no Content-Length, so it is counted as it streams and cut with 413 body_too_large past ${max}` });
    else steps.push({ policy: 'maxBodySize', effect: 'passes', detail: `maxBodySize: ${max}; the request declares no body` });
  }
  if (p.redirect !== undefined) {
    const q = t.path!.indexOf('?');
    // As policy-gate.ts: an https:// URL stands for a TLS listener, and the host is the one
    // the client sent.
    const location = expandTemplate(p.redirect.to, {
      scheme: /^https:/i.test(req.url) ? 'https' : 'http',
      host: t.sentHost,
      path: q === -1 ? t.path! : t.path!.slice(0, q),
      query: q === -1 ? '' : t.path!.slice(q),
    });
    steps.push({ policy: 'redirect', effect: 'redirects', status: p.redirect.status, location, detail: `redirect: ${p.redirect.status} to ${location}; Fairway answers itself and proxies nothing` });
  }
  return steps;
}

function rateStep(limiter: RateLimiter, client: string, headers: IncomingHttpHeaders, now: number): PolicyStep {
  const { rate, burst, by } = limiter.settings;
  const key = rateKeyOf(limiter, client, headers);
  const d = limiter.peek(key, now);
  // peek answers for this request: `remaining` is what is left after it.
  const left = d.allowed ? d.remaining + 1 : 0;
  const whose =
    by.kind === 'ip' ? client : by.kind === 'route' ? 'the whole route' : key === '' ? `requests without ${by.name} (one shared bucket)` : `${by.name}: ${key}`;
  const share = limiter.share === 1 ? '' : `, of which this process enforces ${Math.round(limiter.share * 1000) / 10}%`;
  const tokens = { key, left, of: d.limit, retryAfterMs: d.retryAfterMs, fullInMs: d.resetMs };
  const base = `rate limit: ${left} of ${d.limit} tokens left for ${whose} (${rate.text}, burst ${burst}${share}; explain takes none)`;
  if (d.allowed) return { policy: 'rateLimit', effect: 'passes', tokens, detail: base };
  return { policy: 'rateLimit', effect: 'refuses', status: 429, code: 'rate_limited', tokens, detail: `${base} → 429 rate_limited, retry after ${seconds(d.retryAfterMs)}` };
}

/** rewrite, requestHeaders, responseHeaders, compress: what the forwarder would change. */
function shapeSteps(rc: RouteConfig, req: ExplainRequest, t: Target, headers: IncomingHttpHeaders, toPath: string, toHost: string | null): PolicyStep[] {
  const p = rc.policy;
  if (p === undefined) return [];
  const steps: PolicyStep[] = [];
  if (p.rewrite !== undefined) {
    const parts: string[] = [];
    if (p.rewrite.pathPrefix !== undefined) parts.push(`path ${pathOnly(t.path!)} → ${pathOnly(toPath)}`);
    if (p.rewrite.host === undefined) parts.push(`Host ${t.sentHost} kept`);
    else if (p.rewrite.host === null) parts.push(`Host → upstream (${toHost ?? "the chosen instance's host:port"})`);
    else parts.push(`Host → ${p.rewrite.host}`);
    steps.push({ policy: 'rewrite', effect: 'changes', detail: `rewrite: ${parts.join(', ')}` });
  }
  if (p.requestHeaders !== undefined) {
    steps.push({ policy: 'requestHeaders', effect: 'changes', detail: `requestHeaders: ${rulesText(p.requestHeaders, (n) => headers[n] !== undefined)}` });
  }
  if (p.responseHeaders !== undefined) {
    steps.push({ policy: 'responseHeaders', effect: 'changes', detail: `responseHeaders, on the upstream's answers: ${rulesText(p.responseHeaders, undefined)}` });
  }
  if (p.compress) {
    const accept = headers['accept-encoding'];
    const coding = chooseEncoding(accept);
    const detail =
      req.method === 'HEAD'
        ? 'compress: never for HEAD'
        : accept === undefined
          ? 'compress: none, the request sends no Accept-Encoding'
          : coding === undefined
            ? `compress: none, Accept-Encoding "${accept}" takes neither br nor gzip`
            : `compress: ${coding} when the answer is compressible (a text-like type, 1KiB or more or chunked, not encoded already, no Cache-Control no-transform)`;
    steps.push({ policy: 'compress', effect: coding === undefined || req.method === 'HEAD' ? 'no-effect' : 'may-change', detail: `${detail}; Vary gets accept-encoding either way` });
  }
  return steps;
}

function rulesText(rules: HeaderRules, present: ((name: string) => boolean) | undefined): string {
  const setNames = new Set(rules.set.map(([n]) => n));
  const parts = rules.set.map(([n, v]) => `set ${n}: ${v}${present?.(n) ? ' (replacing the client\'s)' : ''}`);
  for (const n of rules.remove) if (!setNames.has(n)) parts.push(`remove ${n}${present === undefined ? '' : present(n) ? ' (sent: removed)' : ' (not sent)'}`);
  return parts.join(', ');
}

/** The route's instances, their state, and one pick when `pick` (the request reached the picker). */
function explainUpstream(route: Route, req: ExplainRequest, headers: IncomingHttpHeaders, path: string, now: number, pick: boolean): UpstreamReport {
  const rc = route.config;
  const inRotation = new Set<UpstreamStats>(route.upstreams.map((u) => u.stats));
  const fake: ProxyRequest = { method: req.method, url: path, headers, rawHeaders: [], socket: { remoteAddress: req.client } };
  const hash = affinityHash(rc, fake);
  const choice = pick ? route.picker.pick(hash) : undefined;
  const f = rc.failover;
  let activeTier = -1;
  if (f !== undefined) {
    // As failover.ts: the best tier with a healthy instance (critical ones only in panic).
    const healthy = route.upstreams.filter((u) => u.status !== 'critical');
    activeTier = Math.min(...(healthy.length > 0 ? healthy : route.upstreams).map((u) => tierOf(u, f)));
  }
  const ramps = rc.slowStartMs > 0 && rc.strategy !== 'consistent-hash' && route.upstreams.length >= 2;
  const seen = new Set<UpstreamStats>();
  const candidates: CandidateView[] = [];
  const add = (u: Upstream, idle: boolean): void => {
    const s = u.stats;
    if (seen.has(s)) return;
    seen.add(s);
    const on = inRotation.has(s);
    const state = route.drained.has(s) ? 'drained' : route.ejected.has(s) ? 'ejected' : idle ? 'idle' : 'active';
    const notes: string[] = [];
    if (state === 'drained') notes.push('drained by hand');
    if (state === 'ejected') notes.push(`ejected after consecutive failures${s.ejectedUntil > now ? `, back in ${seconds(s.ejectedUntil - now)}` : ''}`);
    if (state === 'idle') notes.push(u.status === 'critical' ? 'critical in Consul' : 'warning in Consul: only weighted strategies send to warning instances');
    notes.push(on ? (state === 'active' ? 'in rotation' : 'in rotation anyway: panic') : 'out of rotation');
    const view: CandidateView = {
      id: u.id,
      address: formatHostPort(u.host, u.port),
      weight: u.weight,
      status: u.status,
      state,
      inRotation: on,
      chosen: choice !== undefined && choice.stats === s,
      inflight: s.inflight,
      ewmaMs: s.ewmaAt === 0 ? null : Math.round(s.ewmaMs * 100) / 100,
      note: '',
    };
    if (f !== undefined) {
      const tier = tierOf(u, f);
      view.tier = f.tiers[tier] ?? '';
      notes.push(`tier ${view.tier || '(none)'}${on ? (tier === activeTier ? ' (active)' : ' (standby)') : ''}`);
    }
    if (ramps && on && s.activeSince + rc.slowStartMs > now) {
      view.slowStartShare = Math.round(rampFactor(now - s.activeSince, rc.slowStartMs) * 100) / 100;
      notes.push(`slow start: ${Math.round(view.slowStartShare * 100)}% of its share, full in ${seconds(s.activeSince + rc.slowStartMs - now)}`);
    }
    view.note = notes.join('; ');
    candidates.push(view);
  };
  // Every instance in rotation is a candidate, or idle and in rotation because of panic.
  for (const u of route.candidates) add(u, false);
  for (const u of route.idle) add(u, true);
  return {
    strategy: rc.strategy,
    how: strategyText(route, req, headers, path, hash, activeTier),
    panic: route.panic,
    picked: pick,
    choice: choice === undefined ? null : { id: choice.id, address: formatHostPort(choice.host, choice.port) },
    candidates,
  };
}

const ROTATING = new Set(['round-robin', 'weighted']);

function strategyText(route: Route, req: ExplainRequest, headers: IncomingHttpHeaders, path: string, hash: number | undefined, activeTier: number): string {
  const rc = route.config;
  const n = route.upstreams.length;
  if (rc.strategy === 'consistent-hash') {
    const k = rc.hashKey;
    const keyText = k.kind === 'header' ? `header ${k.name}` : k.kind === 'cookie' ? `cookie ${k.name}` : k.kind === 'ip' ? `the client address (${req.client})` : `the path (${pathOnly(path)})`;
    const value = k.kind === 'header' ? headers[k.name] : k.kind === 'cookie' ? cookieValue(headers.cookie, k.name) : undefined;
    const shown = value === undefined ? '' : ` "${String(Array.isArray(value) ? value[0] : value)}"`;
    return hash === undefined
      ? `consistent-hash on ${keyText}: the request has none, so a random one of ${n}`
      : `consistent-hash on ${keyText}${shown}: the owner of the next point on the ring among ${n}; the same key gets the same instance while the instances stay the same`;
  }
  if (rc.strategy !== 'failover') return spread(rc.strategy, route.upstreams);
  const f = rc.failover!;
  const tier = activeTier === -1 || n === 0 ? 'none' : (f.tiers[activeTier] ?? '(no tier)');
  const better = activeTier > 0 ? ` (no healthy instance in ${f.tiers.slice(0, activeTier).join(', ')})` : '';
  const inTier = route.upstreams.filter((u) => tierOf(u, f) === activeTier);
  return `failover by ${f.by.kind === 'tag' ? 'tag' : `meta ${f.by.key}`} over tiers [${f.tiers.join(', ')}]: active tier ${tier}${better}; within it ${spread(f.within, inTier)}`;
}

/** How the strategies that spread over a list choose. */
function spread(strategy: string, ups: readonly Upstream[]): string {
  const n = ups.length;
  switch (strategy) {
    case 'round-robin':
      return `round-robin over ${n}: each in turn, weights ignored`;
    case 'random':
      return `random over ${n}: a uniform choice, weights ignored`;
    case 'weighted':
      return `weighted round-robin over ${n} (earliest deadline first), by weight: ${ups.map((u) => `${u.id} ${u.weight}`).join(', ')}`;
    case 'least-request':
      return `least-request over ${n}: of two drawn at random, the one with fewer requests in flight wins`;
    case 'ewma':
      return `peak-EWMA over ${n}: of two drawn at random, the lower latency × (in flight + 1) wins`;
    default:
      return `${strategy} over ${n}`;
  }
}

function upstreamText(u: UpstreamReport, route: Route): string[] {
  const rc = route.config;
  const lines = [`Strategy: ${u.how}.`];
  if (u.panic) {
    const known = route.candidates.length + route.idle.length;
    const healthy = known - route.idle.length - route.ejected.size - route.drained.size;
    lines.push(`Panic: ${healthy} of ${known} known instances healthy, below panicThreshold ${rc.panicThreshold}%: routing to every known instance but drained ones.`);
  }
  if (u.candidates.length === 0)
    lines.push(rc.source.kind === 'consul' ? `Discovery knows no instance of ${rc.source.service}${rc.source.tags.length ? ` with tags ${rc.source.tags.join(', ')}` : ''}.` : 'The route lists no endpoints.');
  for (const c of u.candidates) lines.push(`Instance ${who(c)}, weight ${c.weight}, ${c.status}: ${c.note}${c.chosen ? ' ← chosen' : ''}.`);
  const kind = rc.strategy === 'failover' ? rc.failover!.within : rc.strategy;
  if (u.choice !== null) {
    const effect = ROTATING.has(kind) ? 'this moved its rotation on by one, as a request does' : 'another request may get another instance';
    lines.push(`The picker was asked once, as one request would ask it, and chose ${who(u.choice)}; ${effect}.`);
  }
  return lines;
}
