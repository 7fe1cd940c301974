// The cluster primary, for `workers` > 1: it forks the workers (each a whole Fairway proxy on
// the shared listener, node:cluster handing out connections), runs the one admin listener,
// and registers the config's services. It serves no traffic itself.
//
// Discovery runs here, once (cluster/discovery-hub.ts): each worker says what it wants watched
// and gets the snapshots over IPC, so Consul sees one set of blocking queries whatever
// `workers` is, and a worker that restarts routes on the current snapshots at once. A worker
// still routes on its own: a primary busy with an admin request delays only news from Consul,
// never a request. The admin API asks every ready worker and adds their answers up (an explain
// asks one, and says which); drains by hand are kept here too, and given to a worker that
// (re)starts.

import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { ExplainReport } from '../admin/explain.js';
import { mergeRouteViews } from '../admin/merge.js';
import { createAdminServer, type AdminBackend } from '../admin/server.js';
import type { RouteView } from '../admin/views.js';
import { formatHostPort } from '../core/address.js';
import type { Config, ServiceRegistration } from '../core/config.js';
import { fleetRegistration } from '../core/fleet.js';
import { ConsulClient } from '../discovery/consul-client.js';
import { Registrar } from '../discovery/registrar.js';
import { loadConfigFile } from '../config-source/config-file.js';
import { FileWatcher } from '../config-source/file-watcher.js';
import { listen } from '../listen.js';
import { DiscoveryHub } from './discovery-hub.js';
import { isMessage, type Ask, type Question } from './ipc.js';

const ASK_TIMEOUT_MS = 3_000;
const RESTART_DELAY_MS = 1_000;

interface Member {
  worker: Worker;
  ready: boolean;
  /** Asks waiting for this worker's answer, rejected at once if it exits. */
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>;
}

