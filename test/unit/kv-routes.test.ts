// Routes from Consul KV (fleet.configKey): the document is checked with the file's own rules and
// messages, named consul:KEY, plus its own two rules.

import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/core/config.js';
import { kvClashes, kvLabel, loadKvRoutes } from '../../src/core/kv-routes.js';
import { config } from './helpers.js';

const LABEL = kvLabel('fairway/config');
const FILE = config('routes:\n  - { name: web, endpoints: [10.0.0.1:80] }\n');

function problems(text: string): string[] {
  const r = loadKvRoutes(text, LABEL, FILE.routes);
  if (r.ok) throw new Error('expected the document to be rejected');
  return r.problems.map(formatProblem);
}

describe('loadKvRoutes', () => {
  it('a routes document gives its routes, normalised like a file\'s', () => {
    const r = loadKvRoutes('routes:\n  - { name: api, match: { pathPrefix: /api }, service: api, rateLimit: { rate: 10/s } }\n', LABEL, FILE.routes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.routes.map((x) => [x.name, x.match.pathPrefix, x.policy?.rateLimit?.burst])).toEqual([['api', '/api', 10]]);
  });

  it('JSON is read too', () => {
    expect(loadKvRoutes('{"routes": [{"name": "api", "service": "api"}]}', LABEL).ok).toBe(true);
  });

  it.each([
    {
      why: 'a bad value has the same message as validate, named consul:KEY with its line',
      text: 'routes:\n  - name: api\n    service: api\n    strategy: fastest\n',
      out: ['consul:fairway/config:4:15 routes[0].strategy: expected one of round-robin, random, weighted, least-request, ewma, consistent-hash, failover'],
    },
    {
      why: 'a listener or Consul setting does not belong in the fleet\'s document',
      text: 'listen: 0.0.0.0:80\nroutes:\n  - { name: api, service: api }\n',
      out: ["consul:fairway/config:1:1 listen: only `routes` come from Consul KV; listeners, Consul and admin settings stay in each instance's file"],
    },
    {
      why: 'a route name the instance\'s file already uses is refused',
      text: 'routes:\n  - { name: api, service: api }\n  - { name: web, service: web }\n',
      out: ['consul:fairway/config:3:13 routes[1].name: route name "web" is already a route in this instance\'s file'],
    },
    {
      why: 'a document without routes is refused (an empty value is no config)',
      text: '',
      out: ['consul:fairway/config:1:1 routes: expected at least one route (or consulTags, for routes from Consul tags)'],
    },
  ])('$why', ({ text, out }) => {
    expect(problems(text)).toEqual(out);
  });
});

describe('kvClashes', () => {
  it('a file route taking a name the KV routes use is named by its position', () => {
    const kv = loadKvRoutes('routes:\n  - { name: api, service: api }\n', LABEL);
    if (!kv.ok) throw new Error('expected ok');
    const file = config('routes:\n  - { name: web, endpoints: [10.0.0.1:80] }\n  - { name: api, endpoints: [10.0.0.2:80] }\n');
    expect(kvClashes(file, kv.routes)).toEqual([{ path: ['routes', 1, 'name'], message: 'route name "api" is already a route from Consul KV' }]);
    expect(kvClashes(FILE, kv.routes)).toEqual([]);
  });
});
