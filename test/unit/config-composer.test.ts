// The config in force from its three sources (ConfigComposer): the file, routes from Consul KV
// after the file's, routes from Consul tags after both. Pure: each case is a story of changes,
// each put in force as the app would, and the route names in force after the last one.

import { describe, expect, it } from 'vitest';
import { ConfigComposer, type Catalog, type Composition } from '../../src/app/config-composer.js';
import type { Config } from '../../src/core/config.js';
import { config } from './helpers.js';

const KEY = 'fairway/config';
const FILE = config(`
fleet: { name: edge, configKey: ${KEY} }
consulTags: { prefix: fw }
routes:
  - { name: web, match: { pathPrefix: /web }, endpoints: [10.0.0.1:80] }
`);
/** The same file with another route: a reload that changed it. */
const FILE_EDITED = config(`
fleet: { name: edge, configKey: ${KEY} }
consulTags: { prefix: fw }
routes:
  - { name: web, match: { pathPrefix: /web }, endpoints: [10.0.0.1:80] }
  - { name: shop, match: { pathPrefix: /shop }, endpoints: [10.0.0.2:80] }
`);
/** The same file reading another key. */
const OTHER_KEY = config(`
fleet: { name: edge, configKey: fairway/other }
consulTags: { prefix: fw }
routes:
  - { name: web, match: { pathPrefix: /web }, endpoints: [10.0.0.1:80] }
`);
/** A file taking the name of the KV route `api`. */
const FILE_TAKING_API = config(`
fleet: { name: edge, configKey: ${KEY} }
routes:
  - { name: api, match: { pathPrefix: /web }, endpoints: [10.0.0.1:80] }
`);

const API = 'routes:\n  - { name: api, match: { pathPrefix: /api }, service: api }\n';
const API_AND_ADMIN = 'routes:\n  - { name: api, match: { pathPrefix: /api }, service: api }\n  - { name: admin, match: { pathPrefix: /admin }, service: admin }\n';
const TAKES_WEB = 'routes:\n  - { name: web, match: { pathPrefix: /other }, service: other }\n';
const TAGGED: Catalog = { billing: ['fw.route=/billing'], db: ['primary'] };

type Step =
  | { file: Config }
  | { kv: string | null; key?: string }
  | { catalog: Catalog };

/** Applies a step as the app does: works out the next composition, then puts it in force. */
function apply(c: ConfigComposer, step: Step): { next?: Composition; refused?: string[] } {
  if ('file' in step) {
    const r = c.fromFile(step.file);
    if (!r.ok) return { refused: r.clashes.map((x) => x.message) };
    c.use(r.next);
    return { next: r.next };
  }
  if ('kv' in step) {
    const entry = step.kv === null ? null : { text: step.kv, modifyIndex: 7 };
    const r = c.withKv(step.key ?? KEY, { entry, canary: null }, '2026-01-01T00:00:00.000Z');
    if (r === undefined) return { refused: ['ignored'] };
    if (!r.ok) return { refused: r.problems };
    c.use(r.next);
    return { next: r.next };
  }
  const next = c.withCatalog(step.catalog);
  c.use(next);
  return { next };
}

const names = (c: Config) => c.routes.map((r) => r.name);

