// A route's traffic policy as the proxy applies it, in the order SPEC "Traffic policy" gives:
// allow/deny, rateLimit, maxBodySize, redirect, rewrite, requestHeaders, responseHeaders,
// compress. This file turns the validated config into that plain, frozen data; the running
// state (IP sets, token buckets) is made from it when a route table is built (guard.ts).
//
// A route without any policy has `policy: undefined`, so the hot path pays one check for it.

import { parseCidr, type Cidr } from '../cidr.js';
import type { RawRoute } from '../config-schema.js';
import { headerRules, type HeaderRules } from './header-rules.js';
import { parseRate, parseRateKey, type RateLimitSettings } from './rate-limit.js';
import { parseTemplate, type Template } from './redirect.js';
import { parseSize } from './size.js';

export interface RoutePolicy {
  readonly allow: readonly Cidr[] | undefined;
  readonly deny: readonly Cidr[] | undefined;
  readonly rateLimit: RateLimitSettings | undefined;
  /** Bytes; undefined: no limit. */
  readonly maxBodySize: number | undefined;
  readonly redirect: { readonly to: Template; readonly status: number } | undefined;
  readonly rewrite:
    | {
        /** Replaces match.pathPrefix; undefined: the path is kept (stripPrefix may still apply). */
        readonly pathPrefix: string | undefined;
        /** undefined: the client's Host; null: the instance's host:port; a string: that name. */
        readonly host: string | null | undefined;
      }
    | undefined;
  readonly requestHeaders: HeaderRules | undefined;
  readonly responseHeaders: HeaderRules | undefined;
  readonly compress: boolean;
}

/** The policy of a validated route, or undefined when it has none. */
export function policyOf(r: RawRoute): RoutePolicy | undefined {
  const cidrs = (list: readonly string[] | undefined): Cidr[] | undefined => list?.map((c) => parseCidr(c)!);
  const rate = r.rateLimit ? parseRate(r.rateLimit.rate)! : undefined;
  const policy: RoutePolicy = {
    allow: cidrs(r.allow),
    deny: cidrs(r.deny),
    rateLimit:
      r.rateLimit && rate
        ? { rate, burst: r.rateLimit.burst ?? Math.max(1, Math.ceil((rate.tokens * 1000) / rate.perMs)), by: parseRateKey(r.rateLimit.by)! }
        : undefined,
    maxBodySize: r.maxBodySize === undefined ? undefined : parseSize(r.maxBodySize)!,
    redirect: r.redirect ? { to: parseTemplate(r.redirect.to) as Template, status: r.redirect.status } : undefined,
    rewrite: r.rewrite
      ? {
          pathPrefix: r.rewrite.pathPrefix,
          host: r.rewrite.host === 'preserve' ? undefined : r.rewrite.host === 'upstream' ? null : r.rewrite.host.toLowerCase(),
        }
      : undefined,
    requestHeaders: headerRules(r.requestHeaders?.set, r.requestHeaders?.remove),
    responseHeaders: headerRules(r.responseHeaders?.set, r.responseHeaders?.remove),
    compress: r.compress,
  };
  const any = Object.entries(policy).some(([k, v]) => (k === 'compress' ? v === true : v !== undefined));
  return any ? policy : undefined;
}

/** The path sent upstream for `rewrite.pathPrefix`: the matched prefix replaced. */
export function rewritePath(matched: string, replacement: string, url: string): string {
  const rest = url.slice(matched.length);
  if (rest === '' || rest.startsWith('?')) return replacement + rest;
  // '/api' → '/v2/' on '/api/x' gives '/v2/x', not '/v2//x'; '/api/' → '/v2' on '/api/x' gives '/v2/x'.
  if (replacement.endsWith('/') && rest.startsWith('/')) return replacement + rest.slice(1);
  if (!replacement.endsWith('/') && !rest.startsWith('/') && !matched.endsWith('/')) return replacement + rest;
  if (!replacement.endsWith('/') && !rest.startsWith('/')) return `${replacement}/${rest}`;
  return replacement + rest;
}
