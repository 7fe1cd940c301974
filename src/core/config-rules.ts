// Rules that span several keys (a route names `service` or `endpoints`; names are unique; a
// config routes somewhere; an admin listener others can reach has a token). They run on the raw
// parsed file, apart from the schema, so they are reported even when some other key has the
// wrong type: zod skips refinements once a type error is found, and a user fixing one problem
// at a time would meet these only on the next run.

export interface RuleProblem {
  path: Array<string | number>;
  message: string;
}

import { parseHostPort } from './address.js';
import { CidrSet, parseCidr } from './cidr.js';
import { consulEnvProblems } from './consul-env.js';
import { parseDuration } from './duration.js';

type Obj = Record<string, unknown>;
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
const durationOf = (v: unknown): number | undefined => (typeof v === 'string' ? parseDuration(v) : undefined);
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Obj, k: string): boolean => o[k] !== undefined && o[k] !== null;

/** `env`: FAIRWAY_ADMIN_TOKEN stands in for an admin.token the file leaves out. */
export function crossFieldProblems(data: unknown, env: Readonly<Record<string, string | undefined>> = {}): RuleProblem[] {
  const out: RuleProblem[] = [];
  if (!isObj(data)) return out;
  const routes = Array.isArray(data.routes) ? data.routes : [];
  // An empty file parses as a config with no routes, and an empty file is what a reload reads
  // between the truncate and the write of an in-place save: taken as valid, it answers every
  // request 404 until the next read. No routes at all is never what an operator means, unless
  // they come from Consul tags or from the fleet's KV key (an empty file names neither).
  // (`routes` of the wrong type is the schema's to report.)
  const elsewhere = has(data, 'consulTags') || (isObj(data.fleet) && has(data.fleet, 'configKey'));
  if (routes.length === 0 && (data.routes === undefined || Array.isArray(data.routes)) && !elsewhere)
    out.push({ path: ['routes'], message: 'expected at least one route (or consulTags, for routes from Consul tags)' });
  const names = new Map<string, number>();
  routes.forEach((r: unknown, i) => {
    if (!isObj(r)) return;
    for (const p of routeProblems(r)) out.push({ path: ['routes', i, ...p.path], message: p.message });
    if (typeof r.name !== 'string') return;
    const first = names.get(r.name);
    if (first === undefined) names.set(r.name, i);
    else out.push({ path: ['routes', i, 'name'], message: `duplicate route name "${r.name}" (first at routes[${first}])` });
  });
  if (isObj(data.server)) {
    // An unset headersTimeout is its default, and must fit a requestTimeout just the same.
    const headers = data.server.headersTimeout === undefined ? DEFAULT_HEADERS_TIMEOUT_MS : durationOf(data.server.headersTimeout);
    const request = durationOf(data.server.requestTimeout);
    if (headers !== undefined && request !== undefined && request > 0 && headers > request)
      out.push({ path: ['server', 'headersTimeout'], message: 'expected at most server.requestTimeout (the headers are part of the request)' });
  }
  if (isObj(data.admin)) out.push(...adminProblems(data.admin, env.FAIRWAY_ADMIN_TOKEN));
  for (const message of consulEnvProblems(env)) out.push({ path: ['consul'], message });
  out.push(...listenerProblems(data));
  const services = Array.isArray(data.services) ? data.services : [];
  const ids = new Map<string, number>();
  services.forEach((s: unknown, i) => {
    if (!isObj(s)) return;
    for (const p of serviceProblems(s)) out.push({ path: ['services', i, ...p.path], message: p.message });
    const id = typeof s.id === 'string' ? s.id : typeof s.name === 'string' ? s.name : undefined;
    if (id === undefined) return;
    const first = ids.get(id);
    if (first === undefined) ids.set(id, i);
    else out.push({ path: ['services', i, has(s, 'id') ? 'id' : 'name'], message: `duplicate service id "${id}" (first at services[${first}])` });
  });
  return out;
}

