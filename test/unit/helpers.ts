// Builders shared by the unit tests: upstreams, instances and configs from YAML text.

import { loadConfig, formatProblem, type Config, type RouteConfig } from '../../src/core/config.js';
import type { HealthStatus, Instance } from '../../src/core/instance.js';
import type { Picker, PickerDeps } from '../../src/core/pickers/picker.js';
import { newStats, originOf, type Upstream, type UpstreamStats } from '../../src/core/upstream.js';

/** An upstream named `id` with the given weight, on a distinct port per id. */
export function upstream(id: string, weight = 1, port = 8000): Upstream {
  return {
    id,
    host: '10.0.0.1',
    port,
    origin: originOf('10.0.0.1', port),
    tls: false,
    weight,
    status: 'passing',
    tags: [],
    meta: {},
    stats: newStats(),
  };
}

/** An upstream like `upstream(id)` with the given tags, meta and stats fields. */
export function upstreamWith(
  id: string,
  o: { weight?: number; port?: number; tags?: string[]; meta?: Record<string, string>; stats?: Partial<UpstreamStats> } = {},
): Upstream {
  const u = upstream(id, o.weight ?? 1, o.port ?? 8000);
  return { ...u, tags: o.tags ?? [], meta: o.meta ?? {}, stats: { ...u.stats, ...o.stats } };
}

/** Upstreams A, B, C, ... with the given weights. */
export function upstreams(...weights: number[]): Upstream[] {
  return weights.map((w, i) => upstream(String.fromCharCode(65 + i), w, 8000 + i));
}

/** The ids of `k` consecutive picks, joined ("CBCABC"). */
export function sequence(pick: () => Upstream | undefined, k: number): string {
  let s = '';
  for (let i = 0; i < k; i++) s += pick()?.id ?? '-';
  return s;
}

export interface InstanceOptions {
  host?: string;
  port?: number;
  node?: string;
  status?: HealthStatus;
  tags?: string[];
  passing?: number;
  warning?: number;
  meta?: Record<string, string>;
}

/** A discovered instance, passing with weights 1/1 unless told otherwise. */
export function instance(id: string, o: InstanceOptions = {}): Instance {
  return {
    id,
    node: o.node ?? 'node-1',
    host: o.host ?? '10.0.1.1',
    port: o.port ?? 9000,
    tags: o.tags ?? [],
    meta: o.meta ?? {},
    weights: { passing: o.passing ?? 1, warning: o.warning ?? 1 },
    status: o.status ?? 'passing',
  };
}

/** A Config from YAML text; throws with the formatted problems when it does not load. */
export function config(yaml: string, env: Readonly<Record<string, string | undefined>> = {}): Config {
  const r = loadConfig(yaml, 'test.yaml', env);
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config;
}

/** The first route of a config holding just that route (YAML lines of one list item). */
export function routeConfig(yaml: string): RouteConfig {
  return config(`routes:\n  - ${yaml.trim().replace(/\n/g, '\n    ')}\n`).routes[0]!;
}

/** A small deterministic rng (mulberry32), so a failure reproduces. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A rng that returns the given values in turn, then repeats the last one. */
export function rngOf(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

/** A rng that fails the test if it is ever drawn. */
export function noRng(): number {
  throw new Error('the rng was drawn');
}

/** A clock fixed at `t` until moved: `clock.now()`, `clock.set(t)`. */
export function clockAt(t: number): { now: () => number; set: (t: number) => void } {
  let at = t;
  return { now: () => at, set: (v) => void (at = v) };
}

/** Picker dependencies: a rng (default: one that must not be drawn) and a clock (default: 0). */
export function depsOf(rng: () => number = noRng, now: () => number = () => 0): PickerDeps {
  return { rng, now };
}

/** A picker that answers the given upstreams in turn (then repeats the last), recording each hash asked with. */
export function scriptedPicker(...answers: Array<Upstream | undefined>): Picker & { calls: Array<number | undefined> } {
  const calls: Array<number | undefined> = [];
  return {
    calls,
    pick(hash?: number) {
      calls.push(hash);
      return answers[Math.min(calls.length - 1, answers.length - 1)];
    },
  };
}
