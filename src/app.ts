// One Fairway process, wired: the config file, its composition with routes from Consul KV and
// tags (app/config-composer.ts), the link to Consul (app/consul-session.ts), the route table
// (app/table-controller.ts), the proxy pipeline and its listeners (app/proxy-front.ts), the admin
// listener, and this instance in its fleet (app/fleet-member.ts). Each part keeps its own rules;
// this file connects them and runs the lifecycle: boot, reload, the KV and catalog changes (run
// one at a time with reloads, so their swaps never interleave), drain and stop. The getters at
// the end are what the admin API, metrics and tests read.
//
// Why one file of about 500 lines: the reload, the KV and the catalog swaps share one
// serialized chain, the draining flag and the same six parts, in an order that matters (watches
// before the swap, the swap before the rebuild, registration best effort). Cut apart, each piece
// would take all of those as arguments and the order would live in neither. The rules live in
// the parts; what is left here is that order, and the read-only getters (about 90 lines).

import { createHash } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Metrics } from './admin/metrics.js';
import { adminBackend, createAdminServer } from './admin/server.js';
import { formatHostPort, type HostPort } from './core/address.js';
import { formatProblem, loadConfig, placeProblems, type Config, type ConfigProblem } from './core/config.js';
import type { KvStatus } from './core/kv-routes.js';
import type { FleetDocs } from './core/canary.js';
import { UserError } from './core/errors.js';
import { knownUpstreams, watchKeys, type RouteTable, type TableDeps } from './core/route-table.js';
import type { WatchState } from './discovery/consul-watch.js';
import type { WatchSource } from './discovery/watch-source.js';
import { certificateProblems } from './config-source/certificates.js';
import { loadConfigFile, readConfigText } from './config-source/config-file.js';
import { FileWatcher } from './config-source/file-watcher.js';
import { ConfigComposer, type Catalog } from './app/config-composer.js';
import { ConsulSession } from './app/consul-session.js';
import { FleetMember } from './app/fleet-member.js';
import { ProxyFront } from './app/proxy-front.js';
import { TableController } from './app/table-controller.js';
import { listen } from './listen.js';
import { AccessLog } from './proxy/access-log.js';
import { RequestClock } from './proxy/clock.js';
import { observers, type RequestObserver } from './proxy/observer.js';
import { Forwarder } from './proxy/forwarder.js';
import type { ListenerStatus } from './proxy/listeners.js';

const SETTLE_ON_RELOAD_MS = 2_000;

export interface FairwayOptions {
  configPath: string;
  log: Logger;
  env?: Readonly<Record<string, string | undefined>>;
  /** Watch the config file and reload on change (default true). */
  watch?: boolean;
  rng?: () => number;
  /**
   * `worker`: one of several processes sharing the proxy port (config `workers`); the cluster
   * primary runs the admin listener and registers services, so a worker does neither.
   */
  role?: 'single' | 'worker';
  /** A worker's discovery: the primary's, relayed (cluster/remote-discovery.ts). Default: its own. */
  remoteDiscovery?: (onChange: (key: string) => void) => WatchSource;
  /** Called once, when first discovery has finished. */
  onReady?: () => void;
}

export interface ReloadResult {
  ok: boolean;
  at: string;
  problems: string[];
}

export class Fairway {
  readonly configPath: string;
  readonly log: Logger;
  readonly startedAt = Date.now();
  #env: Readonly<Record<string, string | undefined>>;
  #rng: () => number;
  #deps: TableDeps;
  readonly #clock = new RequestClock();
  /** The config in force: the file's, plus routes from Consul KV and from tags. */
  #configs!: ConfigComposer;
  #configHash = '';
  /** The route table in force and its rebuilds. */
  #tables!: TableController;
  /** Client, discovery and registrar, remade when a reload changes the Consul settings. */
  #consul!: ConsulSession;
  /** What it registers, and its share of rate limits with `fleet:`. */
  #fleet: FleetMember;
  #forwarder: Forwarder;
  readonly metrics: Metrics;
  readonly #observer: RequestObserver;
  /** The request pipeline and the client-facing listeners feeding it. */
  #front: ProxyFront | undefined;
  #admin: HttpServer | undefined;
  #watcher: FileWatcher | undefined;
  #ready = false;
  #draining = false;
  #lastReload: ReloadResult | undefined;
  #reloading: Promise<ReloadResult> = Promise.resolve({ ok: true, at: '', problems: [] });

