// The deploy recipes under deploy/ say what Fairway really does: the systemd unit passes
// `systemd-analyze verify` and keeps its hardening, the Nomad job uses only fields Nomad knows
// (it ignores the others without a word) and its template renders a config Fairway accepts, and
// the Compose fleet's files load, share one KV key and start in an order that works. Every
// config is checked with Fairway's own loadConfig / loadKvRoutes; every stop timeout against the
// drain it must outlast. (test/integration/deploy-compose.test.ts runs the Compose fleet.)

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem, loadConfig, type Config } from '../../src/core/config.js';
import { loadKvRoutes } from '../../src/core/kv-routes.js';
import {
  argAfter,
  DEPLOY,
  executableNodeFlags,
  fairwayServices,
  hostPath,
  INSTALL_DIR,
  parseEnvFile,
  parseUnit,
  readCompose,
  renderEnvTemplate,
  ROOT,
  startOrder,
  durationMs,
  unitValue,
} from '../support/deploy.js';

/** With `workers:`, the cluster primary gives its workers drainTimeout + 5 s (src/cluster/primary.ts). */
const WORKER_GRACE_MS = 5_000;
/** The Nomad client's default `max_kill_timeout`: a longer task kill_timeout is cut to it. */
const NOMAD_MAX_KILL_TIMEOUT_MS = 30_000;

function loaded(text: string, file: string, env: Record<string, string | undefined>): Config {
  const result = loadConfig(text, file, env);
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
  return result.config;
}

describe('the Docker image', () => {
  it('runs Node with the flags of the `fairway` executable', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    expect(JSON.parse(entrypoint!)).toEqual(['node', ...executableNodeFlags(), 'dist/cli/main.js']);
  });
});

describe('deploy/systemd', () => {
  const dir = join(DEPLOY, 'systemd');
  const unitText = readFileSync(join(dir, 'fairway.service'), 'utf8');
  const unit = parseUnit(unitText);
  const configPath = '/etc/fairway/fairway.yaml';
  const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
  const why = analyze ? '' : ' (skipped: systemd-analyze is not installed here)';

  /** The unit with this machine's node and this checkout in place of the installed paths. */
  function localCopy(): string {
    const path = join(mkdtempSync(join(tmpdir(), 'fairway-unit-')), 'fairway.service');
    writeFileSync(path, unitText.replaceAll('/usr/bin/node', process.execPath).replaceAll(INSTALL_DIR, ROOT));
    return path;
  }

  it.skipIf(!analyze)(`systemd-analyze verify has nothing to say about fairway.service${why}`, () => {
    const r = spawnSync('systemd-analyze', ['verify', localCopy()], { encoding: 'utf8' });
    // verify exits 0 on unknown keys and values it cannot parse, and only says so on stderr.
    expect({ status: r.status, out: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, out: '' });
  });

  it.skipIf(!analyze)(`systemd-analyze security rates its hardening at an exposure of 2.0 or less${why}`, () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', localCopy()], { encoding: 'utf8' });
    expect([r.status, r.stdout.trim().split('\n').pop()]).toEqual([0, expect.stringMatching(/Overall exposure level for fairway\.service: [0-2]\.\d /)]);
  });

  it('starts fairway with its Node flags and the config, and reload validates before it sends SIGHUP', () => {
    const cli = `${INSTALL_DIR}/dist/cli/main.js`;
    expect(unitValue(unit, 'Service', 'ExecStart')).toBe(['/usr/bin/node', ...executableNodeFlags(), cli, 'start', '-c', configPath].join(' '));
    expect(unit.get('Service')!.get('ExecReload')).toEqual([`/usr/bin/node ${cli} validate -c ${configPath}`, '/bin/kill -HUP $MAINPID']);
    expect(unitValue(unit, 'Service', 'Type')).toBe('simple');
    expect(unitValue(unit, 'Service', 'ReadOnlyPaths')).toBe('/etc/fairway');
  });

  it('orders itself after Consul without requiring it', () => {
    expect(unitValue(unit, 'Unit', 'After').split(' ')).toContain('consul.service');
    expect(unitValue(unit, 'Unit', 'Wants').split(' ')).toContain('consul.service');
    expect(unit.get('Unit')!.has('Requires')).toBe(false);
    expect(unit.get('Unit')!.has('BindsTo')).toBe(false);
  });

  it('fairway.yaml with fairway.env: refused until the admin token is set, then loaded with the env file\'s Consul settings', () => {
    expect(unitValue(unit, 'Service', 'EnvironmentFile')).toBe('-/etc/fairway/fairway.env');
    const text = readFileSync(join(dir, 'fairway.yaml'), 'utf8');
    const env = parseEnvFile(readFileSync(join(dir, 'fairway.env'), 'utf8'));
    expect(Object.keys(env).sort()).toEqual(['CONSUL_HTTP_ADDR', 'CONSUL_HTTP_TOKEN', 'FAIRWAY_ADMIN_TOKEN']);
    const shipped = loadConfig(text, configPath, env);
    expect(shipped.ok ? [] : shipped.problems.map((p) => p.path)).toEqual(['admin.token']);
    const config = loaded(text, configPath, { ...env, FAIRWAY_ADMIN_TOKEN: 't0ken', CONSUL_HTTP_TOKEN: 'acl' });
    expect(config.consul).toMatchObject({ address: env.CONSUL_HTTP_ADDR, token: 'acl' });
    expect(config.admin.token).toBe('t0ken');
    expect(config.fleet).toMatchObject({ name: 'fairway', configKey: 'fairway/config' });
  });

  it('gives a drain (with workers) time to finish before SIGKILL', () => {
    const config = loaded(readFileSync(join(dir, 'fairway.yaml'), 'utf8'), configPath, { FAIRWAY_ADMIN_TOKEN: 't0ken' });
    expect(unitValue(unit, 'Service', 'KillSignal')).toBe('SIGTERM');
    expect(durationMs(unitValue(unit, 'Service', 'TimeoutStopSec'))).toBeGreaterThan(config.drainTimeoutMs + WORKER_GRACE_MS);
  });
});

