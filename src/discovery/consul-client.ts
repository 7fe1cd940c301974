// A thin typed Consul HTTP client over undici, covering exactly what Fairway needs: blocking
// health queries and service (de)registration.
//
// Why not the `consul` npm package (2.0.1): it drops `Weights` on agent.service.register, takes
// no AbortSignal (a blocking query cannot be cancelled on shutdown or reload), and hides the
// X-Consul-Index handling that blocking-query correctness depends on. This file is ~300 lines.

import { gunzipSync } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { Pool } from '../proxy/undici-pool.js';
import type { ClientTls, ServiceRegistration } from '../core/config.js';
import { tlsConnectOptions } from '../config-source/client-tls.js';
import { bytesMatch } from '../core/bytes.js';
import { CensusScanner } from '../core/census.js';
import { ConsulError } from '../core/errors.js';
import type { CheckStatus } from '../core/feed-diff.js';
import { canaryKey, type FleetDocs, type KvValue } from '../core/canary.js';
import { parseHealthEntries, type Instance } from '../core/instance.js';
import { Slots } from './slots.js';

/**
 * Reads that do not block (index 0: a watch starting, or starting over after an error; the
 * feed's reads) in flight at once, and the connections they and writes use. At start every
 * watch sends one, and a thousand answers arriving together keep a thousand parsed documents
 * alive through the same collections: measured at 1,000 services, 16 at a time took the
 * start-up RSS peak from ~135 to ~120 MB, and discovery took no longer (the agent answers them
 * one after another anyway). 8 since these reads got a pool of their own, so that reads
 * following each other closely cannot open a connection each. It also spares a recovering
 * agent the stampede of every watch at once.
 */
const SHORT_READS = 8;

export interface ConsulOptions {
  address: string;
  token?: string;
  datacenter?: string;
  stale?: boolean;
  /** For an https:// address: CA, client certificate, server name (consul.tls, $CONSUL_CACERT...). */
  tls?: ClientTls;
}

/** One answer of a read that may block. */
export interface Read<T> {
  /** Undefined when Consul's wait ran out with nothing changed (the index sent came back). */
  value: T | undefined;
  /** X-Consul-Index of the answer; NaN when missing. */
  index: number;
  /** performance.now() when the answer's headers arrived (for apply-time measurement). */
  receivedAt: number;
}

export interface ReadOptions {
  /** 0 for a read that answers at once; the last X-Consul-Index seen for one that blocks. */
  index: number;
  waitMs: number;
  signal?: AbortSignal;
}

export class ConsulClient {
  readonly address: string;
  /** Blocking reads: one connection each, for as long as Consul holds it. */
  readonly #pool: Pool;
  /** Everything else (first reads, the feed's reads, writes): a few connections, reused. */
  readonly #shortPool: Pool;
  readonly #headers: Record<string, string>;
  readonly #getHeaders: Record<string, string>;
  readonly #datacenter: string;
  readonly #stale: boolean;
  readonly #firstReads = new Slots(SHORT_READS);

  constructor(options: ConsulOptions) {
    this.address = options.address.replace(/\/+$/, '');
    // One connection per blocking query in flight; Consul holds each open for up to `wait`.
    const tls = this.address.startsWith('https:') ? { connect: tlsConnectOptions(options.tls) } : {};
    this.#pool = new Pool(this.address, { connections: null, keepAliveTimeout: 60_000, ...tls });
    // Bounded, so reads that follow each other closely (a thousand first reads, the feed's
    // passes) cannot open a connection each while the last one's is not yet back in the pool.
    this.#shortPool = new Pool(this.address, { connections: SHORT_READS, keepAliveTimeout: 60_000, ...tls });
    this.#headers = options.token ? { 'x-consul-token': options.token } : {};
    // Reads ask for gzip: a health answer for ten instances is ~26 KB of JSON and ~1.2 KB
    // gzipped. Most answers of a blocking query come back unchanged and are dropped unread,
    // but their bytes still pass through a read buffer each (at 1,000 watches, tens of MB of
    // short-lived buffers a minute; RSS rose with them between collections).
    this.#getHeaders = { ...this.#headers, 'accept-encoding': 'gzip' };
    this.#datacenter = options.datacenter ?? '';
    this.#stale = options.stale ?? false;
  }

