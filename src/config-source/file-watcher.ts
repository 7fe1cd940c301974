// Calls back when a file's content may have changed. Watches the file's folder rather than the
// file, because editors and config managers often replace a file (write a temp, rename over),
// which ends a watch on the old inode. Bursts of events are folded into one call.
//
// What the folder's events cannot show, a look every POLL_MS does (the file's inode, size and
// mtime through its symlinks): a Kubernetes ConfigMap volume swaps a `..data` symlink, so the
// event names `..data`, not the file; a symlink to a file in another folder is edited there; the
// folder itself is replaced, which ends the watch on it. A look that differs from the last is an
// event.
//
// Others rewrite the file in place: open with truncate, then write (shell `>`, many editors,
// a slow generator). Read in between, the file is empty or cut short, so a change is handed on
// only once the file is stable: a debounce window after the last event the file is looked at
// (inode, size, modification time), and the call waits for a second look, a window later, that
// agrees with the first. A writer pausing mid-file for less than two windows (200 ms by default)
// is never read half done; one pausing longer may be, and the config's own rules reject what
// that yields (an empty or routeless file, broken YAML), keeping the running config.

import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

/** What a look at the file sees; two equal answers mean nothing changed in between. */
export type Look = () => Promise<string>;

/** inode, size and mtime (ns) of `path`, or why it cannot be seen (a rename-over in flight). */
function lookAt(path: string): Look {
  return async () => {
    try {
      const s = await stat(path, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch (err) {
      return `missing:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
    }
  };
}

/**
 * Calls `onStable` when two looks, `windowMs` apart and the first `windowMs` after the last
 * `poke()`, agree. A poke while waiting starts the window again. Timers are the global ones, so
 * vitest's fake timers drive it in tests.
 */
export class Settle {
  readonly #look: Look;
  readonly #onStable: () => void;
  readonly #windowMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** The previous look of this round; undefined until the round's first look. */
  #last: string | undefined;
  #stopped = false;

  constructor(look: Look, onStable: () => void, windowMs: number) {
    this.#look = look;
    this.#onStable = onStable;
    this.#windowMs = windowMs;
  }

  poke(): void {
    if (this.#stopped) return;
    this.#wait();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #wait(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#check(), this.#windowMs);
  }

  async #check(): Promise<void> {
    this.#timer = undefined;
    const seen = await this.#look();
    if (this.#stopped) return;
    const agrees = seen === this.#last;
    this.#last = seen;
    // A poke during the look started a new window: that window's look decides.
    if (this.#timer !== undefined) return;
    if (!agrees) return this.#wait();
    this.#last = undefined;
    this.#onStable();
  }
}

/** How often the file is looked at besides its folder's events. */
export const POLL_MS = 2_000;

export class FileWatcher {
  readonly #path: string;
  readonly #log: Logger;
  readonly #settle: Settle;
  readonly #look: Look;
  readonly #pollMs: number;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #polled: string | undefined;

  constructor(path: string, onChange: () => void, log: Logger, debounceMs = 100, pollMs = POLL_MS) {
    this.#path = path;
    this.#log = log;
    this.#look = lookAt(path);
    this.#pollMs = pollMs;
    this.#settle = new Settle(this.#look, onChange, debounceMs);
  }

  start(): void {
    const name = basename(this.#path);
    try {
      this.#watcher = watch(dirname(this.#path), { persistent: false }, (_event, file) => {
        if (file !== null && file !== name) return;
        this.#settle.poke();
      });
      this.#watcher.on('error', (err) => this.#log.warn({ err: err.message }, 'config watch failed; SIGHUP still reloads'));
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'cannot watch the config file; SIGHUP still reloads');
    }
    void this.#look().then((seen) => (this.#polled = seen));
    this.#poll = setInterval(() => void this.#pollOnce(), this.#pollMs).unref();
  }

  stop(): void {
    clearInterval(this.#poll);
    this.#settle.stop();
    this.#watcher?.close();
  }

  async #pollOnce(): Promise<void> {
    const seen = await this.#look();
    const before = this.#polled;
    this.#polled = seen;
    if (before !== undefined && seen !== before) this.#settle.poke();
  }
}
