// V8's memory reducer gives a heap back to the system once a process goes quiet: a few seconds
// after the allocation rate drops, it runs full collections that release the pages a burst
// grew into (at start-up, discovery is such a burst). From V8 13 on (Node 24, the Docker
// image's runtime) it never finds the process quiet while nothing is allocated on V8's C++
// heap (cppgc), which plain JavaScript never does: with --trace-memory-reducer and
// --trace-mutator-utilization, every 8 s check prints "Embedder mutator utilization = 0.000
// (mutator_speed=0, ...)" and "high alloc", a zero rate being read as the worst case. Only
// the reducer's 100 s watchdog is left, and any ordinary full collection restarts its clock.
// Measured at 10,000 instances on Node 24: RSS stayed at 160-165 MB from discovery on.
//
// Compiling a vm.Script allocates on that heap. One trivial script now and one every 30 s
// (2 µs each) keep the rate above zero and small, and the reducer works as it does on Node 20:
// at the same scale it gave the heap back 8 s after discovery (160 -> 126 MB). V8 11 (Node 20)
// reads a zero rate as low and is left alone.

import { Script } from 'node:vm';

const PERIOD_MS = 30_000;

/** Starts the nudge when the V8 version needs it; the returned function stops it. */
export function keepMemoryReducerWorking(v8Version: string = process.versions.v8): () => void {
  if (Number.parseInt(v8Version, 10) < 13) return () => undefined;
  const nudge = (): void => void new Script('0');
  nudge();
  const timer = setInterval(nudge, PERIOD_MS);
  timer.unref();
  return () => clearInterval(timer);
}
