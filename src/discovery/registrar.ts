// Registers the config's `services:` with the local Consul agent and deregisters them on a clean
// stop, or when a reload drops them. Only what Fairway itself registered is ever deregistered.
//
// Registration is best effort and never blocks serving: when Consul cannot be reached (at start
// or on a reload), the failure is logged and the same reconciliation is retried with backoff
// until it succeeds or the wanted set changes again (1 s after the first failure, doubling to
// 30 s; a success starts over at 1 s).
//
// What it needs of Consul is two calls (RegistrationClient), so test/unit/registrar.test.ts runs
// its decisions against a fake agent; the real client's wire format is tested with a real one.

import type { Logger } from 'pino';
import type { ServiceRegistration } from '../core/config.js';
import { registrationBody, type ConsulClient } from './consul-client.js';

const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** The part of ConsulClient the registrar calls. */
export type RegistrationClient = Pick<ConsulClient, 'registerService' | 'deregisterService'>;

export class Registrar {
  /** Service ID → the registration payload last sent for it. */
  readonly registered = new Map<string, string>();
  readonly #client: RegistrationClient;
  readonly #log: Logger;
  #wanted: readonly ServiceRegistration[] = [];
  #retry: NodeJS.Timeout | undefined;
  #failures = 0;
  #running: Promise<boolean> = Promise.resolve(true);
  #closed = false;

  constructor(client: RegistrationClient, log: Logger) {
    this.#client = client;
    this.#log = log;
  }

  /**
   * Makes the agent hold exactly `services` (of those Fairway registers). Resolves true when the
   * agent now does, false when Consul failed (a retry is scheduled); never rejects.
   */
  sync(services: readonly ServiceRegistration[]): Promise<boolean> {
    // Once closed, only deregistering is left to do: a late reload must not register again.
    if (this.#closed && services.length > 0) return Promise.resolve(false);
    this.#wanted = services;
    clearTimeout(this.#retry);
    this.#running = this.#running.then(() => this.#reconcile());
    return this.#running;
  }

  /** Stops retrying; what is registered stays registered. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
  }

  async #reconcile(): Promise<boolean> {
    const wanted = new Map(this.#wanted.map((s) => [s.id, s]));
    try {
      for (const id of [...this.registered.keys()]) {
        if (wanted.has(id)) continue;
        await this.#client.deregisterService(id);
        this.registered.delete(id);
        this.#log.info({ id }, 'service deregistered');
      }
      for (const s of wanted.values()) {
        const body = JSON.stringify(registrationBody(s));
        if (this.registered.get(s.id) === body) continue;
        await this.#client.registerService(s);
        this.registered.set(s.id, body);
        this.#log.info({ id: s.id, service: s.name, address: `${s.address}:${s.port}`, weight: s.weight }, 'service registered');
      }
      this.#failures = 0;
      return true;
    } catch (err) {
      this.#failures++;
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(10, this.#failures - 1));
      this.#log.warn({ err: (err as Error).message, retryInMs: this.#closed ? null : delay }, 'service registration failed');
      if (!this.#closed) {
        this.#retry = setTimeout(() => void this.sync(this.#wanted), delay);
        this.#retry.unref();
      }
      return false;
    }
  }
}
