// Registrar: what it sends a Consul agent for a sequence of sync calls (registers, re-registers,
// deregisters, nothing), how it retries a failed reconciliation, and what close does. A fake
// agent stands in for Consul and fake timers for the backoff, so every case is exact; the real
// agent is in test/integration/consul-faults.test.ts and test/reliability/drain.test.ts.

import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServiceRegistration } from '../../src/core/config.js';
import { Registrar, type RegistrationClient } from '../../src/discovery/registrar.js';

/** Service `id` (named as its id) on 10.0.0.1:80, weight 1, no tags: `over` changes it. */
function svc(id: string, over: Partial<ServiceRegistration> = {}): ServiceRegistration {
  return { name: id, id, address: '10.0.0.1', port: 80, tags: [], meta: {}, weight: 1, ...over };
}

/** A Consul agent in memory: records each call as "register ID" / "deregister ID", failed ones marked. */
class FakeAgent implements RegistrationClient {
  readonly held = new Map<string, ServiceRegistration>();
  calls: string[] = [];
  /** Calls ("register web", "deregister api", or "*" for all) that fail until changed. */
  failing = new Set<string>();

  async registerService(s: ServiceRegistration): Promise<void> {
    this.#call(`register ${s.id}`);
    this.held.set(s.id, s);
  }

  async deregisterService(id: string): Promise<void> {
    this.#call(`deregister ${id}`);
    this.held.delete(id);
  }

  #call(call: string): void {
    const fails = this.failing.has(call) || this.failing.has('*');
    this.calls.push(fails ? `${call} (failed)` : call);
    if (fails) throw new Error('connect ECONNREFUSED 127.0.0.1:8500');
  }
}

type Step =
  /** sync(services): the calls it makes, what it resolves, and what the agent then holds. */
  | { sync: ServiceRegistration[]; failing?: string[]; sent: string[]; ok: boolean; held: string[]; retrying?: boolean }
  /** Time passes: the calls retries make meanwhile, and what the agent then holds. */
  | { wait: number; failing?: string[]; sent: string[]; held: string[]; retrying?: boolean }
  /** close(); `retrying`: whether a retry still waits after it. */
  | { close: true; retrying?: boolean };

interface Case {
  why: string;
  /** Services an earlier sync left on the agent. */
  given?: ServiceRegistration[];
  steps: Step[];
}

