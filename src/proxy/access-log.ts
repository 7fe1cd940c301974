// Access log: one JSON line per finished request through pino, whose destination writes
// asynchronously, so logging never waits on the disk. Successful requests may be sampled;
// errors are always logged.

import type { Logger } from 'pino';
import { formatHostPort } from '../core/address.js';
import type { FinishedExchange, RequestObserver } from './observer.js';

export class AccessLog implements RequestObserver {
  readonly #log: Logger;
  readonly #settings: () => { enabled: boolean; sample: number };
  readonly #rng: () => number;

  constructor(log: Logger, settings: () => { enabled: boolean; sample: number }, rng: () => number = Math.random) {
    this.#log = log;
    this.#settings = settings;
    this.#rng = rng;
  }

  onExchange(ex: FinishedExchange): void {
    const { enabled, sample } = this.#settings();
    if (!enabled) return;
    const error = ex.status >= 500 || ex.errorCode !== undefined;
    if (!error && sample < 1 && this.#rng() >= sample) return;
    this.#log.info(
      {
        requestId: ex.requestId,
        method: ex.method,
        host: ex.host,
        path: ex.url,
        status: ex.status,
        ...(ex.errorCode ? { error: ex.errorCode } : {}),
        route: ex.route?.config.name,
        upstream: ex.upstream?.id,
        addr: ex.upstream ? formatHostPort(ex.upstream.host, ex.upstream.port) : undefined,
        attempts: ex.attempts,
        ms: Math.round(ex.durationMs * 100) / 100,
        bytes: ex.bytes,
        remote: ex.remoteAddress,
        ...(ex.policy ? { policy: ex.policy } : {}),
        ...(ex.protocol === 'http2' ? { protocol: 'h2' } : {}),
      },
      'request',
    );
  }

  onRetry(): void {}
}
