// Config loading as a function of its inputs: file text, file name and environment in; a
// normalized, frozen Config or the full list of problems out, each with line, column and key path.

import { dirname, isAbsolute, join } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { parseHostPort, type HostPort } from './address.js';
import { parseCidr, type Cidr } from './cidr.js';
import { crossFieldProblems } from './config-rules.js';
import { consulAddressFromEnv, consulTls, type PartialClientTls } from './consul-env.js';
import { configSchema, splitEndpoint, type RawConfig, type RawListener, type RawRoute, type Strategy, type TierStrategy } from './config-schema.js';
import { parseDuration } from './duration.js';
import { parseJsonObject } from './json-text.js';
import type { OutlierOptions } from './outlier.js';
import { policyOf, type RoutePolicy } from './policy/route-policy.js';
import { syntaxProblems } from './yaml-syntax.js';

export interface StaticEndpoint {
  host: string;
  port: number;
  weight: number;
  /** Reached over TLS (`https://host:port`). */
  tls: boolean;
}

export type RouteSource =
  | { kind: 'consul'; service: string; tags: readonly string[] }
  | { kind: 'static'; endpoints: readonly StaticEndpoint[] };

export interface RouteConfig {
  name: string;
  match: {
    /** Lower-cased exact host, or undefined. */
    host?: string;
    /** Lower-cased `.example.com` for `*.example.com`, or undefined. */
    hostSuffix?: string;
    pathPrefix: string;
    /** Lower-cased header names with the exact values they must have. */
    headers: ReadonlyArray<readonly [string, string]>;
  };
  source: RouteSource;
  strategy: Strategy;
  /** consistent-hash: what the request is keyed by. */
  hashKey: { kind: 'header' | 'cookie'; name: string } | { kind: 'ip' | 'path' };
  /** failover: tiering; undefined for other strategies. */
  failover?: { tiers: readonly string[]; by: { kind: 'tag' } | { kind: 'meta'; key: string }; within: TierStrategy };
  slowStartMs: number;
  stripPrefix: boolean;
  timeoutMs: number;
  /** 0: bounded by timeoutMs only. */
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  retries: number;
  retryMethods: readonly string[];
  /** Percent; 0 disables panic routing. */
  panicThreshold: number;
  /** HTTP/1.1 to the upstream, HTTP/2 over TLS (h2, ALPN), or HTTP/2 in clear text (h2c). */
  protocol: 'http1' | 'h2' | 'h2c';
  /** Traffic policy (policy/route-policy.ts); undefined when the route has none. */
  policy: RoutePolicy | undefined;
}

export interface ServiceRegistration {
  name: string;
  id: string;
  address: string;
  port: number;
  tags: readonly string[];
  meta: Readonly<Record<string, string>>;
  weight: number;
  check?: {
    http?: string;
    tcp?: string;
    ttl?: string;
    interval: string;
    timeout: string;
    deregisterCriticalAfter?: string;
  };
}

/** One client-facing listener (from `listeners:`, or the single plain one `listen:` makes). */
export interface ListenerConfig {
  /** The address as written: the listener's name in logs, metrics and status. */
  name: string;
  address: HostPort;
  /** Certificate and key paths resolved against the config file's folder. */
  tls?: { certificates: ReadonlyArray<{ cert: string; key: string }>; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  redirectToHttps: boolean;
  /** HTTP/2 beside HTTP/1.1: by ALPN on TLS, by the connection preface on a plain listener. */
  http2: boolean;
}

/** Files and names for a TLS connection Fairway makes (to instances, to Consul); paths, not contents. */
export interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  insecureSkipVerify: boolean;
}

export interface Config {
  /** The first listener's address (the fleet registers it). */
  listen: HostPort;
  /** Every client-facing listener; `listen:` alone is one plain listener. */
  listeners: readonly ListenerConfig[];
  admin: { listen: HostPort; token: string };
  consul: { address: string; token: string; datacenter: string; stale: boolean; waitMs: number; maxWatches: number; tls?: ClientTls };
  drainTimeoutMs: number;
  /** Proxy processes: 1 runs everything in one process. */
  workers: number | 'auto';
  server: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxHeaderSize: number;
    maxHeaders: number;
    /** CIDR blocks as written (a CidrSet is made from them by the listener). */
    trustedProxies: readonly Cidr[];
    upgradeIdleTimeoutMs: number;
    fastPath: boolean;
  };
  upstream: { connectTimeoutMs: number; keepAliveTimeoutMs: number; maxConnections: number; tls?: ClientTls };
  outlier: OutlierOptions;
  retryBudget: { ratio: number; minPerSecond: number };
  accessLog: { enabled: boolean; sample: number };
  metrics: { enabled: boolean };
  consulTags?: { prefix: string };
  /** This instance registers itself in the fleet service and shares rate limits with it. */
  fleet?: { name: string; address?: string; checkInterval: string; configKey?: string };
  services: readonly ServiceRegistration[];
  routes: readonly RouteConfig[];
}

