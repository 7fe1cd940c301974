// Route timeouts without a Node timer per request. Every request of a route shares the route's
// timeout, so requests started later fall due later: a list in arrival order is also a list in
// deadline order. One queue per timeout value, one timer per queue, armed for the oldest entry;
// adding and removing are pointer swaps on fields of the entry itself (no allocation).

/** What a DeadlineQueue needs on each entry; the queue owns these fields. */
export interface Timed<T> {
  dueAt: number;
  prevDue: T | undefined;
  nextDue: T | undefined;
  queuedIn: { remove(entry: T): void } | undefined;
}

export class DeadlineQueue<T extends Timed<T>> {
  readonly ms: number;
  readonly #now: () => number;
  readonly #expired: (entry: T) => void;
  #head: T | undefined;
  #tail: T | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** `now` must be the clock the start times given to add() come from. */
  constructor(ms: number, now: () => number, expired: (entry: T) => void) {
    this.ms = ms;
    this.#now = now;
    this.#expired = expired;
  }

  /** Queues an entry started at `startedAt`; `expired` is called ms later unless removed first. */
  add(entry: T, startedAt: number): void {
    entry.dueAt = startedAt + this.ms;
    entry.queuedIn = this;
    entry.prevDue = this.#tail;
    entry.nextDue = undefined;
    if (this.#tail === undefined) this.#head = entry;
    else this.#tail.nextDue = entry;
    this.#tail = entry;
    // A timer already armed fires no later than this entry is due (entries only come later).
    if (this.#timer === undefined) this.#arm(entry.dueAt - this.#now());
  }

  remove(entry: T): void {
    if (entry.queuedIn !== this) return;
    const { prevDue, nextDue } = entry;
    if (prevDue === undefined) this.#head = nextDue;
    else prevDue.nextDue = nextDue;
    if (nextDue === undefined) this.#tail = prevDue;
    else nextDue.prevDue = prevDue;
    entry.prevDue = entry.nextDue = entry.queuedIn = undefined;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(ms)));
    // In-flight requests hold their sockets open; this timer need not keep the process alive.
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    // Node may run a timer up to a millisecond before performance.now() reaches its deadline.
    const now = this.#now() + 1;
    for (let e = this.#head; e !== undefined && e.dueAt <= now; e = this.#head) {
      this.remove(e);
      this.#expired(e);
    }
    if (this.#head !== undefined && this.#timer === undefined) this.#arm(this.#head.dueAt - now + 1);
  };
}
