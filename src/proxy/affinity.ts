// The affinity key of a request for consistent-hash routes (`hashKey`), hashed to 32 bits.

import type { RouteConfig } from '../core/config.js';
import { hashString } from '../core/pickers/hash.js';
import type { ProxyRequest } from './messages.js';

/**
 * The hash of the request's key under `route.hashKey`, or undefined when the request has none.
 * `client`: the client address after server.trustedProxies (see Forwarder.clientAddress), for
 * `ip`; behind a trusted load balancer the peer is the balancer, the same for every client.
 */
export function affinityHash(route: RouteConfig, req: ProxyRequest, client?: string): number | undefined {
  if (route.strategy !== 'consistent-hash') return undefined;
  const key = route.hashKey;
  let value: string | undefined;
  switch (key.kind) {
    case 'header': {
      const v = req.headers[key.name];
      value = Array.isArray(v) ? v[0] : v;
      break;
    }
    case 'cookie':
      value = cookieValue(req.headers.cookie, key.name);
      break;
    case 'ip':
      value = client ?? req.socket.remoteAddress;
      break;
    case 'path': {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      value = q === -1 ? url : url.slice(0, q);
      break;
    }
  }
  return value === undefined || value === '' ? undefined : hashString(value);
}

/** The value of cookie `name` in a Cookie header (`a=1; b=2`), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let at = 0;
  while (at < header.length) {
    while (header.charCodeAt(at) === 32 /* space */) at++;
    const end = header.indexOf(';', at);
    const stop = end === -1 ? header.length : end;
    const eq = header.indexOf('=', at);
    if (eq !== -1 && eq < stop && eq - at === name.length && header.startsWith(name, at)) {
      let v = header.slice(eq + 1, stop).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    at = stop + 1;
  }
  return undefined;
}

/** Whether affinityHash reads the client address (so the caller works it out first). */
export function hashesClient(route: RouteConfig): boolean {
  return route.strategy === 'consistent-hash' && route.hashKey.kind === 'ip';
}
