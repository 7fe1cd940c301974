#!/usr/bin/env -S node --max-semi-space-size=8 --v8-pool-size=1 --heap-growing-percent=25
// (The flags cap V8's young generation at 8 MB per semi-space, where Node 20 allows 16 MB and
// Node 24 more, and give V8 one background thread, not four: an event loop is one core, and
// workers are processes. No throughput change measured; less RSS at scale. docs/architecture.md, "Memory".)
// The `fairway` command: argument parsing and wiring. The only place that exits the process.

import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Fairway } from '../app.js';
import { certificateProblems } from '../config-source/certificates.js';
import { loadConfigFile, readConfigText } from '../config-source/config-file.js';
import { formatProblem, loadConfig } from '../core/config.js';
import { consulAddressFromEnv, consulEnvProblems, consulTlsFromEnv } from '../core/consul-env.js';
import { UserError } from '../core/errors.js';
import { ConsulError } from '../core/errors.js';
import { ConsulClient } from '../discovery/consul-client.js';
import { createLogger } from '../log.js';
import { keepMemoryReducerWorking } from './memory-reducer.js';
import { VERSION } from '../version.js';
import { registrationFromFlags, type RegisterFlags } from './register-flags.js';
import { explainQuery, fetchExplain, renderExplain } from './explain.js';
import { runConfigCommand } from './fleet-config.js';
import { CANARY_FLAGS } from './canary-flags.js';
import { renderStatus } from './status.js';
import { runPrimary } from '../cluster/primary.js';
import { answerPrimary, primaryDiscovery, tellReady } from '../cluster/worker.js';

const USAGE = `fairway ${VERSION} — a Consul-native HTTP load balancer

Usage:
  fairway start [-c FILE]             run the proxy (default config: $FAIRWAY_CONFIG or config/fairway.yaml)
  fairway validate -c FILE            check a config file; one line per problem, exit 1 if any
  fairway register --service NAME --address HOST --port N [--id ID] [--tag T ...] [--meta K=V ...]
                   [--weight N] [--check-http URL | --check-tcp HOST:PORT | --check-ttl 10s]
                   [--interval 1s] [--timeout 1s] [--deregister-after 1m] [--consul URL] [--token T]
  fairway deregister --id ID [--consul URL] [--token T]
  fairway status [--admin URL] [--json]   routes and endpoints of a running Fairway
  fairway config push -c FILE [--key fairway/config] [--cas INDEX] [--consul URL] [--token T]
                   validate FILE (routes only) and write it to Consul KV with check-and-set
  fairway config push -c FILE --canary N|P% [--watch 60s] [--fleet fairway] [--max-5xx 1%]
                   [--max-p99 2x] [--min-requests 20] [--key ...] [--consul URL] [--token T]
                   run FILE on N Fairways (or P % of the fleet) first; compare their 5xx share and
                   p99 with the rest's for --watch; then promote it to all, or roll back and exit 1
  fairway config pull [--key fairway/config] [--consul URL] [--token T]
                   print the routes document in Consul KV (its index on stderr)
  fairway explain URL [-H name:value ...] [-X METHOD] [--client IP] [--admin URL] [--json]
                   which route, policies and instance a running Fairway would give this request
                   (sends nothing upstream, takes no rate-limit token; the pick is a real one)

Options:
  --debug        print stack traces on errors
  --log-level L  trace | debug | info | warn | error (default: $FAIRWAY_LOG_LEVEL or info)
  -h, --help     this text
  -v, --version  the version

Environment: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN (Consul defaults), FAIRWAY_ADMIN (status, explain).
`;

const COMMON = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  debug: { type: 'boolean' },
} as const;