export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  /** `routes[0].strategy`, or '' for a problem with the file itself. */
  path: string;
  message: string;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** `{ tls }` when there are TLS settings, else nothing (the key stays absent). */
function optionalTls(raw: PartialClientTls | undefined): { tls?: ClientTls } {
  if (raw === undefined) return {};
  const tls: ClientTls = { insecureSkipVerify: raw.insecureSkipVerify ?? false };
  for (const k of ['ca', 'cert', 'key', 'serverName'] as const) if (raw[k] !== undefined) tls[k] = raw[k];
  return { tls };
}

export function loadConfig(text: string, file: string, env: Readonly<Record<string, string | undefined>> = {}): ConfigResult {
  // A good JSON config skips the YAML parser (see json-text.ts); a bad one is read again below,
  // where problems get their line and column.
  const json = parseJsonObject(text);
  if (json !== undefined) {
    const parsed = configSchema.safeParse(json);
    if (parsed.success && crossFieldProblems(json, env).length === 0) return { ok: true, config: normalize(parsed.data, env, file) };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { ok: false, problems: syntaxProblems(doc, lines).map((p) => ({ ...p, file, path: formatPath(p.path) })) };
  }
  let data: unknown;
  try {
    data = doc.toJS() ?? {};
  } catch (err) {
    // The yaml package refuses aliases that expand past a bound (a "billion laughs" document).
    return { ok: false, problems: [{ file, line: 1, col: 1, path: '', message: `the document cannot be expanded: ${(err as Error).message}` }] };
  }
  const parsed = configSchema.safeParse(data);
  const found = [
    ...(parsed.success ? [] : parsed.error.issues.map(fromIssue)),
    ...crossFieldProblems(data, env).map((p) => ({ ...p, atKey: false })),
  ];
  if (found.length > 0 || !parsed.success) {
    const problems = found.map((p) => locate(p, doc, lines, file));
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, problems };
  }
  return { ok: true, config: normalize(parsed.data, env, file) };
}

function normalize(raw: RawConfig, env: Readonly<Record<string, string | undefined>>, file: string): Config {
  const routes = raw.routes.map(normalizeRoute);
  dedupeNames(routes, raw.routes.map((r) => r.name));
  const listeners = raw.listeners?.map((l) => normalizeListener(l, file)) ?? [{ name: raw.listen, address: parseHostPort(raw.listen)!, redirectToHttps: false, http2: false }];
  return deepFreeze({
    listen: listeners[0]!.address,
    listeners,
    admin: { listen: parseHostPort(raw.admin.listen)!, token: raw.admin.token === '' ? (env.FAIRWAY_ADMIN_TOKEN ?? '') : raw.admin.token },
    consul: {
      address: (raw.consul.address ?? consulAddressFromEnv(env)).replace(/\/+$/, ''),
      token: raw.consul.token ?? env.CONSUL_HTTP_TOKEN ?? '',
      datacenter: raw.consul.datacenter,
      stale: raw.consul.stale,
      waitMs: parseDuration(raw.consul.wait)!,
      maxWatches: raw.consul.maxWatches,
      ...optionalTls(consulTls(raw.consul.tls, env)),
    },
    drainTimeoutMs: parseDuration(raw.drainTimeout)!,
    workers: raw.workers,
    server: {
      headersTimeoutMs: parseDuration(raw.server.headersTimeout)!,
      requestTimeoutMs: parseDuration(raw.server.requestTimeout)!,
      keepAliveTimeoutMs: parseDuration(raw.server.keepAliveTimeout)!,
      maxHeaderSize: raw.server.maxHeaderSize,
      maxHeaders: raw.server.maxHeaders,
      trustedProxies: raw.server.trustedProxies.map((c) => parseCidr(c)!),
      upgradeIdleTimeoutMs: parseDuration(raw.server.upgradeIdleTimeout)!,
      fastPath: raw.server.fastPath,
    },
    upstream: {
      connectTimeoutMs: parseDuration(raw.upstream.connectTimeout)!,
      keepAliveTimeoutMs: parseDuration(raw.upstream.keepAliveTimeout)!,
      maxConnections: raw.upstream.maxConnections,
      ...optionalTls(raw.upstream.tls),
    },
    outlier: {
      consecutiveFailures: raw.outlier.consecutiveFailures,
      baseEjectionMs: parseDuration(raw.outlier.baseEjectionTime)!,
      maxEjectionMs: parseDuration(raw.outlier.maxEjectionTime)!,
      maxEjectedPercent: raw.outlier.maxEjectedPercent,
    },
    retryBudget: { ratio: raw.retryBudget.ratio, minPerSecond: raw.retryBudget.minPerSecond },
    accessLog: { enabled: raw.accessLog.enabled, sample: raw.accessLog.sample },
    metrics: { enabled: raw.metrics.enabled },
    ...(raw.consulTags ? { consulTags: { prefix: raw.consulTags.prefix } } : {}),
    ...(raw.fleet
      ? {
          fleet: {
            name: raw.fleet.name,
            checkInterval: raw.fleet.checkInterval,
            ...(raw.fleet.address === undefined ? {} : { address: raw.fleet.address }),
            ...(raw.fleet.configKey === undefined ? {} : { configKey: raw.fleet.configKey }),
          },
        }
      : {}),
    services: raw.services.map(toRegistration),
    routes,
  });
}

