// The client-facing listeners of one process: a TCP server per plain listener, a TLS server
// (tls-listener.ts) per TLS one, all feeding the one pipeline (server.ts). What is per
// listener rides on the connection: a TLSSocket says `encrypted`, and a `redirectToHttps`
// listener marks its sockets (messages.ts kHttpsRedirect), so the hot path asks the socket
// instead of looking a listener up. An `http2: true` listener sends HTTP/2 connections to the
// HTTP/2 side of the pipeline: by ALPN on TLS, by the connection preface (preface.ts) in clear.
//
// Addresses and the set of listeners apply on restart; a reload may change a TLS listener's
// certificates and minVersion, which apply to new handshakes.

import { once } from 'node:events';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { formatHostPort } from '../core/address.js';
import type { ListenerConfig } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { listen } from '../listen.js';
import { kHttpsRedirect, type HttpsRedirect } from './messages.js';
import { routeByPreface } from './preface.js';
import type { ProxyServer } from './server.js';
import { TlsListener, type CertificateStatus } from './tls-listener.js';

/** A listener as /api/status and `fairway status` show it. */
export interface ListenerStatus {
  name: string;
  /** The bound address (a port 0 in the config shows the port it got). */
  address: string;
  tls: boolean;
  redirectToHttps: boolean;
  http2: boolean;
  handshakeErrors: number;
  certificates: CertificateStatus[];
}

interface Bound {
  readonly config: ListenerConfig;
  readonly server: Server;
  readonly tls: TlsListener | undefined;
}

export interface ListenersOptions {
  proxy: ProxyServer;
  log: Logger;
  handshakeTimeoutMs: number;
  /** Look at certificate files every second and reload them (default true). */
  watchCertificates?: boolean;
}

export class Listeners {
  readonly #opts: ListenersOptions;
  #bound: Bound[] = [];
  /** Shared by every redirecting listener's sockets; its port is known once TLS is bound. */
  readonly #https: HttpsRedirect = { portSuffix: '' };

  constructor(opts: ListenersOptions) {
    this.#opts = opts;
  }

  /** Binds every listener, TLS ones first (their port goes into redirects). */
  async start(configs: readonly ListenerConfig[]): Promise<void> {
    const { proxy, log } = this.#opts;
    const redirect = this.#https;
    for (const config of configs) {
      let server: Server;
      let tls: TlsListener | undefined;
      if (config.tls) {
        try {
          tls = await TlsListener.create({
            listener: config,
            log,
            accept: (s) => (s.alpnProtocol === 'h2' ? proxy.acceptH2(s) : proxy.accept(s)),
            handshakeTimeoutMs: this.#opts.handshakeTimeoutMs,
          });
        } catch (err) {
          throw new UserError(`listener ${config.name}: ${(err as Error).message}`);
        }
        server = tls.server;
      } else {
        const marks = config.redirectToHttps;
        const h2c = config.http2;
        const timeoutMs = this.#opts.handshakeTimeoutMs;
        server = createTcpServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket & { [kHttpsRedirect]?: HttpsRedirect }) => {
          if (marks) socket[kHttpsRedirect] = redirect;
          if (h2c) routeByPreface(socket, proxy, timeoutMs);
          else proxy.accept(socket);
        });
      }
      this.#bound.push({ config, server, tls });
    }
    const ordered = [...this.#bound].sort((a, b) => Number(b.tls !== undefined) - Number(a.tls !== undefined));
    let httpsKnown = false;
    for (const b of ordered) {
      await listen(b.server, b.config.address);
      if (b.tls !== undefined && !httpsKnown) {
        httpsKnown = true;
        const port = (b.server.address() as AddressInfo).port;
        this.#https.portSuffix = port === 443 ? '' : `:${port}`;
      }
      if (this.#opts.watchCertificates ?? true) b.tls?.watch();
    }
  }

  /** The servers in config order; the first is the one the fleet registers. */
  get servers(): Server[] {
    return this.#bound.map((b) => b.server);
  }

  get listening(): boolean {
    return this.#bound.some((b) => b.server.listening);
  }

  /** `http://` or `https://` URLs of the bound listeners, in config order. */
  urls(): string[] {
    return this.#bound.map((b) => {
      const a = b.server.address() as AddressInfo | null;
      return a ? `${b.tls ? 'https' : 'http'}://${formatHostPort(a.address, a.port)}` : '';
    });
  }

  /** A reload: new certificates and minVersion apply; anything else waits for a restart. */
  async apply(configs: readonly ListenerConfig[]): Promise<void> {
    const same = configs.length === this.#bound.length && configs.every((c, i) => sameShape(c, this.#bound[i]!.config));
    if (!same) this.#opts.log.warn('listeners changed in the config (addresses, tls on or off, redirectToHttps, http2); they take effect on restart');
    for (const [i, c] of configs.entries()) {
      const b = this.#bound[i];
      if (b?.tls === undefined || c.tls === undefined || b.config.name !== c.name) continue;
      try {
        await b.tls.reconfigure(c.tls);
      } catch (err) {
        // Checked moments ago by the reload; a file changed since. The running pairs stay.
        this.#opts.log.error({ listener: c.name, err: (err as Error).message }, 'new TLS certificates not usable; keeping the ones in service');
      }
    }
  }

  /** Stops accepting on every listener; resolves once each has closed (open connections drain). */
  async close(): Promise<void> {
    const closing: Array<Promise<unknown>> = [];
    for (const b of this.#bound) {
      if (b.server.listening) {
        closing.push(once(b.server, 'close'));
        b.server.close();
      }
      // After close: no new connection can start a handshake that nobody would end.
      b.tls?.stop();
    }
    await Promise.all(closing);
  }

  status(): ListenerStatus[] {
    return this.#bound.map((b) => {
      const a = b.server.address() as AddressInfo | null;
      return {
        name: b.config.name,
        address: a ? formatHostPort(a.address, a.port) : b.config.name,
        tls: b.tls !== undefined,
        redirectToHttps: b.config.redirectToHttps,
        http2: b.config.http2,
        handshakeErrors: b.tls?.handshakeErrors ?? 0,
        certificates: b.tls?.status() ?? [],
      };
    });
  }
}

function sameShape(a: ListenerConfig, b: ListenerConfig): boolean {
  return a.name === b.name && (a.tls === undefined) === (b.tls === undefined) && a.redirectToHttps === b.redirectToHttps && a.http2 === b.http2;
}
