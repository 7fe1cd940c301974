// `fairway status`: the admin API's routes and status as a table a person can read.

import type { RouteView } from '../admin/views.js';
import { formatHostPort } from '../core/address.js';

interface StatusView {
  version: string;
  uptimeSeconds: number;
  ready: boolean;
  consul: string;
  configFile: string;
  lastReload: { ok: boolean; at: string; problems: string[] } | null;
  /** Absent from a Fairway older than TLS listeners. */
  listeners?: Array<{
    address: string;
    tls: boolean;
    redirectToHttps: boolean;
    /** Absent from a Fairway older than HTTP/2. */
    http2?: boolean;
    handshakeErrors: number;
    certificates: Array<{ cert: string; names: string[]; notAfter: string; daysLeft: number; lastReloadError: string | null }>;
  }>;
}

export function renderStatus(status: StatusView, routes: RouteView[]): string {
  const lines: string[] = [];
  const reload = status.lastReload ? (status.lastReload.ok ? `ok at ${status.lastReload.at}` : `REJECTED at ${status.lastReload.at}`) : 'none';
  lines.push(
    `fairway ${status.version}  up ${status.uptimeSeconds}s  ${status.ready ? 'ready' : 'NOT READY'}  consul: ${status.consul}`,
    `config ${status.configFile}  last reload: ${reload}`,
  );
  if (status.lastReload && !status.lastReload.ok) for (const p of status.lastReload.problems) lines.push(`  ${p}`);
  lines.push(...listenerLines(status.listeners ?? []));
  lines.push('');
  const rows: string[][] = [['ROUTE', 'STRATEGY', 'ENDPOINT', 'ID', 'STATUS', 'WEIGHT', 'INFLIGHT', 'REQUESTS', 'FAILURES', 'RPS', 'P50', 'P99', 'EWMA']];
  for (const r of routes) {
    const base = r.service ? `${r.name} (${r.service}${r.tags.length ? ` ${r.tags.join(',')}` : ''})` : r.name;
    const name = r.panic ? `${base} PANIC` : base;
    if (r.endpoints.length === 0) rows.push([name, r.strategy, '-', '-', 'no instances', '', '', '', '', '', '', '', '']);
    for (const e of r.endpoints)
      rows.push([
        name,
        r.strategy,
        formatHostPort(e.address, e.port),
        e.id,
        e.draining ? 'draining' : e.ejected ? 'ejected' : e.active ? e.status : `${e.status} (idle)`,
        String(e.weight),
        String(e.inflight),
        String(e.requests),
        String(e.failures),
        e.rps === undefined ? '-' : String(e.rps),
        ms(e.p50Ms),
        ms(e.p99Ms),
        ms(e.ewmaMs),
      ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) lines.push(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}

/** One line per listener, one more per certificate: names, expiry, days left, a failed reload. */
function listenerLines(listeners: NonNullable<StatusView['listeners']>): string[] {
  // `listen:` alone (one plain listener) says nothing the config line does not.
  const only = listeners[0];
  if (listeners.length === 1 && only !== undefined && !only.tls && !only.redirectToHttps && only.http2 !== true) return [];
  const out: string[] = [];
  for (const l of listeners) {
    const h2 = l.http2 === true ? (l.tls ? ' +h2' : ' +h2c') : '';
    const kind = l.tls ? `https${h2}  handshake errors: ${l.handshakeErrors}` : l.redirectToHttps ? `http${h2}  redirects to https` : `http${h2}`;
    out.push(`listener ${l.address}  ${kind}`);
    for (const c of l.certificates) {
      const days = c.daysLeft < 0 ? `EXPIRED ${-c.daysLeft} days ago` : `${c.daysLeft} days left`;
      out.push(`  ${c.names.join(', ') || '(no DNS names)'}  expires ${c.notAfter}  ${days}  ${c.cert}`);
      if (c.lastReloadError !== null) out.push(`    new files NOT in use: ${c.lastReloadError}`);
    }
  }
  return out;
}

function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : `${v}ms`;
}