/** The fields of each object of Nomad's job API (its api package, v2.0) that a job file may set. */
const NOMAD_FIELDS = {
  job: 'Region Namespace ID Name Type Priority AllAtOnce Datacenters NodePool Constraints Affinities TaskGroups Update Multiregion Spreads Periodic ParameterizedJob Reschedule Migrate Meta UI ConsulNamespace VaultNamespace',
  group: 'Name Count Constraints Affinities Tasks Spreads Volumes RestartPolicy Disconnect ReschedulePolicy EphemeralDisk Update Migrate Networks Meta Services ShutdownDelay MaxRunDuration StopAfterClientDisconnect MaxClientDisconnect Scaling Consul PreventRescheduleOnLost',
  task: 'Name Driver User Lifecycle Config Constraints Affinities Env Services Resources RestartPolicy Meta KillTimeout LogConfig Artifacts Vault Consul Templates DispatchPayload VolumeMounts CSIPluginConfig Leader ShutdownDelay KillSignal Kind ScalingPolicies Secrets Identity Identities Actions Schedule',
  execConfig: 'command args pid_mode ipc_mode cap_add cap_drop work_dir',
  template: 'SourcePath DestPath EmbeddedTmpl ChangeMode ChangeScript ChangeSignal Once Splay Perms Uid Gid LeftDelim RightDelim Envvars VaultGrace Wait ErrMissingKey',
  update: 'Stagger MaxParallel HealthCheck MinHealthyTime HealthyDeadline ProgressDeadline Canary AutoRevert AutoPromote',
  restart: 'Interval Attempts Delay Mode RenderTemplates',
  service: 'Name Tags CanaryTags EnableTagOverride PortLabel AddressMode Address Checks CheckRestart Connect Meta CanaryMeta TaggedAddresses TaskName OnUpdate Identity Weights Provider Cluster Kind',
  check: 'Name Type Command Args Path Protocol PortLabel Expose AddressMode Advertise Interval Timeout InitialStatus Notes TLSServerName TLSSkipVerify Header Method CheckRestart GRPCService GRPCUseTLS TaskName SuccessBeforePassing FailuresBeforeCritical FailuresBeforeWarning Body OnUpdate',
  network: 'Mode Device CIDR IP DNS ReservedPorts DynamicPorts Hostname MBits CNI',
  port: 'Label Value To HostNetwork IgnoreCollision',
  constraint: 'LTarget RTarget Operand',
  resources: 'CPU Cores MemoryMB MemoryMaxMB DiskMB Networks Devices NUMA SecretsMB IOPS',
} as const;

