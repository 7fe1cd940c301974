// A bounded load generator for the reliability tests: `clients` keep-alive connections, each
// sending GETs one after another for `durationMs`, recording every answer that is not 2xx.

import { Client } from 'undici';

export interface LoadResult {
  total: number;
  ok: number;
  /** Every non-2xx answer or error, with its time relative to the start. */
  failures: Array<{ atMs: number; what: string }>;
  byBody: Map<string, number>;
}

export interface LoadHandle {
  /** Milliseconds since the load started. */
  elapsed(): number;
  /** Ends the load early (each client finishes its request in flight). */
  stop(): void;
  done: Promise<LoadResult>;
}

export function startLoad(url: string, options: { clients: number; durationMs: number; path?: string }): LoadHandle {
  const started = Date.now();
  let stopped = false;
  const result: LoadResult = { total: 0, ok: 0, failures: [], byBody: new Map() };
  const path = options.path ?? '/';
  const worker = async (): Promise<void> => {
    const client = new Client(url, { pipelining: 1 });
    try {
      while (!stopped && Date.now() - started < options.durationMs) {
        result.total++;
        try {
          const res = await client.request({ method: 'GET', path });
          const body = await res.body.text();
          if (res.statusCode >= 200 && res.statusCode < 300) {
            result.ok++;
            result.byBody.set(body, (result.byBody.get(body) ?? 0) + 1);
          } else {
            result.failures.push({ atMs: Date.now() - started, what: `${res.statusCode} ${res.headers['x-fairway-error'] ?? ''}`.trim() });
          }
        } catch (err) {
          result.failures.push({ atMs: Date.now() - started, what: (err as { code?: string }).code ?? String(err) });
        }
      }
    } finally {
      await client.close();
    }
  };
  const done = Promise.all(Array.from({ length: options.clients }, worker)).then(() => result);
  return { elapsed: () => Date.now() - started, stop: () => (stopped = true), done };
}
