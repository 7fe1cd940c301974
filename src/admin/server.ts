// The admin listener: liveness, readiness, JSON views, Prometheus metrics, the dashboard, and
// drain/undrain by hand. Separate from the proxy listener and bound to loopback by default, so
// it is never exposed by accident (config-rules.ts refuses another address without a token);
// write endpoints need `admin.token` when one is set.
//
// A write that carries an `Origin` other than the admin's own is refused before anything else,
// token or not: browsers send Origin on every cross-site POST, so this is what keeps a web page
// the operator happens to open from draining instances through their browser (CSRF), the
// loopback-only, token-less default included. Clients that are not browsers (curl, fairway
// status) send no Origin, and the dashboard's own requests carry the admin's origin.

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { messageOf, statusOf } from '../core/errors.js';
import type { Metrics } from './metrics.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { explainRequest, parseExplainQuery, type ExplainReport, type ExplainRequest } from './explain.js';
import { routesView, statusView, type AdminSource, type RouteView } from './views.js';

/**
 * Where the admin listener gets its answers: from this process (adminBackend) or, in a
 * cluster, from the workers through the primary (src/cluster/primary.ts).
 */
export interface AdminBackend {
  ready(): boolean;
  routes(): Promise<RouteView[]>;
  status(): Promise<Record<string, unknown>>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The configured admin token ('' for none). */
  adminToken(): string;
  /** False when no route knows the id. */
  setDrained(id: string, drained: boolean): Promise<boolean>;
  /** What the proxy would do with this request now (explain.ts): one real pick, no token taken. */
  explain(request: ExplainRequest): Promise<ExplainReport>;
}

/** What a single Fairway process offers the admin listener. */
export interface AdminApp extends AdminSource {
  readonly metrics: Metrics;
  adminToken(): string;
  setDrained(id: string, drained: boolean): boolean;
}

export function adminBackend(app: AdminApp): AdminBackend {
  return {
    ready: () => app.ready,
    routes: async () => routesView(app.table, app.now(), { drained: () => app.drained(), traffic: (r, st, now) => app.metrics.traffic(r, st, now) }),
    status: async () => statusView(app),
    metrics: async () => ({ contentType: app.metrics.registry.contentType, body: await app.metrics.registry.metrics() }),
    adminToken: () => app.adminToken(),
    setDrained: async (id, drained) => app.setDrained(id, drained),
    explain: async (request) => explainRequest(app.table, request, app.now()),
  };
}

const PATHS = ['/', '/-/healthz', '/-/ready', '/api/routes', '/api/status', '/api/explain', '/metrics', 'POST /api/endpoints/:id/drain', 'POST /api/endpoints/:id/undrain'];
const DRAIN = /^\/api\/endpoints\/([^/]+)\/(drain|undrain)$/;

export function createAdminServer({ backend, log }: { backend: AdminBackend; log: Logger }): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    handle(backend, log, req, res).catch((err: Error) => {
      log.error({ err: err.message, url: req.url }, 'admin request failed');
      if (!res.headersSent) send(res, 500, { error: err.message });
      else res.destroy();
    });
  });
}

async function handle(backend: AdminBackend, log: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  const write = req.method !== 'GET' && req.method !== 'HEAD';
  if (write && crossOrigin(req)) {
    log.info({ method: req.method, url: req.url, origin: req.headers.origin, host: req.headers.host, remote: req.socket.remoteAddress }, 'admin: cross-origin write refused');
    return send(res, statusOf('forbidden'), { error: `${messageOf('forbidden')}: a write from another origin` }, { 'x-fairway-error': 'forbidden' });
  }
  if (req.method === 'POST') {
    const m = DRAIN.exec(path);
    if (!m) return send(res, 404, { error: 'not found', paths: PATHS });
    if (!authorized(req, backend.adminToken())) {
      log.warn({ url: req.url, remote: req.socket.remoteAddress }, 'admin: unauthorized write');
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, { error: 'admin.token is set: send Authorization: Bearer <token>' });
    }
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return send(res, 400, { error: 'malformed endpoint id in the path' });
    }
    const drained = m[2] === 'drain';
    if (!(await backend.setDrained(id, drained))) return send(res, 404, { error: `no route knows an endpoint with id "${id}"` });
    return send(res, 200, { id, draining: drained });
  }
  if (write) return send(res, 405, { error: 'method not allowed' });
  switch (path) {
    case '/':
      return html(res, DASHBOARD_HTML);
    case '/-/healthz':
      return text(res, 200, 'ok\n');
    case '/-/ready':
      return backend.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n');
    case '/api/routes':
      return send(res, 200, await backend.routes());
    case '/api/status':
      return send(res, 200, await backend.status());
    case '/api/explain': {
      const query = parseExplainQuery(new URL(req.url ?? '/', 'http://admin').searchParams);
      if (!query.ok) return send(res, 400, { error: query.error });
      return send(res, 200, await backend.explain(query.request));
    }
    case '/metrics': {
      const { contentType, body } = await backend.metrics();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    default:
      log.debug({ url: req.url }, 'admin: not found');
      return send(res, 404, { error: 'not found', paths: PATHS });
  }
}

/**
 * Whether the request names an origin other than the admin's own, `http://` + its Host (the
 * listener is plain HTTP). `Origin: null` (sandboxed frames, file: pages) is another origin too.
 */
function crossOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  const host = req.headers.host;
  return host === undefined || origin.toLowerCase() !== `http://${host.toLowerCase()}`;
}

function authorized(req: IncomingMessage, token: string): boolean {
  if (token === '') return true;
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

function html(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body, null, 2);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store' });
  res.end(json);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