  /** Health of every instance of `service` carrying all `tags` (blocking when index > 0). */
  healthService(service: string, tags: readonly string[], options: ReadOptions): Promise<Read<Instance[]>> {
    const q = new URLSearchParams();
    for (const t of tags) q.append('tag', t);
    return this.#read(`/v1/health/service/${encodeURIComponent(service)}`, q, options, parseHealthEntries);
  }

  /**
   * Every check in the datacenter in `state` (blocking when index > 0). The answer stays small
   * while most checks pass, and Consul finds these checks by an index on their status: at
   * 100,000 checks it answers ~1 ms after a change, where /v1/health/state/any with a filter on
   * Status scans every check first (90-130 ms, measured on Consul 1.14).
   */
  checksIn(state: 'critical' | 'warning', options: ReadOptions): Promise<Read<CheckStatus[]>> {
    return this.#read(`/v1/health/state/${state}`, new URLSearchParams(), options, checksOf);
  }

  /**
   * Per service, a digest of what the catalog says of it as a whole: instance count, check
   * counts by status, nodes and tags (a read that answers at once). From Consul's UI endpoint
   * /v1/internal/ui/services, the one answer that counts instances per service; being
   * internal, it may go: a 404 or 405 says so (ConsulError.status).
   */
  serviceCensus(signal?: AbortSignal): Promise<Read<Map<string, number>>> {
    // Streamed through the scanner as it arrives (core/census.ts), and not gzipped: unpacking
    // needs the whole answer in one buffer first, the 7.2 MB this read exists to avoid.
    const scanner = new CensusScanner();
    const options = { index: 0, waitMs: 0, ...(signal ? { signal } : {}) };
    return this.#read('/v1/internal/ui/services', new URLSearchParams(), options, (rest) => (scanner.push(rest as Buffer), scanner.end()), scanner);
  }

  /** Every service in the catalog with the union of its instances' tags (blocking when index > 0). */
  catalogServices(options: ReadOptions): Promise<Read<Record<string, string[]>>> {
    return this.#read('/v1/catalog/services', new URLSearchParams(), options, servicesOf);
  }

