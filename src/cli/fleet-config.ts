// `fairway config push` and `fairway config pull`: the fleet's routes in Consul KV
// (`fleet.configKey`); `push --canary` hands over to canary-push.ts. A push checks the document with the same rules and messages as every
// instance will (nothing is written when it fails), then writes it with check-and-set, so two
// operators pushing at once cannot silently overwrite each other: the second one's push fails.

import { formatProblem } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { loadKvRoutes } from '../core/kv-routes.js';
import { readConfigText } from '../config-source/config-file.js';
import type { ConsulClient } from '../discovery/consul-client.js';
import { canaryOptions, strayCanaryFlag } from './canary-flags.js';
import { canaryPush } from './canary-push.js';

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

type Flags = Record<string, string | boolean | string[] | undefined>;

/** `config pull` or `config push` with its flags: writes the output, returns the exit code. */
export async function runConfigCommand(client: ConsulClient, sub: 'push' | 'pull', values: Flags): Promise<number> {
  const key = (values.key as string | undefined) ?? DEFAULT_KEY;
  if (sub === 'pull') {
    const { text, index } = await pullConfig(client, key);
    process.stderr.write(`# ${key} at index ${index}\n`);
    return write(text.endsWith('\n') ? text : `${text}\n`, 0);
  }
  const file = values.config as string | undefined;
  if (file === undefined) throw new UserError('config push: -c FILE is required');
  const stray = strayCanaryFlag(values);
  if (stray !== undefined) throw new UserError(`config push: --${stray} goes with --canary`);
  if (values.canary !== undefined) {
    if (values.cas !== undefined) throw new UserError('config push: --cas and --canary do not go together (a canary checks the key it started from by itself)');
    // Ctrl-C during the watch rolls the canaries back before the command ends.
    const stop = new AbortController();
    const interrupt = () => stop.abort();
    process.once('SIGINT', interrupt);
    try {
      const result = await canaryPush(client, { ...canaryOptions(values), file, key, progress: (line) => process.stderr.write(`${line}\n`), signal: stop.signal });
      if ('problems' in result) return problems(result.problems);
      return write(result.text, result.ok ? 0 : 1);
    } finally {
      process.off('SIGINT', interrupt);
    }
  }
  const casText = values.cas as string | undefined;
  if (casText !== undefined && (!/^\d+$/.test(casText) || !Number.isSafeInteger(Number(casText))))
    throw new UserError(`config push: --cas expected a whole number up to ${Number.MAX_SAFE_INTEGER} (an index from config pull), got "${casText}"`);
  const pushed = await pushConfig(client, file, key, casText === undefined ? undefined : Number(casText));
  return pushed.ok ? write(pushed.text, 0) : problems(pushed.problems);
}

function write(text: string, code: number): number {
  process.stdout.write(text);
  return code;
}

function problems(lines: string[]): number {
  process.stderr.write(lines.map((p) => `${p}\n`).join(''));
  return 1;
}
