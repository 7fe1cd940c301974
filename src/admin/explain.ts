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
// explanation cannot drift far from what the proxy does. What the parts restate, the reasons a
// route did not match (explain/routing.ts) and the order of the gate (explain/policies.ts), has
// its original in route-index.ts (hostAndHeadersMatch) and proxy/policy-gate.ts; a disagreement
// with the matcher is reported in the answer rather than hidden.
//
// The parts, in the order the story is told: explain/question.ts (reading the question),
// explain/routing.ts (why a route matches or not), explain/policies.ts (the gate, then what the
// forwarder would change), explain/upstream.ts (the instances and the pick). This file walks
// them in order and keeps the report; each step's sentence sits in the part that decides it.

import type { IncomingHttpHeaders } from 'node:http';
import type { FairwayErrorCode } from '../core/errors.js';
import { upstreamPath, type Route, type RouteTable } from '../core/route-table.js';
import { gateSteps, shapeSteps, type PolicyStep } from './explain/policies.js';
import { pathOnly, who } from './explain/phrases.js';
import { headersOf, targetOf, type ExplainRequest } from './explain/question.js';
import { label, matchText, mismatches } from './explain/routing.js';
import { explainUpstream, upstreamText, type UpstreamReport } from './explain/upstream.js';

export { DEFAULT_CLIENT, parseExplainQuery, type ExplainRequest } from './explain/question.js';
export type { Effect, PolicyStep } from './explain/policies.js';
export type { CandidateView, UpstreamReport } from './explain/upstream.js';

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