type Obj = Record<string, unknown>;

/** Keys of `o` that are not fields of Nomad's `kind`, each named by where it is. */
function unknownFields(o: unknown, kind: keyof typeof NOMAD_FIELDS, at: string): string[] {
  const known = new Set(NOMAD_FIELDS[kind].split(' '));
  return Object.keys((o ?? {}) as Obj).filter((k) => !known.has(k)).map((k) => `${at}.${k}`);
}

interface NomadTask {
  Name: string;
  Driver: string;
  Config: { command: string; args: string[] };
  Env: Record<string, string>;
  Templates: Array<{ DestPath: string; EmbeddedTmpl: string; ChangeMode: string; ChangeSignal?: string; Envvars?: boolean }>;
  KillSignal: string;
  KillTimeout: number;
}
interface NomadGroup {
  Count: number;
  Constraints: Array<{ Operand: string; RTarget: string }>;
  Networks: Array<{ ReservedPorts: Array<{ Label: string; Value: number }> }>;
  Services: Array<{ Name: string; Provider: string; PortLabel: string; Checks: Array<{ Type: string; Path: string; PortLabel?: string }> }>;
  Update: { HealthCheck: string; MaxParallel: number };
  Tasks: NomadTask[];
}

describe('deploy/nomad', () => {
  const job = (JSON.parse(readFileSync(join(DEPLOY, 'nomad/fairway.nomad.json'), 'utf8')) as { Job: Obj & { ID: string; Type: string; TaskGroups: NomadGroup[] } }).Job;
  const group = job.TaskGroups[0]!;
  const task = group.Tasks[0]!;
  const configTemplate = task.Templates.find((t) => !t.Envvars)!;
  // What Nomad sets for a port on a host network: the node's address and the static port.
  const nodeIp = '10.0.0.5';
  const env: Record<string, string> = {};
  for (const p of group.Networks.flatMap((n) => n.ReservedPorts)) {
    env[`NOMAD_IP_${p.Label}`] = nodeIp;
    env[`NOMAD_PORT_${p.Label}`] = String(p.Value);
    env[`NOMAD_ADDR_${p.Label}`] = `${nodeIp}:${p.Value}`;
  }
  const port = (label: string) => Number(env[`NOMAD_PORT_${label}`]);
  const config = loaded(renderEnvTemplate(configTemplate.EmbeddedTmpl, env), configTemplate.DestPath, { FAIRWAY_ADMIN_TOKEN: 't0ken', ...task.Env });

  it('sets only fields Nomad knows (it drops misspelt ones without a word, e.g. a kill timeout)', () => {
    const unknown = [
      ...unknownFields(job, 'job', 'Job'),
      ...job.TaskGroups.flatMap((g, i) => {
        const at = `Job.TaskGroups[${i}]`;
        const raw = g as unknown as Obj;
        return [
          ...unknownFields(g, 'group', at),
          ...unknownFields(raw.Update, 'update', `${at}.Update`),
          ...unknownFields(raw.RestartPolicy, 'restart', `${at}.RestartPolicy`),
          ...g.Constraints.flatMap((c, j) => unknownFields(c, 'constraint', `${at}.Constraints[${j}]`)),
          ...g.Networks.flatMap((n, j) => [...unknownFields(n, 'network', `${at}.Networks[${j}]`), ...n.ReservedPorts.flatMap((p, k) => unknownFields(p, 'port', `${at}.Networks[${j}].ReservedPorts[${k}]`))]),
          ...g.Services.flatMap((s, j) => [...unknownFields(s, 'service', `${at}.Services[${j}]`), ...s.Checks.flatMap((c, k) => unknownFields(c, 'check', `${at}.Services[${j}].Checks[${k}]`))]),
          ...g.Tasks.flatMap((t, j) => [
            ...unknownFields(t, 'task', `${at}.Tasks[${j}]`),
            ...unknownFields(t.Config, 'execConfig', `${at}.Tasks[${j}].Config`),
            ...unknownFields((t as unknown as Obj).Resources, 'resources', `${at}.Tasks[${j}].Resources`),
            ...t.Templates.flatMap((x, k) => unknownFields(x, 'template', `${at}.Tasks[${j}].Templates[${k}]`)),
          ]),
        ];
      }),
    ];
    expect(unknown).toEqual([]);
  });

  it('is a service job of at least two allocations, one per node (its ports are static)', () => {
    expect(job.Type).toBe('service');
    expect(group.Count).toBeGreaterThanOrEqual(2);
    expect(group.Constraints).toContainEqual({ Operand: 'distinct_hosts', RTarget: 'true' });
  });

  it('runs `fairway start` with the executable\'s Node flags on the config its template renders, reloaded by SIGHUP', () => {
    expect(task.Driver).toBe('exec');
    expect(task.Config.command).toBe('/usr/bin/node');
    expect(task.Config.args).toEqual([...executableNodeFlags(), `${INSTALL_DIR}/dist/cli/main.js`, 'start', '-c', '${NOMAD_TASK_DIR}/fairway.yaml']);
    expect(configTemplate).toMatchObject({ DestPath: 'local/fairway.yaml', ChangeMode: 'signal', ChangeSignal: 'SIGHUP' });
  });

  it('renders a config Fairway accepts: the job\'s ports, the fleet and its KV key, Consul from the task env', () => {
    expect(config.listen).toEqual({ host: '0.0.0.0', port: port('http') });
    expect(config.admin.listen).toEqual({ host: nodeIp, port: port('admin') });
    expect(config.fleet).toMatchObject({ name: 'fairway', configKey: 'fairway/config' });
    expect(config.consul.address).toBe(task.Env.CONSUL_HTTP_ADDR);
  });

  it('takes the admin token (needed off loopback) from the job\'s own Nomad variable', () => {
    const secrets = task.Templates.find((t) => t.Envvars)!;
    expect(secrets.EmbeddedTmpl).toContain(`{{ with nomadVar "nomad/jobs/${job.ID}" }}`);
    expect(secrets.EmbeddedTmpl).toMatch(/^FAIRWAY_ADMIN_TOKEN=\{\{ \.admin_token \}\}$/m);
  });

  it('rolls out one at a time, gated by a Nomad check on /-/ready, never a second Consul service named like the fleet', () => {
    expect(group.Update).toMatchObject({ HealthCheck: 'checks', MaxParallel: 1 });
    const checks = group.Services.flatMap((s) => s.Checks.map((c) => ({ port: c.PortLabel ?? s.PortLabel, type: c.Type, path: c.Path })));
    expect(checks).toContainEqual({ port: 'admin', type: 'http', path: '/-/ready' });
    // A Consul service named like the fleet would count every instance twice in rate shares.
    expect(group.Services.filter((s) => s.Provider !== 'nomad' && s.Name === config.fleet!.name)).toEqual([]);
  });

  it('stops with SIGTERM and waits for the drain, within what a Nomad client allows by default', () => {
    expect(task.KillSignal).toBe('SIGTERM');
    const killMs = task.KillTimeout / 1e6;
    expect(killMs).toBeGreaterThan(config.drainTimeoutMs + WORKER_GRACE_MS);
    expect(killMs).toBeLessThanOrEqual(NOMAD_MAX_KILL_TIMEOUT_MS);
  });
});

