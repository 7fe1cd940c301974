// The client-facing side of one Fairway: the request pipeline (proxy/server.ts) and the
// listeners feeding it (proxy/listeners.ts), from binding to a graceful drain.
//
// The drain: stop accepting, close keep-alive connections as soon as their last response is out
// (not after keepAliveTimeout), and cut whatever is still busy at the drain timeout, upgraded
// connections (WebSockets) included, which no server tracks.

import type { Server } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { Listeners, type ListenerStatus } from '../proxy/listeners.js';
import { createProxyServer, type ProxyServer, type ProxyServerOptions } from '../proxy/server.js';

/** How often a drain closes connections that have just gone idle. */
const IDLE_SWEEP_MS = 50;

export class ProxyFront {
  readonly #proxy: ProxyServer;
  readonly #listeners: Listeners;

  /** The pipeline, with `settings` (config.server) as it starts; nothing is bound yet. */
  constructor(opts: ProxyServerOptions & { listenerLog: Logger }) {
    this.#proxy = createProxyServer(opts);
    this.#listeners = new Listeners({ proxy: this.#proxy, log: opts.listenerLog, handshakeTimeoutMs: opts.settings.headersTimeoutMs });
  }

  /** Binds the config's listeners. */
  start(config: Config): Promise<void> {
    return this.#listeners.start(config.listeners);
  }

  /** A reload: the server settings that can change while running, and new certificates. */
  async apply(config: Config): Promise<void> {
    this.#proxy.applySettings(config.server);
    await this.#listeners.apply(config.listeners);
  }

  /** Stops accepting, lets requests under way finish for up to `drainMs`, cuts the rest, closes. */
  async drain(drainMs: number): Promise<void> {
    if (this.#listeners.listening) {
      const closed = this.#listeners.close();
      this.#proxy.closeIdleConnections();
      const sweep = setInterval(() => this.#proxy.closeIdleConnections(), IDLE_SWEEP_MS);
      const timer = setTimeout(() => {
        this.#proxy.closeAllConnections();
        for (const t of this.#proxy.tunnels) t.destroy();
      }, drainMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(timer);
    }
    this.#proxy.close();
  }

  /** The first listener's server: the one the fleet registers. */
  get first(): Server | undefined {
    return this.#listeners.servers[0];
  }

  /** Every listener's URL (https:// for TLS ones), in config order. */
  urls(): string[] {
    return this.#listeners.urls();
  }

  /** The listeners, their certificates and handshake failures (admin views, metrics). */
  status(): ListenerStatus[] {
    return this.#listeners.status();
  }
}