describe('ConfigComposer: which routes are in force', () => {
  it.each<{ why: string; steps: Step[]; routes: string[]; tags: string[] }>([
    { why: 'with the file alone, its routes are the config', steps: [], routes: ['web'], tags: [] },
    { why: 'a reloaded file replaces the file routes', steps: [{ file: FILE_EDITED }], routes: ['web', 'shop'], tags: [] },
    { why: 'routes from KV come after the file routes', steps: [{ kv: API_AND_ADMIN }], routes: ['web', 'api', 'admin'], tags: [] },
    { why: 'KV routes stay after the file routes across a reload', steps: [{ kv: API }, { file: FILE_EDITED }], routes: ['web', 'shop', 'api'], tags: [] },
    { why: 'a new value of the key replaces the KV routes in force', steps: [{ kv: API_AND_ADMIN }, { kv: API }], routes: ['web', 'api'], tags: [] },
    { why: 'a deleted key keeps the routes last read from it (reported, not obeyed)', steps: [{ kv: API }, { kv: null }], routes: ['web', 'api'], tags: [] },
    { why: 'a key deleted and written again takes the new routes', steps: [{ kv: API }, { kv: null }, { kv: API_AND_ADMIN }], routes: ['web', 'api', 'admin'], tags: [] },
    {
      why: 'a KV route taking a file route\'s name is refused, and the previous KV routes are kept',
      steps: [{ kv: API }, { kv: TAKES_WEB }],
      routes: ['web', 'api'],
      tags: [],
    },
    { why: 'a file route taking a KV route\'s name is refused, and the file in force is kept', steps: [{ kv: API }, { file: FILE_TAKING_API }], routes: ['web', 'api'], tags: [] },
    { why: 'a service tagged fw.route gets a route after the file\'s', steps: [{ catalog: TAGGED }], routes: ['web', 'tag.billing'], tags: ['tag.billing'] },
    { why: 'tag routes come after the KV routes', steps: [{ catalog: TAGGED }, { kv: API }], routes: ['web', 'api', 'tag.billing'], tags: ['tag.billing'] },
    { why: 'a service that loses its tags loses its route', steps: [{ catalog: TAGGED }, { catalog: { db: ['primary'] } }], routes: ['web'], tags: [] },
    {
      why: 'a service that comes later with tags gets its route beside the first',
      steps: [{ catalog: TAGGED }, { catalog: { ...TAGGED, cart: ['fw.route=/cart'] } }],
      routes: ['web', 'tag.billing', 'tag.cart'],
      tags: ['tag.billing', 'tag.cart'],
    },
    { why: 'a reloaded file keeps the tag routes of the catalog last seen', steps: [{ catalog: TAGGED }, { file: FILE_EDITED }], routes: ['web', 'shop', 'tag.billing'], tags: ['tag.billing'] },
    { why: 'a file that reads another key drops the old key\'s routes', steps: [{ kv: API }, { file: OTHER_KEY }], routes: ['web'], tags: [] },
    { why: 'after a move to another key, a late value of the old one is ignored', steps: [{ file: OTHER_KEY }, { kv: API }], routes: ['web'], tags: [] },
    { why: 'the new key\'s routes come in after a move to it', steps: [{ kv: API }, { file: OTHER_KEY }, { kv: API_AND_ADMIN, key: 'fairway/other' }], routes: ['web', 'api', 'admin'], tags: [] },
  ])('$why', ({ steps, routes, tags }) => {
    const c = new ConfigComposer(FILE);
    for (const step of steps) apply(c, step);
    expect(names(c.config)).toEqual(routes);
    expect(c.tagRoutes?.routes).toEqual(tags);
  });
});

describe('ConfigComposer: the same config object when nothing changed (the app skips the rebuild)', () => {
  it.each<{ why: string; before: Step[]; step: Step }>([
    { why: 'the same catalog again', before: [{ catalog: TAGGED }], step: { catalog: { ...TAGGED } } },
    { why: 'a catalog change that touches no tag route', before: [{ catalog: TAGGED }], step: { catalog: { ...TAGGED, cache: ['redis'] } } },
    { why: 'a first catalog without any tag routes', before: [], step: { catalog: { db: ['primary'] } } },
    { why: 'a catalog change under KV routes', before: [{ kv: API }, { catalog: TAGGED }], step: { catalog: { ...TAGGED, cache: ['redis'] } } },
    { why: 'a missing key while no KV routes are in force', before: [], step: { kv: null } },
  ])('$why', ({ before, step }) => {
    const c = new ConfigComposer(FILE);
    for (const s of before) apply(c, s);
    const running = c.config;
    expect(apply(c, step).next?.config).toBe(running);
    expect(c.config).toBe(running);
  });

  it('a change does make a new object, and a tag route that stays keeps its object', () => {
    const c = new ConfigComposer(FILE);
    apply(c, { catalog: TAGGED });
    const before = c.config;
    apply(c, { catalog: { ...TAGGED, cart: ['fw.route=/cart'] } });
    expect(c.config).not.toBe(before);
    expect(c.config.routes[1]).toBe(before.routes[1]);
  });
});

