// Calls back when a file's content may have changed. Watches the file's folder rather than the
// file, because editors and config managers often replace a file (write a temp, rename over),
// which ends a watch on the old inode. Bursts of events are folded into one call.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

export class FileWatcher {
  readonly #path: string;
  readonly #onChange: () => void;
  readonly #log: Logger;
  readonly #debounceMs: number;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(path: string, onChange: () => void, log: Logger, debounceMs = 100) {
    this.#path = path;
    this.#onChange = onChange;
    this.#log = log;
    this.#debounceMs = debounceMs;
  }

  start(): void {
    const name = basename(this.#path);
    try {
      this.#watcher = watch(dirname(this.#path), { persistent: false }, (_event, file) => {
        if (file !== null && file !== name) return;
        clearTimeout(this.#timer);
        this.#timer = setTimeout(this.#onChange, this.#debounceMs);
      });
      this.#watcher.on('error', (err) => this.#log.warn({ err: err.message }, 'config watch failed; SIGHUP still reloads'));
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cannot watch the config file; SIGHUP still reloads');
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }
}
