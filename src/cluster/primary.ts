// The cluster primary, for `workers` > 1: it forks the workers (each a whole Fairway proxy on
// the shared listener, node:cluster handing out connections), runs the one admin listener,
// and registers the config's services. It serves no traffic itself.
//
// Discovery runs in each worker, not here: each keeps its own blocking queries to Consul.
// That costs Consul one query per service per worker (cheap: they are blocking queries that
// mostly wait), and buys isolation: a worker needs nothing from the primary to keep routing,
// so a primary busy with an admin request, or a worker that restarts, never delays another
// worker's view of Consul. The admin API asks every worker and adds their answers up.

import cluster, { type Worker } from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from 'pino';
import { formatHostPort } from '../core/address.js';
import { formatProblem, loadConfig, type Config } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { ConsulClient } from '../discovery/consul-client.js';
import { Registrar } from '../discovery/registrar.js';
import { mergeRouteViews } from '../admin/merge.js';
import { createAdminServer, type AdminBackend } from '../admin/server.js';
import type { RouteView } from '../admin/views.js';
import { FileWatcher } from '../file-watcher.js';
import { isMessage, type Ask, type Question } from './ipc.js';

const ASK_TIMEOUT_MS = 3_000;
const RESTART_DELAY_MS = 1_000;

interface Member {
  worker: Worker;
  ready: boolean;
}

export async function runPrimary(configPath: string, workers: number, log: Logger): Promise<number> {
  let config = await load(configPath);
  const members = new Map<number, Member>();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let stopping = false;

  const registrar = config.services.length > 0 ? new Registrar(new ConsulClient(config.consul), log.child({ part: 'registrar' })) : undefined;
  await registrar?.sync(config.services);

  const fork = (): void => {
    const worker = cluster.fork({ FAIRWAY_WORKER: '1' });
    const member: Member = { worker, ready: false };
    members.set(worker.id, member);
    worker.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (m.type === 'ready') member.ready = true;
      else {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.error !== undefined) p.reject(new Error(m.error));
        else p.resolve(m.value);
      }
    });
    worker.on('exit', (code, signal) => {
      members.delete(worker.id);
      if (stopping) return;
      log.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
      setTimeout(() => !stopping && fork(), RESTART_DELAY_MS).unref();
    });
  };

  const ask = (member: Member, q: Ask): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`worker ${member.worker.process.pid} did not answer in ${ASK_TIMEOUT_MS} ms`));
      }, ASK_TIMEOUT_MS);
      pending.set(id, { resolve, reject, timer });
      const question: Question = { ...q, type: 'ask', id };
      member.worker.send(question);
    });
  const askAll = (q: Ask): Promise<unknown[]> => Promise.all([...members.values()].map((m) => ask(m, q)));

  const backend: AdminBackend = {
    ready: () => !stopping && members.size === workers && [...members.values()].every((m) => m.ready),
    routes: async () => mergeRouteViews((await askAll({ what: 'routes' })) as RouteView[][]),
    status: async () => {
      const first = [...members.values()][0];
      const status = first ? ((await ask(first, { what: 'status' })) as Record<string, unknown>) : {};
      return {
        ...status,
        ready: backend.ready(),
        workers: [...members.values()].map((m) => ({ pid: m.worker.process.pid, ready: m.ready })),
        primaryPid: process.pid,
      };
    },
    metrics: async () => {
      const all = (await askAll({ what: 'metrics' })) as Parameters<typeof AggregatorRegistry.aggregate>[0];
      const registry = AggregatorRegistry.aggregate(all);
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    adminToken: () => config.admin.token,
    setDrained: async (endpoint, drained) => ((await askAll({ what: 'drain', endpoint, drained })) as boolean[]).some(Boolean),
  };

  const reloadOwn = (): void => {
    void load(configPath).then(
      (next) => {
        config = next;
        return registrar?.sync(next.services);
      },
      (err: Error) => log.error({ err: err.message }, 'config rejected by the primary; keeping the running one'),
    );
  };

  for (let i = 0; i < workers; i++) fork();
  // Workers watch the file themselves; the primary watches it for services and the token.
  const watcher = new FileWatcher(configPath, () => reloadOwn(), log);
  watcher.start();
  const admin = createAdminServer({ backend, log: log.child({ part: 'admin' }) });
  await listen(admin, config.admin.listen.host, config.admin.listen.port);
  log.info({ workers, admin: `http://${formatHostPort(config.admin.listen.host, config.admin.listen.port)}` }, 'fairway cluster primary started');

  return new Promise<number>((resolve) => {
    const stop = async (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal; exiting now');
        for (const m of members.values()) m.worker.process.kill('SIGKILL');
        resolve(1);
        return;
      }
      stopping = true;
      watcher.stop();
      log.info({ signal }, 'draining workers');
      const exits = [...members.values()].map((m) => once(m.worker, 'exit'));
      for (const m of members.values()) m.worker.process.kill('SIGTERM');
      const deadline = setTimeout(() => {
        for (const m of members.values()) m.worker.process.kill('SIGKILL');
      }, config.drainTimeoutMs + 5_000);
      await Promise.all(exits);
      clearTimeout(deadline);
      if (registrar) {
        registrar.close();
        if (!(await registrar.sync([]))) log.warn('could not deregister every service; Consul may still list them');
      }
      admin.close();
      admin.closeAllConnections();
      log.info('stopped');
      resolve(0);
    };
    process.on('SIGTERM', (s) => void stop(s));
    process.on('SIGINT', (s) => void stop(s));
    process.on('SIGHUP', () => {
      // Each worker reloads the file itself; the primary follows for services and the token.
      for (const m of members.values()) m.worker.process.kill('SIGHUP');
      reloadOwn();
    });
  });

}

async function load(path: string): Promise<Config> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UserError(`${path}: cannot read config file (${err.code ?? err.message})`);
  });
  const result = loadConfig(text, path, process.env);
  if (!result.ok) throw new UserError(result.problems.map(formatProblem).join('\n'));
  return result.config;
}

async function listen(server: Server, host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UserError(`cannot listen on ${formatHostPort(host, port)}: ${err.code ?? err.message}`)));
    server.listen(port, host, () => resolve());
  });
}