  /**
   * A read that blocks when index > 0: Consul answers when the result changes or after `waitMs`
   * (plus up to waitMs/16 of its own jitter), so the request may take that long. The value is
   * undefined, and the body not even decoded, when the index sent comes back: the wait ran out
   * and nothing changed (at 1,000 watches and a 30 s wait, that is most answers).
   *
   * A blocking read is in flight for most of a watch's life, so what it holds is held a
   * thousand times over at 1,000 watches: one async frame here, none in the callers (they
   * return this promise), and the request keeps its state in one Exchange, without closures.
   */
  async #read<T>(path: string, q: URLSearchParams, options: ReadOptions, decode: (body: unknown) => T, sink?: BodySink): Promise<Read<T>> {
    const blocking = options.index > 0;
    if (blocking) {
      q.set('index', String(options.index));
      q.set('wait', `${options.waitMs}ms`);
    }
    if (this.#datacenter) q.set('dc', this.#datacenter);
    if (this.#stale) q.set('stale', '');
    // Consul may hold a blocking read for wait + wait/16, and while the cluster has no leader
    // up to its rpc_hold_timeout (7 s) more before answering "No cluster leader": the margin
    // covers both, so that answer arrives instead of a timeout that reads as "unreachable".
    const timeout = blocking ? options.waitMs + Math.ceil(options.waitMs / 16) + 10_000 : 10_000;
    if (!blocking) await this.#firstReads.acquire();
    try {
      const { body, index, receivedAt } = await this.#call('GET', `${path}?${q}`, undefined, timeout, options.signal, blocking ? options.index : undefined, sink);
      return { value: body === undefined ? undefined : decode(body), index: Number(index), receivedAt };
    } finally {
      if (!blocking) this.#firstReads.release();
    }
  }

  /** The value at `key` in Consul KV as text, null when there is no such key (blocking when index > 0). */
  kvGet(key: string, options: ReadOptions): Promise<Read<KvEntry | null>> {
    return this.#read(`/v1/kv/${kvPath(key)}`, new URLSearchParams(), options, kvEntryOf);
  }

  /**
   * `key` and its canary plan (core/canary.ts) in one read of the key's prefix (blocking when
   * index > 0): one watch, one connection, woken by a change to either.
   */
  kvWithCanary(key: string, options: ReadOptions): Promise<Read<FleetDocs>> {
    const plan = canaryKey(key);
    return this.#read(`/v1/kv/${kvPath(key)}`, new URLSearchParams({ recurse: '' }), options, (body) => {
      const entries = kvEntriesOf(body);
      return { main: entries.get(key) ?? null, canary: entries.get(plan) ?? null };
    });
  }

  /** Deletes `key` if its ModifyIndex is still `cas`. False when the check failed. */
  async kvDelete(key: string, cas: number, signal?: AbortSignal): Promise<boolean> {
    const { body } = await this.#call('DELETE', `/v1/kv/${kvPath(key)}?cas=${cas}`, undefined, 10_000, signal);
    return body === true;
  }

  /**
   * Writes `text` at `key` with check-and-set: `cas` 0 writes only if the key does not exist,
   * any other index only if the key's ModifyIndex is still that. False when the check failed.
   */
  async kvPut(key: string, text: string, cas: number, signal?: AbortSignal): Promise<boolean> {
    const { body } = await this.#call('PUT', `/v1/kv/${kvPath(key)}?cas=${cas}`, Buffer.from(text, 'utf8'), 10_000, signal);
    return body === true;
  }

  async registerService(s: ServiceRegistration, signal?: AbortSignal): Promise<void> {
    await this.#call('PUT', '/v1/agent/service/register', registrationBody(s), 10_000, signal);
  }

  async deregisterService(id: string, signal?: AbortSignal): Promise<void> {
    await this.#call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`, undefined, 10_000, signal);
  }

  async close(): Promise<void> {
    await Promise.all([this.#pool.destroy(), this.#shortPool.destroy()]);
  }

  /**
   * One request, its answer decoded as JSON (undefined when `sentIndex`, the index a blocking
   * read sent, came back: then the body is not kept). With a `sink`, a successful answer's
   * bytes go to it as they arrive, and the body is what did not (none, or a gzipped whole). Not an async function: a blocking read
   * waits here for up to a minute, and a promise chain holds less than a suspended frame.
   */
  #call(
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    json: unknown,
    timeoutMs: number,
    signal?: AbortSignal,
    sentIndex?: number,
    sink?: BodySink,
  ): Promise<{ body: unknown; index: string | undefined; receivedAt: number }> {
    const opts: Dispatcher.DispatchOptions = {
      method,
      path,
      headers:
        method === 'GET'
          ? sink === undefined
            ? this.#getHeaders
            : this.#headers
          : json === undefined
            ? this.#headers
            : { ...this.#headers, 'content-type': Buffer.isBuffer(json) ? 'application/octet-stream' : 'application/json' },
      // A Buffer goes as it is (a KV value); anything else as JSON.
      body: json === undefined ? null : Buffer.isBuffer(json) ? json : JSON.stringify(json),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    };
    return new Exchange(signal, sentIndex, sink).send(sentIndex === undefined ? this.#shortPool : this.#pool, opts).then(
      (answer) => decodeAnswer(method, path, answer, sink !== undefined),
      (err: unknown) => {
        if (signal?.aborted) throw err;
        throw new ConsulError(`Consul at ${this.address} unreachable: ${describe(err)}`, undefined, err);
      },
    );
  }
}

/** An answer's JSON body (its bytes when `raw`), or the ConsulError it amounts to. */
function decodeAnswer(method: string, path: string, res: Answer, raw: boolean): { body: unknown; index: string | undefined; receivedAt: number } {
  const { index, receivedAt } = res;
  if (res.body === undefined) return { body: undefined, index, receivedAt };
  let bytes = res.body;
  if (res.gzip) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new ConsulError(`Consul ${method} ${path.split('?')[0]} answered with a broken gzip body`, res.status, err);
    }
  }
  // A KV key that does not exist is an answer (with its index, so a watch can block on it). One
  // the token may not read is also a 404, flagged: that is no answer about the key at all.
  if (res.status === 404 && method === 'GET' && path.startsWith('/v1/kv/')) {
    if (res.filtered) throw new ConsulError(`Consul ${method} ${path.split('?')[0]}: the ACL token may not read this key (Consul hid it: X-Consul-Results-Filtered-By-Acls); it needs key:read (consul.token or CONSUL_HTTP_TOKEN)`, 403);
    return { body: null, index, receivedAt };
  }
  if (res.status >= 400) {
    const hint = res.status === 403 ? ' (check the ACL token: consul.token or CONSUL_HTTP_TOKEN)' : '';
    throw new ConsulError(`Consul ${method} ${path.split('?')[0]} answered ${res.status}: ${bytes.toString('utf8').trim().slice(0, 200)}${hint}`, res.status);
  }
  if (raw) return { body: bytes, index, receivedAt };
  const text = bytes.toString('utf8');
  let body: unknown = null;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new ConsulError(`Consul ${method} ${path.split('?')[0]} answered with invalid JSON`, res.status, err);
    }
  }
  return { body, index, receivedAt };
}