function routeProblems(r: Obj): RuleProblem[] {
  const out: RuleProblem[] = [];
  const service = has(r, 'service');
  const endpoints = has(r, 'endpoints');
  const redirect = has(r, 'redirect');
  if (redirect && (service || endpoints))
    out.push({ path: [service ? 'service' : 'endpoints'], message: 'a route with `redirect` answers itself; it takes no `service` or `endpoints`' });
  if (!service && !endpoints && !redirect) out.push({ path: [], message: 'expected `service` or `endpoints` (or `redirect`)' });
  if (service && endpoints) out.push({ path: ['endpoints'], message: 'expected `service` or `endpoints`, not both' });
  if (r.stripPrefix === true && isObj(r.rewrite) && has(r.rewrite, 'pathPrefix'))
    out.push({ path: ['rewrite', 'pathPrefix'], message: 'expected either stripPrefix or rewrite.pathPrefix, not both (rewrite.pathPrefix: / strips)' });
  if (has(r, 'tags') && !service) out.push({ path: ['tags'], message: '`tags` filters Consul instances; it needs `service`' });
  if (has(r, 'hashKey') && r.strategy !== 'consistent-hash')
    out.push({ path: ['hashKey'], message: '`hashKey` applies only to strategy: consistent-hash' });
  if (has(r, 'failover') && r.strategy !== 'failover')
    out.push({ path: ['failover'], message: '`failover` applies only to strategy: failover' });
  return out;
}

// 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z, which CidrSet matches against the IPv4 block).
const LOOPBACK = new CidrSet([parseCidr('127.0.0.0/8')!, parseCidr('::1')!]);

/** Whether only this machine can reach `host`; a name other than localhost may resolve anywhere. */
function isLoopback(host: string): boolean {
  return host.toLowerCase() === 'localhost' || LOOPBACK.has(host);
}

// The admin API drains instances. Without a token, anyone who can connect can do that, so an
// admin listener without one must be one only this machine can reach. (An unset admin.listen is
// the loopback default; a malformed one is the schema's to report.)
function adminProblems(admin: Obj, envToken: string | undefined): RuleProblem[] {
  const listen = typeof admin.listen === 'string' ? parseHostPort(admin.listen) : undefined;
  if (listen === undefined || isLoopback(listen.host)) return [];
  // A token of the wrong type is the schema's to report; blanks are no token. An empty one in
  // the file leaves the environment's in force (as normalize does).
  if (has(admin, 'token') && typeof admin.token !== 'string') return [];
  const token = typeof admin.token === 'string' && admin.token !== '' ? admin.token : (envToken ?? '');
  if (token.trim() !== '') return [];
  return [
    {
      path: ['admin', 'token'],
      message: 'expected a token (here or in $FAIRWAY_ADMIN_TOKEN) when admin.listen is not a loopback address (anyone who can reach it could drain instances)',
    },
  ];
}

/** Problems of one `services:` item (or `fairway register` flags) beyond its schema. */
export function serviceProblems(s: Obj): RuleProblem[] {
  if (!isObj(s.check)) return [];
  const kinds = ['http', 'tcp', 'ttl'].filter((k) => has(s.check as Obj, k)).length;
  return kinds === 1 ? [] : [{ path: ['check'], message: 'expected exactly one of http, tcp, ttl' }];
}

// `listen:` is the one-plain-listener shorthand; with `listeners:` too, which one would the
// fleet register and which would bind? Neither guess is safe, so both is an error.
function listenerProblems(data: Obj): RuleProblem[] {
  if (!Array.isArray(data.listeners)) return [];
  const out: RuleProblem[] = [];
  if (has(data, 'listen'))
    out.push({ path: ['listen'], message: 'expected `listen` or `listeners`, not both (`listen: X` is `listeners: [{ address: X }]`)' });
  const addresses = new Map<string, number>();
  data.listeners.forEach((l: unknown, i) => {
    if (!isObj(l)) return;
    if (l.redirectToHttps === true && has(l, 'tls'))
      out.push({ path: ['listeners', i, 'redirectToHttps'], message: 'redirectToHttps is for plain listeners; this one has tls' });
    const at = typeof l.address === 'string' ? parseHostPort(l.address) : undefined;
    if (at === undefined) return;
    const key = `${at.host.toLowerCase()}:${at.port}`;
    const first = addresses.get(key);
    // Port 0 binds a fresh port each time: several are fine (tests use them).
    if (first !== undefined && at.port !== 0) out.push({ path: ['listeners', i, 'address'], message: `duplicate listener address ${l.address} (first at listeners[${first}])` });
    else addresses.set(key, i);
  });
  return out;
}