function normalizeListener(l: RawListener, file: string): ListenerConfig {
  // Relative certificate paths are the config file's neighbours, wherever Fairway was started.
  const near = (p: string): string => (isAbsolute(p) ? p : join(dirname(file), p));
  return {
    name: l.address,
    address: parseHostPort(l.address)!,
    ...(l.tls ? { tls: { certificates: l.tls.certificates.map((c) => ({ cert: near(c.cert), key: near(c.key) })), minVersion: l.tls.minVersion } } : {}),
    redirectToHttps: l.redirectToHttps,
    http2: l.http2,
  };
}

/** One validated route as the route table takes it (also used for routes from Consul tags). */
export function normalizeRoute(r: RawRoute, i: number): RouteConfig {
  const host = r.match.host?.toLowerCase();
  const headers = Object.entries(r.match.headers ?? {});
  return {
    name: r.name ?? r.service ?? `route-${i}`,
    match: {
      ...(host === undefined ? {} : host.startsWith('*.') ? { hostSuffix: host.slice(1) } : { host }),
      pathPrefix: r.match.pathPrefix,
      headers: headers.length === 0 ? NO_HEADERS : headers.map(([k, v]) => [k.toLowerCase(), v] as const),
    },
    source:
      r.service !== undefined
        ? { kind: 'consul', service: r.service, tags: r.tags === undefined || r.tags.length === 0 ? NO_TAGS : [...new Set(r.tags)].sort() }
        : {
            kind: 'static',
            endpoints: (r.endpoints ?? []).map((e) => {
              const item = typeof e === 'string' ? { address: e, weight: 1 } : { address: e.address, weight: e.weight ?? 1 };
              const { tls, address } = splitEndpoint(item.address);
              const hp = parseHostPort(address)!;
              return { host: hp.host, port: hp.port, weight: item.weight, tls };
            }),
          },
    strategy: r.strategy,
    hashKey: parseHashKey(r.hashKey ?? 'ip'),
    ...(r.strategy === 'failover'
      ? {
          failover: {
            tiers: r.failover?.tiers ?? ['primary', 'backup'],
            by: parseTierBy(r.failover?.by ?? 'tag'),
            within: r.failover?.within ?? 'round-robin',
          },
        }
      : {}),
    slowStartMs: parseDuration(r.slowStart)!,
    stripPrefix: r.stripPrefix,
    timeoutMs: parseDuration(r.timeout)!,
    headersTimeoutMs: r.headersTimeout === undefined ? 0 : parseDuration(r.headersTimeout)!,
    idleTimeoutMs: parseDuration(r.idleTimeout)!,
    retries: r.retries,
    retryMethods: sharedList([...new Set(r.retryMethods.map((m) => m.toUpperCase()))]),
    panicThreshold: r.panicThreshold,
    // validate refuses h2 (crossFieldProblems): only http1 and h2c get here.
    protocol: r.protocol ?? 'http1',
    policy: policyOf(r),
  };
}

// What most routes of a large config repeat is one frozen copy for all (at 10,000 routes, an
// empty list or a retry method list each cost 0.3 to 0.8 MB of heap).
const NO_HEADERS: RouteConfig['match']['headers'] = Object.freeze([]);
const NO_TAGS: readonly string[] = Object.freeze([]);
const HASH_BY: Record<'ip' | 'path', RouteConfig['hashKey']> = { ip: Object.freeze({ kind: 'ip' }), path: Object.freeze({ kind: 'path' }) };
const lists = new Map<string, readonly string[]>();

