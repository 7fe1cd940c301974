// This Fairway as one of a fleet (config `fleet:`; the rules are pure, in core/fleet.ts and
// core/canary.ts): what the registrar keeps in Consul for it (the config's services, and itself
// in the fleet service once its ports are bound), how many Fairways of the fleet are passing, and
// so the share of every route's rate limit this process enforces; and which of the fleet's KV
// documents it runs when a canary plan is out, with a wake-up when the plan it runs ends.
// Without `fleet:` it is a fleet of one.

import type { AddressInfo, Server } from 'node:net';
import { hostname } from 'node:os';
import type { HostPort } from '../core/address.js';
import type { Config, ServiceRegistration } from '../core/config.js';
import { documentFor, type DocChoice, type FleetDocs } from '../core/canary.js';
import { fleetMemberId, fleetRegistration, fleetSize, rateShare } from '../core/fleet.js';
import { watchKey, type InstanceSnapshot } from '../core/instance.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

export interface FleetMemberOptions {
  /** The config in force (undefined before the first is loaded). */
  config: () => Config | undefined;
  /** What discovery knows now, by watch key (the fleet's service is watched like any other). */
  snapshots: () => ReadonlyMap<string, InstanceSnapshot>;
  /** This Fairway's processes sharing the proxy port (config `workers`; 1 for a single one). */
  workers: number;
  /** The proxy's first listener, once bound (its port names this instance in the fleet). */
  proxy: () => Server | undefined;
  /** Called when the canary plan this instance runs ends: decide again on the same documents. */
  onCanaryEnd: (key: string, docs: FleetDocs) => void;
  now?: () => number;
}

export class FleetMember {
  readonly #opts: FleetMemberOptions;
  /** The last documents read from fleet.configKey, and the timer of the canary plan in force. */
  #docs: { key: string; docs: FleetDocs } | undefined;
  #canaryEnd: NodeJS.Timeout | undefined;

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

  /** This instance's ID in the fleet service, once its proxy port is bound (undefined without `fleet:`). */
  get memberId(): string | undefined {
    const fleet = this.#opts.config()?.fleet;
    const proxy = this.#opts.proxy();
    return fleet === undefined || !proxy?.listening ? undefined : fleetMemberId(fleet.name, hostname(), boundAddress(proxy).port);
  }

  /**
   * Which of `docs` (fleet.configKey and its canary plan, just read) this instance runs now.
   * When it is the canary's, the plan's end is a wake-up (onCanaryEnd) even if KV stays quiet.
   */
  choose(key: string, docs: FleetDocs): DocChoice {
    this.#docs = { key, docs };
    clearTimeout(this.#canaryEnd);
    const now = this.#opts.now?.() ?? Date.now();
    const choice = documentFor(docs, this.memberId, now);
    if (choice.canary !== null) {
      // Past setTimeout's limit (about 24.8 days) Node would fire at once, and again after
      // each decision: a plan written by hand with a far end is looked at again then instead.
      const wait = Math.min(MAX_TIMER_MS, Math.max(0, choice.canary.until - now) + 1);
      this.#canaryEnd = setTimeout(() => this.#opts.onCanaryEnd(key, docs), wait);
      this.#canaryEnd.unref();
    }
    return choice;
  }

  /** The last documents read, if they hold a canary plan (to decide again once the ports are bound). */
  get withCanary(): { key: string; docs: FleetDocs } | undefined {
    return this.#docs?.docs.canary ? this.#docs : undefined;
  }

  close(): void {
    clearTimeout(this.#canaryEnd);
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
