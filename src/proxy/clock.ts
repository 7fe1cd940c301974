// Monotonic time read once per request attempt and shared by everything that attempt does:
// the picker (peak-EWMA decay, slow start) and the latency measurement both need "now", and a
// clock read costs more than an EWMA pick itself. Route-table rebuilds tick it too.

export class RequestClock {
  t = performance.now();

  tick(): number {
    this.t = performance.now();
    return this.t;
  }

  /** The time of the current attempt (or rebuild); for PickerDeps.now. */
  readonly now = (): number => this.t;
}
