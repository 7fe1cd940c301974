// What discovery knows about one backend instance, and the pure translation from Consul's
// /v1/health/service answer into it. No I/O here: the watcher hands raw JSON in.

export type HealthStatus = 'passing' | 'warning' | 'critical';

export interface Instance {
  /** Consul service ID, or host:port for static endpoints. */
  readonly id: string;
  readonly node: string;
  readonly host: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly weights: { readonly passing: number; readonly warning: number };
  /** The worst of the instance's checks (node checks included). */
  readonly status: HealthStatus;
}

/** One discovery result: the full instance set of one watch key, as of one Consul index. */
export interface InstanceSnapshot {
  readonly key: string;
  readonly instances: readonly Instance[];
}

/** The key one Consul watch serves: a service and a tag set (sorted), shared by all routes using it. */
export function watchKey(service: string, tags: readonly string[]): string {
  return tags.length === 0 ? service : `${service}?tag=${tags.join('&tag=')}`;
}

const RANK: Record<HealthStatus, number> = { passing: 0, warning: 1, critical: 2 };

// Most instances have no tags or no meta; they share these instead of each keeping the empty
// array and object JSON.parse made (two objects per instance, 20,000 at 10,000 instances).
const NO_TAGS: readonly string[] = Object.freeze([]);
const NO_META: Readonly<Record<string, string>> = Object.freeze({});

interface HealthEntry {
  Node?: { Node?: string; Address?: string };
  Service?: {
    ID?: string;
    Service?: string;
    Address?: string;
    Port?: number;
    Tags?: string[] | null;
    Meta?: Record<string, string> | null;
    Weights?: { Passing?: number; Warning?: number } | null;
  };
  Checks?: Array<{ Status?: string }> | null;
}

/**
 * Instances from a /v1/health/service/<name> answer. An instance's status is the worst of its
 * checks: any critical (maintenance mode included, which Consul reports as a critical check)
 * makes it critical. Entries without a usable address or port are dropped.
 */
export function parseHealthEntries(body: unknown): Instance[] {
  if (!Array.isArray(body)) throw new TypeError('expected a JSON array from /v1/health/service');
  const out: Instance[] = [];
  for (const entry of body as HealthEntry[]) {
    const svc = entry?.Service;
    if (!svc || typeof svc.Port !== 'number' || svc.Port <= 0) continue;
    const host = svc.Address || entry.Node?.Address || '';
    if (!host) continue;
    let status: HealthStatus = 'passing';
    for (const check of entry.Checks ?? []) {
      const s: HealthStatus = check.Status === 'passing' ? 'passing' : check.Status === 'warning' ? 'warning' : 'critical';
      if (RANK[s] > RANK[status]) status = s;
    }
    out.push({
      id: svc.ID || `${host}:${svc.Port}`,
      node: shared(entry.Node?.Node ?? ''),
      host: shared(host),
      port: svc.Port,
      tags: svc.Tags?.length ? svc.Tags : NO_TAGS,
      meta: svc.Meta && !isEmpty(svc.Meta) ? svc.Meta : NO_META,
      // Consul requires Passing >= 1 but allows Warning 0: "no traffic while warning".
      weights: weightsOf(whole(svc.Weights?.Passing, 1, 1), whole(svc.Weights?.Warning, 0, 1)),
      status,
    });
  }
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  // Copied to its length: grown by push, ten instances keep room for 17 (0.6 MB at 10,000 services).
  return out.slice();
}

// Node names and addresses repeat across instances (every service on a node has both), and
// JSON.parse makes a string per occurrence: 5 MB of copies at 10,000 services × 10 on ten nodes.
// A bounded table hands out one copy of each; emptied when full, so churning names cannot grow it.
const SHARED_MAX = 8192;
const sharedStrings = new Map<string, string>();

function shared(s: string): string {
  const known = sharedStrings.get(s);
  if (known !== undefined) return known;
  if (sharedStrings.size >= SHARED_MAX) sharedStrings.clear();
  sharedStrings.set(s, s);
  return s;
}

/** Consul's default weights, shared like NO_TAGS: nearly every instance has them. */
const DEFAULT_WEIGHTS: Instance['weights'] = Object.freeze({ passing: 1, warning: 1 });

function weightsOf(passing: number, warning: number): Instance['weights'] {
  return passing === 1 && warning === 1 ? DEFAULT_WEIGHTS : { passing, warning };
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

function whole(n: number | undefined, min: number, fallback: number): number {
  return typeof n === 'number' && Number.isFinite(n) && n >= min ? Math.floor(n) : fallback;
}

/** Instances whose tag lists hold every tag in `tags`. */
export function withTags(instances: readonly Instance[], tags: readonly string[]): Instance[] {
  if (tags.length === 0) return [...instances];
  return instances.filter((i) => tags.every((t) => i.tags.includes(t)));
}

/** A string that changes whenever anything routing depends on changes; used to skip no-op updates. */
export function fingerprint(instances: readonly Instance[]): string {
  let s = '';
  for (const i of instances)
    s += `${i.id}|${i.node}|${i.host}|${i.port}|${i.status}|${i.weights.passing}|${i.weights.warning}|${i.tags.join(',')}|${JSON.stringify(i.meta)}\n`;
  return s;
}