const OPTIONS: Record<string, ParseArgsConfig['options']> = {
  start: { ...COMMON, config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' } },
  validate: { ...COMMON, config: { type: 'string', short: 'c' } },
  register: {
    ...COMMON,
    service: { type: 'string' },
    id: { type: 'string' },
    address: { type: 'string' },
    port: { type: 'string' },
    tag: { type: 'string', multiple: true },
    meta: { type: 'string', multiple: true },
    weight: { type: 'string' },
    'check-http': { type: 'string' },
    'check-tcp': { type: 'string' },
    'check-ttl': { type: 'string' },
    interval: { type: 'string' },
    timeout: { type: 'string' },
    'deregister-after': { type: 'string' },
    consul: { type: 'string' },
    token: { type: 'string' },
  },
  deregister: { ...COMMON, id: { type: 'string' }, consul: { type: 'string' }, token: { type: 'string' } },
  status: { ...COMMON, admin: { type: 'string' }, json: { type: 'boolean' } },
  config: {
    ...COMMON,
    config: { type: 'string', short: 'c' },
    key: { type: 'string' },
    cas: { type: 'string' },
    consul: { type: 'string' },
    token: { type: 'string' },
    ...CANARY_FLAGS,
  },
  explain: {
    ...COMMON,
    header: { type: 'string', short: 'H', multiple: true },
    method: { type: 'string', short: 'X' },
    client: { type: 'string' },
    admin: { type: 'string' },
    json: { type: 'boolean' },
  },
};

type Values = Record<string, string | boolean | string[] | undefined>;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined;
  if (command === undefined) {
    if (argv.includes('--version') || argv.includes('-v')) return print(`${VERSION}\n`);
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) return print(USAGE);
    throw new UserError(`unknown option ${argv[0]}; see fairway --help`);
  }
  const options = OPTIONS[command];
  if (!options) throw new UserError(`unknown command "${command}"; see fairway --help`);
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv.slice(1), options, strict: true, allowPositionals: command === 'explain' || command === 'config' }) as { values: Values; positionals: string[] });
  } catch (err) {
    // One line: Node's parser explains some mistakes (a value starting with a dash) over three.
    throw new UserError(`${command}: ${(err as Error).message.replace(/\s*\n\s*/g, ' ')}`);
  }
  if (values.help) return print(USAGE);
  if (values.version) return print(`${VERSION}\n`);

  switch (command) {
    case 'validate':
      return validate(String(values.config ?? configDefault()));
    case 'start':
      return start(String(values.config ?? configDefault()), values['log-level'] as string | undefined);
    case 'register':
      return register(values);
    case 'deregister':
      return deregister(values);
    case 'status':
      return status(values);
    case 'explain':
      return explain(values, positionals);
    case 'config':
      return fleetConfig(values, positionals);
  }
  return 1;
}

function configDefault(): string {
  return process.env.FAIRWAY_CONFIG ?? 'config/fairway.yaml';
}

async function validate(file: string): Promise<number> {
  const text = await readConfigText(file);
  const result = loadConfig(text, file, process.env);
  // Certificate files are read only once the config itself is valid (it names them).
  const problems = result.ok ? await certificateProblems(result.config, text, file) : result.problems;
  if (!result.ok || problems.length > 0) {
    process.stderr.write(problems.map((p) => `${formatProblem(p)}\n`).join(''));
    return 1;
  }
  const c = result.config;
  return print(`${file}: ok (${c.routes.length} route${c.routes.length === 1 ? '' : 's'}, ${c.services.length} service${c.services.length === 1 ? '' : 's'})\n`);
}

