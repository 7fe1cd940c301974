// `fairway config push` and `fairway config pull`: the fleet's routes in Consul KV
// (`fleet.configKey`). A push checks the document with the same rules and messages as every
// instance will (nothing is written when it fails), then writes it with check-and-set, so two
// operators pushing at once cannot silently overwrite each other: the second one's push fails.

import { formatProblem } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { loadKvRoutes } from '../core/kv-routes.js';
import { readConfigText } from '../config-source/config-file.js';
import type { ConsulClient } from '../discovery/consul-client.js';

export const DEFAULT_KEY = 'fairway/config';

/**
 * Validates `file` and writes it at `key`. `cas`: the ModifyIndex the key must still have (0:
 * it must not exist yet); undefined: the index read just before writing. Returns what to print,
 * or the problems (nothing written).
 */
export async function pushConfig(client: ConsulClient, file: string, key: string, cas: number | undefined): Promise<{ ok: true; text: string } | { ok: false; problems: string[] }> {
  const text = await readConfigText(file);
  const loaded = loadKvRoutes(text, file);
  if (!loaded.ok) return { ok: false, problems: loaded.problems.map(formatProblem) };
  const index = cas ?? (await client.kvGet(key, { index: 0, waitMs: 0 })).value?.modifyIndex ?? 0;
  if (!(await client.kvPut(key, text, index))) {
    const was = index === 0 ? 'did not exist' : `was at index ${index}`;
    throw new UserError(`${key} changed since it ${was}: someone else wrote it; pull it, merge your change and push again`);
  }
  const now = (await client.kvGet(key, { index: 0, waitMs: 0 })).value;
  const n = loaded.routes.length;
  return { ok: true, text: `pushed ${file} to ${key} (${n} route${n === 1 ? '' : 's'}); index ${now?.modifyIndex ?? '?'}\n` };
}

/** The document at `key`, and its index (for a later `push --cas`). */
export async function pullConfig(client: ConsulClient, key: string): Promise<{ text: string; index: number }> {
  const entry = (await client.kvGet(key, { index: 0, waitMs: 0 })).value;
  if (entry === null || entry === undefined) throw new UserError(`${key}: no such key in Consul KV`);
  return { text: entry.text, index: entry.modifyIndex };
}
