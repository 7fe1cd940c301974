// Static endpoints (a route's `endpoints:`) as a provider of the same shape as Consul's: one
// frozen InstanceSnapshot per route, every instance passing at its configured weight, marked
// `scheme: https` when it is reached over TLS, as a Consul instance is by its meta. The route
// table then builds every route's upstreams one way. The snapshot is made once per route entry
// of a config, so a rebuild finds the same object and keeps the route as it is.

import type { RouteConfig, StaticEndpoint } from './config.js';
import type { Instance, InstanceSnapshot } from './instance.js';

const made = new WeakMap<readonly StaticEndpoint[], InstanceSnapshot>();
const HTTPS: Readonly<Record<string, string>> = Object.freeze({ scheme: 'https' });
const PLAIN: Readonly<Record<string, string>> = Object.freeze({});
const NO_TAGS: readonly string[] = Object.freeze([]);

/** The snapshot of a route's static endpoints; undefined for a route whose instances come from Consul. */
export function staticSnapshot(rc: RouteConfig): InstanceSnapshot | undefined {
  if (rc.source.kind !== 'static') return undefined;
  const endpoints = rc.source.endpoints;
  let snapshot = made.get(endpoints);
  if (snapshot === undefined) {
    const instances = endpoints.map(
      (e): Instance =>
        Object.freeze({
          id: `${e.host}:${e.port}`,
          node: '',
          host: e.host,
          port: e.port,
          tags: NO_TAGS,
          meta: e.tls ? HTTPS : PLAIN,
          weights: Object.freeze({ passing: e.weight, warning: e.weight }),
          status: 'passing' as const,
        }),
    );
    snapshot = Object.freeze({ key: `static:${rc.name}`, instances: Object.freeze(instances) });
    made.set(endpoints, snapshot);
  }
  return snapshot;
}