  readonly #role: 'single' | 'worker';
  readonly #onReady: (() => void) | undefined;

  private constructor(options: FairwayOptions) {
    this.#role = options.role ?? 'single';
    this.#onReady = options.onReady;
    this.configPath = options.configPath;
    this.log = options.log;
    this.#env = options.env ?? process.env;
    this.#rng = options.rng ?? Math.random;
    // Workers share the listener, and each keeps its own token buckets: each enforces its share
    // of a route's rate (the kernel spreads connections, so this is exact only on average).
    // With `fleet:`, each Fairway enforces its share of the fleet's (core/fleet.ts).
    this.#fleet = new FleetMember({
      config: () => this.#configs?.config,
      snapshots: () => this.#consul.snapshots,
      workers: this.#role === 'worker' ? Number(this.#env.FAIRWAY_WORKERS ?? 1) : 1,
      proxy: () => this.#front?.first,
      onCanaryEnd: (key, docs) => void this.#onKv(key, docs),
    });
    this.#deps = { rng: this.#rng, now: this.#clock.now, rateShare: () => this.#fleet.rateShare() };
    this.metrics = new Metrics(this.#clock.now);
    const access = new AccessLog(this.log.child({ part: 'access' }), () => this.config.accessLog, this.#rng);
    const metrics = this.metrics;
    const counted: RequestObserver = {
      onExchange: (ex) => {
        if (this.config.metrics.enabled) metrics.onExchange(ex);
      },
      onRetry: (route) => metrics.onRetry(route),
    };
    this.#observer = observers([counted, access], (err) =>
      this.log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'request observer failed (a bug: please report it)'),
    );
    this.metrics.attach(this);
    this.#consul = new ConsulSession({
      log: this.log,
      rng: this.#rng,
      registers: this.#role !== 'worker',
      onChange: (key) => this.#tables.soon(key),
      ...(options.remoteDiscovery ? { remote: options.remoteDiscovery } : {}),
    });
    this.#forwarder = new Forwarder({
      log: this.log.child({ part: 'proxy' }),
      clock: this.#clock,
      settings: () => this.config,
      observer: this.#observer,
      onEjected: (u, route) => {
        this.metrics.onEjection(u);
        this.log.warn(
          { route: route.config.name, upstream: u.id, addr: u.origin, forMs: Math.round(u.stats.ejectedUntil - this.#clock.t), ejections: u.stats.ejections },
          'instance ejected after consecutive failures',
        );
        // Coalesced like discovery changes: a wave of failures is one rebuild, not one per
        // request, and none runs inside the request's own callback.
        this.#tables.ejected();
      },
    });
  }

  /** Loads the config (UserError listing every problem if it is invalid) and starts serving. */
  static async start(options: FairwayOptions): Promise<Fairway> {
    const app = new Fairway(options);
    const { config, text } = await loadConfigFile(options.configPath, app.#env);
    const unusable = await certificateProblems(config, text, options.configPath);
    if (unusable.length > 0) throw new UserError(unusable.map(formatProblem).join('\n'));
    app.#configs = new ConfigComposer(config, app.#env);
    app.#configHash = hash(text);
    app.#lastReload = { ok: true, at: new Date().toISOString(), problems: [] };
    try {
      await app.#boot();
    } catch (err) {
      await app.stop().catch(() => undefined);
      throw err;
    }
    if (options.watch ?? true) {
      app.#watcher = new FileWatcher(options.configPath, () => void app.reload(), app.log);
      app.#watcher.start();
    }
    return app;
  }

  async #boot(): Promise<void> {
    const config = this.#configs.config;
    this.#tables = new TableController({
      config: () => this.config,
      snapshots: () => this.#consul.snapshots,
      deps: this.#deps,
      tick: () => this.#clock.tick(),
      // After a rebuild that lost instances: their counters and connection pools go.
      onSwept: (table) => {
        this.metrics.prune(table);
        this.#forwarder.retainOnly(knownUpstreams(table));
      },
    });
    await this.#consul.apply(config);
    await this.#consul.registrar?.sync(config.services);
    await this.#consul.discovery?.sync(watchKeys(config));
    await this.#watchTags(config);
    await this.#watchKv(config);
    this.#tables.now();

    this.#front = new ProxyFront({
      forwarder: this.#forwarder,
      log: this.log.child({ part: 'proxy' }),
      listenerLog: this.log.child({ part: 'listener' }),
      table: () => this.#tables.table,
      settings: config.server,
      upstream: () => this.config.upstream,
      observer: this.#observer,
    });
    await this.#front.start(config);
    // A canary plan read before the port was bound could not name this instance yet.
    const pending = this.#fleet.withCanary;
    if (pending) void this.#onKv(pending.key, pending.docs);
    if (this.#role !== 'worker') {
      this.#admin = createAdminServer({ backend: adminBackend(this), log: this.log.child({ part: 'admin' }) });
      await listen(this.#admin, config.admin.listen);
      // Its own registration needs the ports just bound; /-/ready turns its check passing.
      if (config.fleet) await this.#consul.registrar?.sync(this.#fleet.registrations(config, this.#front?.first, this.#admin));
    }
    this.log.info({ proxy: this.proxyUrl, admin: this.adminUrl, routes: config.routes.length }, 'fairway listening');

    void (this.#consul.discovery?.settled() ?? Promise.resolve()).then(() => {
      if (this.#draining) return;
      // Ready means the first answers are in use: a rebuild still waiting out its coalescing
      // window (the start-up one ran moments ago) runs now.
      if (this.#tables.pending) this.#tables.now();
      this.#ready = true;
      this.log.info({ consul: this.consulState }, 'first discovery finished; ready');
      this.#onReady?.();
    });
  }

  /** Re-reads the config file. An invalid file changes nothing; a valid one replaces all of it. */
  reload(): Promise<ReloadResult> {
    return this.#serialized(
      () => this.#reload(),
      (err) => this.#rejected(new Date().toISOString(), [`reload failed: ${err.message}`]),
    );
  }

  /**
   * Runs `task` after every reload, KV value and catalog change queued before it, so their swaps never
   * interleave. Never rejects: a failure is answered by `onError`, and the chain stays usable.
   */
  #serialized(task: () => Promise<ReloadResult>, onError: (err: Error) => ReloadResult): Promise<ReloadResult> {
    const run = () => task().catch(onError);
    this.#reloading = this.#reloading.then(run, run);
    return this.#reloading;
  }

  async #reload(): Promise<ReloadResult> {
    if (this.#draining) return this.#lastReload!;
    const at = new Date().toISOString();
    let text: string;
    try {
      text = await readConfigText(this.configPath);
    } catch (err) {
      return this.#rejected(at, [(err as Error).message]);
    }
    const h = hash(text);
    if (h === this.#configHash) {
      // The file is the running config again (or was only touched): nothing to swap, but a
      // rejected edit that has been undone should stop showing as the last result.
      if (!this.#lastReload?.ok) this.log.info('config file matches the running config again');
      this.#lastReload = { ok: true, at, problems: [] };
      return this.#lastReload;
    }
    const result = loadConfig(text, this.configPath, this.#env);
    if (!result.ok) return this.#rejected(at, result.problems.map(formatProblem));
    // A file naming another fleet.configKey (or none) drops the old key's routes; the new
    // key's come from its own watch, started below.
    const composed = this.#configs.fromFile(result.config);
    if (!composed.ok) return this.#rejected(at, placeProblems(text, this.configPath, composed.clashes).map(formatProblem));
    const unusable = await certificateProblems(result.config, text, this.configPath);
    if (unusable.length > 0) return this.#rejected(at, unusable.map(formatProblem));
    const next = composed.next.config;
    if (!sameAddress(next.admin.listen, this.config.admin.listen)) this.log.warn('admin.listen changed in the config; it takes effect on restart');
    if (next.server.maxHeaderSize !== this.config.server.maxHeaderSize)
      this.log.warn('server.maxHeaderSize changed in the config; it takes effect on restart');
    if (next.server.fastPath !== this.config.server.fastPath)
      this.log.warn('server.fastPath changed in the config; it takes effect on restart');
    await this.#consul.apply(next);
    // Registration is best effort (it retries by itself), so Consul being down fails no reload.
    await this.#consul.registrar?.sync(this.#fleet.registrations(next, this.#front?.first, this.#admin));
    if (this.#draining) return this.#lastReload!;
    await this.#prepareWatches(next);
    if (this.#draining) return this.#lastReload!;
    await this.#front?.apply(next);
    this.#configs.use(composed.next);
    this.#configHash = h;
    this.#tables.now();
    await this.#consul.discovery?.sync(watchKeys(next));
    await this.#watchTags(next);
    await this.#watchKv(next);
    void this.#consul.closeRetired();
    this.#lastReload = { ok: true, at, problems: [] };
    this.metrics.onReload(true);
    this.log.info({ routes: next.routes.length }, 'config reloaded');
    return this.#lastReload;
  }

  /**
   * Starts the watches `next` adds and gives them a moment to answer before its routes go live,
   * so a route added by a reload does not answer 503 while its first query is in flight;
   * watches only the old config uses stop after the swap.
   */
  async #prepareWatches(next: Config): Promise<void> {
    const discovery = this.#consul.discovery;
    if (!discovery) return;
    await discovery.sync(new Map([...watchKeys(this.config), ...watchKeys(next)]));
    const giveUp = new AbortController();
    await Promise.race([discovery.settled(), delay(SETTLE_ON_RELOAD_MS, undefined, { signal: giveUp.signal }).catch(() => undefined)]);
    giveUp.abort();
  }

  /** Starts, moves or stops the watch on fleet.configKey, as the config says. */
  async #watchKv(config: Config): Promise<void> {
    const key = config.fleet?.configKey;
    await this.#consul.discovery?.watchKv(key, key === undefined ? undefined : (docs) => void this.#onKv(key, docs));
  }

  /**
   * A new value of fleet.configKey or its canary plan: the routes of the document this instance
   * runs (core/canary.ts) replace the KV routes in force, if they pass.
   */
  #onKv(key: string, docs: FleetDocs): Promise<unknown> {
    const run = async (): Promise<ReloadResult> => {
      if (this.#draining) return this.#lastReload!;
      const choice = this.#fleet.choose(key, docs);
      if (choice.ignored !== undefined) this.log.info({ key }, choice.ignored);
      const composed = this.#configs.withKv(key, choice, new Date().toISOString());
      if (composed === undefined) return this.#lastReload!;
      const index = choice.entry?.modifyIndex ?? null;
      const canary = choice.canary !== null;
      if (!composed.ok) {
        this.metrics.onReload(false);
        this.log.error({ key, index, canary, problems: composed.problems }, 'routes from Consul KV rejected; keeping the running ones');
        return this.#lastReload!;
      }
      const { next } = composed;
      if (next.config === this.config) {
        this.#configs.use(next);
        return this.#lastReload!;
      }
      await this.#prepareWatches(next.config);
      if (this.#draining) return this.#lastReload!;
      this.#configs.use(next);
      this.#tables.now();
      await this.#consul.discovery?.sync(watchKeys(next.config));
      this.metrics.onReload(true);
      this.log.info({ key, index, canary, routes: next.kvRoutes.map((r) => r.name) }, 'routes from Consul KV applied');
      return this.#lastReload!;
    };
    return this.#serialized(run, (err) => {
      this.log.error({ err: err.message, key }, 'applying routes from Consul KV failed');
      return this.#lastReload!;
    });
  }

  /** Starts or stops watching the catalog for routes from tags, as the config says. */
  async #watchTags(config: Config): Promise<void> {
    await this.#consul.discovery?.watchCatalog(
      config.consulTags ? (services) => void this.#onCatalog(services) : undefined,
    );
  }

  #onCatalog(services: Catalog): Promise<unknown> {
    // Serialized with reloads, so the two never interleave their swaps.
    const run = async (): Promise<ReloadResult> => {
      if (this.#draining) return this.#lastReload!;
      const running = this.config;
      const next = this.#configs.withCatalog(services);
      this.#configs.use(next);
      if (next.config === running) return this.#lastReload!;
      this.log.info({ routes: next.tagRoutes.routes.map((r) => r.name), conflicts: next.tagRoutes.conflicts }, 'routes from Consul tags changed');
      await this.#consul.discovery?.sync(watchKeys(next.config));
      this.#tables.now();
      return this.#lastReload!;
    };
    return this.#serialized(run, (err) => {
      this.log.error({ err: err.message }, 'applying routes from Consul tags failed');
      return this.#lastReload!;
    });
  }

  #rejected(at: string, problems: string[]): ReloadResult {
    this.#lastReload = { ok: false, at, problems };
    this.metrics.onReload(false);
    this.log.error({ problems }, 'config rejected; keeping the running config');
    return this.#lastReload;
  }

  /** Graceful stop: not ready, stop accepting, let in-flight requests finish, deregister. */
  async stop(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.#ready = false;
    this.#tables?.stop();
    this.#watcher?.stop();
    this.#fleet.close();
    // A reload or tag change under way finishes first (each checks #draining after its waits).
    await this.#reloading;
    await this.#front?.drain(this.#configs?.config.drainTimeoutMs ?? 10_000);
    await this.#consul.close();
    await this.#forwarder.close();
    if (this.#admin?.listening) {
      const closed = once(this.#admin, 'close');
      this.#admin.close();
      this.#admin.closeAllConnections();
      await closed;
    }
    this.log.info('stopped');
  }

  /**
   * Takes an instance (by Consul service ID, or host:port for static endpoints) out of every
   * route by hand, or puts it back. Returns false when no route knows that ID.
   */
  setDrained(id: string, drained: boolean): boolean {
    const done = this.#tables.setDrained(id, drained);
    if (done) this.log.warn({ endpoint: id }, drained ? 'endpoint drained by hand' : 'endpoint undrained by hand');
    return done;
  }

  drained(): ReadonlySet<string> {
    return this.#tables.drained;
  }

  adminToken(): string {
    return this.config.admin.token;
  }

  watchStates(): WatchState[] {
    return this.#consul.watchStates();
  }

  /** The monotonic clock ejections and slow start run on. */
  now(): number {
    return performance.now();
  }

  get ready(): boolean {
    return this.#ready && !this.#draining;
  }

  get table(): RouteTable {
    return this.#tables.table;
  }

  get config(): Config {
    return this.#configs.config;
  }

  get lastReload(): ReloadResult | undefined {
    return this.#lastReload;
  }

  get consulState(): string {
    return this.#consul.state;
  }

  get consulAddress(): string | undefined {
    return this.#consul.discovery?.address;
  }

  /** Routes from Consul tags in force, and the services left out, when tag routes are on. */
  get tagRoutes(): { prefix: string; routes: string[]; conflicts: string[] } | undefined {
    return this.#configs.tagRoutes;
  }

  /** With `fleet.configKey`: how the last read of the key went. */
  get fleetConfig(): KvStatus | undefined {
    return this.#configs.fleetConfig;
  }

  get fleet(): { name: string; instances: number; rateShare: number } | undefined {
    return this.#fleet.view();
  }

  /** Passing Fairways in this one's fleet (1 without `fleet:`, or before Consul has said). */
  get fleetSize(): number {
    return this.#fleet.size;
  }

  /** The first listener's URL. */
  get proxyUrl(): string {
    return this.#front?.urls()[0] ?? '';
  }

  /** Every listener's URL (https:// for TLS ones), in config order. */
  get proxyUrls(): string[] {
    return this.#front?.urls() ?? [];
  }

  /** The listeners, their certificates and handshake failures (admin views, metrics). */
  listeners(): ListenerStatus[] {
    return this.#front?.status() ?? [];
  }

  get adminUrl(): string {
    return urlOf(this.#admin);
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function sameAddress(a: HostPort, b: HostPort): boolean {
  return a.host === b.host && a.port === b.port;
}

function urlOf(server: Server | undefined): string {
  const a = server?.address() as AddressInfo | null | undefined;
  if (!a) return '';
  return `http://${formatHostPort(a.address, a.port)}`;
}

export type { ConfigProblem };
