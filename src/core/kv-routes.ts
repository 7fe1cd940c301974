// Routes from Consul KV (`fleet.configKey`): one document, YAML or JSON, holding `routes:` and
// nothing else, shared by every Fairway of a fleet and merged after each one's own file routes.
// It is checked with the file's own rules and messages (`fairway config push` runs the same
// check before writing, so a bad document never reaches the fleet through it), plus two of its
// own: no other top-level key (listeners, Consul and admin settings stay each instance's), and
// no route name a file route already has.

import { isMap, parseDocument } from 'yaml';
import { loadConfig, placeProblems, type ConfigProblem, type RouteConfig } from './config.js';

export type KvRoutesResult = { ok: true; routes: readonly RouteConfig[] } | { ok: false; problems: ConfigProblem[] };

/** How a KV document is named in messages: `consul:fairway/config`. */
export function kvLabel(key: string): string {
  return `consul:${key}`;
}

/**
 * The routes of a KV document, or every problem with it. `label` names it in messages;
 * `fileRoutes` are the routes of the instance's own file (their names may not be reused).
 */
export function loadKvRoutes(
  text: string,
  label: string,
  fileRoutes: readonly RouteConfig[] = [],
  env: Readonly<Record<string, string | undefined>> = {},
): KvRoutesResult {
  const own: Array<{ path: Array<string | number>; message: string; atKey?: boolean }> = [];
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length === 0 && isMap(doc.contents))
    for (const pair of doc.contents.items) {
      const key = (pair.key as { value?: unknown } | null)?.value;
      if (key !== 'routes') own.push({ path: [String(key)], message: 'only `routes` come from Consul KV; listeners, Consul and admin settings stay in each instance\'s file', atKey: true });
    }
  const loaded = loadConfig(text, label, env);
  const problems = loaded.ok ? [] : [...loaded.problems];
  if (loaded.ok) own.push(...nameClashes(loaded.config.routes, fileRoutes, "a route in this instance's file"));
  problems.push(...placeProblems(text, label, own));
  if (problems.length > 0 || !loaded.ok) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, problems };
  }
  return { ok: true, routes: loaded.config.routes };
}

/** How the last read of fleet.configKey went (for /api/status). */
export interface KvStatus {
  readonly key: string;
  readonly ok: boolean;
  readonly at: string;
  /** The key's ModifyIndex (what `fairway config push --cas` names); null when there is no key. */
  readonly index: number | null;
  /** Set while this instance runs a canary plan's document (core/canary.ts): the plan's index and end. */
  readonly canary: { readonly index: number; readonly until: string } | null;
  /** Routes from the key in force (the last good ones when this read was rejected). */
  readonly routes: number;
  readonly problems: readonly string[];
}

/** Routes of a new file whose names the KV routes in force already use (a file route may not take one). */
export function kvClashes(file: { routes: readonly RouteConfig[] }, kvRoutes: readonly RouteConfig[]): Array<{ path: Array<string | number>; message: string }> {
  return nameClashes(file.routes, kvRoutes, 'a route from Consul KV');
}

/** `routes` (by position) whose names `taken` already has: the one rule both sources follow. */
function nameClashes(routes: readonly RouteConfig[], taken: readonly RouteConfig[], where: string): Array<{ path: Array<string | number>; message: string }> {
  const names = new Set(taken.map((r) => r.name));
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  routes.forEach((r, i) => {
    if (names.has(r.name)) out.push({ path: ['routes', i, 'name'], message: `route name "${r.name}" is already ${where}` });
  });
  return out;
}