async function start(file: string, level: string | undefined): Promise<number> {
  keepMemoryReducerWorking();
  const log = createLogger(level === undefined ? {} : { level });
  const worker = !cluster.isPrimary && process.env.FAIRWAY_WORKER === '1';
  if (!worker) {
    const workers = await workersOf(file);
    if (workers > 1) return runPrimary(file, workers, log);
  }
  const appLog = worker ? log.child({ worker: cluster.worker?.id }) : log;
  const app = await Fairway.start({
    configPath: file,
    log: appLog,
    ...(worker ? { role: 'worker' as const, onReady: tellReady, remoteDiscovery: primaryDiscovery(appLog.child({ part: 'discovery' })) } : {}),
  });
  if (worker) answerPrimary(app);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals | 'primary') => {
      if (stopping) {
        // A worker drains to the end: the primary kills it at the deadline if it must.
        if (worker) return;
        log.warn({ signal }, 'second signal; exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      log.info({ signal }, 'draining');
      app.stop().then(
        () => resolve(0),
        (err: Error) => {
          log.error({ err: err.message }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    if (worker) process.on('message', (m: unknown) => (m as { type?: unknown } | null)?.type === 'stop' && stop('primary'));
    // A worker takes its stop from the primary (an IPC message): a Ctrl-C reaches the whole
    // process group, and the primary already turns it into a drain of every worker.
    process.on('SIGINT', worker ? () => undefined : stop);
    process.on('SIGHUP', () => void app.reload());
  });
}

/**
 * How many proxy processes the config asks for (`workers`, auto: one per core). Unusable
 * certificate files stop a start here, before any worker is forked.
 */
async function workersOf(file: string): Promise<number> {
  const { config, text } = await loadConfigFile(file, process.env);
  const unusable = await certificateProblems(config, text, file);
  if (unusable.length > 0) throw new UserError(unusable.map(formatProblem).join('\n'));
  const w = config.workers;
  return w === 'auto' ? availableParallelism() : w;
}

function consulFrom(values: Values): ConsulClient {
  const problems = consulEnvProblems(process.env);
  if (problems.length > 0) throw new UserError(problems.join('; '));
  const address = (values.consul as string | undefined) ?? consulAddressFromEnv(process.env);
  if (!URL.canParse(address)) throw new UserError(`--consul: expected an http:// or https:// URL, got "${address}"`);
  const token = (values.token as string | undefined) ?? process.env.CONSUL_HTTP_TOKEN ?? '';
  const tls = consulTlsFromEnv(process.env);
  return new ConsulClient({ address, token, ...(tls ? { tls } : {}) });
}

async function register(values: Values): Promise<number> {
  const result = registrationFromFlags(values as RegisterFlags);
  if (!result.ok) throw new UserError(`register: ${result.problems.join('; ')}`);
  const client = consulFrom(values);
  try {
    await client.registerService(result.registration);
  } finally {
    await client.close();
  }
  const r = result.registration;
  return print(`registered ${r.id} (service ${r.name} at ${r.address}:${r.port}, weight ${r.weight}) with ${client.address}\n`);
}

async function deregister(values: Values): Promise<number> {
  const id = values.id as string | undefined;
  if (!id) throw new UserError('deregister: --id is required');
  const client = consulFrom(values);
  try {
    await client.deregisterService(id);
  } finally {
    await client.close();
  }
  return print(`deregistered ${id} from ${client.address}\n`);
}

/** The admin API's base URL: --admin, else $FAIRWAY_ADMIN, else the default admin.listen. */
function adminOf(values: Values): string {
  return ((values.admin as string | undefined) ?? process.env.FAIRWAY_ADMIN ?? 'http://127.0.0.1:8081').replace(/\/+$/, '');
}

async function explain(values: Values, positionals: string[]): Promise<number> {
  const query = explainQuery({
    positionals,
    header: values.header as string[] | undefined,
    method: values.method as string | undefined,
    client: values.client as string | undefined,
  });
  const report = await fetchExplain(adminOf(values), query);
  return print(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderExplain(report));
}

async function fleetConfig(values: Values, positionals: string[]): Promise<number> {
  const [sub, ...rest] = positionals;
  if ((sub !== 'push' && sub !== 'pull') || rest.length > 0) throw new UserError('config: expected `config push -c FILE` or `config pull`');
  const client = consulFrom(values);
  try {
    return await runConfigCommand(client, sub, values);
  } finally {
    await client.close();
  }
}

async function status(values: Values): Promise<number> {
  const admin = adminOf(values);
  const get = async (path: string): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(`${admin}${path}`, { signal: AbortSignal.timeout(5_000) });
    } catch (err) {
      throw new UserError(`cannot reach the admin API at ${admin} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
    }
    if (!res.ok) throw new UserError(`admin API ${admin}${path} answered ${res.status}`);
    return res.json();
  };
  const [routes, st] = await Promise.all([get('/api/routes'), get('/api/status')]);
  if (values.json) return print(`${JSON.stringify({ status: st, routes }, null, 2)}\n`);
  return print(renderStatus(st as Parameters<typeof renderStatus>[0], routes as Parameters<typeof renderStatus>[1]));
}

function print(text: string): number {
  process.stdout.write(text);
  return 0;
}

const debug = process.argv.includes('--debug');
// A reader that stops early (`fairway config pull | head`) closes the pipe: the rest of the
// output has nowhere to go, which is not Fairway's error. (`start` writes only its log there.)
if (process.argv[2] !== 'start') process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1));
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (process.argv[2] === 'start') process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof UserError || err instanceof ConsulError) {
      process.stderr.write(`fairway: ${err.message}\n`);
    } else {
      process.stderr.write(`fairway: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    }
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  },
);