describe('deploy/compose', () => {
  const compose = readCompose(join(DEPLOY, 'compose/docker-compose.yml'), { FAIRWAY_ADMIN_TOKEN: 't0ken' });
  const services = compose.services;
  const fairways = fairwayServices(compose);
  const seed = Object.keys(services).find((name) => services[name]!.command?.slice(0, 2).join(' ') === 'config push')!;
  const configOf = (name: string): Config => {
    const s = services[name]!;
    const path = hostPath(compose, name, argAfter(s.command!, '-c')!);
    return loaded(readFileSync(path, 'utf8'), path, s.environment ?? {});
  };

  it('refuses to start without FAIRWAY_ADMIN_TOKEN, as its admin APIs need one', () => {
    expect(() => readCompose(join(DEPLOY, 'compose/docker-compose.yml'), {})).toThrow(/FAIRWAY_ADMIN_TOKEN: set FAIRWAY_ADMIN_TOKEN/);
  });

  it('runs two Fairways whose files load and share one fleet and KV key, each with its own address', () => {
    expect(fairways).toEqual(['fairway-a', 'fairway-b']);
    const fleets = fairways.map((name) => configOf(name).fleet);
    expect(fleets.map((f) => [f?.name, f?.configKey])).toEqual([['fairway', 'fairway/config'], ['fairway', 'fairway/config']]);
    expect(new Set(fleets.map((f) => f?.address)).size).toBe(2);
  });

  it('has each admin API listen on its container\'s own name, which Consul in its container can check', () => {
    for (const name of fairways) {
      const config = configOf(name);
      expect(services[name]!.hostname).toBe(name);
      expect([config.admin.listen.host, config.fleet?.address]).toEqual([name, name]);
    }
  });

  it('seeds the KV key the Fairways read with a routes document that passes loadKvRoutes', () => {
    const command = services[seed]!.command!;
    const path = hostPath(compose, seed, argAfter(command, '-c')!);
    expect(argAfter(command, '--key')).toBe(configOf(fairways[0]!).fleet?.configKey);
    for (const name of fairways) {
      const result = loadKvRoutes(readFileSync(path, 'utf8'), path, configOf(name).routes);
      expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
      expect(result.ok && result.routes.length).toBeGreaterThan(0);
    }
  });

  it('publishes each Fairway\'s listen and admin ports, none twice, the admin ones on loopback only', () => {
    // host port, or address:host port, then the container's port
    const published = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':').at(-2)));
    expect(new Set(published).size).toBe(published.length);
    for (const name of fairways) {
      const config = configOf(name);
      const ports = services[name]!.ports!.map((p) => p.split(':'));
      const admin = ports.find((p) => Number(p.at(-1)) === config.admin.listen.port);
      expect(ports.some((p) => Number(p.at(-1)) === config.listen.port)).toBe(true);
      expect(admin?.[0]).toBe('127.0.0.1');
    }
  });

  it('starts Consul first, then the seed, then the Fairways once it succeeded; and stops them slower than they drain', () => {
    const order = startOrder(compose);
    expect(order[0]).toBe('consul');
    for (const name of fairways) {
      expect(services[name]!.depends_on).toEqual({ consul: { condition: 'service_healthy' }, [seed]: { condition: 'service_completed_successfully' } });
      expect(order.indexOf(name)).toBeGreaterThan(order.indexOf(seed));
      expect(durationMs(services[name]!.stop_grace_period!)).toBeGreaterThan(configOf(name).drainTimeoutMs);
    }
    expect(services[seed]!.depends_on).toEqual({ consul: { condition: 'service_healthy' } });
  });
});
