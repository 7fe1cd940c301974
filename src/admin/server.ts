// The admin listener: liveness, readiness and JSON views of routes and status. Separate from
// the proxy listener and bound to loopback by default, so it is never exposed by accident.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { withTags } from '../core/instance.js';
import { isEjected } from '../core/outlier.js';
import type { RouteTable } from '../core/route-table.js';
import { statsKey, type UpstreamStats } from '../core/upstream.js';
import type { WatchState } from '../discovery/consul-watch.js';
import { VERSION } from '../version.js';

/** What the admin API reads from the running proxy; nothing else reaches it. */
export interface AdminSource {
  readonly ready: boolean;
  readonly table: RouteTable;
  readonly configPath: string;
  readonly startedAt: number;
  readonly lastReload: { ok: boolean; at: string; problems: string[] } | undefined;
  readonly consulState: string;
  readonly discovery: { watchStates(): WatchState[]; client: { address: string } } | undefined;
  /** The clock ejections are measured on. */
  now(): number;
}

export interface EndpointView {
  id: string;
  address: string;
  port: number;
  weight: number;
  status: 'passing' | 'warning' | 'critical';
  /** Whether the route sends it traffic now. */
  active: boolean;
  inflight: number;
  requests: number;
  failures: number;
  ewmaMs: number | null;
  ejected: boolean;
}

export interface RouteView {
  name: string;
  service: string | null;
  tags: readonly string[];
  strategy: string;
  /** Too few healthy instances: routing to all known ones. */
  panic: boolean;
  match: { host: string | null; pathPrefix: string; headers: Record<string, string> };
  endpoints: EndpointView[];
}

export function routesView(table: RouteTable, now: number): RouteView[] {
  return table.routes.map((route) => {
    const rc = route.config;
    const active = new Set(route.upstreams.map((u) => u.stats));
    const seen = new Set<UpstreamStats>();
    const endpoints: EndpointView[] = [];
    const add = (id: string, host: string, port: number, weight: number, status: EndpointView['status'], s: UpstreamStats | undefined) => {
      if (s && seen.has(s)) return;
      if (s) seen.add(s);
      const on = s !== undefined && active.has(s);
      endpoints.push({
        id,
        address: host,
        port,
        weight: on ? weight : 0,
        status,
        active: on,
        inflight: s?.inflight ?? 0,
        requests: s?.requests ?? 0,
        failures: s?.failures ?? 0,
        ewmaMs: s && s.ewmaAt !== 0 ? round(s.ewmaMs) : null,
        ejected: s !== undefined && isEjected(s, now),
      });
    };
    for (const u of route.upstreams) add(u.id, u.host, u.port, u.weight, u.status, u.stats);
    for (const u of route.candidates) add(u.id, u.host, u.port, u.weight, u.status, u.stats);
    // Instances Consul knows but this route does not use now (critical, or warning outside
    // `weighted`), so an operator sees why an instance gets no traffic.
    if (rc.source.kind === 'consul' && route.snapshot)
      for (const i of withTags(route.snapshot.instances, rc.source.tags))
        add(i.id, i.host, i.port, 0, i.status, table.stats.get(statsKey(i.id, i.host, i.port)));
    return {
      name: rc.name,
      service: rc.source.kind === 'consul' ? rc.source.service : null,
      tags: rc.source.kind === 'consul' ? rc.source.tags : [],
      strategy: rc.strategy,
      panic: route.panic,
      match: {
        host: rc.match.host ?? (rc.match.hostSuffix ? `*${rc.match.hostSuffix}` : null),
        pathPrefix: rc.match.pathPrefix,
        headers: Object.fromEntries(rc.match.headers),
      },
      endpoints,
    };
  });
}

export function statusView(app: AdminSource): Record<string, unknown> {
  const now = Date.now();
  return {
    version: VERSION,
    node: process.version,
    pid: process.pid,
    uptimeSeconds: Math.round((now - app.startedAt) / 1000),
    ready: app.ready,
    configFile: app.configPath,
    lastReload: app.lastReload ?? null,
    consul: app.consulState,
    consulAddress: app.discovery?.client.address ?? null,
    watches: (app.discovery?.watchStates() ?? []).map((w) => ({
      key: w.key,
      synced: w.synced,
      failing: w.failing,
      lastError: w.lastError ?? null,
      lastErrorStatus: w.lastErrorStatus ?? null,
      lastSuccessAgoMs: w.lastSuccessAt === undefined ? null : now - w.lastSuccessAt,
      index: w.index,
      updates: w.updates,
      errors: w.errors,
    })),
    routes: app.table.routes.length,
    process: processView(),
  };
}

export function createAdminServer({ app, log }: { app: AdminSource; log: Logger }): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    switch (path) {
      case '/-/healthz':
        return text(res, 200, 'ok\n');
      case '/-/ready':
        return app.ready ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n');
      case '/api/routes':
        return send(res, 200, routesView(app.table, app.now()));
      case '/api/status':
        return send(res, 200, statusView(app));
      default:
        log.debug({ url: req.url }, 'admin: not found');
        return send(res, 404, { error: 'not found', paths: ['/-/healthz', '/-/ready', '/api/routes', '/api/status'] });
    }
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store' });
  res.end(json);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** Memory and handle counts, so leaks show from outside (the reliability tests read these). */
function processView(): Record<string, unknown> {
  const m = process.memoryUsage();
  const resources = process.getActiveResourcesInfo();
  const byType: Record<string, number> = {};
  for (const r of resources) byType[r] = (byType[r] ?? 0) + 1;
  return {
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    externalBytes: m.external,
    activeHandles: resources.length,
    activeResources: byType,
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
