// Registers the config's `services:` with the local Consul agent and deregisters them on a clean
// stop, or when a reload drops them. Only what Fairway itself registered is ever deregistered.

import type { Logger } from 'pino';
import type { ServiceRegistration } from '../core/config.js';
import { registrationBody, type ConsulClient } from './consul-client.js';

export class Registrar {
  /** Service ID → the registration payload last sent for it. */
  readonly registered = new Map<string, string>();
  readonly #client: ConsulClient;
  readonly #log: Logger;

  constructor(client: ConsulClient, log: Logger) {
    this.#client = client;
    this.#log = log;
  }

  /** Makes the agent hold exactly `services` (of those Fairway registers). */
  async sync(services: readonly ServiceRegistration[]): Promise<void> {
    const wanted = new Map(services.map((s) => [s.id, s]));
    for (const id of [...this.registered.keys()]) {
      if (wanted.has(id)) continue;
      await this.#client.deregisterService(id);
      this.registered.delete(id);
      this.#log.info({ id }, 'service deregistered');
    }
    for (const s of services) {
      const body = JSON.stringify(registrationBody(s));
      if (this.registered.get(s.id) === body) continue;
      await this.#client.registerService(s);
      this.registered.set(s.id, body);
      this.#log.info({ id: s.id, service: s.name, address: `${s.address}:${s.port}`, weight: s.weight }, 'service registered');
    }
  }
}
