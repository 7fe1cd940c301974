// The live dashboard served at GET / on the admin listener: one self-contained HTML page with
// inline CSS and JS (no CDN, no build step, no framework), so it works air-gapped and from a
// single string. It is longer than our usual file because page, style and script belong
// together and are read together; splitting them would only add a build step.
//
// The script polls `api/routes` and `api/status` (relative, so a path prefix in front of the
// admin listener still works) once a second and updates the DOM in place, keyed by route name
// and endpoint id. Every string from the API goes in through textContent or setAttribute,
// never innerHTML. Fields the API lacks show as '-'.
//
// The "Explain a request" box below the routes asks `api/explain` (a GET, like every request
// the page makes) and shows the answer's sentences as text.
//
// String.raw keeps backslashes verbatim; the page must contain no backtick and no dollar-brace.

export const DASHBOARD_HTML: string = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Fairway dashboard</title>
<link rel="icon" href="data:,">
<style>
:root {
  --bg: #f4f6f9; --panel: #fff; --text: #18202b; --muted: #5c6878; --border: #e1e6ed; --head: #f8fafc;
  --hover: #f2f5f9; --accent: #17805a;
  --ok: #12703f; --ok-bg: #e1f4e9; --warn: #875300; --warn-bg: #fff1d1; --bad: #b42318; --bad-bg: #fde7e4;
  --info: #1c5bb8; --info-bg: #e4edfd; --alt: #6a3cbf; --alt-bg: #eee8fc; --off: #5c6878; --off-bg: #edf0f4;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e131a; --panel: #161d27; --text: #e2e8f0; --muted: #93a0b2; --border: #273241; --head: #1a222e;
    --hover: #1c2531; --accent: #3fbf8a;
    --ok: #5ad296; --ok-bg: rgba(52,168,108,.17); --warn: #f3c05a; --warn-bg: rgba(222,160,40,.17);
    --bad: #ff8a7e; --bad-bg: rgba(230,72,60,.18); --info: #83b2ff; --info-bg: rgba(70,130,240,.18);
    --alt: #bfa2ff; --alt-bg: rgba(140,100,240,.2); --off: #93a0b2; --off-bg: rgba(147,160,178,.14);
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.wrap { max-width: 1280px; margin: 0 auto; padding: 0 24px; }
header.top { background: var(--panel); border-bottom: 1px solid var(--border); }
header.top .wrap { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 28px; padding-top: 14px; padding-bottom: 14px; }
.brand { display: flex; align-items: center; gap: 10px; }
.brand svg { flex: none; }
.brand h1 { font-size: 18px; margin: 0; letter-spacing: -.01em; }
.version { color: var(--muted); font-family: var(--mono); font-size: 12px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 22px; align-items: center; flex: 1; }
.fact { display: inline-flex; align-items: center; gap: 7px; white-space: nowrap; }
.k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .05em; }
.poll { display: inline-flex; align-items: center; gap: 7px; color: var(--muted); font-size: 12px; white-space: nowrap; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: var(--off); }
.poll[data-tone=ok] .dot { background: var(--ok); }
.poll[data-tone=bad] { color: var(--bad); font-weight: 600; }
.poll[data-tone=bad] .dot { background: var(--bad); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; line-height: 18px; white-space: nowrap; color: var(--off); background: var(--off-bg); }
.badge[data-tone=ok] { color: var(--ok); background: var(--ok-bg); }
.badge[data-tone=warn] { color: var(--warn); background: var(--warn-bg); }
.badge[data-tone=bad] { color: var(--bad); background: var(--bad-bg); }
.badge[data-tone=info] { color: var(--info); background: var(--info-bg); }
.badge[data-tone=alt] { color: var(--alt); background: var(--alt-bg); }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.problems { margin: 16px 0 0; padding: 12px 16px; border: 1px solid var(--bad); border-left-width: 4px; border-radius: 8px; background: var(--bad-bg); color: var(--text); }
.problems ul { margin: 6px 0 0; padding-left: 18px; font-family: var(--mono); font-size: 12px; overflow-wrap: anywhere; }
.summary { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px; margin: 18px 0; }
.tile { background: var(--panel); border: 1px solid var(--border); border-radius: 10px; padding: 12px 16px; }
.tile .v { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; margin-top: 2px; }
.card { background: var(--panel); border: 1px solid var(--border); border-radius: 10px; margin-bottom: 16px; box-shadow: 0 1px 2px rgba(16,24,40,.04); overflow: hidden; }
.card-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 12px; padding: 14px 16px 4px; }
.card-head h2 { font-size: 16px; margin: 0; overflow-wrap: anywhere; }
.chip { display: inline-block; padding: 1px 8px; border: 1px solid var(--border); border-radius: 6px; font-size: 12px; color: var(--muted); white-space: nowrap; }
.health { margin-left: auto; }
.meta { display: flex; flex-wrap: wrap; gap: 4px 24px; padding: 2px 16px 12px; font-size: 13px; }
.meta > div { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px; min-width: 0; }
.meta .k { font-size: 11px; }
.code { font-family: var(--mono); font-size: 12px; overflow-wrap: anywhere; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; background: var(--info-bg); color: var(--info); font-size: 11px; font-weight: 600; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; border-top: 1px solid var(--border); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 8px 12px; text-align: right; white-space: nowrap; border-bottom: 1px solid var(--border); }
th { background: var(--head); color: var(--muted); font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: .05em; }
th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
th:first-child, td:first-child { padding-left: 16px; }
th:last-child, td:last-child { padding-right: 16px; }
tbody tr:last-child td { border-bottom: 0; }
tbody tr:hover { background: var(--hover); }
td.id span { display: inline-block; max-width: 22rem; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; font-weight: 600; }
td.addr { font-family: var(--mono); font-size: 12px; color: var(--muted); }
tr.idle td:not(.state) { color: var(--muted); }
.idle-note { color: var(--muted); font-size: 12px; margin-left: 4px; }
td.fail.nonzero { color: var(--bad); font-weight: 600; }
.empty { padding: 40px 16px; text-align: center; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; padding: 4px 0 28px; overflow-wrap: anywhere; }
body.stale main, body.stale .summary { opacity: .55; transition: opacity .3s; }
.explain form { display: grid; grid-template-columns: 6rem minmax(0, 1fr) 10rem auto; gap: 8px; padding: 4px 16px 12px; align-items: start; }
.explain input, .explain textarea, .explain button { font: inherit; font-size: 13px; color: var(--text); background: var(--bg); border: 1px solid var(--border); border-radius: 6px; padding: 6px 8px; min-width: 0; width: 100%; }
.explain textarea { grid-column: 1 / -1; font-family: var(--mono); font-size: 12px; resize: vertical; }
.explain button { width: auto; background: var(--accent); border-color: var(--accent); color: #fff; font-weight: 600; cursor: pointer; }
.explain pre { margin: 0; padding: 12px 16px; border-top: 1px solid var(--border); font-family: var(--mono); font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.explain pre[data-tone=bad] { color: var(--bad); }
@media (max-width: 720px) {
  .wrap { padding: 0 12px; }
  header.top .wrap { gap: 8px 16px; }
  .facts { gap: 6px 14px; flex-basis: 100%; order: 3; }
  .poll { margin-left: auto; }
  .summary { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 8px; margin: 12px 0; }
  .tile { padding: 10px 12px; }
  .tile .v { font-size: 18px; }
  .explain form { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  .explain #explain-url { grid-column: 1 / -1; }
  th, td { padding: 7px 9px; }
}
</style>
</head>
<body>
<header class="top">
  <div class="wrap">
    <div class="brand">
      <svg width="26" height="26" viewBox="0 0 26 26" aria-hidden="true"><rect width="26" height="26" rx="7" fill="var(--accent)"/><path d="M9 20V6l9 3.5L9 13" fill="none" stroke="#fff" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/></svg>
      <h1>Fairway</h1><span id="version" class="version">-</span>
    </div>
    <div class="facts">
      <span class="fact"><span class="k">Status</span><span id="ready" class="badge">-</span></span>
      <span class="fact"><span class="k">Consul</span><span id="consul" class="badge" data-testid="consul-state">-</span></span>
      <span class="fact"><span class="k">Config</span><span id="reload" class="badge">-</span><span id="reload-at" class="muted small"></span></span>
      <span class="fact"><span class="k">Uptime</span><span id="uptime">-</span></span>
    </div>
    <span id="poll" class="poll" role="status"><span class="dot"></span><span id="poll-text">connecting</span></span>
  </div>
</header>
<div class="wrap">
  <div id="problems" class="problems" hidden><strong>Config reload rejected</strong>; the previous config is still running.<ul id="problem-list"></ul></div>
  <section class="summary" aria-label="Summary">
    <div class="tile"><div class="k">Routes</div><div class="v" id="sum-routes">-</div></div>
    <div class="tile"><div class="k">Healthy endpoints</div><div class="v" id="sum-healthy">-</div></div>
    <div class="tile"><div class="k">Requests / s</div><div class="v" id="sum-rps">-</div></div>
    <div class="tile"><div class="k">In flight</div><div class="v" id="sum-inflight">-</div></div>
  </section>
  <main id="routes"></main>
  <div id="empty" class="empty" hidden>No routes configured.</div>
  <section class="card explain" aria-label="Explain a request">
    <div class="card-head"><h2>Explain a request</h2><span class="muted small">which route, policies and instance; sends nothing upstream, takes no rate-limit token, but the pick is a real one</span></div>
    <form id="explain-form">
      <input id="explain-method" value="GET" aria-label="Method" spellcheck="false">
      <input id="explain-url" placeholder="http://example.com/api/path" aria-label="URL" spellcheck="false" required>
      <input id="explain-client" placeholder="client IP (127.0.0.1)" aria-label="Client address" spellcheck="false">
      <button type="submit">Explain</button>
      <textarea id="explain-headers" rows="2" placeholder="header lines, one per line: x-canary: 1" aria-label="Headers" spellcheck="false"></textarea>
    </form>
    <pre id="explain-out" hidden></pre>
  </section>
  <footer id="footer"></footer>
</div>
<noscript><p class="wrap">This dashboard needs JavaScript; the same data is at <a href="api/routes">api/routes</a> and <a href="api/status">api/status</a>.</p></noscript>
<script>
(function () {
  'use strict';
  var POLL_MS = 1000, TIMEOUT_MS = 4000;
  var COLUMNS = ['Endpoint', 'Address', 'State', 'Weight', 'In flight', 'Requests', 'Failures', 'Req/s', 'p50 ms', 'p99 ms', 'EWMA ms'];
  // Least widths in px (the id column takes the rest), so the columns of every card line up.
  var WIDTHS = [0, 170, 150, 80, 96, 104, 96, 88, 84, 84, 96];
  var STATE_TONE = { passing: 'ok', warning: 'warn', critical: 'bad', ejected: 'alt', draining: 'info' };
  var CONSUL_TONE = { connected: 'ok', connecting: 'warn', unreachable: 'bad', error: 'bad', unused: 'off' };
  var byId = function (id) { return document.getElementById(id); };
  var collator = new Intl.Collator('en', { numeric: true });
  var cards = new Map();
  var lastOk = 0, failing = false, failure = '';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function setText(e, t) { t = String(t); if (e.textContent !== t) e.textContent = t; }
  function setBadge(e, text, tone) { setText(e, text); e.setAttribute('data-tone', tone || 'off'); }
  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function str(v) { return v === undefined || v === null || v === '' ? '-' : String(v); }
  function int(v) { return isNum(v) ? Math.round(v).toLocaleString('en-US') : '-'; }
  function dec(v) {
    if (!isNum(v)) return '-';
    return v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US');
  }
  function total(list, k) {
    return list.reduce(function (a, x) { return isNum(x[k]) ? (a === null ? 0 : a) + x[k] : a; }, null);
  }
  function duration(s) {
    if (!isNum(s)) return '-';
    s = Math.max(0, Math.floor(s));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + (s % 60) + 's';
    return s + 's';
  }
  function endpointState(ep) {
    if (ep.draining === true) return 'draining';
    if (ep.ejected === true) return 'ejected';
    return typeof ep.status === 'string' ? ep.status : 'unknown';
  }
  function healthy(ep) { return endpointState(ep) === 'passing'; }

  function makeCard(name) {
    var c = { root: el('section', 'card'), rows: new Map(), metaKey: '' };
    c.root.setAttribute('data-route', name);
    var head = el('div', 'card-head');
    c.name = el('h2', '', name);
    c.panic = el('span', 'badge', 'PANIC');
    c.panic.setAttribute('data-tone', 'bad');
    c.panic.title = 'Too few healthy endpoints: routing to every known endpoint';
    c.strategy = el('span', 'chip');
    c.health = el('span', 'health muted small');
    head.append(c.name, c.panic, c.strategy, c.health);
    c.meta = el('div', 'meta');
    var wrap = el('div', 'table-wrap');
    var table = el('table');
    var cols = el('colgroup'), tr = el('tr');
    COLUMNS.forEach(function (h, i) {
      var col = el('col');
      if (WIDTHS[i]) col.style.width = WIDTHS[i] + 'px';
      cols.append(col);
      tr.append(el('th', '', h));
    });
    var thead = el('thead');
    thead.append(tr);
    c.tbody = el('tbody');
    table.append(cols, thead, c.tbody);
    wrap.append(table);
    c.root.append(head, c.meta, wrap);
    return c;
  }

  function metaItem(label, children) {
    var d = el('div');
    d.append(el('span', 'k', label));
    children.forEach(function (x) { d.append(x); });
    return d;
  }

  function updateMeta(c, r) {
    var m = r.match || {};
    var headers = m.headers && typeof m.headers === 'object' ? m.headers : {};
    var key = JSON.stringify([r.service, r.tags, m.host, m.pathPrefix, headers]);
    if (key === c.metaKey) return;
    c.metaKey = key;
    var source = [];
    if (typeof r.service === 'string') {
      source.push(el('span', 'code', r.service));
      (Array.isArray(r.tags) ? r.tags : []).forEach(function (t) { source.push(el('span', 'tag', t)); });
    } else source.push(el('span', '', r.service === null ? 'static' : '-'));
    var match = [];
    if (m.host) match.push(el('span', 'chip', 'host ' + m.host));
    match.push(el('span', 'chip', 'path ' + str(m.pathPrefix)));
    Object.keys(headers).forEach(function (h) { match.push(el('span', 'chip', h + ': ' + headers[h])); });
    c.meta.replaceChildren(metaItem('Service', source), metaItem('Match', match));
  }

  function makeRow() {
    var row = { tr: el('tr'), cells: [] };
    for (var i = 0; i < COLUMNS.length; i++) {
      var td = el('td');
      row.cells.push(td);
      row.tr.append(td);
    }
    row.cells[0].className = 'id';
    row.id = el('span');
    row.cells[0].append(row.id);
    row.cells[1].className = 'addr';
    row.cells[2].className = 'state';
    row.cells[6].className = 'fail';
    row.badge = el('span', 'badge');
    row.idle = el('span', 'idle-note', '(idle)');
    row.cells[2].append(row.badge, row.idle);
    return row;
  }

  function updateRow(row, ep, id) {
    var state = endpointState(ep);
    row.tr.setAttribute('data-endpoint-id', id);
    row.tr.setAttribute('data-state', state);
    row.tr.classList.toggle('idle', ep.active === false);
    var c = row.cells;
    setText(row.id, id);
    row.id.title = id;
    setText(c[1], str(ep.address) + ':' + str(ep.port));
    setBadge(row.badge, state, STATE_TONE[state]);
    row.idle.hidden = ep.active !== false;
    setText(c[3], int(ep.weight));
    setText(c[4], int(ep.inflight));
    setText(c[5], int(ep.requests));
    setText(c[6], int(ep.failures));
    c[6].classList.toggle('nonzero', isNum(ep.failures) && ep.failures > 0);
    setText(c[7], dec(ep.rps));
    setText(c[8], dec(ep.p50Ms));
    setText(c[9], dec(ep.p99Ms));
    setText(c[10], dec(ep.ewmaMs));
  }

  function updateCard(c, r) {
    var eps = Array.isArray(r.endpoints) ? r.endpoints.slice() : [];
    eps.sort(function (a, b) { return collator.compare(str(a.id), str(b.id)); });
    c.panic.hidden = r.panic !== true;
    setText(c.strategy, str(r.strategy));
    var rps = total(eps, 'rps');
    setText(c.health, eps.filter(healthy).length + ' of ' + eps.length + ' healthy' + (rps === null ? '' : '  \u00b7  ' + dec(rps) + ' req/s'));
    updateMeta(c, r);
    var seen = new Set();
    eps.forEach(function (ep, i) {
      var id = str(ep.id);
      var row = c.rows.get(id);
      if (!row) { row = makeRow(); c.rows.set(id, row); }
      seen.add(id);
      updateRow(row, ep, id);
      if (c.tbody.children[i] !== row.tr) c.tbody.insertBefore(row.tr, c.tbody.children[i] || null);
    });
    c.rows.forEach(function (row, id) { if (!seen.has(id)) { row.tr.remove(); c.rows.delete(id); } });
  }

  function renderRoutes(routes) {
    if (!Array.isArray(routes)) throw new Error('unexpected answer from api/routes');
    var main = byId('routes'), seen = new Set();
    var unique = new Map(), rps = null;
    routes.forEach(function (r, i) {
      var name = str(r.name);
      var c = cards.get(name);
      if (!c) { c = makeCard(name); cards.set(name, c); }
      seen.add(name);
      updateCard(c, r);
      if (main.children[i] !== c.root) main.insertBefore(c.root, main.children[i] || null);
      // Rates are per route and endpoint; counters are per instance, shared by the routes
      // that use it, so instances are counted once.
      var eps = Array.isArray(r.endpoints) ? r.endpoints : [];
      var routeRps = total(eps, 'rps');
      if (routeRps !== null) rps = (rps || 0) + routeRps;
      eps.forEach(function (ep) {
        unique.set(str(ep.id) + '@' + str(ep.address) + ':' + str(ep.port), ep);
      });
    });
    cards.forEach(function (c, name) { if (!seen.has(name)) { c.root.remove(); cards.delete(name); } });
    byId('empty').hidden = routes.length > 0;
    var eps = Array.from(unique.values());
    setText(byId('sum-routes'), routes.length);
    setText(byId('sum-healthy'), eps.filter(healthy).length + ' / ' + eps.length);
    setText(byId('sum-rps'), dec(rps));
    setText(byId('sum-inflight'), int(total(eps, 'inflight')));
  }

  function renderStatus(s) {
    if (!s || typeof s !== 'object') throw new Error('unexpected answer from api/status');
    setText(byId('version'), s.version ? 'v' + s.version : '-');
    setBadge(byId('ready'), s.ready === true ? 'ready' : s.ready === false ? 'not ready' : '-', s.ready === true ? 'ok' : s.ready === false ? 'bad' : 'off');
    var consul = byId('consul');
    setBadge(consul, str(s.consul), CONSUL_TONE[s.consul]);
    consul.title = s.consulAddress ? 'Consul at ' + s.consulAddress : '';
    setText(byId('uptime'), duration(s.uptimeSeconds));
    var r = s.lastReload, reload = byId('reload'), at = byId('reload-at');
    if (r && typeof r === 'object') {
      setBadge(reload, r.ok ? 'ok' : 'REJECTED', r.ok ? 'ok' : 'bad');
      var t = r.at ? new Date(r.at) : null;
      setText(at, t && !isNaN(t.getTime()) ? 'at ' + t.toLocaleTimeString() : '');
    } else {
      setBadge(reload, '-', 'off');
      setText(at, '');
    }
    reload.title = s.configFile ? String(s.configFile) : '';
    var problems = r && !r.ok && Array.isArray(r.problems) ? r.problems : [];
    var box = byId('problems'), list = byId('problem-list');
    box.hidden = !(r && r.ok === false);
    var key = JSON.stringify(problems);
    if (list.getAttribute('data-key') !== key) {
      list.setAttribute('data-key', key);
      list.replaceChildren.apply(list, problems.map(function (p) { return el('li', '', p); }));
    }
    var bits = [];
    if (s.configFile) bits.push('config ' + s.configFile);
    if (s.consulAddress) bits.push('consul ' + s.consulAddress);
    if (s.node) bits.push('node ' + s.node);
    if (s.pid) bits.push('pid ' + s.pid);
    setText(byId('footer'), bits.join('  \u00b7  '));
    document.title = (s.ready === false ? '(not ready) ' : '') + 'Fairway dashboard';
  }

  function renderPoll() {
    var p = byId('poll'), text = byId('poll-text');
    var ago = lastOk ? Math.max(0, Math.round((Date.now() - lastOk) / 1000)) : null;
    document.body.classList.toggle('stale', failing);
    if (failing) {
      p.setAttribute('data-tone', 'bad');
      setText(text, 'admin API unreachable' + (ago === null ? '' : ' \u00b7 last update ' + ago + 's ago'));
      p.title = failure;
    } else if (ago !== null) {
      p.setAttribute('data-tone', 'ok');
      setText(text, 'live \u00b7 updated ' + ago + 's ago');
      p.title = '';
    }
  }

  function get(url, signal) {
    return fetch(url, { cache: 'no-store', signal: signal, headers: { accept: 'application/json' } }).then(function (res) {
      if (!res.ok) throw new Error(url + ': HTTP ' + res.status);
      return res.json();
    });
  }

  function poll() {
    var started = Date.now(), ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, TIMEOUT_MS);
    Promise.allSettled([get('api/routes', ctl.signal), get('api/status', ctl.signal)]).then(function (res) {
      var errors = [];
      try { if (res[0].status === 'fulfilled') renderRoutes(res[0].value); else errors.push(res[0].reason); } catch (e) { errors.push(e); }
      try { if (res[1].status === 'fulfilled') renderStatus(res[1].value); else errors.push(res[1].reason); } catch (e) { errors.push(e); }
      failing = errors.length > 0;
      failure = errors.map(function (e) { return e && e.message ? e.message : String(e); }).join('; ');
      if (!failing) lastOk = Date.now();
    }).finally(function () {
      clearTimeout(timer);
      renderPoll();
      setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
    });
  }

  function explain(ev) {
    ev.preventDefault();
    var q = new URLSearchParams(), out = byId('explain-out');
    q.set('url', byId('explain-url').value.trim());
    var method = byId('explain-method').value.trim(), client = byId('explain-client').value.trim();
    if (method) q.set('method', method);
    if (client) q.set('client', client);
    byId('explain-headers').value.split('\n').forEach(function (line) { if (line.trim()) q.append('header', line.trim()); });
    out.hidden = false;
    out.removeAttribute('data-tone');
    setText(out, 'asking\u2026');
    fetch('api/explain?' + q.toString(), { cache: 'no-store', headers: { accept: 'application/json' } }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok || !body || !Array.isArray(body.text)) throw new Error(body && body.error ? body.error : 'HTTP ' + res.status);
        setText(out, body.text.join('\n'));
      });
    }).catch(function (e) {
      out.setAttribute('data-tone', 'bad');
      setText(out, e && e.message ? e.message : String(e));
    });
  }

  byId('explain-form').addEventListener('submit', explain);
  setInterval(renderPoll, 1000);
  poll();
})();
</script>
</body>
</html>
`;
