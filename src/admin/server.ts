// The admin listener: liveness, readiness, JSON views, Prometheus metrics, the dashboard, and
// drain/undrain by hand. Separate from the proxy listener and bound to loopback by default, so
// it is never exposed by accident; write endpoints need `admin.token` when one is set.

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { routesView, statusView, type AdminSource } from './views.js';

/** What the admin listener needs beyond the read-only views. */
export interface AdminApp extends AdminSource {
  readonly metrics: Metrics;
  /** The configured admin token ('' for none). */
  adminToken(): string;
  setDrained(id: string, drained: boolean): boolean;
}

const PATHS = ['/', '/-/healthz', '/-/ready', '/api/routes', '/api/status', '/metrics', 'POST /api/endpoints/:id/drain', 'POST /api/endpoints/:id/undrain'];
const DRAIN = /^\/api\/endpoints\/([^/]+)\/(drain|undrain)$/;

export function createAdminServer({ app, log }: { app: AdminApp; log: Logger }): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'POST') {
      const m = DRAIN.exec(path);
      if (!m) return send(res, 404, { error: 'not found', paths: PATHS });
      if (!authorized(req, app.adminToken())) {
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
      if (!app.setDrained(id, drained)) return send(res, 404, { error: `no route knows an endpoint with id "${id}"` });
      return send(res, 200, { id, draining: drained });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    switch (path) {
      case '/':
        return html(res, DASHBOARD_HTML);
      case '/-/healthz':
        return text(res, 200, 'ok\n');
      case '/-/ready':
        return app.ready ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n');
      case '/api/routes':
        return send(res, 200, routesView(app.table, app.now(), { drained: () => app.drained(), traffic: (r, st, now) => app.metrics.traffic(r, st, now) }));
      case '/api/status':
        return send(res, 200, statusView(app));
      case '/metrics':
        app.metrics.registry.metrics().then(
          (body) => {
            res.writeHead(200, { 'content-type': app.metrics.registry.contentType, 'cache-control': 'no-store' });
            res.end(body);
          },
          (err: Error) => send(res, 500, { error: err.message }),
        );
        return;
      default:
        log.debug({ url: req.url }, 'admin: not found');
        return send(res, 404, { error: 'not found', paths: PATHS });
    }
  });
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

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store' });
  res.end(json);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