describe('ConfigComposer: how the key was read, and what is not yet in force', () => {
  it('a key gone after it gave routes is a problem that names it and counts the routes kept', () => {
    const c = new ConfigComposer(FILE);
    apply(c, { kv: API });
    expect(apply(c, { kv: null }).refused).toEqual([`consul:${KEY}: the key is gone from Consul KV; the 1 route(s) last read from it keep serving`]);
    expect(c.fleetConfig).toMatchObject({ key: KEY, ok: false, index: null, routes: 1 });
  });

  it('a refused value says why and counts the routes kept; an accepted one counts its own', () => {
    const c = new ConfigComposer(FILE);
    apply(c, { kv: API });
    expect(c.fleetConfig).toMatchObject({ key: KEY, ok: true, index: 7, routes: 1, problems: [] });
    const refused = apply(c, { kv: TAKES_WEB }).refused ?? [];
    expect(refused.join('\n')).toContain('route name "web" is already a route in this instance\'s file');
    expect(c.fleetConfig).toMatchObject({ ok: false, routes: 1, problems: refused });
  });

  it('a canary plan\'s document shows as the canary in the status, and its problems name the plan\'s key', () => {
    const c = new ConfigComposer(FILE);
    const canary = { index: 9, until: Date.parse('2026-12-02T04:00:00Z') };
    const taken = c.withKv(KEY, { entry: { text: API, modifyIndex: 9 }, canary }, '2026-01-01T00:00:00.000Z');
    if (!taken?.ok) throw new Error('expected the canary document to be accepted');
    c.use(taken.next);
    expect(names(c.config)).toEqual(['web', 'api']);
    expect(c.fleetConfig).toMatchObject({ ok: true, index: 9, canary: { index: 9, until: '2026-12-02T04:00:00.000Z' } });
    const refused = c.withKv(KEY, { entry: { text: TAKES_WEB, modifyIndex: 10 }, canary: { ...canary, index: 10 } }, '2026-01-01T00:00:01.000Z');
    expect(refused?.ok).toBe(false);
    expect(c.fleetConfig).toMatchObject({ ok: false, canary: { index: 10 } });
    expect(c.fleetConfig?.problems.join('\n')).toContain(`consul:${KEY}.canary:`);
    apply(c, { kv: API });
    expect(c.fleetConfig).toMatchObject({ ok: true, canary: null });
  });

  it('a file refused for a name clash names the route that clashes', () => {
    const c = new ConfigComposer(FILE);
    apply(c, { kv: API });
    expect(apply(c, { file: FILE_TAKING_API }).refused).toEqual(['route name "api" is already a route from Consul KV']);
  });

  it('moving to another key drops the old key\'s status once the new file is in force', () => {
    const c = new ConfigComposer(FILE);
    apply(c, { kv: API });
    const r = c.fromFile(OTHER_KEY);
    if (!r.ok) throw new Error('expected the file to be accepted');
    expect(c.fleetConfig?.key).toBe(KEY);
    c.use(r.next);
    expect(c.fleetConfig).toBeUndefined();
  });

  it('a composition never put in force changes nothing (a reload that fails half-way)', () => {
    const c = new ConfigComposer(FILE);
    apply(c, { kv: API });
    apply(c, { catalog: TAGGED });
    const running = c.config;
    c.fromFile(OTHER_KEY);
    c.withCatalog({});
    expect(c.config).toBe(running);
    expect(c.file).toBe(FILE);
    expect(names(c.config)).toEqual(['web', 'api', 'tag.billing']);
    expect(c.fleetConfig?.key).toBe(KEY);
    expect(c.tagRoutes?.routes).toEqual(['tag.billing']);
  });

  it('without consulTags there is no tag routes status, and tags make no routes', () => {
    const c = new ConfigComposer(FILE_TAKING_API);
    apply(c, { catalog: TAGGED });
    expect(c.tagRoutes).toBeUndefined();
    expect(names(c.config)).toEqual(['api']);
  });
});
