// Request ids in UUID form, at a fraction of crypto.randomUUID's cost per request (which builds
// each id from sixteen two-digit pieces). The first four groups come from randomUUID once per
// 65,536 ids (74 random bits: unique across processes and restarts), the last group is the
// process's request counter in 12 hex digits (unique within the batch). The 8-4-4-4-12 layout
// is what log tools and upstreams expect of an X-Request-Id.

import { randomUUID } from 'node:crypto';

const BATCH = 0x10000;

let prefix = '';
let counter = 0;

export function newRequestId(): string {
  const low = counter % BATCH;
  // The counter's 12 digits: the batch's upper 8 with the prefix, the lower 4 per id (small
  // integers print faster than the 49-bit number the whole counter in one piece would take).
  if (low === 0) prefix = randomUUID().slice(0, 24) + (0x100000000 + counter / BATCH).toString(16).slice(1);
  const id = prefix + (BATCH + low).toString(16).slice(1);
  counter++;
  return id;
}
