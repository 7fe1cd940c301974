// What a change in Consul's two cheap, cluster-wide answers touches, for discovery's feed mode
// (discovery/feed.ts): the set of non-passing checks, and the catalog's service list. Pure.
//
// A check moving between passing, warning and critical shows in the first as a check entering,
// leaving or changing in the set; a service appearing, going or changing its tags shows in the
// second. What neither shows (an instance added or removed while passing, new weights, a new
// port) the feed finds by re-reading every watched service after each move of the catalog's
// index: one answer may hold several changes, so a diff that names some services cannot vouch
// that nothing else changed.

/** One check that is not passing, as /v1/health/state/any?filter=Status != "passing" lists it. */
export interface CheckStatus {
  readonly node: string;
  readonly checkId: string;
  readonly status: string;
  /** Empty for a node check (serfHealth, node maintenance): it touches every instance on the node. */
  readonly service: string;
}

/** Services (by name) and nodes whose non-passing checks differ between two answers. */
export function touchedByChecks(before: readonly CheckStatus[], after: readonly CheckStatus[]): { services: Set<string>; nodes: Set<string> } {
  const was = new Map(before.map((c) => [`${c.node}\0${c.checkId}`, c]));
  const services = new Set<string>();
  const nodes = new Set<string>();
  const touch = (c: CheckStatus) => (c.service === '' ? nodes.add(c.node) : services.add(c.service));
  for (const c of after) {
    const key = `${c.node}\0${c.checkId}`;
    const old = was.get(key);
    was.delete(key);
    if (old !== undefined && old.status === c.status && old.service === c.service) continue;
    touch(c);
    if (old !== undefined) touch(old);
  }
  // Checks that left the set: back to passing, or deleted with their instance.
  for (const old of was.values()) touch(old);
  return { services, nodes };
}

type Catalog = Readonly<Record<string, readonly string[]>>;

/** Services that appeared, went or changed tags between two catalog answers. */
export function touchedByCatalog(before: Catalog, after: Catalog): Set<string> {
  const services = new Set<string>();
  // Own names only: a service may be named toString or constructor.
  for (const name of Object.keys(after)) if (!sameTags(Object.hasOwn(before, name) ? before[name] : undefined, after[name]!)) services.add(name);
  for (const name of Object.keys(before)) if (!Object.hasOwn(after, name)) services.add(name);
  return services;
}

/**
 * Whether two tag lists hold the same tags, in any order. Consul usually lists them in the same
 * order each time: that is checked first, without copying (this runs for every service, 10,000
 * of them, on every move of the catalog's index; sorting copies of each was ~10 ms of it).
 */
function sameTags(a: readonly string[] | undefined, b: readonly string[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  if (i === a.length) return true;
  const sa = a.slice(i).sort();
  const sb = b.slice(i).sort();
  return sa.every((t, k) => t === sb[k]);
}
