// Many Fairway instances, one Consul (SPEC "Fleet"): each instance registers itself as the
// fleet's Consul service, with an HTTP check on its own /-/ready, and watches that service like
// any other. What it learns there is how many Fairways are passing, which sets its share of every
// route's rate limit: 1 / (passing instances × its own worker processes), so the fleet as a
// whole allows the configured rate. Pure: the registration and the share are functions of
// their inputs; app/fleet-member.ts applies them, and app.ts registers and watches.

import { formatHostPort, type HostPort } from './address.js';
import type { Config, ServiceRegistration } from './config.js';
import type { InstanceSnapshot } from './instance.js';

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/**
 * This instance's registration in the fleet service, or undefined without `fleet:`. `proxy` and
 * `admin` are the addresses actually bound (a configured port 0 becomes the real one).
 */
export function fleetRegistration(config: Config, proxy: HostPort, admin: HostPort, hostname: string): ServiceRegistration | undefined {
  const fleet = config.fleet;
  if (fleet === undefined) return undefined;
  // A wildcard listener has no one address: the registration then leaves it to Consul, which
  // uses its node's address, unless fleet.address says otherwise.
  const address = fleet.address ?? (WILDCARD.has(proxy.host) ? '' : proxy.host);
  // Consul runs the check from its agent. A wildcard admin listener answers on every address:
  // the one registered for this instance when fleet.address names it (the agent may be on
  // another machine or container, and `fairway config push --canary` reads it there too),
  // else loopback, right when the agent is on this machine, the usual deployment.
  const checkHost = WILDCARD.has(admin.host) ? (fleet.address ?? '127.0.0.1') : admin.host;
  return {
    name: fleet.name,
    id: fleetMemberId(fleet.name, hostname, proxy.port),
    address,
    port: proxy.port,
    tags: [],
    meta: { admin: formatHostPort(checkHost, admin.port) },
    weight: 1,
    check: {
      http: `http://${formatHostPort(checkHost, admin.port)}/-/ready`,
      interval: fleet.checkInterval,
      timeout: '2s',
      deregisterCriticalAfter: '1m',
    },
  };
}

/** This instance's service ID in the fleet: what a canary plan names it by (core/canary.ts). */
export function fleetMemberId(fleet: string, hostname: string, proxyPort: number): string {
  return `${fleet}-${hostname}-${proxyPort}`;
}

/** Passing Fairway instances in the fleet service's snapshot; at least 1 (this one). */
export function fleetSize(snapshot: InstanceSnapshot | undefined): number {
  if (snapshot === undefined) return 1;
  let n = 0;
  for (const i of snapshot.instances) if (i.status === 'passing') n++;
  return Math.max(1, n);
}

/** The share of each route's rate limit one process enforces. */
export function rateShare(fleetInstances: number, workers: number): number {
  return 1 / (Math.max(1, fleetInstances) * Math.max(1, workers));
}
