// `fairway register` flags → a service registration, validated by the same schema as the
// config's `services:` items, with problems named by flag instead of key path.

import { serviceProblems } from '../core/config-rules.js';
import { serviceSchema } from '../core/config-schema.js';
import { toRegistration, type ServiceRegistration } from '../core/config.js';

export interface RegisterFlags {
  service?: string;
  id?: string;
  address?: string;
  port?: string;
  tag?: string[];
  meta?: string[];
  weight?: string;
  'check-http'?: string;
  'check-tcp'?: string;
  'check-ttl'?: string;
  interval?: string;
  timeout?: string;
  'deregister-after'?: string;
}

const FLAG_FOR: Record<string, string> = {
  name: '--service',
  id: '--id',
  address: '--address',
  port: '--port',
  tags: '--tag',
  meta: '--meta',
  weight: '--weight',
  check: '--check-http | --check-tcp | --check-ttl',
  'check.http': '--check-http',
  'check.tcp': '--check-tcp',
  'check.ttl': '--check-ttl',
  'check.interval': '--interval',
  'check.timeout': '--timeout',
  'check.deregisterCriticalAfter': '--deregister-after',
};

export type RegisterResult = { ok: true; registration: ServiceRegistration } | { ok: false; problems: string[] };

export function registrationFromFlags(f: RegisterFlags): RegisterResult {
  const problems: string[] = [];
  const meta: Record<string, string> = {};
  for (const kv of f.meta ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) problems.push(`--meta: expected key=value, got "${kv}"`);
    else meta[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const hasCheck = f['check-http'] !== undefined || f['check-tcp'] !== undefined || f['check-ttl'] !== undefined;
  const checkOnly = f.interval !== undefined || f.timeout !== undefined || f['deregister-after'] !== undefined;
  if (checkOnly && !hasCheck) problems.push('--interval, --timeout and --deregister-after need one of --check-http, --check-tcp, --check-ttl');
  const raw = {
    name: f.service,
    ...(f.id === undefined ? {} : { id: f.id }),
    address: f.address,
    port: f.port === undefined ? undefined : /^\d+$/.test(f.port) ? Number(f.port) : f.port,
    ...(f.tag?.length ? { tags: f.tag } : {}),
    ...(Object.keys(meta).length ? { meta } : {}),
    ...(f.weight === undefined ? {} : { weight: /^\d+$/.test(f.weight) ? Number(f.weight) : f.weight }),
    ...(hasCheck
      ? {
          check: {
            ...(f['check-http'] === undefined ? {} : { http: f['check-http'] }),
            ...(f['check-tcp'] === undefined ? {} : { tcp: f['check-tcp'] }),
            ...(f['check-ttl'] === undefined ? {} : { ttl: f['check-ttl'] }),
            ...(f.interval === undefined ? {} : { interval: f.interval }),
            ...(f.timeout === undefined ? {} : { timeout: f.timeout }),
            ...(f['deregister-after'] === undefined ? {} : { deregisterCriticalAfter: f['deregister-after'] }),
          },
        }
      : {}),
  };
  const parsed = serviceSchema.safeParse(raw);
  const found = [...(parsed.success ? [] : parsed.error.issues), ...serviceProblems(raw)];
  for (const issue of found) {
    const key = issue.path.filter((p) => typeof p === 'string').join('.');
    problems.push(`${FLAG_FOR[key] ?? (key || 'flags')}: ${issue.message}`);
  }
  if (problems.length > 0 || !parsed.success) return { ok: false, problems };
  return { ok: true, registration: toRegistration(parsed.data) };
}