/** One KV entry: its value as text and the index a check-and-set write must name. */
export type KvEntry = KvValue;

/** `a/b c` → `a/b%20c`: each segment encoded, the slashes kept. */
function kvPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** A KV read's answer (an array of one entry, its Value base64) as text; null for no key. */
function kvEntryOf(body: unknown): KvEntry | null {
  const first = Array.isArray(body) ? (body[0] as KvJson | undefined) : undefined;
  return first === undefined ? null : entryOf(first);
}

/** A recursive KV read's answer: each key's value as text (none for no key under the prefix). */
function kvEntriesOf(body: unknown): Map<string, KvEntry> {
  const out = new Map<string, KvEntry>();
  if (Array.isArray(body)) for (const e of body as Array<KvJson | null>) if (typeof e?.Key === 'string') out.set(e.Key, entryOf(e));
  return out;
}

type KvJson = { Key?: unknown; Value?: unknown; ModifyIndex?: unknown };

function entryOf(e: KvJson): KvEntry {
  return { text: typeof e.Value === 'string' ? Buffer.from(e.Value, 'base64').toString('utf8') : '', modifyIndex: Number(e.ModifyIndex) };
}

function checksOf(body: unknown): CheckStatus[] {
  if (!Array.isArray(body)) throw new TypeError('expected a JSON array from /v1/health/state/any');
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return (body as Array<Record<string, unknown> | null>).map((c) => ({ node: str(c?.Node), checkId: str(c?.CheckID), status: str(c?.Status), service: str(c?.ServiceName) }));
}

/** The catalog's service list: each name with its tags (non-strings dropped). */
function servicesOf(body: unknown): Record<string, string[]> {
  // Without a prototype: a service may be named __proto__, toString or constructor.
  const services: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const [name, tags] of Object.entries((body ?? {}) as Record<string, unknown>))
    services[name] = Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
  return services;
}

