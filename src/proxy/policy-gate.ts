// The request side of a route's traffic policy that can answer by itself, in SPEC's order:
// allow/deny (403), rateLimit (429), maxBodySize by Content-Length (413), redirect. What
// changes a request on its way (rewrite, header rules) is applied by the forwarder, and a
// chunked body over maxBodySize is cut there while it streams (body-limit.ts). WebSocket
// upgrades pass the same gate (upgrade.ts), so no policy can be stepped around by upgrading.
//
// Each answer carries its x-fairway-error code (a redirect is no error: none), one log line at
// info, and reaches the observers with the policy that acted, for the access log and metrics.

import type { Logger } from 'pino';
import type { FairwayErrorCode } from '../core/errors.js';
import { admitClient, rateKeyOf } from '../core/policy/guard.js';
import { rateLimitHeaders } from '../core/policy/rate-limit.js';
import { expandTemplate } from '../core/policy/redirect.js';
import type { Route } from '../core/route-table.js';
import type { Forwarder } from './forwarder.js';
import type { ProxyRequest, ProxyResponse } from './messages.js';
import { localAnswer, type RequestObserver } from './observer.js';
import { CLOSE, sendError, sendRedirect } from './respond.js';

export interface PolicyGate {
  forwarder: Forwarder;
  log: Logger;
  observer: RequestObserver;
}

/** An answer a policy gives in the upstream's place. */
export type PolicyAnswer =
  | { readonly policy: string; readonly code: FairwayErrorCode; readonly detail: string | undefined; readonly headers: readonly string[] }
  | { readonly policy: 'redirect'; readonly code: undefined; readonly status: number; readonly location: string };

/** What the route's policy answers this request with, or undefined when it goes on upstream. */
export function policyAnswer(gate: PolicyGate, route: Route, req: ProxyRequest, authority: string | undefined): PolicyAnswer | undefined {
  const policy = route.config.policy!;
  const guard = route.guard;
  if (guard !== undefined) {
    const client = gate.forwarder.clientAddress(req);
    const verdict = admitClient(guard, client, rateKeyOf(guard.limiter, client, req.headers), gate.forwarder.clock.tick());
    if (verdict?.code === 'forbidden') {
      gate.log.info({ route: route.config.name, client, url: req.url }, 'client refused by allow/deny');
      return { policy: 'allow/deny', code: 'forbidden', detail: verdict.detail, headers: [] };
    }
    if (verdict?.code === 'rate_limited') {
      gate.log.info({ route: route.config.name, client, url: req.url }, 'rate limited');
      return { policy: 'rateLimit', code: 'rate_limited', detail: undefined, headers: rateLimitHeaders(verdict.limiter, verdict.decision) };
    }
  }
  if (policy.maxBodySize !== undefined) {
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > policy.maxBodySize) {
      gate.log.info({ route: route.config.name, url: req.url, length: Number(length), max: policy.maxBodySize }, 'request body too large');
      return { policy: 'maxBodySize', code: 'body_too_large', detail: `Content-Length ${length} is over this route's ${policy.maxBodySize} bytes`, headers: CLOSE };
    }
  }
  if (policy.redirect !== undefined) {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const location = expandTemplate(policy.redirect.to, {
      scheme: req.socket.encrypted === true ? 'https' : 'http',
      host: authority ?? headerText(req.headers.host),
      path: q === -1 ? url : url.slice(0, q),
      query: q === -1 ? '' : url.slice(q),
    });
    return { policy: 'redirect', code: undefined, status: policy.redirect.status, location };
  }
  return undefined;
}

/** True when the request goes on to the forwarder; false when the policy answered it. */
export function passesPolicy(gate: PolicyGate, route: Route, req: ProxyRequest, res: ProxyResponse, authority: string | undefined): boolean {
  const answer = policyAnswer(gate, route, req, authority);
  if (answer === undefined) return true;
  if (answer.code === undefined) {
    sendRedirect(res, answer.status, answer.location);
    gate.observer.onExchange(localAnswer(req, req.socket, undefined, { route, policy: answer.policy, status: answer.status }));
  } else {
    sendError(res, answer.code, answer.detail, answer.headers);
    gate.observer.onExchange(localAnswer(req, req.socket, answer.code, { route, policy: answer.policy }));
  }
  return false;
}

function headerText(v: string | string[] | undefined): string {
  return v === undefined ? '' : Array.isArray(v) ? (v[0] ?? '') : v;
}
