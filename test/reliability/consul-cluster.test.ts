// A real three-server Consul cluster loses its leader (SIGKILL) under steady load, then its
// quorum, then gets it back. Two Fairways watch through the same non-leader agent, one with
// default-consistency reads and one with `consul.stale: true`; both also watch the catalog
// (routes from tags). Clients must see no error throughout; after each election discovery must
// go on (an instance registered after it joins, one whose check fails leaves, and comes back);
// and /api/status must say what the watches went through.
//
// What Consul 1.14 does, which the assertions follow: blocking health reads are answered from
// the agent's streaming view whatever the consistency, so they rarely see a leader change;
// catalog reads and every index-0 read go to the leader unless stale. A forwarded read that
// finds no leader is held up to rpc_hold_timeout (7 s, past its wait for a blocking one), then
// answered 500 "No cluster leader"; one whose leader is gone but not yet replaced gets a 500
// "rpc error getting client ... connection refused".

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackends, type Backend } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { ConsulCluster, type ClusterNode } from '../support/consul-cluster.js';
import { baseConfig, startFairway, until, waitReady } from '../support/fairway.js';
import { startLoad, type LoadHandle } from '../support/load.js';

interface WatchView {
  key: string;
  synced: boolean;
  failing: boolean;
  lastError: string | null;
  lastErrorStatus: number | null;
  lastSuccessAgoMs: number | null;
  index: number;
  updates: number;
  errors: number;
}
interface StatusView {
  consul: string;
  consulAddress: string | null;
  watches: WatchView[];
}

async function status(app: Fairway): Promise<StatusView> {
  return (await (await fetch(`${app.adminUrl}/api/status`)).json()) as StatusView;
}

/** Instance IDs the route sends traffic to now. */
function activeIds(app: Fairway): string[] {
  return (app.table.routes[0]?.upstreams ?? []).map((u) => u.id).sort();
}

/** One watch of a status view, by key (the service's, or CATALOG for routes from tags). */
function watch(s: StatusView, key: string): WatchView {
  const w = s.watches.find((x) => x.key === key);
  if (!w) throw new Error(`no watch ${key} in ${JSON.stringify(s.watches)}`);
  return w;
}

const CATALOG = '(catalog)';

/** Everything /api/status said while it was polled: each change of consul state or of a watch's error, timed. */
class StatusLog {
  readonly changes: Array<{ atMs: number; consul: string; watches: string[] }> = [];
  #stopped = false;
  #mark = Date.now();
  #last = '';
  readonly #done: Promise<void>;

  constructor(app: Fairway) {
    this.#done = (async () => {
      while (!this.#stopped) {
        try {
          const s = await status(app);
          const watches = s.watches.map((w) => `${w.key}: ${w.failing ? `failing (${w.errors} errors) ${w.lastErrorStatus ?? 'no answer'}: ${w.lastError}` : `ok (${w.errors} errors)`}`);
          const key = `${s.consul} ${watches.join()}`;
          if (key !== this.#last) {
            this.#last = key;
            this.changes.push({ atMs: Date.now() - this.#mark, consul: s.consul, watches });
          }
        } catch {
          // the admin API not answering shows as a gap between changes, not as a crash here
        }
        await sleep(25);
      }
    })();
  }

  /** Times from now on are relative to this moment. */
  mark(what: string): void {
    this.#mark = Date.now();
    this.#last = '';
    this.changes.push({ atMs: 0, consul: `(${what})`, watches: [] });
  }

  /** Changes since the last mark. */
  sinceMark(): Array<{ atMs: number; consul: string; watches: string[] }> {
    let i = this.changes.length - 1;
    while (i >= 0 && !this.changes[i]!.consul.startsWith('(')) i--;
    return this.changes.slice(i + 1);
  }

  stop(): Promise<void> {
    this.#stopped = true;
    return this.#done;
  }
}

