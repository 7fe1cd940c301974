// The connections of every instance one upstream client talks to, by origin: made on first
// use, closed (gracefully: what they took is answered) when a rebuild no longer lists the
// instance or Fairway stops. Serves the lean HTTP/1.1 client (h1-upstream.ts), undici's pools
// (requests with a body) and the HTTP/2 sessions (h2-upstream.ts) alike.

export class Origins<T extends { close(): Promise<void>; destroy(): unknown }> {
  readonly #origins = new Map<string, T>();
  readonly #make: (origin: string) => T;

  constructor(make: (origin: string) => T) {
    this.#make = make;
  }

  get(origin: string): T {
    let o = this.#origins.get(origin);
    if (o === undefined) {
      o = this.#make(origin);
      this.#origins.set(origin, o);
    }
    return o;
  }

  /** The origins with connections made. */
  keys(): IterableIterator<string> {
    return this.#origins.keys();
  }

  retainOnly(origins: ReadonlySet<string>): void {
    for (const [origin, o] of this.#origins) {
      if (origins.has(origin)) continue;
      this.#origins.delete(origin);
      o.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const all = [...this.#origins.values()];
    this.#origins.clear();
    // A close that fails (undici's, on a pool already closing) falls back to destroying.
    await Promise.all(all.map((o) => o.close().catch(() => o.destroy())));
  }
}