const cases: Case[] = [
  // What one sync sends.
  {
    why: 'a first sync registers every wanted service',
    steps: [{ sync: [svc('web'), svc('api')], sent: ['register web', 'register api'], ok: true, held: ['web', 'api'] }],
  },
  {
    why: 'the same services again send nothing: the payload last sent is remembered',
    given: [svc('web'), svc('api')],
    steps: [{ sync: [svc('web'), svc('api')], sent: [], ok: true, held: ['web', 'api'] }],
  },
  {
    why: 'a service whose registration changed (port, weight, tags, meta) is registered again; the others are left alone',
    given: [svc('web'), svc('api'), svc('db'), svc('cache'), svc('queue')],
    steps: [
      {
        sync: [svc('web', { port: 81 }), svc('api', { weight: 5 }), svc('db', { tags: ['primary'] }), svc('cache', { meta: { zone: 'b' } }), svc('queue')],
        sent: ['register web', 'register api', 'register db', 'register cache'],
        ok: true,
        held: ['web', 'api', 'db', 'cache', 'queue'],
      },
    ],
  },
  {
    why: 'a health check added to a service registers it again',
    given: [svc('web')],
    steps: [{ sync: [svc('web', { check: { http: 'http://10.0.0.1:80/health', interval: '10s', timeout: '2s' } })], sent: ['register web'], ok: true, held: ['web'] }],
  },
  {
    why: 'a service no longer wanted is deregistered, before anything new is registered',
    given: [svc('web'), svc('old')],
    steps: [{ sync: [svc('web'), svc('new')], sent: ['deregister old', 'register new'], ok: true, held: ['web', 'new'] }],
  },
  {
    why: 'a service whose id changed is deregistered under the old id and registered under the new',
    given: [svc('web')],
    steps: [{ sync: [svc('web-2', { name: 'web' })], sent: ['deregister web', 'register web-2'], ok: true, held: ['web-2'] }],
  },
  {
    why: 'an empty sync deregisters everything Fairway registered',
    given: [svc('web'), svc('api')],
    steps: [{ sync: [], sent: ['deregister web', 'deregister api'], ok: true, held: [] }],
  },
  {
    why: 'an empty sync on a fresh registrar sends nothing: only what Fairway registered is ever deregistered',
    steps: [{ sync: [], sent: [], ok: true, held: [] }],
  },

  // Failures and retries.
  {
    why: 'a failed registration resolves false and is retried 1 s later, the calls that succeeded not repeated',
    steps: [
      { sync: [svc('web'), svc('api')], failing: ['register api'], sent: ['register web', 'register api (failed)'], ok: false, held: ['web'], retrying: true },
      { wait: 999, failing: [], sent: [], held: ['web'] },
      { wait: 1, sent: ['register api'], held: ['web', 'api'], retrying: false },
      { wait: 60_000, sent: [], held: ['web', 'api'] },
    ],
  },
  {
    why: 'a failed deregistration keeps the service registered and is retried too',
    given: [svc('web'), svc('old')],
    steps: [
      { sync: [svc('web')], failing: ['deregister old'], sent: ['deregister old (failed)'], ok: false, held: ['web', 'old'] },
      { wait: 1_000, failing: [], sent: ['deregister old'], held: ['web'] },
    ],
  },
  {
    why: 'retries back off 1 s, 2 s, 4 s, 8 s, 16 s, then every 30 s',
    steps: [
      { sync: [svc('web')], failing: ['*'], sent: ['register web (failed)'], ok: false, held: [] },
      { wait: 1_000, sent: ['register web (failed)'], held: [] },
      { wait: 1_999, sent: [], held: [] },
      { wait: 1, sent: ['register web (failed)'], held: [] },
      { wait: 4_000, sent: ['register web (failed)'], held: [] },
      { wait: 8_000, sent: ['register web (failed)'], held: [] },
      { wait: 16_000, sent: ['register web (failed)'], held: [] },
      { wait: 29_999, sent: [], held: [] },
      { wait: 1, sent: ['register web (failed)'], held: [] },
      { wait: 30_000, failing: [], sent: ['register web'], held: ['web'] },
    ],
  },
  {
    why: 'a success starts the backoff over: the next failure is retried after 1 s again',
    steps: [
      { sync: [svc('web')], failing: ['*'], sent: ['register web (failed)'], ok: false, held: [] },
      { wait: 1_000, sent: ['register web (failed)'], held: [] },
      { wait: 2_000, failing: [], sent: ['register web'], held: ['web'] },
      { sync: [svc('web'), svc('api')], failing: ['*'], sent: ['register api (failed)'], ok: false, held: ['web'] },
      { wait: 1_000, failing: [], sent: ['register api'], held: ['web', 'api'] },
    ],
  },
  {
    why: 'a sync while a retry waits replaces it: the new set is reconciled at once and the old retry never runs',
    steps: [
      { sync: [svc('web')], failing: ['*'], sent: ['register web (failed)'], ok: false, held: [] },
      { sync: [svc('api')], failing: [], sent: ['register api'], ok: true, held: ['api'], retrying: false },
      { wait: 60_000, sent: [], held: ['api'] },
    ],
  },

  // close, as on a stop or a drain: close, then sync([]).
  {
    why: 'close stops a waiting retry, and what is registered stays registered',
    steps: [
      { sync: [svc('web'), svc('api')], failing: ['register api'], sent: ['register web', 'register api (failed)'], ok: false, held: ['web'], retrying: true },
      { close: true, retrying: false },
      { wait: 60_000, failing: [], sent: [], held: ['web'] },
    ],
  },
  {
    why: 'after close, a sync that would register resolves false and sends nothing (a late reload registers nothing)',
    given: [svc('web')],
    steps: [
      { close: true },
      { sync: [svc('web'), svc('api')], sent: [], ok: false, held: ['web'] },
    ],
  },
  {
    why: 'after close, an empty sync still deregisters everything Fairway registered (a clean stop)',
    given: [svc('web'), svc('api')],
    steps: [
      { close: true },
      { sync: [], sent: ['deregister web', 'deregister api'], ok: true, held: [] },
    ],
  },
  {
    why: 'after close, a failed deregistration resolves false and is not retried',
    given: [svc('web')],
    steps: [
      { close: true },
      { sync: [], failing: ['*'], sent: ['deregister web (failed)'], ok: false, held: ['web'], retrying: false },
      { wait: 60_000, sent: [], held: ['web'] },
    ],
  },
];

describe('Registrar', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(cases)('$why', async ({ given, steps }) => {
    const agent = new FakeAgent();
    const registrar = new Registrar(agent, pino({ level: 'silent' }));
    if (given !== undefined) expect(await registrar.sync(given)).toBe(true);
    for (const [i, step] of steps.entries()) {
      agent.calls = [];
      const where = `step ${i + 1}`;
      if ('close' in step) registrar.close();
      else {
        if (step.failing !== undefined) agent.failing = new Set(step.failing);
        if ('sync' in step) expect(await registrar.sync(step.sync), where).toBe(step.ok);
        else await vi.advanceTimersByTimeAsync(step.wait);
        expect(agent.calls, where).toEqual(step.sent);
        expect([...agent.held.keys()], where).toEqual(step.held);
      }
      if (step.retrying !== undefined) expect(vi.getTimerCount() > 0, `${where}: a retry waits`).toBe(step.retrying);
    }
  });

  it('calls run one reconciliation at a time, and a sync made meanwhile reconciles its own set after it', async () => {
    const agent = new FakeAgent();
    let release!: () => void;
    const slow: RegistrationClient = {
      registerService: async (s) => {
        if (s.id === 'web') await new Promise<void>((resolve) => (release = resolve));
        await agent.registerService(s);
      },
      deregisterService: (id) => agent.deregisterService(id),
    };
    const registrar = new Registrar(slow, pino({ level: 'silent' }));
    const first = registrar.sync([svc('web')]);
    await vi.advanceTimersByTimeAsync(0);
    const second = registrar.sync([svc('api')]);
    await vi.advanceTimersByTimeAsync(0);
    expect(agent.calls).toEqual([]);
    release();
    expect(await first).toBe(true);
    expect(await second).toBe(true);
    expect(agent.calls).toEqual(['register web', 'deregister web', 'register api']);
    expect([...agent.held.keys()]).toEqual(['api']);
  });

  it('of two syncs made together, the later set is the one reconciled', async () => {
    const agent = new FakeAgent();
    const registrar = new Registrar(agent, pino({ level: 'silent' }));
    const both = [registrar.sync([svc('web')]), registrar.sync([svc('api')])];
    expect(await Promise.all(both)).toEqual([true, true]);
    expect(agent.calls).toEqual(['register api']);
  });
});
