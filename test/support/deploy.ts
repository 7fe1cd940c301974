// Reading the deploy recipes under deploy/ the way their runners would, for the tests that check
// them: a systemd unit's keys, the Compose file's services (merge keys, `${VAR:?}`
// interpolation, volumes, start order), a Nomad template's `{{ env "X" }}`, and the Node flags
// the `fairway` executable passes. Pure: no sockets, no processes.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isMap, parse, parseDocument } from 'yaml';
import { parseDuration } from '../../src/core/duration.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const DEPLOY = join(ROOT, 'deploy');
/** Where deploy/systemd and deploy/nomad expect `npm install -g --prefix /usr/local` to put Fairway. */
export const INSTALL_DIR = '/usr/local/lib/node_modules/fairway';

/** The Node flags in the first line of src/cli/main.ts (the `fairway` executable's shebang). */
export function executableNodeFlags(): string[] {
  const first = readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8').split('\n')[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+=\S+)+)$/.exec(first);
  if (!m) throw new Error(`unexpected first line in src/cli/main.ts: ${first}`);
  return m[1]!.trim().split(' ');
}

/** A systemd unit file: section → key → its values in file order (a key may repeat). */
export type Unit = Map<string, Map<string, string[]>>;

export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    if (section === undefined || eq < 1) throw new Error(`not a unit file line: ${raw}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

/** The one value of `key` in `section`, or an error naming it. */
export function unitValue(unit: Unit, section: string, key: string): string {
  const values = unit.get(section)?.get(key) ?? [];
  if (values.length !== 1) throw new Error(`[${section}] ${key}: expected one value, found ${values.length}`);
  return values[0]!;
}

/** An EnvironmentFile, as systemd reads it: KEY=VALUE lines, # comments. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** A duration such as `30s` (systemd's TimeoutStopSec, Compose's stop_grace_period), in ms. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`not a duration this test reads: ${text}`);
  return ms;
}

export interface ComposeService {
  build?: string;
  image?: string;
  hostname?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  restart?: string;
}

export interface Compose {
  /** The folder the file is in: relative paths in it start there. */
  dir: string;
  services: Record<string, ComposeService>;
}

/**
 * A Compose file with its `<<:` merge keys applied and `${VAR}`, `${VAR:?message}` and
 * `${VAR:-default}` replaced from `env`, as `docker compose` does before anything else.
 */
export function readCompose(path: string, env: Readonly<Record<string, string | undefined>>): Compose {
  const text = readFileSync(path, 'utf8').replace(/\$\{(\w+)(?:(:\?|:-)([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string | undefined) => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (op === ':?') throw new Error(`${path}: ${name}: ${arg}`);
    return op === ':-' ? arg! : '';
  });
  const doc = parse(text, { merge: true }) as { services: Record<string, ComposeService> };
  return { dir: dirname(path), services: doc.services };
}

/** The file on this machine that `service` has at `containerPath` (from its bind mounts). */
export function hostPath(compose: Compose, service: string, containerPath: string): string {
  for (const v of compose.services[service]?.volumes ?? []) {
    const [from, to] = v.split(':') as [string, string];
    if (to === containerPath) return resolve(compose.dir, from);
  }
  throw new Error(`${service} mounts nothing at ${containerPath}`);
}

/** The value after `flag` in a command line. */
export function argAfter(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

/** The services that run `fairway start`, by name. */
export function fairwayServices(compose: Compose): string[] {
  return Object.keys(compose.services).filter((name) => compose.services[name]!.command?.[0] === 'start');
}

/** Services in an order `depends_on` allows (each after everything it depends on). */
export function startOrder(compose: Compose): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (order.includes(name)) return;
    if (visiting.has(name)) throw new Error(`depends_on cycle through ${name}`);
    if (!compose.services[name]) throw new Error(`depends_on names ${name}, which is no service`);
    visiting.add(name);
    for (const dep of Object.keys(compose.services[name]!.depends_on ?? {})) visit(dep);
    visiting.delete(name);
    order.push(name);
  };
  for (const name of Object.keys(compose.services)) visit(name);
  return order;
}

/**
 * A Nomad template with only `{{ env "NAME" }}` in it, rendered from `env`. Anything else
 * between braces is an error, so the test cannot pass over a construct it does not render.
 */
export function renderEnvTemplate(template: string, env: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{(.*?)\}\}/g, (whole, inner: string) => {
    const m = /^\s*env\s+"(\w+)"\s*$/.exec(inner);
    if (!m) throw new Error(`a template construct this test does not render: ${whole}`);
    const value = env[m[1]!];
    if (value === undefined) throw new Error(`the template reads ${m[1]}, which Nomad would not set here`);
    return value;
  });
}

/**
 * `text` (a Fairway config) with the values at `paths` replaced, comments and all else kept:
 * how the recipes' files are moved onto loopback ports for a test.
 */
export function withValues(text: string, values: ReadonlyArray<[path: string[], value: string]>): string {
  const doc = parseDocument(text);
  if (!isMap(doc.contents)) throw new Error('not a YAML map');
  for (const [path, value] of values) {
    if (!doc.hasIn(path)) throw new Error(`${path.join('.')}: not in the file`);
    doc.setIn(path, value);
  }
  return doc.toString();
}