export async function runPrimary(configPath: string, workers: number, log: Logger): Promise<number> {
  let config = (await loadConfigFile(configPath, process.env)).config;
  const members = new Map<number, Member>();
  const drained = new Set<string>();
  let nextId = 1;
  let stopping = false;
  let everReady = false;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const ask = (member: Member, q: Ask): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (!member.worker.isConnected()) {
        reject(new Error(`worker ${member.worker.process.pid} is gone`));
        return;
      }
      const id = nextId++;
      const timer = setTimeout(() => {
        member.pending.delete(id);
        reject(new Error(`worker ${member.worker.process.pid} did not answer in ${ASK_TIMEOUT_MS} ms`));
      }, ASK_TIMEOUT_MS);
      member.pending.set(id, { resolve, reject, timer });
      const question: Question = { ...q, type: 'ask', id };
      member.worker.send(question);
    });

  /** The answers of every ready worker; a worker that fails to answer is left out. */
  const askReady = async (q: Ask): Promise<unknown[]> => {
    const settled = await Promise.allSettled([...members.values()].filter((m) => m.ready).map((m) => ask(m, q)));
    return settled.filter((r): r is PromiseFulfilledResult<unknown> => r.status === 'fulfilled').map((r) => r.value);
  };

  const fork = (): void => {
    const worker = cluster.fork({ FAIRWAY_WORKER: '1', FAIRWAY_WORKERS: String(workers) });
    const member: Member = { worker, ready: false, pending: new Map() };
    members.set(worker.id, member);
    // A worker whose IPC channel broke (it died mid-conversation) must not take the primary down.
    worker.on('error', (err: NodeJS.ErrnoException) => log.warn({ pid: worker.process.pid, err: err.code ?? err.message }, 'worker channel error'));
    worker.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.type === 'watch') {
        hub.demand(worker.id, m, (news) => worker.isConnected() && worker.send(news));
        return;
      }
      if (m.type === 'ready') {
        member.ready = true;
        everReady = true;
        for (const endpoint of drained) void ask(member, { what: 'drain', endpoint, drained: true }).catch(() => undefined);
        return;
      }
      const p = member.pending.get(m.id);
      if (!p) return;
      member.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
    worker.on('exit', (code, signal) => {
      members.delete(worker.id);
      hub.leave(worker.id);
      for (const p of member.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`worker ${worker.process.pid} exited`));
      }
      member.pending.clear();
      if (stopping) return;
      if (!everReady && !member.ready) {
        // A worker that could not even start (a busy port, say) would fail again: give up.
        log.error({ pid: worker.process.pid, code, signal }, 'a worker failed to start; stopping');
        void stop('startup failure', 1);
        return;
      }
      log.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
      setTimeout(() => !stopping && fork(), RESTART_DELAY_MS).unref();
    });
  };

  const backend: AdminBackend = {
    ready: () => !stopping && members.size === workers && [...members.values()].every((m) => m.ready),
    routes: async () => mergeRouteViews((await askReady({ what: 'routes' })) as RouteView[][]),
    status: async () => {
      const [first] = (await askReady({ what: 'status' })) as Array<Record<string, unknown>>;
      return {
        ...first,
        ready: backend.ready(),
        pid: process.pid,
        workers: [...members.values()].map((m) => ({ pid: m.worker.process.pid, ready: m.ready })),
      };
    },
    metrics: async () => {
      const all = (await askReady({ what: 'metrics' })) as Parameters<typeof AggregatorRegistry.aggregate>[0];
      const registry = AggregatorRegistry.aggregate(all);
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    adminToken: () => config.admin.token,
    setDrained: async (endpoint, on) => {
      const known = ((await askReady({ what: 'drain', endpoint, drained: on })) as boolean[]).some(Boolean);
      if (known && on) drained.add(endpoint);
      if (known && !on) drained.delete(endpoint);
      return known;
    },
    explain: async (request) => {
      // One worker answers: a pick is one request's, and rotations and buckets are per worker.
      // The oldest ready one, so repeated questions read the same worker's buckets.
      const member = [...members.values()].find((m) => m.ready);
      if (member === undefined) throw new Error('no worker is ready to explain a request');
      const report = (await ask(member, { what: 'explain', request })) as ExplainReport;
      const worker = { id: member.worker.id, pid: member.worker.process.pid ?? 0, workers };
      const note =
        `Answered by worker ${worker.id} (pid ${worker.pid}) of ${workers}: each worker keeps its own rotation, ` +
        'rate-limit buckets and in-flight counts, so a request another worker takes may be treated differently.';
      return { ...report, worker, text: [...report.text, note] };
    },
  };

  // The admin port first: if it is taken, nothing has been registered or forked yet.
  const admin = createAdminServer({ backend, log: log.child({ part: 'admin' }) });
  await listen(admin, config.admin.listen);

  const hub = new DiscoveryHub(config.consul, log.child({ part: 'discovery' }));
  let consulSettings = JSON.stringify(config.consul);
  let registrar = new Registrar(new ConsulClient(config.consul), log.child({ part: 'registrar' }));
  // The fleet registration names the shared proxy port and this admin listener.
  const adminBound = admin.address() as AddressInfo;
  const registrations = (c: Config): ServiceRegistration[] => {
    const self = fleetRegistration(c, c.listen, { host: adminBound.address, port: adminBound.port }, hostname());
    return self === undefined ? [...c.services] : [...c.services, self];
  };
  await registrar.sync(registrations(config));

  const reloadOwn = (): void => {
    void loadConfigFile(configPath, process.env).then(
      async ({ config: next }) => {
        if (stopping) return;
        config = next;
        hub.reconfigure(next.consul);
        if (JSON.stringify(next.consul) !== consulSettings) {
          consulSettings = JSON.stringify(next.consul);
          const old = registrar;
          registrar = new Registrar(new ConsulClient(next.consul), log.child({ part: 'registrar' }));
          old.close();
          await old.sync([]);
        }
        await registrar.sync(registrations(next));
      },
      (err: Error) => log.error({ err: err.message }, 'config rejected by the primary; keeping the running one'),
    );
  };

  for (let i = 0; i < workers; i++) fork();
  // Workers watch the file themselves; the primary watches it for services and the token.
  const watcher = new FileWatcher(configPath, () => reloadOwn(), log);
  watcher.start();
  log.info({ workers, admin: `http://${formatHostPort(config.admin.listen.host, config.admin.listen.port)}` }, 'fairway cluster primary started');

  async function stop(reason: string, code: number): Promise<void> {
    if (stopping) {
      log.warn({ reason }, 'second signal; exiting now');
      for (const m of members.values()) m.worker.process.kill('SIGKILL');
      finish(1);
      return;
    }
    stopping = true;
    watcher.stop();
    log.info({ reason }, 'draining workers');
    // Told over IPC rather than by signal: a worker may already have had SIGTERM from a service
    // manager that signals the whole group, and would take a second signal as "exit now".
    const exits = [...members.values()].map((m) => once(m.worker, 'exit').catch(() => undefined));
    for (const m of members.values()) if (m.worker.isConnected()) m.worker.send({ type: 'stop' });
    const deadline = setTimeout(() => {
      for (const m of members.values()) m.worker.process.kill('SIGKILL');
    }, config.drainTimeoutMs + 5_000);
    await Promise.all(exits);
    clearTimeout(deadline);
    await hub.close();
    registrar.close();
    if (!(await registrar.sync([]))) log.warn('could not deregister every service; Consul may still list them');
    admin.close();
    admin.closeAllConnections();
    log.info('stopped');
    finish(code);
  }

  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGHUP', () => {
    // Each worker reloads the file itself; the primary follows for services and the token.
    for (const m of members.values()) m.worker.process.kill('SIGHUP');
    reloadOwn();
  });
  return finished;
}
