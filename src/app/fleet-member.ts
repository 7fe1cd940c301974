// This Fairway as one of a fleet (config `fleet:`; the rules are pure, in core/fleet.ts): what
// the registrar keeps in Consul for it (the config's services, and itself in the fleet service
// once its ports are bound), how many Fairways of the fleet are passing, and so the share of
// every route's rate limit this process enforces. Without `fleet:` it is a fleet of one.

import type { AddressInfo, Server } from 'node:net';
import { hostname } from 'node:os';
import type { HostPort } from '../core/address.js';
import type { Config, ServiceRegistration } from '../core/config.js';
import { fleetRegistration, fleetSize, rateShare } from '../core/fleet.js';
import { watchKey, type InstanceSnapshot } from '../core/instance.js';

export interface FleetMemberOptions {
  /** The config in force (undefined before the first is loaded). */
  config: () => Config | undefined;
  /** What discovery knows now, by watch key (the fleet's service is watched like any other). */
  snapshots: () => ReadonlyMap<string, InstanceSnapshot>;
  /** This Fairway's processes sharing the proxy port (config `workers`; 1 for a single one). */
  workers: number;
}

export class FleetMember {
  readonly #opts: FleetMemberOptions;

  constructor(opts: FleetMemberOptions) {
    this.#opts = opts;
  }

  /** Passing Fairways in this one's fleet (1 without `fleet:`, or before Consul has said). */
  get size(): number {
    const fleet = this.#opts.config()?.fleet;
    return fleet === undefined ? 1 : fleetSize(this.#opts.snapshots().get(watchKey(fleet.name, [])));
  }

  /** The share of each route's rate limit this process enforces. */
  rateShare(): number {
    return rateShare(this.size, this.#opts.workers);
  }

  /** The fleet as /api/status shows it, or undefined without `fleet:`. */
  view(): { name: string; instances: number; rateShare: number } | undefined {
    const fleet = this.#opts.config()?.fleet;
    return fleet === undefined ? undefined : { name: fleet.name, instances: this.size, rateShare: this.rateShare() };
  }

  /**
   * What the registrar keeps in Consul for `config`: its services, and this instance in its
   * fleet once the proxy and admin servers are listening (their bound ports go in).
   */
  registrations(config: Config, proxy: Server | undefined, admin: Server | undefined): ServiceRegistration[] {
    const self = admin?.listening && proxy ? fleetRegistration(config, boundAddress(proxy), boundAddress(admin), hostname()) : undefined;
    return self === undefined ? [...config.services] : [...config.services, self];
  }
}

function boundAddress(server: Server): HostPort {
  const a = server.address() as AddressInfo;
  return { host: a.address, port: a.port };
}