interface Answer {
  status: number;
  /** The X-Consul-Index header, when there was one. */
  index: string | undefined;
  /** Undefined when the index sent came back (the body is then not even kept). */
  body: Buffer | undefined;
  /** Content-Encoding: gzip (asked for on reads). */
  gzip: boolean;
  /** X-Consul-Results-Filtered-By-Acls: true, entries were left out that the token may not read. */
  filtered: boolean;
  /** performance.now() when the head arrived. */
  receivedAt: number;
}

/**
 * One request through undici's dispatch interface, the answer read whole (Consul answers in
 * small JSON documents). The exchange is its own dispatch handler and abort listener, so a
 * request in flight is this object and its promise, not a set of closures.
 * Dispatch, not pool.request: that helper is wired onto the pool by undici's package entry,
 * which Fairway does not load (see undici-pool.ts).
 */
/** Where a read's body goes as it arrives, instead of into one buffer. */
interface BodySink {
  push(chunk: Uint8Array): void;
}

class Exchange implements Dispatcher.DispatchHandler {
  readonly #signal: AbortSignal | undefined;
  /** The index a blocking read sent: an answer carrying it again is dropped unread. */
  readonly #sentIndex: number | undefined;
  readonly #sink: BodySink | undefined;
  /** The answer's bytes go to the sink: a success, not gzipped. */
  #streaming = false;
  #resolve: (answer: Answer) => void = noop;
  #reject: (err: Error) => void = noop;
  #abort: ((err?: Error) => void) | undefined;
  #status = 0;
  #index: string | undefined;
  #gzip = false;
  #filtered = false;
  #receivedAt = 0;
  #chunks: Buffer[] | undefined = [];

  constructor(signal: AbortSignal | undefined, sentIndex: number | undefined, sink?: BodySink) {
    this.#signal = signal;
    this.#sentIndex = sentIndex;
    this.#sink = sink;
  }

  send(pool: Pool, opts: Dispatcher.DispatchOptions): Promise<Answer> {
    return new Promise((resolve, reject) => {
      if (this.#signal?.aborted) {
        reject(this.#signal.reason as Error);
        return;
      }
      this.#resolve = resolve;
      this.#reject = reject;
      this.#signal?.addEventListener('abort', this, { once: true });
      try {
        pool.dispatch(opts, this);
      } catch (err) {
        this.#settle();
        reject(err as Error);
      }
    });
  }

  /** The signal's abort event. */
  handleEvent(): void {
    this.#abort?.(this.#signal!.reason as Error);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#signal?.aborted) abort(this.#signal.reason as Error);
  }

  onHeaders(statusCode: number, raw: Buffer[]): boolean {
    if (statusCode < 200) return true;
    this.#status = statusCode;
    this.#receivedAt = performance.now();
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (bytesMatch(name, 'x-consul-index')) this.#index = raw[i + 1]!.toString('latin1');
      else if (bytesMatch(name, 'content-encoding')) this.#gzip = raw[i + 1]!.toString('latin1').trim().toLowerCase() === 'gzip';
      else if (bytesMatch(name, 'x-consul-results-filtered-by-acls')) this.#filtered = raw[i + 1]!.toString('latin1').trim() === 'true';
    }
    if (statusCode < 400 && this.#sentIndex !== undefined && Number(this.#index) === this.#sentIndex) this.#chunks = undefined;
    this.#streaming = this.#sink !== undefined && statusCode < 300 && !this.#gzip;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#streaming) this.#sink!.push(chunk);
    else this.#chunks?.push(chunk);
    return true;
  }

  onComplete(): void {
    this.#settle();
    const chunks = this.#chunks;
    this.#resolve({ status: this.#status, index: this.#index, body: chunks && Buffer.concat(chunks), gzip: this.#gzip, filtered: this.#filtered, receivedAt: this.#receivedAt });
  }

  onError(err: Error): void {
    this.#settle();
    this.#reject(err);
  }

  #settle(): void {
    this.#signal?.removeEventListener('abort', this);
  }
}

function noop(): void {}

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