describe('a 3-server Consul cluster loses its leader under load', () => {
  const service = `web-${randomUUID().slice(0, 8)}`;
  const cluster = new ConsulCluster(inject('consulBin'));
  let follower: ClusterNode;
  let firstLeader: ClusterNode;
  let secondLeader: ClusterNode;
  /** The survivor of the first kill that is not Fairway's agent. */
  let other: ClusterNode;
  let consul: ConsulApi;
  let backends: Backend[] = [];
  const apps: Array<{ name: string; app: Fairway; log: StatusLog; load?: LoadHandle; before?: StatusView }> = [];
  /** Started while the cluster has no leader, without load. */
  const late: Array<{ name: string; app: Fairway; log: StatusLog }> = [];
  let killedAt = 0;
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const id = (n: number) => `${service}-${n}`;

  async function register(i: number): Promise<void> {
    await consul.put('/v1/agent/service/register', {
      ID: id(i + 1),
      Name: service,
      Address: '127.0.0.1',
      Port: backends[i]!.port,
      Check: { HTTP: `http://${backends[i]!.address}/health`, Interval: '500ms', Status: 'passing' },
    });
  }

  beforeAll(async () => {
    await cluster.start();
    timings.clusterUpMs = Date.now() - t0;
    firstLeader = (await cluster.leader(cluster.nodes[0]!))!;
    follower = cluster.nodes.find((n) => n !== firstLeader)!;
    consul = new ConsulApi(follower.address);
    backends = await startBackends(4);
    for (const i of [0, 1, 2]) await register(i);
    for (const [name, stale] of [['default', false], ['stale', true]] as const) {
      // A 5 s wait instead of 30 s only makes the quorum-loss phase shorter (see there). Routes
      // from tags add a catalog watch: unlike health reads, Consul forwards those to the leader.
      const app = await startFairway(
        baseConfig({
          consul: { address: follower.address, stale, wait: '5s' },
          consulTags: { prefix: 'fw' },
          routes: [{ name: 'web', match: { pathPrefix: '/' }, service }],
        }),
      );
      apps.push({ name, app, log: new StatusLog(app) });
      await waitReady(app);
    }
  }, 120_000);

  afterAll(async () => {
    for (const a of apps) a.load?.stop();
    for (const a of apps) await a.load?.done.catch(() => undefined);
    for (const a of [...apps, ...late]) {
      await a.log.stop();
      await a.app.stop().catch((err: unknown) => console.error(`${a.name}: stop failed`, err));
    }
    await Promise.all(backends.map((b) => b.close())).finally(() => cluster.stop());
    console.log('consul cluster timings (ms):', timings);
    for (const a of [...apps, ...late])
      console.log(`${a.name}: /api/status changes (ms after each mark):\n${a.log.changes.map((c) => `  ${c.atMs} ${c.consul} ${c.watches.join(' | ')}`).join('\n')}`);
  }, 60_000);

  it('Fairway, watching through a follower, routes to the 3 instances registered there', async () => {
    expect(follower).not.toBe(firstLeader);
    for (const { app } of apps) {
      await until(() => activeIds(app).length === 3, 15_000, 'three instances');
      expect(activeIds(app)).toEqual([id(1), id(2), id(3)]);
      expect((await status(app)).consul).toBe('connected');
    }
  });

  it('the leader is SIGKILLed under load from 8 + 4 keep-alive clients and the survivors elect a new one', async () => {
    apps[0]!.load = startLoad(apps[0]!.app.proxyUrl, { clients: 8, durationMs: 300_000 });
    apps[1]!.load = startLoad(apps[1]!.app.proxyUrl, { clients: 4, durationMs: 300_000 });
    await sleep(1_000);
    for (const a of apps) {
      a.before = await status(a.app);
      a.log.mark('leader killed');
    }
    killedAt = Date.now();
    await cluster.kill(firstLeader);
    secondLeader = await cluster.waitForLeader(follower, firstLeader);
    timings.electionMs = Date.now() - killedAt;
    other = cluster.nodes.find((n) => n !== firstLeader && n !== follower)!;
    expect(await cluster.waitForLeader(other, firstLeader)).toBe(secondLeader);
  });

  it('discovery goes on after the election: a 4th instance joins, an instance whose check fails leaves', async () => {
    await register(3);
    const registeredAt = Date.now();
    for (const { name, app } of apps) {
      await until(() => activeIds(app).includes(id(4)), 30_000, `${name}: 4th instance in rotation`);
      timings[`${name}.joinMs`] = Date.now() - registeredAt;
    }
    backends[0]!.healthy = false;
    const failedAt = Date.now();
    await until(async () => (await consul.instanceStatus(service, id(1))) === 'critical', 30_000, 'consul marks instance 1 critical');
    timings.consulCriticalMs = Date.now() - failedAt;
    for (const { name, app } of apps) {
      await until(() => !activeIds(app).includes(id(1)), 30_000, `${name}: failed instance out of rotation`);
      timings[`${name}.leaveMs`] = Date.now() - failedAt;
      expect(activeIds(app)).toEqual([id(2), id(3), id(4)]);
    }
  });

  it('/api/status after the election: connected, answered since the kill, the changes counted', async () => {
    for (const a of apps) {
      const s = await status(a.app);
      console.log(`${a.name}: after the election`, s.consul, s.watches, 'changes since the kill:', a.log.sinceMark());
      expect(s.consulAddress).toBe(follower.address);
      expect(s.consul).toBe('connected');
      for (const w of s.watches) {
        expect(w).toMatchObject({ synced: true, failing: false, lastError: null });
        expect(w.lastSuccessAgoMs).not.toBeNull();
        expect(w.lastSuccessAgoMs!).toBeLessThan(Date.now() - killedAt);
      }
      expect(watch(s, service).updates).toBeGreaterThanOrEqual(watch(a.before!, service).updates + 2);
    }
  });

  it('quorum lost (the other survivor SIGKILLed too): clients see no error; a Fairway started now discovers nothing unless stale', async () => {
    const before = await Promise.all(apps.map((a) => status(a.app)));
    for (const a of apps) a.log.mark('quorum lost');
    const lostAt = Date.now();
    // Fairway's agent may be the new leader itself: the other survivor goes, either way the
    // agent is left alone, one of three.
    await cluster.kill(other);
    await until(async () => (await cluster.leader(follower)) === undefined, 30_000, 'follower without a leader');
    timings.leaderGoneMs = Date.now() - lostAt;
    // Fairways started now make index-0 reads, which Consul answers from the leader by default.
    for (const [name, stale] of [['late default', false], ['late stale', true]] as const) {
      const app = await startFairway(
        baseConfig({ consul: { address: follower.address, stale, wait: '5s' }, routes: [{ name: 'web', match: { pathPrefix: '/' }, service }] }),
      );
      late.push({ name, app, log: new StatusLog(app) });
      const startedAt = Date.now();
      await waitReady(app, 30_000);
      timings[`${name}.readyMs`] = Date.now() - startedAt;
    }
    // Longer than a blocking read may be held without a leader (wait 5 s + wait/16 +
    // rpc_hold_timeout 7 s), so every read in flight at the loss has come back by now.
    await sleep(Math.max(0, lostAt + 13_000 - Date.now()));
    for (const [i, a] of apps.entries()) {
      const s = await status(a.app);
      const w = watch(s, service);
      console.log(`${a.name}: quorum lost ${Date.now() - lostAt} ms ago`, s.consul, s.watches, 'changes since:', a.log.sinceMark());
      // Consul 1.14 answers blocking health reads from its streaming view (with or without
      // ?stale), fed by this agent's own state, so a health watch usually sees nothing. But
      // when the stream went through the server killed, the watch gets one error and starts
      // over at index 0, and a default-consistency index-0 read needs a leader: then it
      // fails, honestly, until quorum is back. A stale one is answered by the agent.
      if (a.name === 'stale' || !w.failing) {
        expect(w.failing).toBe(false);
        expect(w.lastSuccessAgoMs!).toBeLessThan(Date.now() - lostAt);
      } else {
        expect(s.consul).toBe('error');
        expect(w.lastError).toMatch(/No cluster leader|rpc error/);
      }
      expect(w.errors).toBeGreaterThanOrEqual(watch(before[i]!, service).errors);
      await expectInstancesFollowingConsul(activeIds(a.app), a.name);
    }
    const [def, stale] = apps as [(typeof apps)[0], (typeof apps)[0]];
    // The catalog read is forwarded to the leader unless stale: Consul holds it for up to
    // rpc_hold_timeout (7 s) past its wait, then answers 500 "No cluster leader". (Fairway
    // gives up on a blocking read 5 s past its wait, so a read in flight at the loss ends in
    // UND_ERR_HEADERS_TIMEOUT and the agent is reported unreachable first; the changes logged
    // below show when that happened.)
    await until(async () => watch(await status(def.app), CATALOG).lastError?.includes('No cluster leader') === true, 30_000, 'default: catalog watch sees no leader');
    timings['default.catalog500Ms'] = Date.now() - lostAt;
    const dc = await status(def.app);
    console.log('default: catalog watch without a leader', dc.consul, watch(dc, CATALOG), 'changes since the loss:', def.log.sinceMark());
    expect(dc.consul).toBe('error');
    expect(watch(dc, CATALOG)).toMatchObject({ failing: true, lastErrorStatus: 500 });
    expect(watch(dc, CATALOG).lastError).toContain('No cluster leader');
    const sc = await status(stale.app);
    expect(sc.consul).toBe('connected');
    expect(watch(sc, CATALOG)).toMatchObject({ failing: false, errors: watch(before[1]!, CATALOG).errors });

    const [lateDefault, lateStale] = late as [(typeof late)[0], (typeof late)[0]];
    const d = await status(lateDefault.app);
    const probe = await fetch(lateDefault.app.proxyUrl);
    const ready = await fetch(`${lateDefault.app.adminUrl}/-/ready`);
    console.log('late default:', d.consul, d.watches[0], `GET / → ${probe.status} ${await probe.text()}; /-/ready → ${ready.status}`);
    expect(d.consul).toBe('error');
    expect(d.watches[0]).toMatchObject({ synced: false, failing: true, lastErrorStatus: 500 });
    expect(d.watches[0]!.lastError).toContain('No cluster leader');
    expect(activeIds(lateDefault.app)).toEqual([]);
    const s = await status(lateStale.app);
    console.log('late stale:', s.consul, s.watches[0]);
    expect(s.consul).toBe('connected');
    await expectInstancesFollowingConsul(activeIds(lateStale.app), 'late stale');
  }, 90_000);

  /**
   * No instance is lost while there is no quorum. Instance 1 (its check failing since the last
   * test) was seen in rotation in some loaded runs, the follower's copy of the catalog not having
   * the failure when the leader went: then Consul's own stale view on the follower must say so
   * too, for Fairway only follows Consul.
   */
  async function expectInstancesFollowingConsul(ids: string[], who: string): Promise<void> {
    expect(ids).toEqual(expect.arrayContaining([id(2), id(3), id(4)]));
    if (!ids.includes(id(1))) return;
    const view = (await (await fetch(`${follower.address}/v1/health/service/${service}?stale`)).json()) as Array<{ Service: { ID: string }; Checks: Array<{ Status: string }> }>;
    const one = view.find((e) => e.Service.ID === id(1));
    console.log(`${who}: instance 1 in rotation during the quorum loss; Consul's stale view on the follower:`, one?.Checks.map((c) => c.Status));
    expect(one?.Checks.every((c) => c.Status !== 'critical')).toBe(true);
  }

  it('quorum back (that server restarted): the late default Fairway discovers, and every Fairway sees a change', async () => {
    for (const a of [...apps, ...late]) a.log.mark('quorum back');
    cluster.restart(other);
    const restartedAt = Date.now();
    await cluster.waitForLeader(follower, undefined, 30_000);
    timings.reelectionMs = Date.now() - restartedAt;
    const lateDefault = late[0]!;
    await until(() => activeIds(lateDefault.app).length === 3, 30_000, 'late default: instances discovered');
    timings['late default.discoveredMs'] = Date.now() - restartedAt;
    backends[0]!.healthy = true;
    for (const { name, app } of [...apps, ...late]) await until(() => activeIds(app).includes(id(1)), 30_000, `${name}: instance 1 back`);
    for (const a of [...apps, ...late]) {
      // A watch whose last read failed is back within its backoff and one short (1 s) read.
      await until(async () => (await status(a.app)).consul === 'connected', 10_000, `${a.name}: consul connected again`);
      const s = await status(a.app);
      expect(s.consul).toBe('connected');
      for (const w of s.watches) expect(w).toMatchObject({ synced: true, failing: false, lastError: null });
      expect(activeIds(a.app)).toEqual([id(1), id(2), id(3), id(4)]);
    }
  }, 60_000);

  it('no client saw an error through all of it', async () => {
    for (const a of apps) {
      a.load!.stop();
      const r = await a.load!.done;
      console.log(`${a.name}: ${r.total} requests, ${r.failures.length} failures, by backend`, Object.fromEntries(r.byBody));
      expect(r.failures).toEqual([]);
      expect(r.byBody.get('b4')).toBeGreaterThan(0);
    }
  });
});
