// A TLS listener: node:tls terminates TLS and hands each TLSSocket to the same pipeline as a
// plain connection (server.ts: fast path or Node's HTTP server, both work on a TLSSocket).
//
// Certificates are chosen by SNI (core/sni.ts); the first is the default, for clients that send
// no name or one no certificate has. Each certificate's files are looked at every second
// (stat, which follows symlinks: certbot's live/ links and Kubernetes' ..data swaps both show);
// a change is read once two looks a second apart agree, so a file written in place is not read
// half done. A good new pair gets a new SecureContext, which only new handshakes use: open
// connections keep theirs. A bad one (unreadable, not the certificate's key, expired) keeps
// the old pair in service, logged at warn and shown in /api/status until the files change again.
//
// A failed handshake (garbage, an old TLS version, a client refusing the certificate) is
// counted per listener and logged at debug: it is the client's problem, and port scanners make
// many.

import type { Socket } from 'node:net';
import { createSecureContext, createServer, type SecureContext, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { ListenerConfig } from '../core/config.js';
import { pickCertificate } from '../core/sni.js';
import { isProblem, lookAtPair, readCertificate, type LoadedCertificate } from '../config-source/certificates.js';

type TlsSettings = NonNullable<ListenerConfig['tls']>;

const POLL_MS = 1_000;
const DAY_MS = 86_400_000;

/** A certificate as /api/status shows it. */
export interface CertificateStatus {
  cert: string;
  key: string;
  names: string[];
  notAfter: string;
  /** Unix time of notAfter (the expiry metric's value). */
  notAfterSeconds: number;
  daysLeft: number;
  loadedAt: string;
  /** Why the files on disk are not in use (the previous pair is served), or null. */
  lastReloadError: string | null;
}

/** One certificate slot: the pair in service and what the files looked like. */
interface Slot {
  pair: { cert: string; key: string };
  current: LoadedCertificate;
  context: SecureContext;
  loadedAt: number;
  /** The look the current pair (or the last rejected one) was read at. */
  seen: string;
  /** A look that differs from `seen`, waiting for a second one that agrees. */
  pending: string | undefined;
  error: string | undefined;
}

export interface TlsListenerOptions {
  listener: ListenerConfig;
  log: Logger;
  /** Takes each connection once its handshake is done. */
  accept: (socket: TLSSocket) => void;
  /** A client must finish its handshake within this. */
  handshakeTimeoutMs: number;
  now?: () => number;
}

export class TlsListener {
  readonly server: Server;
  readonly name: string;
  handshakeErrors = 0;
  #tls: TlsSettings;
  #slots: Slot[] = [];
  #names: string[][] = [];
  #timer: NodeJS.Timeout | undefined;
  /**
   * TCP connections whose handshake is not done, by peer address: no HTTP server knows them,
   * so shutdown closes them here (else the listener's close waits for handshakeTimeout).
   */
  readonly #handshaking = new Map<string, Socket>();
  #polling = false;
  readonly #log: Logger;
  readonly #now: () => number;

  private constructor(opts: TlsListenerOptions, tls: TlsSettings, slots: Slot[]) {
    this.name = opts.listener.name;
    this.#tls = tls;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    this.#use(slots);
    const first = slots[0]!.current;
    this.server = createServer(
      {
        cert: first.certPem,
        key: first.keyPem,
        minVersion: tls.minVersion,
        // Server preference: h2 when the listener has http2 and the client offers it.
        ALPNProtocols: opts.listener.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
        SNICallback: (servername, cb) => cb(null, this.contextFor(servername)),
        handshakeTimeout: opts.handshakeTimeoutMs,
        allowHalfOpen: true,
        noDelay: true,
      },
      (socket: TLSSocket) => {
        this.#handshaking.delete(peerKey(socket));
        opts.accept(socket);
      },
    );
    this.server.on('connection', (raw: Socket) => {
      const key = peerKey(raw);
      this.#handshaking.set(key, raw);
      raw.once('close', () => this.#handshaking.get(key) === raw && this.#handshaking.delete(key));
    });
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      this.handshakeErrors++;
      this.#log.debug({ listener: this.name, remote: socket.remoteAddress, err: err.code ?? err.message }, 'TLS handshake failed');
    });
  }

  /** Reads every certificate (the config was checked: a bad pair here is an error) and makes the listener. */
  static async create(opts: TlsListenerOptions): Promise<TlsListener> {
    const tls = opts.listener.tls!;
    const slots = await loadSlots(tls, (opts.now ?? Date.now)());
    const listener = new TlsListener(opts, tls, slots);
    listener.#warnExpired();
    return listener;
  }

  /** The context for a handshake that asked for `servername`. */
  contextFor(servername: string | undefined): SecureContext {
    return this.#slots[pickCertificate(this.#names, servername)]!.context;
  }

  /** Starts looking at the files every second. */
  watch(): void {
    this.#timer ??= setInterval(() => void this.poll(), POLL_MS).unref();
  }

  /** Stops watching the files, and closes the connections still in their handshake. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const raw of this.#handshaking.values()) raw.destroy();
    this.#handshaking.clear();
  }

  /** A reload changed this listener's certificates or minVersion: read them all (checked already). */
  async reconfigure(tls: TlsSettings): Promise<void> {
    if (JSON.stringify(tls) === JSON.stringify(this.#tls)) return;
    const slots = await loadSlots(tls, this.#now());
    this.#tls = tls;
    this.#use(slots);
    this.#log.info({ listener: this.name, certificates: slots.length }, 'TLS certificates reconfigured');
    this.#warnExpired();
  }

  /** One look at every certificate's files; reads those that changed and have settled. */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      for (const slot of this.#slots) {
        const look = await lookAtPair(slot.pair);
        if (look === slot.seen) {
          slot.pending = undefined;
          continue;
        }
        if (look !== slot.pending) {
          slot.pending = look;
          continue;
        }
        slot.pending = undefined;
        slot.seen = look;
        // At once, before the next slot's look: SNI handshakes read the slot's new context right
        // away, so the default (no-SNI) context must not lag behind it.
        if (await this.#reread(slot)) this.#use(this.#slots);
      }
    } finally {
      this.#polling = false;
    }
  }

  /** Reads a slot's changed files; true when the new pair is in service. */
  async #reread(slot: Slot): Promise<boolean> {
    const next = await this.#usable(slot.pair);
    if (typeof next === 'string') {
      slot.error = next;
      this.#log.warn({ listener: this.name, cert: slot.pair.cert, key: slot.pair.key, err: next }, 'new certificate files not usable; keeping the one in service');
      return false;
    }
    Object.assign(slot, { current: next.loaded, context: next.context, loadedAt: this.#now(), error: undefined, seen: next.loaded.look });
    this.#log.info({ listener: this.name, cert: next.loaded.cert, names: next.loaded.names, notAfter: new Date(next.loaded.notAfter).toISOString() }, 'certificate reloaded');
    return true;
  }

  /** A replacement pair and its context, or why it must not replace the one in service. */
  async #usable(pair: { cert: string; key: string }): Promise<{ loaded: LoadedCertificate; context: SecureContext } | string> {
    const loaded = await readCertificate(pair);
    if (isProblem(loaded)) return loaded.message;
    if (loaded.notAfter <= this.#now()) return `${loaded.cert} expired on ${new Date(loaded.notAfter).toISOString()}`;
    try {
      return { loaded, context: createSecureContext({ cert: loaded.certPem, key: loaded.keyPem, minVersion: this.#tls.minVersion }) };
    } catch (err) {
      return `OpenSSL refuses the pair: ${(err as Error).message}`;
    }
  }

  /** Puts `slots` in service: SNI names, and the default context for clients without SNI. */
  #use(slots: Slot[]): void {
    this.#slots = slots;
    this.#names = slots.map((s) => [...s.current.names]);
    // Only handshakes that start from now on read the new default; open connections keep theirs.
    const first = slots[0]!.current;
    this.server?.setSecureContext({ cert: first.certPem, key: first.keyPem, minVersion: this.#tls.minVersion });
  }

  #warnExpired(): void {
    const now = this.#now();
    for (const s of this.#slots)
      if (s.current.notAfter <= now) this.#log.warn({ listener: this.name, cert: s.pair.cert, notAfter: new Date(s.current.notAfter).toISOString() }, 'certificate has expired; clients will refuse it');
  }

  status(): CertificateStatus[] {
    const now = this.#now();
    return this.#slots.map((s) => ({
      cert: s.pair.cert,
      key: s.pair.key,
      names: [...s.current.names],
      notAfter: new Date(s.current.notAfter).toISOString(),
      notAfterSeconds: Math.floor(s.current.notAfter / 1000),
      daysLeft: Math.floor((s.current.notAfter - now) / DAY_MS),
      loadedAt: new Date(s.loadedAt).toISOString(),
      lastReloadError: s.error ?? null,
    }));
  }
}

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

async function loadSlots(tls: TlsSettings, now: number): Promise<Slot[]> {
  const slots: Slot[] = [];
  for (const pair of tls.certificates) {
    const r = await readCertificate(pair);
    if (isProblem(r)) throw new Error(r.message);
    const context = createSecureContext({ cert: r.certPem, key: r.keyPem, minVersion: tls.minVersion });
    slots.push({ pair, current: r, context, loadedAt: now, seen: r.look, pending: undefined, error: undefined });
  }
  return slots;
}
