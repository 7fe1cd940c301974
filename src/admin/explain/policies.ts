// What a route's traffic policy would do to the request, step by step: allow, deny, rateLimit,
// maxBodySize and redirect in policy-gate.ts's order (the first refusal or redirect answers the
// request), then what the forwarder would change on the way (rewrite, header rules, compression).
// The rate limiter is peeked, never charged: explaining a request takes no token.

import type { IncomingHttpHeaders } from 'node:http';
import { CidrSet, type Cidr } from '../../core/cidr.js';
import type { RouteConfig } from '../../core/config.js';
import type { FairwayErrorCode } from '../../core/errors.js';
import { chooseEncoding } from '../../core/policy/compression.js';
import { rateKeyOf } from '../../core/policy/guard.js';
import type { HeaderRules } from '../../core/policy/header-rules.js';
import type { RateLimiter } from '../../core/policy/rate-limit.js';
import { expandTemplate } from '../../core/policy/redirect.js';
import { formatSize } from '../../core/policy/size.js';
import type { Route } from '../../core/route-table.js';
import { pathOnly, seconds } from './phrases.js';
import type { ExplainRequest, Target } from './question.js';

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

function cidrs(list: readonly Cidr[]): string {
  return `[${list.map((c) => (c.prefix === (c.family === 'ipv4' ? 32 : 128) ? c.address : `${c.address}/${c.prefix}`)).join(', ')}]`;
}

/** allow, deny, rateLimit, maxBodySize, redirect: what policy-gate.ts decides, without taking a token. */
export function gateSteps(route: Route, req: ExplainRequest, t: Target, headers: IncomingHttpHeaders, now: number): PolicyStep[] {
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
export function shapeSteps(rc: RouteConfig, req: ExplainRequest, t: Target, headers: IncomingHttpHeaders, toPath: string, toHost: string | null): PolicyStep[] {
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