/** One frozen copy of each distinct list (retry methods: a few distinct sets at most). */
function sharedList(list: string[]): readonly string[] {
  const key = list.join(' ');
  let known = lists.get(key);
  if (known === undefined) lists.set(key, (known = Object.freeze(list)));
  return known;
}

function parseHashKey(key: string): RouteConfig['hashKey'] {
  if (key === 'ip' || key === 'path') return HASH_BY[key];
  const colon = key.indexOf(':');
  const kind = key.slice(0, colon) as 'header' | 'cookie';
  const name = key.slice(colon + 1);
  return { kind, name: kind === 'header' ? name.toLowerCase() : name };
}

function parseTierBy(by: string): { kind: 'tag' } | { kind: 'meta'; key: string } {
  return by === 'tag' ? { kind: 'tag' } : { kind: 'meta', key: by.slice('meta:'.length) };
}

/** A validated `services:` item (or `fairway register` flags) as the registrar takes it. */
export function toRegistration(s: RawConfig['services'][number]): ServiceRegistration {
  return {
    name: s.name,
    id: s.id ?? s.name,
    address: s.address,
    port: s.port,
    tags: s.tags ?? [],
    meta: s.meta ?? {},
    weight: s.weight ?? 1,
    ...(s.check ? { check: s.check } : {}),
  };
}

// Default names (a service used by two routes) may collide with each other or with an explicit
// name; explicit names were checked unique and are kept, defaults take a numbered suffix.
function dedupeNames(routes: RouteConfig[], explicit: ReadonlyArray<string | undefined>): void {
  const used = new Set(explicit.filter((n): n is string => n !== undefined));
  routes.forEach((r, i) => {
    if (explicit[i] !== undefined) return;
    let name = r.name;
    for (let n = 2; used.has(name); n++) name = `${r.name}-${n}`;
    r.name = name;
    used.add(name);
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

type Issue = z.core.$ZodIssue;

interface Found {
  path: Array<string | number>;
  message: string;
  /** Point at the key itself rather than its value (unknown keys). */
  atKey: boolean;
  /** A type error, which means "required" when the key is absent. */
  typeError?: boolean;
}

function fromIssue(issue: Issue): Found {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys')
    return {
      path: [...path, issue.keys[0]!],
      message: issue.keys.length === 1 ? 'unknown key' : `unknown keys ${issue.keys.join(', ')}`,
      atKey: true,
    };
  return { path, message: issue.message, atKey: false, typeError: issue.code === 'invalid_type' };
}

/** Problems found by a caller's own rules, placed in `text` like loadConfig's (key path → line, column). */
export function placeProblems(text: string, file: string, found: ReadonlyArray<{ path: Array<string | number>; message: string; atKey?: boolean }>): ConfigProblem[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  return found.map((f) => locate({ path: f.path, message: f.message, atKey: f.atKey ?? false }, doc, lines, file));
}

function locate(found: Found, doc: Document, lines: LineCounter, file: string): ConfigProblem {
  const missing = found.typeError === true && valueAt(doc, found.path) === undefined;
  const message = missing ? `required: ${found.message}` : found.message;
  const pos = lines.linePos(offsetOf(doc, found.path, found.atKey));
  return { file, line: pos.line, col: pos.col, path: formatPath(found.path), message };
}

function valueAt(doc: Document, path: ReadonlyArray<string | number>): unknown {
  return path.length === 0 ? doc.contents : doc.getIn(path, true);
}

/** Offset of the value (or key) at `path`, or of its nearest ancestor present in the file. */
function offsetOf(doc: Document, path: ReadonlyArray<string | number>, atKey = false): number {
  for (let n = path.length; n > 0; n--) {
    const parent = valueAt(doc, path.slice(0, n - 1));
    const key = path[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      const node = (atKey ? pair?.key : (pair?.value ?? pair?.key)) as { range?: [number, number, number] } | null | undefined;
      // Missing keys resolve upward; present ones point at their value (where the bad value is).
      if (node?.range) return node.range[0];
    } else if (isSeq(parent) && typeof key === 'number') {
      const item = parent.items[key] as { range?: [number, number, number] } | undefined;
      if (item?.range) return item.range[0];
    }
  }
  const root = doc.contents as { range?: [number, number, number] } | null;
  return root?.range?.[0] ?? 0;
}

export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}
