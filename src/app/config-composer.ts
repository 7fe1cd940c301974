// The config in force, composed from its three sources: the config file, routes from Consul KV
// (`fleet.configKey`, core/kv-routes.ts) after the file's, and routes from Consul tags
// (core/tag-routes.ts) after both. Each source changes on its own (a reload, a new value of the
// key, a catalog change); whichever changes, the others are kept and the config is composed again.
//
// Two steps, so the app can do its I/O in between: `fromFile`, `withKv` and `withCatalog` work
// out the next Composition without changing anything, and `use` puts one in force once the app
// has swapped it in (a reload that fails half-way leaves the sources as they were). Only how the
// last read of the key went (`fleetConfig`) shows at once, accepted or not.
//
// A Composition whose config is the running one (===) changed nothing: the app skips the
// rebuild. To keep that true, the file-plus-KV config is remade only when the file or the KV
// routes change, and tag routes equal to the previous ones keep their objects (withTagRoutes).
// No I/O: time and the environment are passed in.

import { formatProblem, type Config, type RouteConfig } from '../core/config.js';
import { kvClashes, kvLabel, loadKvRoutes, type KvStatus } from '../core/kv-routes.js';
import { withTagRoutes, type TagRoutes } from '../core/tag-routes.js';
import { canaryKey, type DocChoice } from '../core/canary.js';

/** The catalog's services and their tags. */
export type Catalog = Readonly<Record<string, readonly string[]>>;

/** Every source of a config, and the config made from them. */
export interface Composition {
  /** The config to run. */
  readonly config: Config;
  /** The config as the file says. */
  readonly file: Config;
  /** Routes from fleet.configKey, after the file's. */
  readonly kvRoutes: readonly RouteConfig[];
  /** The file's config with the KV routes added (tag routes come on top). */
  readonly base: Config;
  /** The catalog last seen, when routes from tags are on. */
  readonly catalog: Catalog | undefined;
  readonly tagRoutes: TagRoutes;
}

export type FromFile = { ok: true; next: Composition } | { ok: false; clashes: Array<{ path: Array<string | number>; message: string }> };
export type FromKv = { ok: true; next: Composition } | { ok: false; problems: string[] };

export class ConfigComposer {
  readonly #env: Readonly<Record<string, string | undefined>>;
  #current: Composition;
  #kvStatus: KvStatus | undefined;

  /** Starts from the file's config alone: no KV routes or catalog yet. */
  constructor(file: Config, env: Readonly<Record<string, string | undefined>> = {}) {
    this.#env = env;
    this.#current = { config: file, file, kvRoutes: [], base: file, catalog: undefined, tagRoutes: { routes: [], conflicts: [] } };
  }

  /** The config in force. */
  get config(): Config {
    return this.#current.config;
  }

  /** The config as the file in force says. */
  get file(): Config {
    return this.#current.file;
  }

  /** How the last read of fleet.configKey went (for /api/status). */
  get fleetConfig(): KvStatus | undefined {
    return this.#kvStatus;
  }

  /** Routes from Consul tags in force, and the services left out, when tag routes are on. */
  get tagRoutes(): { prefix: string; routes: string[]; conflicts: string[] } | undefined {
    const prefix = this.#current.config.consulTags?.prefix;
    if (prefix === undefined) return undefined;
    const { routes, conflicts } = this.#current.tagRoutes;
    return { prefix, routes: routes.map((r) => r.name), conflicts };
  }

  /**
   * A new file's config, with the KV and tag routes in force (none from KV when it names another
   * key: that key's routes come from its own watch). Refused when one of its routes takes the
   * name of a KV route in force.
   */
  fromFile(file: Config): FromFile {
    const sameKey = file.fleet?.configKey === this.#current.file.fleet?.configKey;
    const kvRoutes = sameKey ? this.#current.kvRoutes : [];
    const clashes = kvClashes(file, kvRoutes);
    if (clashes.length > 0) return { ok: false, clashes };
    return { ok: true, next: this.#compose(file, kvRoutes, this.#current.catalog) };
  }

  /**
   * The document of fleet.configKey this instance runs now (`choice`: the key's, or a canary
   * plan's; null: no such key; `at`: when it was read). Its routes replace the KV routes in
   * force, or its problems are returned and they stay. Undefined when the file in force no
   * longer names `key` (a late answer from a watch that is going).
   */
  withKv(key: string, choice: DocChoice, at: string): FromKv | undefined {
    const file = this.#current.file;
    if (file.fleet?.configKey !== key) return undefined;
    const { entry } = choice;
    const index = entry?.modifyIndex ?? null;
    const canary = choice.canary === null ? null : { index: choice.canary.index, until: new Date(choice.canary.until).toISOString() };
    const label = kvLabel(canary === null ? key : canaryKey(key));
    const held = this.#current.kvRoutes.length;
    if (entry === null && held > 0) {
      // Deleted around `fairway config push`, or lost: no instance drops routes for that. To
      // change them, push a document; to stop taking routes from Consul, drop fleet.configKey.
      const problems = [`${label}: the key is gone from Consul KV; the ${held} route(s) last read from it keep serving`];
      this.#kvStatus = { key, ok: false, at, index, canary, routes: held, problems };
      return { ok: false, problems };
    }
    const loaded = entry === null ? { ok: true as const, routes: [] } : loadKvRoutes(entry.text, label, file.routes, this.#env);
    if (!loaded.ok) {
      const problems = loaded.problems.map(formatProblem);
      this.#kvStatus = { key, ok: false, at, index, canary, routes: this.#current.kvRoutes.length, problems };
      return { ok: false, problems };
    }
    this.#kvStatus = { key, ok: true, at, index, canary, routes: loaded.routes.length, problems: [] };
    return { ok: true, next: this.#compose(file, loaded.routes, this.#current.catalog) };
  }

  /** The catalog changed: the tag routes it asks for replace those in force. */
  withCatalog(catalog: Catalog): Composition {
    return this.#compose(this.#current.file, this.#current.kvRoutes, catalog);
  }

  /** Puts `next` (made by this composer from the one in force) in force. */
  use(next: Composition): void {
    // A reload onto another key (or none) drops the old key's status with its routes.
    if (next.file.fleet?.configKey !== this.#current.file.fleet?.configKey) this.#kvStatus = undefined;
    this.#current = next;
  }

  /** `file` plus the KV routes, plus the tag routes `catalog` asks for; the running config itself when nothing changed. */
  #compose(file: Config, kvRoutes: readonly RouteConfig[], catalog: Catalog | undefined): Composition {
    const current = this.#current;
    const base =
      file === current.file && kvRoutes === current.kvRoutes
        ? current.base
        : kvRoutes.length === 0
          ? file
          : Object.freeze({ ...file, routes: Object.freeze([...file.routes, ...kvRoutes]) });
    const merged = withTagRoutes(base, catalog, current.tagRoutes);
    const config = base === current.base && !merged.changed ? current.config : merged.config;
    return { config, file, kvRoutes, base, catalog, tagRoutes: merged.tagRoutes };
  }
}
