// RemoteDiscovery, a worker's view of the primary's discovery: demands batched per turn,
// settled only once every wanted watch has been tried, stale after a silent primary. The IPC
// channel and the clock are parameters; no process, no Consul.

import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DiscoveryNews, WatchDemand } from '../../src/cluster/ipc.js';
import { RemoteDiscovery, STALE_AFTER_MS } from '../../src/cluster/remote-discovery.js';
import type { WatchState } from '../../src/discovery/consul-watch.js';
import { clockAt, instance } from './helpers.js';

function state(key: string, o: Partial<WatchState> = {}): WatchState {
  return { key, synced: true, failing: false, lastError: undefined, lastErrorStatus: undefined, lastSuccessAt: 1, index: 5, updates: 1, errors: 0, lastApplyMs: 0, ...o };
}

function news(o: Partial<DiscoveryNews> = {}): DiscoveryNews {
  return { type: 'discovery', state: 'connected', address: 'http://127.0.0.1:8500', snapshots: [], states: [], ...o };
}

function harness() {
  const sent: WatchDemand[] = [];
  const changed: string[] = [];
  const warnings: string[] = [];
  let deliver: (m: unknown) => void = () => undefined;
  const clock = clockAt(1_000);
  const log = { warn: (_: unknown, msg: string) => warnings.push(msg), info: () => undefined } as unknown as Logger;
  const remote = new RemoteDiscovery({
    onChange: (key) => changed.push(key),
    log,
    send: (d) => sent.push(d),
    subscribe: (fn) => {
      deliver = fn;
      return () => (deliver = () => undefined);
    },
    now: clock.now,
  });
  return { remote, sent, changed, warnings, clock, deliver: (m: unknown) => deliver(m) };
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const web = new Map([['web', { service: 'web', tags: [] as string[] }]]);

describe('RemoteDiscovery', () => {
  it('sends one whole demand per turn, however many calls made it', async () => {
    const h = harness();
    await h.remote.sync(web);
    await h.remote.watchCatalog(() => undefined);
    await h.remote.watchKv('fairway/config', () => undefined);
    await tick();
    expect(h.sent).toEqual([{ type: 'watch', keys: [['web', { service: 'web', tags: [] }]], catalog: true, kv: 'fairway/config' }]);
    await h.remote.watchCatalog(undefined);
    await tick();
    expect(h.sent.at(-1)).toMatchObject({ catalog: false, kv: 'fairway/config' });
  });

  it('is settled only when every wanted watch has been tried, a failed try included', async () => {
    const h = harness();
    await h.remote.sync(new Map([...web, ['api', { service: 'api', tags: [] }]]));
    await h.remote.watchCatalog(() => undefined);
    let settled = false;
    void h.remote.settled().then(() => (settled = true));
    h.deliver(news({ states: [state('web')] }));
    await tick();
    expect(settled).toBe(false);
    h.deliver(news({ states: [state('api', { synced: false, failing: true, errors: 1 })] }));
    await tick();
    expect(settled).toBe(false);
    h.deliver(news({ states: [state('(catalog)')] }));
    await tick();
    expect(settled).toBe(true);
  });

  it('looks at the states a message brings, not at every wanted watch, while someone waits to be settled', async () => {
    const h = harness();
    const keys = new Map(Array.from({ length: 500 }, (_, i) => [`s${i}`, { service: `s${i}`, tags: [] as string[] }]));
    await h.remote.sync(keys);
    let settled = false;
    void h.remote.settled().then(() => (settled = true));
    // Each state counts how often it is looked at.
    let looks = 0;
    const counted = (key: string) => {
      const s = state(key);
      Object.defineProperty(s, 'synced', { get: () => (looks++, true), enumerable: true });
      return s;
    };
    for (let i = 0; i < 499; i++) h.deliver(news({ states: [counted(`s${i}`)] }));
    // 499 messages of one state each: a few looks each, not a walk of the 500 wanted keys each.
    expect(looks).toBeLessThan(499 * 4);
    await tick();
    expect(settled).toBe(false);
    h.deliver(news({ states: [counted('s499')] }));
    await tick();
    expect(settled).toBe(true);
  });

  it('takes snapshots of the keys it wants only, and forgets the keys it drops', async () => {
    const h = harness();
    await h.remote.sync(web);
    h.deliver(news({ snapshots: [{ key: 'web', instances: [instance('w1')] }, { key: 'other', instances: [instance('o1')] }] }));
    expect([...h.remote.snapshots.keys()]).toEqual(['web']);
    expect(Object.isFrozen(h.remote.snapshots.get('web')!.instances)).toBe(true);
    expect(h.changed).toEqual(['web']);
    await h.remote.sync(new Map());
    expect(h.remote.snapshots.size).toBe(0);
  });

  it('hands the catalog and its KV key on, not another key', async () => {
    const h = harness();
    const catalogs: unknown[] = [];
    const entries: unknown[] = [];
    await h.remote.watchCatalog((s) => catalogs.push(s));
    await h.remote.watchKv('a', (e) => entries.push(e));
    const docs = { main: { text: 'routes: []', modifyIndex: 7 }, canary: null };
    h.deliver(news({ catalog: { web: ['x'] }, kv: { key: 'b', docs: { main: null, canary: null } } }));
    h.deliver(news({ kv: { key: 'a', docs } }));
    expect(catalogs).toEqual([{ web: ['x'] }]);
    expect(entries).toEqual([docs]);
  });

  it('says stale once the primary is silent too long, once, and recovers on the next word', async () => {
    const h = harness();
    expect(h.remote.state).toBe('unused');
    await h.remote.sync(web);
    h.deliver(news({ state: 'connected' }));
    h.clock.set(1_000 + STALE_AFTER_MS);
    expect(h.remote.state).toBe('connected');
    h.clock.set(1_001 + STALE_AFTER_MS);
    expect(h.remote.state).toBe('stale');
    expect(h.remote.state).toBe('stale');
    expect(h.warnings).toHaveLength(1);
    h.deliver(news({ state: 'unreachable' }));
    expect(h.remote.state).toBe('unreachable');
  });

  it('reports the states of the watches it wants, as the primary last sent them', async () => {
    const h = harness();
    await h.remote.sync(web);
    h.deliver(news({ states: [state('web', { updates: 3 }), state('other')] }));
    expect(h.remote.watchStates().map((s) => [s.key, s.updates])).toEqual([['web', 3]]);
    expect(h.remote.address).toBe('http://127.0.0.1:8500');
  });
});
