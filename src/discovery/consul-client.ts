// A thin typed Consul HTTP client over undici, covering exactly what Fairway needs: blocking
// health queries, service (de)registration and a leader probe.
//
// Why not the `consul` npm package (2.0.1): it drops `Weights` on agent.service.register, takes
// no AbortSignal (a blocking query cannot be cancelled on shutdown or reload), and hides the
// X-Consul-Index handling that blocking-query correctness depends on. This file is ~150 lines.

import { Pool } from 'undici';
import type { ServiceRegistration } from '../core/config.js';
import { parseHealthEntries, type Instance } from '../core/instance.js';

export interface ConsulOptions {
  address: string;
  token?: string;
  datacenter?: string;
  stale?: boolean;
}

export class ConsulError extends Error {
  /** HTTP status from Consul, or undefined when it could not be reached at all. */
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ConsulError';
    this.status = status;
  }
}

export interface HealthResult {
  instances: Instance[];
  /** X-Consul-Index of the answer; NaN when missing. */
  index: number;
  /** performance.now() when the answer's headers arrived (for apply-time measurement). */
  receivedAt: number;
}

export class ConsulClient {
  readonly address: string;
  readonly #pool: Pool;
  readonly #headers: Record<string, string>;
  readonly #datacenter: string;
  readonly #stale: boolean;

  constructor(options: ConsulOptions) {
    this.address = options.address.replace(/\/+$/, '');
    // One connection per blocking query in flight; Consul holds each open for up to `wait`.
    this.#pool = new Pool(this.address, { connections: null, keepAliveTimeout: 60_000 });
    this.#headers = options.token ? { 'x-consul-token': options.token } : {};
    this.#datacenter = options.datacenter ?? '';
    this.#stale = options.stale ?? false;
  }

  /** Health of every instance of `service` carrying all `tags` (blocking when index > 0). */
  async healthService(
    service: string,
    tags: readonly string[],
    options: { index: number; waitMs: number; signal?: AbortSignal },
  ): Promise<HealthResult> {
    const q = new URLSearchParams();
    for (const t of tags) q.append('tag', t);
    const { body, index, receivedAt } = await this.#blocking(`/v1/health/service/${encodeURIComponent(service)}`, q, options);
    return { instances: parseHealthEntries(body), index, receivedAt };
  }

  /** Every service in the catalog with the union of its instances' tags (blocking when index > 0). */
  async catalogServices(
    options: { index: number; waitMs: number; signal?: AbortSignal },
  ): Promise<{ services: Record<string, string[]>; index: number; receivedAt: number }> {
    const { body, index, receivedAt } = await this.#blocking('/v1/catalog/services', new URLSearchParams(), options);
    const services: Record<string, string[]> = {};
    for (const [name, tags] of Object.entries((body ?? {}) as Record<string, unknown>))
      services[name] = Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
    return { services, index, receivedAt };
  }

  /**
   * A read that blocks when index > 0: Consul answers when the result changes or after `waitMs`
   * (plus up to waitMs/16 of its own jitter), so the request may take that long.
   */
  async #blocking(
    path: string,
    q: URLSearchParams,
    options: { index: number; waitMs: number; signal?: AbortSignal },
  ): Promise<{ body: unknown; index: number; receivedAt: number }> {
    if (options.index > 0) {
      q.set('index', String(options.index));
      q.set('wait', `${options.waitMs}ms`);
    }
    if (this.#datacenter) q.set('dc', this.#datacenter);
    if (this.#stale) q.set('stale', '');
    const timeout = options.index > 0 ? options.waitMs + Math.ceil(options.waitMs / 16) + 5_000 : 10_000;
    const { body, headers, receivedAt } = await this.#call('GET', `${path}?${q}`, undefined, timeout, options.signal);
    return { body, index: Number(headers['x-consul-index']), receivedAt };
  }

  async registerService(s: ServiceRegistration, signal?: AbortSignal): Promise<void> {
    await this.#call('PUT', '/v1/agent/service/register', registrationBody(s), 10_000, signal);
  }

  async deregisterService(id: string, signal?: AbortSignal): Promise<void> {
    await this.#call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`, undefined, 10_000, signal);
  }

  /** The IDs of the services registered on this agent. */
  async agentServiceIds(signal?: AbortSignal): Promise<string[]> {
    const { body } = await this.#call('GET', '/v1/agent/services', undefined, 10_000, signal);
    return Object.keys(body as Record<string, unknown>);
  }

  async leader(signal?: AbortSignal): Promise<string> {
    const { body } = await this.#call('GET', '/v1/status/leader', undefined, 5_000, signal);
    return String(body);
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }

  async #call(
    method: 'GET' | 'PUT',
    path: string,
    json: unknown,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<{ body: unknown; headers: Record<string, string | string[] | undefined>; receivedAt: number }> {
    let res;
    try {
      res = await this.#pool.request({
        method,
        path,
        headers: json === undefined ? this.#headers : { ...this.#headers, 'content-type': 'application/json' },
        body: json === undefined ? null : JSON.stringify(json),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ConsulError(`Consul at ${this.address} unreachable: ${describe(err)}`, undefined, err);
    }
    const receivedAt = performance.now();
    const text = await res.body.text();
    if (res.statusCode >= 400) {
      const hint = res.statusCode === 403 ? ' (check the ACL token: consul.token or CONSUL_HTTP_TOKEN)' : '';
      throw new ConsulError(`Consul ${method} ${path.split('?')[0]} answered ${res.statusCode}: ${text.trim().slice(0, 200)}${hint}`, res.statusCode);
    }
    let body: unknown = null;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch (err) {
        throw new ConsulError(`Consul ${method} ${path.split('?')[0]} answered with invalid JSON`, res.statusCode, err);
      }
    }
    return { body, headers: res.headers, receivedAt };
  }
}

/** The agent API's registration payload for a service from the config or the CLI. */
export function registrationBody(s: ServiceRegistration): Record<string, unknown> {
  const body: Record<string, unknown> = {
    ID: s.id,
    Name: s.name,
    Address: s.address,
    Port: s.port,
    Tags: [...s.tags],
    Meta: { ...s.meta },
    Weights: { Passing: s.weight, Warning: 1 },
  };
  const c = s.check;
  if (c) {
    const check: Record<string, unknown> = { Name: `${s.name} health` };
    if (c.http) Object.assign(check, { HTTP: c.http, Interval: c.interval, Timeout: c.timeout });
    else if (c.tcp) Object.assign(check, { TCP: c.tcp, Interval: c.interval, Timeout: c.timeout });
    else if (c.ttl) check.TTL = c.ttl;
    if (c.deregisterCriticalAfter) check.DeregisterCriticalServiceAfter = c.deregisterCriticalAfter;
    body.Check = check;
  }
  return body;
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } } | null;
  return e?.cause?.code ?? e?.code ?? e?.message ?? String(err);
}
